"""syntax (a Program) -> ir.Graph: bind parameters and defaults, expand repetition,
resolve block calls, detect recursion, and emit one IR node per tensor operation.

Errors are emitted and elaboration goes on so that one run reports as many as it can:
a statement that fails yields no node, and everything downstream of it is skipped
silently (its input is unknown), while later statements are still checked."""

from __future__ import annotations

from typing import Any

from inception_dsl import ops
from inception_dsl.ir import CallSite, Graph, Node, Op, Role, Stage, StatementKind
from inception_dsl.core import codes, signatures
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.metadata import check_metadata
from inception_dsl.language.name_check import report_duplicate, report_reserved
from inception_dsl.language.naming import TRANSPARENT, TRANSPARENT_LABEL, instance_names, shortcut_name, statement_names
from inception_dsl.language.builder import LayerBuilder, distinct_inputs, join_path
from inception_dsl.language.combinator_nodes import elaborate_join
from inception_dsl.language.binding import bind_params, builtins_of, missing_colon, missing_space, reads_builtins
from inception_dsl.language.caches.block_templates import Session, check_names_once, instantiate
from inception_dsl.language.program import Program
from inception_dsl.passes.analyses.infer_shapes import infer_shapes
from inception_dsl.core.values import EvalError, describe, did_you_mean, evaluate
from inception_dsl.ops.activations import act_attrs, activation, is_identity

__all__ = ["elaborate"]



class _TooBig(Exception):
    """The graph passed a limit; reported once, elaboration stops."""


def elaborate(
    program: Program,
    sink: DiagnosticSink,
    *,
    network: str | None = None,
    overrides: dict[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Graph | None:
    """Elaborate one network of the program's main file into a graph (None if the spec
    names no such network or elaboration failed before a graph existed)."""
    networks = program.networks()
    if network is None:
        if not networks:
            main = program.main
            sink.emit(codes.NO_NETWORK, "no `network` is defined in this file",
                      None if main is None else _file_span(program), help="add `network NAME { input 3x299x299 ... }`")
            return None
        definition = networks[0]
    else:
        definition = next((n for n in networks if n.name == network), None)
        if definition is None:
            names = [n.name for n in networks]
            sink.emit(codes.NO_NETWORK, f"no network named `{network}`", _file_span(program),
                      help=did_you_mean(network, names) or (f"networks here: {', '.join(names)}" if names else None))
            return None
    return _Elaborator(program, sink, limits).network(definition, overrides or {}, input_shape)


def _file_span(program: Program):
    from inception_dsl.core.source import Span

    return Span(program.main, 0, 0) if program.main else None


class _Elaborator:
    def __init__(self, program: Program, sink: DiagnosticSink, limits: Limits):
        self.program, self.sink, self.limits = program, sink, limits
        self.graph: Graph | None = None
        self.call_stack: list[str] = []
        self.stage = ""
        self.failed = False
        self.shaped = 0  # nodes whose shape _shape has inferred
        self.reads_builtins: dict[str, bool] = {}  # block name -> whether it reads in_channels & co
        self.grids: dict[str, tuple] = {}  # block reading in_height/in_width -> (grid, span) of its first call
        self.labels: list[dict[str, str | None]] = []  # label -> node, of each sequence being elaborated
        self.sequence_labels: list[set[str]] = []  # every label of each sequence being elaborated (builder.py)
        self.memo = Session.open(self)  # language/caches/block_templates.py (None when switched off)

    # -- network
    def network(self, definition: syntax.BlockDef, overrides: dict[str, Any], input_shape) -> Graph | None:
        inputs = [s for s in definition.body if isinstance(s, syntax.InputStmt)]
        shape = input_shape if input_shape is not None else (inputs[0].dims if inputs else None)
        builtins = builtins_of(shape) if shape is not None and len(shape) == 3 else {}
        try:
            env = bind_params(definition, None, {}, overrides, self.sink, builtins)
        except EvalError:
            return None
        graph = Graph(definition.name, params={k: v for k, v in env.items() if k not in builtins}, span=definition.span)
        self.graph = graph
        if input_shape is None:
            if not inputs:
                self.sink.emit(codes.MISSING_INPUT, f"network `{definition.name}` does not declare its input",
                               definition.name_span, "no `input` statement", help="add e.g. `input 3x299x299` as its first line")
                return None
            input_shape = inputs[0].dims
            input_span = inputs[0].span
        else:
            input_span = inputs[0].span if inputs else definition.name_span
        if len(input_shape) != 3 or min(input_shape) < 1:
            self.sink.emit(codes.BAD_VALUE, "the input must be channels x height x width, each at least 1",
                           input_span, f"got {'x'.join(map(str, input_shape))}")
            return None
        graph.add(Node("input", Op.INPUT, {"shape": tuple(input_shape)}, input_span, role=Role.INPUT))
        try:
            self.sequence(definition.body, "input", env, "", (), context="block", top=True)
        except _TooBig:
            return None
        check_metadata(self.program, definition, graph, self.sink)
        check_names_once(self, definition)  # also what `when` left out (language/name_check.py)
        return None if self.failed and not self.sink.has_errors else graph

    # -- helpers
    def _add(self, id_: str, op, attrs: dict, span, origin, inputs: list[str | None], *,
             statement: str = "", role: Role = Role.JOIN) -> str | None:
        if any(i is None for i in inputs):
            return None
        graph = self.graph
        if id_ in graph:
            base, k = id_, 1
            while id_ in graph:
                id_ = f"{base}_{k}"
                k += 1
            if self.memo:
                self.memo.renamed.append((base, id_))
        inputs = distinct_inputs(graph, id_, inputs, Node(id_, Op.IDENTITY, {}, span, origin, self.stage,
                                                          statement=statement, role=Role.JOIN))
        graph.add(Node(id_, op, attrs, span, origin, self.stage, statement=statement, role=role), inputs)
        if len(graph) > self.limits.max_nodes:
            self.sink.emit(codes.LIMIT_EXCEEDED, f"the network expands to more than {self.limits.max_nodes} operations",
                           span, "while expanding this", help="raise the limit with --max-nodes")
            raise _TooBig()
        return id_

    def _shape(self, node_id: str | None):
        """The shape of a node elaborated so far (for `in_channels`): shape inference over
        the nodes added since the last call, in order, with its diagnostics left to the real
        pass that runs on the whole graph afterwards."""
        if node_id is None:
            return None
        if self.memo:
            return self.memo.shape(self, node_id)
        graph = self.graph
        fresh = [graph.node(i) for i in graph.added[self.shaped:]]
        infer_shapes(graph, DiagnosticSink(), fresh)
        self.shaped += len(fresh)
        return graph.node(node_id).shape

    def _one_grid(self, definition: syntax.BlockDef, call: syntax.Call, shape) -> bool:
        """A block that reads in_height / in_width becomes one generated class with the grid
        written in (its width is a constructor argument, its grid is not), so every instance
        must see the same grid: said here, so that `check` refuses what `compile` could not build."""
        if not syntax.reads((definition.params, definition.body), syntax.BUILTIN_NAMES[1:]):
            return True
        if self.memo:
            self.memo.grid_calls += 1
        first = self.grids.setdefault(definition.name, (shape[1:], call.span))
        if first[0] == shape[1:]:
            return True
        seen, here = "x".join(map(str, first[0])), "x".join(map(str, shape[1:]))
        self.sink.emit(codes.UNSUPPORTED, f"block `{definition.name}` reads `in_height`/`in_width` and is called at "
                       f"two grid sizes ({seen}, then {here})", call.span, f"here its input is {here}",
                       secondary=[Label(first[1], f"here {seen}", False)],
                       notes=["the generated class of a block takes its width as an argument, but its grid is "
                              "written into it"],
                       help="pass the size the block needs as a parameter instead")
        return False

    def _record(self, path: str, kind: StatementKind) -> None:
        self.graph.record(path, kind)

    def _reserved(self, stmt: syntax.Labeled, name: str | None) -> bool:
        """A name that is one of nn.Module's own attributes (naming.reserved_name): E301
        here, so that `check` refuses what the generated module could not hold."""
        return report_reserved(self.sink, stmt, name)

    def _check_unique(self, id_: str, span) -> bool:
        if id_ in self.graph:
            self.sink.emit(codes.DUPLICATE_NAME, f"two layers are both named `{id_}`", span,
                           "this name is already taken in this scope",
                           help="give one of them a distinct label (`name: ...`)")
            return False
        return True

    # -- statements
    def sequence(self, body, x, env, scope, origin, *, context="seq", top=False, stages=False) -> str | None:
        """The statements of a body; `top` for the network's, `stages` where each statement
        is a stage (the network body, and `{ ... }` sequences written in it)."""
        stages = stages or top
        names = statement_names(body, context, self.program.definitions)
        produced: dict[str, str | None] = {syntax.INPUT_LABEL: x}  # `from input`: the sequence's own input
        self.labels.append(produced)  # what a branch's `from` may read (language/combinator_nodes.py)
        outputs: list[tuple[str, Any]] = []
        seen: dict[str, syntax.Labeled] = {}
        statements = [s for s in body if isinstance(s, syntax.Labeled)]
        self.sequence_labels.append({s.label for s in statements if s.label})
        for stmt in body:
            if isinstance(stmt, syntax.InputStmt):
                if not top:
                    self.sink.emit(codes.MISPLACED, "`input` belongs in a network, not inside a block", stmt.span,
                                   "not allowed in a block", help="declare it in the network that calls this block")
                continue
            if isinstance(stmt, syntax.OutputStmt):
                if not top:
                    self.sink.emit(codes.MISPLACED, "`output` belongs in a network, not inside a block", stmt.span,
                                   "not allowed in a block", help="declare it in the network that calls this block")
                else:
                    outputs.extend((name, stmt.span) for name in stmt.names)
                continue
        for stmt, name in zip(statements, names):
            if self._reserved(stmt, name):
                continue
            if name is not None:
                if name in seen:
                    report_duplicate(self.sink, stmt, name, seen[name])
                    continue
                seen[name] = stmt
            if not self._transparent_ok(stmt):
                continue
            source = x
            if stmt.source is not None:  # checked even when `when` leaves the statement out
                if stmt.source not in produced:
                    self.sink.emit(codes.UNKNOWN_SOURCE, f"`from {stmt.source}`: no earlier statement has that label",
                                   stmt.source_span, "unknown label", help=did_you_mean(stmt.source, produced))
                    source = None
                else:
                    source = produced[stmt.source]
            if not self._condition(stmt, env):
                if stmt.label:  # a labelled statement left out by `when` produces nothing
                    produced[stmt.label] = None
                continue
            path = join_path(scope, name)
            if stages:
                self.stage = path
            y = self.statement(stmt, scope, name, context, source, env, origin, scope_stage=stages)
            if stmt.label:
                produced[stmt.label] = y
            if stmt.source is None:
                x = y
        if top:
            self._outputs(outputs, produced, x)
        self.labels.pop()
        self.sequence_labels.pop()
        return x

    def _condition(self, stmt: syntax.Labeled, env) -> bool:
        if stmt.condition is None:
            return True
        try:
            value = evaluate(stmt.condition, env, self.sink)
        except EvalError:
            return False
        if not isinstance(value, bool):
            self.sink.emit(codes.BAD_ARG_TYPE, f"`when` needs a boolean, got {describe(value)}", stmt.condition.span,
                           "not true or false")
            return False
        return value

    def _outputs(self, outputs, produced, last) -> None:
        graph = self.graph
        if not outputs:
            if last is not None:
                graph.outputs.append(self._add("output", Op.OUTPUT, {"name": "output", "aux": False}, graph.span, (), [last],
                                               role=Role.OUTPUT))
            return
        for index, (name, span) in enumerate(outputs):
            if name not in produced:
                self.sink.emit(codes.UNKNOWN_SOURCE, f"`output {name}`: no statement has that label", span,
                               "unknown label", help=did_you_mean(name, produced))
                continue
            if produced[name] is None:
                if index == 0 and not self.sink.has_errors:  # switched off by `when` (not failed)
                    self.sink.emit(codes.UNKNOWN_SOURCE, f"the main output `{name}` is switched off by its `when`",
                                   span, "this output produces nothing for these parameters",
                                   help="a network needs its main output; only auxiliary outputs may be switched off")
                continue  # an auxiliary head excluded by `when`, or a failed statement
            node = self._add("output" if index == 0 else f"output.{name}", Op.OUTPUT,
                             {"name": name, "aux": index > 0}, span, (), [produced[name]], role=Role.OUTPUT)
            if node:
                graph.outputs.append(node)
                if index > 0:
                    for stage in graph.stages:
                        if stage.name == name or stage.name.startswith(name + "."):
                            stage.aux = True

    def _transparent_ok(self, stmt: syntax.Labeled) -> bool:
        """`_: ...` (no scope level) fits a `{ ... }` sequence or a concat, once."""
        if stmt.label != TRANSPARENT_LABEL:
            return True
        if stmt.repeat is not None or stmt.condition is not None or isinstance(stmt.op, (syntax.Call, syntax.Residual)):
            what = "a repeated statement" if stmt.repeat is not None else "a statement with `when`" \
                if stmt.condition is not None else (
                "a residual" if isinstance(stmt.op, syntax.Residual) else "a layer or block call")
            self.sink.emit(codes.MISPLACED, f"the label `_` (no scope level) cannot name {what}",
                           stmt.label_span or stmt.span, "its parts would have no names of their own",
                           help="give the statement a label of its own")
            return False
        return True

    def statement(self, stmt: syntax.Labeled, scope, name, context, x, env, origin, scope_stage=False) -> str | None:
        """One statement named `name` in `scope` (its `xN` instances named by naming.py)."""
        path = join_path(scope, name)
        if stmt.repeat is None:
            if scope_stage and isinstance(stmt.op, syntax.Seq):  # a `{ ... }` in the network: its members are stages
                return self._group(stmt, path, x, env, origin)
            y = self.op(stmt.op, path, x, env, origin, stmt)
            if scope_stage and path:
                self._stage(path, stmt, y)
            return y
        count = self._repeat_count(stmt, env)
        if count is None:
            return None
        instances = [join_path(scope, n) for n in instance_names(context, stmt, name, count)]
        for instance in instances:
            self.graph.repeats[instance] = (instances[0], count)
            if scope_stage and isinstance(stmt.op, syntax.Seq):
                x = self._group(stmt, instance, x, env, origin)
                continue
            if scope_stage:
                self.stage = instance
            x = self.op(stmt.op, instance, x, env, origin, stmt)
            if scope_stage:
                self._stage(instance, stmt, x)
        return x

    def _repeat_count(self, stmt: syntax.Labeled, env) -> int | None:
        try:
            count = evaluate(stmt.repeat, env, self.sink)
        except EvalError:
            return None
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int):
            self.sink.emit(codes.BAD_REPEAT, f"a repetition count must be an integer, got {describe(count)}",
                           stmt.repeat_span, "not an integer", help="e.g. `x n` with an integer parameter, or `x (n // 2)`")
            return None
        if not (1 <= count <= self.limits.max_repeat):
            self.sink.emit(codes.BAD_REPEAT, f"repetition count must be between 1 and {self.limits.max_repeat}, got {count}",
                           stmt.repeat_span, "invalid count",
                           help="leave the statement out with `when` where the count can be 0" if count == 0 else None)
            return None
        return count

    def _group(self, stmt: syntax.Labeled, path: str, x, env, origin) -> str | None:
        """A `{ ... }` written in the network body: a group whose members are stages."""
        group = Stage(path, "seq", None, stmt.span)
        self.graph.groups[path] = group
        group.output = self.sequence(stmt.op.body, x, env, path, origin, stages=True)
        return group.output

    def _stage(self, name: str, stmt: syntax.Labeled, out: str | None) -> None:
        kind = stmt.op.name if isinstance(stmt.op, syntax.Call) else type(stmt.op).__name__.lower()
        if isinstance(stmt.op, syntax.Concat):
            kind = stmt.op.word
        self.graph.stages.append(Stage(name, kind, out, stmt.span))

    # -- operations
    def op(self, op: syntax.Transform, path, x, env, origin, stmt) -> str | None:
        if isinstance(op, syntax.Call):
            return self.call(op, path, x, env, origin)
        if isinstance(op, syntax.Seq):
            self._record(path, StatementKind.SEQ)
            return self.sequence(op.body, x, env, path, origin)
        if isinstance(op, syntax.Concat):  # concat, reduction, sum, product, split: language/combinator_nodes.py
            return elaborate_join(self, op, path, x, env, origin, stmt)
        return self.residual(op, path, x, env, origin)

    def residual(self, op: syntax.Residual, path, x, env, origin) -> str | None:
        settings = self.program.settings_for(op.span)
        try:
            bound = signatures.bind(syntax.Call("residual", op.args, True, op.span), signatures.RESIDUAL, env, settings, self.sink)
            scale = signatures.number(bound, "scale", self.sink, -1e6, 1e6, "the residual scale")
            if bound["act"] is None and "act" not in {a.name for a in op.args}:  # unwritten: the file's setting
                bound.values["act"] = (settings["act"], op.span)
            act = activation(bound, "act", self.sink)
        except EvalError:
            return None
        self._record(path, StatementKind.RESIDUAL)
        branch = self.sequence(op.body, x, env, path, origin, context="residual")
        shortcut = x
        if op.shortcut is not None:
            shortcut_path = join_path(path, shortcut_name(op.shortcut))
            self._record(shortcut_path, StatementKind.SEQ)
            shortcut = self.sequence(op.shortcut, x, env, shortcut_path, origin,
                                     context="residual" if shortcut_name(op.shortcut) is TRANSPARENT else "seq")
        if scale != 1.0:
            branch = self._add(join_path(path, "scale"), Op.SCALE, {"value": scale}, op.span, origin, [branch], statement=path)
        y = self._add(join_path(path, "add"), Op.ADD, {}, op.span, origin, [shortcut, branch], statement=path)
        if not is_identity(act):
            y = self._add(join_path(path, "act"), Op.ACT, act_attrs(act), op.span, origin, [y], statement=path)
        return y

    def call(self, call: syntax.Call, path, x, env, origin) -> str | None:
        if call.name in ops.LAYERS:
            try:
                return self.layer(call, path, x, env, origin)
            except EvalError:
                return None
        definition = self.program.definitions.get(call.name)
        if definition is None or definition.kind != "block":
            candidates = list(ops.LAYERS) + [d for d, b in self.program.definitions.items() if b.kind == "block"]
            what = "a network, not a block" if definition is not None else "no layer or block has this name"
            help = (missing_colon(call) or missing_space(call, env) or did_you_mean(call.name, candidates)
                    or "define it with `block NAME { ... }` or `import` the file that does")
            self.sink.emit(codes.UNKNOWN_BLOCK, f"unknown layer or block `{call.name}`", call.span, what, help=help)
            return None
        return self.block(definition, call, path, x, env, origin)

    def block(self, definition: syntax.BlockDef, call: syntax.Call, path, x, env, origin) -> str | None:
        if definition.name in self.call_stack:
            chain = " -> ".join(self.call_stack[self.call_stack.index(definition.name):] + [definition.name])
            self.sink.emit(codes.RECURSIVE_BLOCK, f"block `{definition.name}` calls itself: {chain}", call.span,
                           "recursive call", secondary=[Label(definition.name_span, "defined here", False)],
                           help="a network must be finite: break the cycle")
            return None
        if len(self.call_stack) >= self.limits.max_call_depth:
            chain = " -> ".join(self.call_stack + [definition.name])
            self.sink.emit(codes.LIMIT_EXCEEDED, f"blocks nest more than {self.limits.max_call_depth} calls deep: {chain}",
                           call.span, "one call too many", help="raise the limit with --max-call-depth")
            return None
        builtins = {}
        if reads_builtins(definition, self.reads_builtins):
            shape = self._shape(x)
            if shape is None:
                return None  # the input failed: reported by shape inference
            if len(shape) != 3 and not self._flat_builtins(definition, call, shape):
                return None
            builtins = builtins_of(shape)
            self.graph.block_inputs[path] = shape
            if len(shape) == 3 and not self._one_grid(definition, call, shape):
                return None
        try:
            callee_env = bind_params(definition, call, env, {}, self.sink, builtins)
        except EvalError:
            return None
        site = CallSite(definition.name, call.span)
        if path:
            self.graph.blocks[path] = site
            self._record(path, StatementKind.BLOCK)
        self.call_stack.append(definition.name)
        try:
            return instantiate(self, definition, x, callee_env, path, origin + (site,))  # language/caches/block_templates.py
        finally:
            self.call_stack.pop()

    def _flat_builtins(self, definition: syntax.BlockDef, call: syntax.Call, shape) -> bool:
        """A flat input gives a block its `in_channels` (the feature count), not a grid: a
        block reading `in_height` or `in_width` there is E204 at the call (nothing of it
        is elaborated, so no layer inside would report it)."""
        if not syntax.reads((definition.params, definition.body), ("in_height", "in_width")):
            return True
        self.sink.emit(codes.NOT_SPATIAL, f"block `{definition.name}` reads its input's height and width, "
                       f"but its input is flat ({shape[0]} features)", call.span, "input is already flattened",
                       help="call it before `flatten`")
        return False

    def layer(self, call: syntax.Call, path, x, env, origin) -> str | None:
        """A built-in layer call: its op (ops.LAYERS) binds the arguments and adds the nodes."""
        definition = ops.LAYERS[call.name]
        settings = self.program.settings_for(call.span)
        bound = signatures.bind(call, definition.sig, env, settings, self.sink)
        self._record(path, StatementKind.LAYER)
        return definition.elaborate(LayerBuilder(self, call, path, x, origin, settings), bound)
