"""The concat of a `concat { ... }` / `reduction { ... }` statement: channel
concatenation of its branches, in edge order. Its shape rule names the branch that
disagrees and searches one padding or stride change that would make it fit."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from inception_dsl.ir import BOOL, TEXT, Graph, Node, OpKind, fmt_shape
from inception_dsl.core import codes
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.core.shapes import same_padding, is_tokens
from inception_dsl.ops.base import shape_error

__all__ = ["CONCAT", "branch_name", "reconcile"]


def branch_name(concat: Node, input_id: str) -> str:
    """The name of the branch of a join statement (concat, sum, product) whose output is `input_id`."""
    prefix = concat.statement
    rest = input_id[len(prefix) + 1:] if prefix and input_id.startswith(prefix + ".") else input_id
    return rest.split(".")[0]


def _shape(graph, node, shapes, sink):
    if any(is_tokens(s) for s in shapes):
        shape_error(sink, node, codes.NOT_TOKENS, "concat joins grids or flat features, not tokens",
                    "a branch gives tokens", help="concatenate the grids before `to_tokens`")
        return None
    if any(len(s) != 3 for s in shapes) and any(len(s) == 3 for s in shapes):
        shape_error(sink, node, codes.CONCAT_MISMATCH, "concat mixes flat and CxHxW branches", "mixed ranks")
        return None
    if len(shapes[0]) == 1:
        return (sum(s[0] for s in shapes),)
    sizes = [s[1:] for s in shapes]
    if len(set(sizes)) > 1:
        _mismatch(graph, node, shapes, sizes, sink)
        return None
    out = (sum(s[0] for s in shapes), *sizes[0])
    fork = graph.node(node.attrs["fork"]) if node.attrs["fork"] in graph else None
    if node.attrs["reduction"] and fork is not None and fork.shape is not None and len(fork.shape) == 3:
        if out[1] >= fork.shape[1] and out[2] >= fork.shape[2]:
            shape_error(sink, node, codes.NOT_REDUCING,
                        f"this reduction keeps the grid at {fmt_shape(out[1:])} (input {fmt_shape(fork.shape[1:])})",
                        "does not reduce", help="give its branches stride 2 (`stride=2, valid`), or write `concat` instead")
            return None
    return out


def _mismatch(graph, node, shapes, sizes, sink) -> None:
    inputs = graph.inputs(node.id)
    majority = Counter(sizes).most_common(1)[0][0]
    if sizes.count(majority) == 1 and sizes[0] != majority:
        majority = sizes[0]
    odd = [i for i, s in enumerate(sizes) if s != majority]
    good = [i for i, s in enumerate(sizes) if s == majority]
    names = [branch_name(node, inputs[i]) for i in range(len(inputs))]
    odd_text = ", ".join(f"`{names[i]}` gives {fmt_shape(sizes[i])}" for i in odd)
    message = f"concat branches disagree on spatial size: `{names[good[0]]}` gives {fmt_shape(majority)}, {odd_text}"
    secondary = [Label(graph.node(inputs[i]).span, f"`{names[i]}`: {fmt_shape(shapes[i])}", False)
                 for i in odd + good[:1] if graph.node(inputs[i]).span is not None]
    fixes = [reconcile(graph, node, inputs[odd[0]], majority)]
    if len(good) == len(odd) == 1:  # a tie: either side may be the one to change
        fixes.insert(0, reconcile(graph, node, inputs[good[0]], sizes[odd[0]]))
    help = " or ".join(f for f in fixes if f) or None
    shape_error(sink, node, codes.CONCAT_MISMATCH, message, "branches are concatenated here",
                secondary=secondary, help=help, notes=["concat along channels needs the same HxW in every branch"])


def _chain(graph: Graph, output_id: str, fork_id: str) -> list[Node] | None:
    """The single-input ops from the fork to `output_id`, in forward order; None if the
    branch is not a simple chain."""
    chain = []
    current = output_id
    while current != fork_id:
        node = graph.node(current)
        inputs = graph.inputs(current)
        if len(inputs) != 1:
            return None
        chain.append(node)
        current = inputs[0]
    return list(reversed(chain))


def _simulate(graph: Graph, chain: list[Node], start, override: tuple[int, dict] | None):
    """The branch's output grid with one window op's attributes changed, by each op's own
    shape rule (given the graph: a join in the chain, a nested concat, reads it); None when
    it cannot be known or an op refuses it."""
    shape = None
    for index, node in enumerate(chain):
        attrs = {**node.attrs, **override[1]} if override and override[0] == index else node.attrs
        source = shape if shape is not None else start
        shape = node.op.shape(graph, replace(node, attrs=attrs), [source], DiagnosticSink())
        if shape is None or len(shape) != 3 or min(shape[1:]) < 1:
            return None
    return tuple(shape[1:]) if shape is not None else None


def reconcile(graph: Graph, concat: Node, branch_output: str, target) -> str | None:
    """Find one padding or stride change in the odd branch that gives the target size."""
    fork_id = concat.attrs["fork"]
    if fork_id not in graph or graph.node(fork_id).shape is None:
        return None
    chain = _chain(graph, branch_output, fork_id)
    if not chain:
        return None
    start = graph.node(fork_id).shape
    for index, node in enumerate(chain):
        if not node.op.sliding:
            continue
        kernel = node.attrs["kernel"]
        options = [
            ("pad=valid", {"padding": (0, 0, 0, 0)}),
            ("pad=same", {"padding": same_padding(kernel[0]) + same_padding(kernel[1])}),
            ("stride=1", {"stride": (1, 1)}),
            ("stride=2", {"stride": (2, 2)}),
            ("stride=2, pad=valid", {"stride": (2, 2), "padding": (0, 0, 0, 0)}),
        ]
        for text, change in options:
            if all(node.attrs.get(k) == v for k, v in change.items()):
                continue
            if _simulate(graph, chain, start, (index, change)) == tuple(target):
                where = node.span.location() if node.span else node.id
                return f"`{text}` on the {node.op.value} at {where} would give {fmt_shape(target)}"
    return None


def _forward(emitter, node, ins, out) -> list[str]:
    return [f"{out} = torch.cat(({', '.join(ins)},), 1)" if len(ins) > 1 else f"{out} = {ins[0]}"]


CONCAT = OpKind(
    "concat", {"reduction": BOOL, "fork": TEXT}, arity=(1, None),
    doc="channel concatenation of all inputs in edge order; `fork` is the node every branch read at elaboration, "
        "`reduction` whether the statement promised to shrink the grid",
    shape=_shape, label=lambda node, members: "Filter concat", forward=_forward,
    fresh=lambda emitter, node: len(emitter.graph.inputs(node.id)) > 1, fill="#e8e8e8",
)
