"""lint(context): the W1xx rules, one function per rule, registered in `RULES`.

Graph rules read the elaborated, shape-checked IR of every network in the linted file
(so they see evaluated parameters and inferred shapes); syntax rules read the linted
file's AST (so they also cover blocks no network instantiates). Every rule emits into
the sink; selection, `# noqa` and severity overrides are applied afterwards by
`linter.py`, so a rule never needs to know about configuration.
docs/lint.md documents each rule with the paper's reason and an example."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.codes import Code
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.ir import Graph, Node, Op
from inception_dsl.language.program import Program
from inception_dsl.ir import fmt_shape, origin_notes

__all__ = ["LintContext", "Rule", "RULES", "lint", "RESIDUAL_FILTERS", "RESIDUAL_SCALE_RANGE"]

RESIDUAL_FILTERS = 1000  # Section 3.3: "if the number of filters exceeded 1000 ..."
RESIDUAL_SCALE_RANGE = (0.1, 0.3)  # "... scaling factors between 0.1 and 0.3"
UNFACTORIZED_MIN_KERNEL = 5


@dataclass
class LintContext:
    """What the rules read: the program, the linted file's AST and the graphs of the
    networks it defines (empty for a file of blocks only)."""

    program: Program
    module: syntax.Module
    graphs: list[Graph] = field(default_factory=list)

    def nodes(self) -> Iterator[tuple[Graph, Node]]:
        for graph in self.graphs:
            for node in graph.nodes():
                yield graph, node


@dataclass(frozen=True)
class Rule:
    code: Code
    check: Callable[[LintContext, DiagnosticSink], None]
    default: bool = True  # hints are off unless selected


def _warn(sink: DiagnosticSink, code: Code, node: Node, message: str, label: str, **kwargs) -> None:
    notes = list(kwargs.pop("notes", ())) + origin_notes(node)
    sink.emit(code, message, node.span, label, notes=notes, **kwargs)


def _producer(graph: Graph, node: Node) -> Node | None:
    inputs = graph.inputs(node.id)
    return graph.node(inputs[0]) if len(inputs) == 1 else None


# -- graph rules ----------------------------------------------------------------------
def residual_scale(context: LintContext, sink: DiagnosticSink) -> None:
    low, high = RESIDUAL_SCALE_RANGE
    for graph, node in context.nodes():
        if node.op is not Op.ADD or node.shape is None or len(node.shape) != 3:
            continue
        branch = graph.node(graph.inputs(node.id)[1])
        scale = branch.attrs["value"] if branch.op is Op.SCALE else 1.0
        filters = node.shape[0]
        if low <= scale <= high or (scale == 1.0 and filters <= RESIDUAL_FILTERS):
            continue
        what = "is not scaled" if scale == 1.0 else f"is scaled by {scale:g}, outside {low:g}-{high:g}"
        _warn(sink, codes.RESIDUAL_SCALE, node, f"this residual {what}", f"{filters} filters, scale {scale:g}",
              help="scale the branch before the sum: `residual(scale=0.2) { ... }`",
              notes=[f"Szegedy et al. 2016, Section 3.3: residuals of more than {RESIDUAL_FILTERS} filters "
                     f"'died' early in training unless scaled by {low:g}-{high:g}"])


def bn_on_sum(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if node.op is not Op.BN:
            continue
        below = _producer(graph, node)
        while below is not None and below.op in (Op.ACT, Op.IDENTITY):
            below = _producer(graph, below)
        if below is not None and below.op in (Op.ADD, Op.SUM):  # a residual's sum, or a `sum { ... }`
            what = "residual sum" if below.op is Op.ADD else "sum"
            _warn(sink, codes.BN_ON_SUM, node, f"BatchNorm on top of a {what}", "normalizes a summation",
                  secondary=[Label(below.span, f"the {what}", False)] if below.span else [],
                  help="drop this `bn`; normalize inside the residual branch instead",
                  notes=["Szegedy et al. 2016, Section 3.2: BatchNorm is used on top of the traditional "
                         "layers, but not on top of the summations"])


def _dropped(size: int, out: int, kernel: int, stride: int, before: int, dilation: int = 1) -> int:
    """Input rows past the last window, not counting padding. A window smaller than its
    stride skips rows everywhere by design (a strided 1x1 projection), so the edge is
    nothing special there and counts as 0."""
    if dilation * (kernel - 1) + 1 < stride:
        return 0
    last_covered = (out - 1) * stride + dilation * (kernel - 1) + 1  # in padded coordinates
    return max(0, before + size - last_covered)


def dropped_pixels(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if not node.op.sliding or node.shape is None:  # sliding windows: conv, pooling
            continue
        source = _producer(graph, node)
        if source is None or source.shape is None or len(source.shape) != 3:
            continue
        a = node.attrs
        dilation = a.get("dilation", (1, 1))
        top, _, left, _ = a["padding"]
        lost = [
            _dropped(source.shape[1], node.shape[1], a["kernel"][0], a["stride"][0], top, dilation[0]),
            _dropped(source.shape[2], node.shape[2], a["kernel"][1], a["stride"][1], left, dilation[1]),
        ]
        if not any(lost):
            continue
        parts = [f"{n} row{'s' if n > 1 else ''}" for n in lost[:1] if n] + \
                [f"{n} column{'s' if n > 1 else ''}" for n in lost[1:] if n]
        what = "conv" if node.op is Op.CONV else f"{a['kind']} pool"
        kernel, stride = "x".join(map(str, a["kernel"])), "x".join(map(str, a["stride"]))
        _warn(sink, codes.DROPPED_PIXELS, node, f"this {what} never reads the last rows or columns of its input",
              f"{kernel} window, stride {stride}: the last {' and '.join(parts)} of "
              f"{fmt_shape(source.shape[1:])} are dropped",
              help="choose an input size where (size + padding - kernel) is a multiple of the stride, or pad it",
              notes=["the windows stop before the edge, so those pixels never reach the output"])


def _next_conv(graph: Graph, node: Node) -> Node | None:
    """The conv that directly consumes `node`'s output through BN/activation only."""
    current = node
    while True:
        users = graph.users(current.id)
        if len(users) != 1:
            return None
        current = graph.node(users[0])
        if current.op is Op.CONV:
            return current
        if current.op not in (Op.BN, Op.ACT, Op.IDENTITY):
            return None


def factorized_mismatch(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if node.op is not Op.CONV:
            continue
        kh, kw = node.attrs["kernel"]
        if not ((kh == 1) != (kw == 1)):
            continue
        following = _next_conv(graph, node)
        if following is None:
            continue
        fh, fw = following.attrs["kernel"]
        orthogonal = (kh == 1 and fw == 1 and fh > 1) or (kw == 1 and fh == 1 and fw > 1)
        if orthogonal and max(kh, kw) != max(fh, fw):
            _warn(sink, codes.FACTORIZED_MISMATCH, following,
                  f"a {kh}x{kw} conv followed by a {fh}x{fw} conv is not a factorized square",
                  f"{fh}x{fw} after {kh}x{kw}",
                  secondary=[Label(node.span, f"the {kh}x{kw} half", False)] if node.span else [],
                  help=f"use the same n in both halves ({kh}x{kw} then {kw}x{kh})",
                  notes=["a 1xn conv followed by an nx1 conv stands for one nxn conv (Szegedy et al. 2015, "
                         "'Rethinking the Inception Architecture', Section 3.2)"])


def unfactorized_conv(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if node.op is not Op.CONV:
            continue
        kh, kw = node.attrs["kernel"]
        if kh == kw and kh >= UNFACTORIZED_MIN_KERNEL:
            _warn(sink, codes.UNFACTORIZED_CONV, node, f"a {kh}x{kw} conv could be factorized",
                  f"{kh}x{kw} kernel",
                  help=f"write `conv(n, 1x{kh}); conv(n, {kh}x1)`, or stacked 3x3 convs",
                  notes=["factorizing into 1xn and nx1 (or 3x3 stacks) keeps the receptive field with fewer "
                         "parameters (Szegedy et al. 2015, 'Rethinking the Inception Architecture', Section 3)"])


def bias_with_bn(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if node.op.weight_scale is None or not node.attrs["bias"]:  # what a BatchNorm folds into
            continue
        users = [graph.node(u) for u in graph.users(node.id)]
        if len(users) == 1 and users[0].op is Op.BN:
            what, fix = ("conv", "remove `bias=true`") if node.op is Op.CONV else ("transposed conv", "write `bias=false`")
            _warn(sink, codes.BIAS_WITH_BN, node, f"this {what} has a bias, but BatchNorm follows it",
                  "bias=true before BatchNorm", help=f"{fix}: BatchNorm subtracts the mean, and its own "
                  "shift replaces the bias", notes=["the bias adds parameters that never change the output"])


def double_activation(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if node.op is not Op.ACT:
            continue
        below = _producer(graph, node)
        if below is not None and below.op is Op.ACT:
            _warn(sink, codes.DOUBLE_ACTIVATION, node,
                  f"{node.attrs['kind']} is applied to the output of {below.attrs['kind']}",
                  "second activation", secondary=[Label(below.span, "first activation", False)] if below.span else [],
                  help="remove one of them (a conv already ends in its activation unless `linear` or `act=identity`)")


def reduction_bottleneck(context: LintContext, sink: DiagnosticSink) -> None:
    for graph, node in context.nodes():
        if node.op is not Op.CONCAT or node.shape is None or len(node.shape) != 3:
            continue
        fork = graph.node(node.attrs["fork"]) if node.attrs.get("fork") in graph else None
        if fork is None or fork.shape is None or len(fork.shape) != 3:
            continue
        reduces = node.shape[1] < fork.shape[1] or node.shape[2] < fork.shape[2]
        if reduces and node.shape[0] < fork.shape[0]:
            shapes = f"{fmt_shape(fork.shape)} -> {fmt_shape(node.shape)}"
            _warn(sink, codes.REDUCTION_BOTTLENECK, node, f"this grid reduction also shrinks the channels: {shapes}",
                  "fewer channels out than in", help="widen the branches so that the output has more channels",
                  notes=["reducing the grid loses information unless the filter bank grows: avoid representational "
                         "bottlenecks (Szegedy et al. 2015, 'Rethinking the Inception Architecture', Sections 2 and 7)"])


# -- syntax rules ---------------------------------------------------------------------
def _statements(body: tuple[syntax.Stmt, ...]) -> Iterator[syntax.Labeled]:
    """Every labelled statement of a body, nested bodies included, in source order."""
    for stmt in body:
        if not isinstance(stmt, syntax.Labeled):
            continue
        yield stmt
        op = stmt.op
        if isinstance(op, (syntax.Seq, syntax.Concat)):
            yield from _statements(op.body)
        elif isinstance(op, syntax.Residual):
            yield from _statements(op.body)
            yield from _statements(op.shortcut or ())


def _referenced(definition: syntax.BlockDef) -> set[str]:
    names = {n for p in definition.params for n in syntax.names_in(p.default)}
    for stmt in _statements(definition.body):
        names.update(syntax.names_in(stmt.condition))
        names.update(syntax.names_in(stmt.repeat))
        args = stmt.op.args if isinstance(stmt.op, (syntax.Call, syntax.Residual, syntax.Concat)) else ()
        for arg in args:
            names.update(syntax.names_in(arg.value))
    return names


def _calls(definition: syntax.BlockDef) -> set[str]:
    return {s.op.name for s in _statements(definition.body) if isinstance(s.op, syntax.Call)}


def single_branch_concat(context: LintContext, sink: DiagnosticSink) -> None:
    for definition in context.module.definitions:
        for stmt in _statements(definition.body):
            op = stmt.op
            if isinstance(op, syntax.Concat) and len([s for s in op.body if isinstance(s, syntax.Labeled)]) == 1:
                keyword = op.word
                sink.emit(codes.SINGLE_BRANCH_CONCAT, f"this {keyword} has a single branch", op.span,
                          "one branch", help="write the branch's statements directly, or add the missing branches",
                          notes=[f"a {keyword} of one branch is its branch, under an extra name level"])


def unused_block(context: LintContext, sink: DiagnosticSink) -> None:
    mine = context.module.definitions
    networks = [d for d in mine if d.kind == "network"]
    if not networks:
        return  # a file of blocks only is a library: its blocks are there to be imported
    reachable: set[str] = set()
    pending = [d.name for d in networks]
    while pending:
        definition = context.program.definitions.get(pending.pop())
        if definition is None:
            continue
        for name in _calls(definition) - reachable:
            reachable.add(name)
            pending.append(name)
    for definition in mine:
        if definition.kind == "block" and definition.name not in reachable:
            sink.emit(codes.UNUSED_BLOCK, f"block `{definition.name}` is never used", definition.name_span,
                      "defined here", help="remove it, or move it to a file of blocks that others import",
                      notes=[f"no network in this file reaches it: {', '.join(n.name for n in networks)}"])


def unused_parameter(context: LintContext, sink: DiagnosticSink) -> None:
    for definition in context.module.definitions:
        used = _referenced(definition)
        for param in definition.params:
            if param.name not in used:
                sink.emit(codes.UNUSED_PARAM, f"parameter `{param.name}` of {definition.kind} `{definition.name}` "
                          "is never used", param.span, "unused", help="remove it, or use it in the body")


def shadowed_name(context: LintContext, sink: DiagnosticSink) -> None:
    blocks = {name for name, d in context.program.definitions.items() if d.kind == "block"}
    for definition in context.module.definitions:
        params = {p.name for p in definition.params}
        for param in definition.params:
            if param.name in blocks:
                sink.emit(codes.SHADOWED_NAME, f"parameter `{param.name}` has the name of block `{param.name}`",
                          param.span, "shadows a block", help="rename the parameter")
        for stmt in _statements(definition.body):
            if isinstance(stmt.op, syntax.Call) and stmt.op.name == stmt.label:
                continue  # `mixed_5b: mixed_5b` names the instance after its block, as the default does
            if stmt.label in params:
                what = f"parameter `{stmt.label}` of `{definition.name}`"
            elif stmt.label in blocks:
                what = f"block `{stmt.label}`"
            else:
                continue
            sink.emit(codes.SHADOWED_NAME, f"label `{stmt.label}` has the name of {what}", stmt.label_span,
                      "shadows another name", help="rename the label: a reader will take it for the other name")


RULES: tuple[Rule, ...] = (
    Rule(codes.RESIDUAL_SCALE, residual_scale),
    Rule(codes.BN_ON_SUM, bn_on_sum),
    Rule(codes.DROPPED_PIXELS, dropped_pixels),
    Rule(codes.FACTORIZED_MISMATCH, factorized_mismatch),
    Rule(codes.UNFACTORIZED_CONV, unfactorized_conv, default=False),
    Rule(codes.BIAS_WITH_BN, bias_with_bn),
    Rule(codes.DOUBLE_ACTIVATION, double_activation),
    Rule(codes.SINGLE_BRANCH_CONCAT, single_branch_concat),
    Rule(codes.REDUCTION_BOTTLENECK, reduction_bottleneck),
    Rule(codes.UNUSED_BLOCK, unused_block),
    Rule(codes.UNUSED_PARAM, unused_parameter),
    Rule(codes.SHADOWED_NAME, shadowed_name),
)


def lint(context: LintContext, sink: DiagnosticSink, rules: tuple[Rule, ...] = RULES) -> None:
    """Run `rules` (all of them by default, hints included); the caller filters."""
    for rule in rules:
        rule.check(context, sink)
