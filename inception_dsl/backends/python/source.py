"""A checked spec (`api.Result`: the AST + the shape-checked IR) -> standalone PyTorch source text.

One class per block definition reachable from the network (CamelCase of its name) and
one for the network, generated from the AST so that a parameterized block is ONE class
whose instances differ by constructor arguments. Attribute names come from naming.py,
so state_dict keys equal the IR's parameter node ids. Compound statements that are not
plain layer chains get small classes of their own (`InceptionCBranch1`); plain chains are
`nn.Sequential(OrderedDict(...))`; `xN` is `_repeat(N, ...)`. The IR is consulted only for
what the AST cannot say: the grid size seen by `flatten`. Output is deterministic: no
absolute paths, no timestamps, fixed helper order. No torch here."""

from __future__ import annotations

import os
from typing import Any, Protocol

from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.binding import bind_params
from inception_dsl.ir import Graph, Op
from inception_dsl.ops import LAYERS
from inception_dsl.language.naming import (TRANSPARENT, is_single_compound, is_spliced,
                                           reserved_name, statement_names)
from inception_dsl.ir import fmt_shape
from inception_dsl.core.values import EvalError
from inception_dsl.backends.python.facts import (Grid, grid_after, hint, is_layer_chain, leading_comment, mentioned_in, paren,
                           parse_channels, training_only)
from inception_dsl.core.python_exprs import (Channels, CodegenError, LayerContext, mentions, py_expr,
                                                 py_value)
from inception_dsl.backends.python.layer_source import keeps_channels, layer_code
from inception_dsl.core.literals import py_literal
from inception_dsl.backends.python.names import Namespace, camel, safe_text
from inception_dsl.backends.python.prelude import HEADER, prelude
from inception_dsl.backends.python.classes import Class, Scope, assign, member_ref, write_returns
from inception_dsl.backends.python.residual import ResidualWriter
from inception_dsl.backends.python.model_api import Mark, write_model_api
from inception_dsl.backends.python.init_source import write_init_weights
from inception_dsl.backends.python.splice import write_spliced
from inception_dsl.backends.python.unreached import Reach, guard_unreached, unreached_call
from inception_dsl.backends.python.combinator_source import write_join
from inception_dsl.backends.python.instances import Instances
from inception_dsl.language.program import Program

__all__ = ["to_python", "CodegenError", "network_class_name", "Checked"]


class Checked(Protocol):
    """What the backend reads of an analysis (an `api.Result`, which the backends do not
    import: api sits above them)."""

    program: Program
    graph: Graph | None

    @property
    def ok(self) -> bool: ...

    def require(self) -> Graph: ...


def to_python(result: Checked, *, source_comments: bool = True, init: str | None = None) -> str:
    """The generated module for the result's network (result.ok must be true); its network
    class initializes its weights by the scheme `init` (None: the spec's `set init`)."""
    return _Generator(result, source_comments, init).run()


def network_class_name(result: Checked) -> str:
    return Namespace().create(camel(result.graph.name))


class _Generator:
    def __init__(self, result: Checked, source_comments: bool, init: str | None = None):
        assert result.ok and result.graph is not None, "to_python needs a clean analysis"
        self.program, self.graph = result.program, result.graph
        self.comments = source_comments
        self.init = init
        self.class_ns = Namespace()
        self.classes: list[Class] = []
        self.block_classes: dict[str, str] = {}
        self.block_params: dict[str, dict[str, str]] = {}  # block -> its parameters' Python names
        self.helpers: set[str] = set()
        main = self.program.main.path if self.program.main else "<input>"
        self.main_path = main
        self.base_dir = "" if main.startswith("<") else os.path.dirname(main)
        self.flat_areas = self._flat_areas()
        self.instances = Instances(self.graph, self.helpers)
        self.in_shapes = self.instances.in_shapes
        self.reach = Reach(self.graph)
        self.residuals = ResidualWriter(self)

    # -- output
    def run(self) -> str:
        definition = next(d for d in self.program.networks() if d.name == self.graph.name)
        network = self._network(definition)
        exports = ", ".join(py_literal(c.name) for c in [network] + [c for c in self.classes if c is not network])
        shape = fmt_shape(self.graph.input_node.shape)
        doc = (f"PyTorch modules for network `{safe_text(self.graph.name)}` (input {shape}); standalone, needs only torch.")
        header = HEADER.format(spec=self.where_file(self.main_path), doc=doc, exports=exports)
        parts = [header, prelude(self.helpers)] + ["\n\n" + c.render() for c in self.classes]
        return "".join(parts)

    def where_file(self, path: str) -> str:
        if path.startswith("<"):
            return safe_text(path)
        try:
            relative = os.path.relpath(path, self.base_dir or ".")
        except ValueError:
            relative = os.path.basename(path)
        if os.path.isabs(relative):
            relative = os.path.basename(relative)
        return safe_text(relative.replace(os.sep, "/"))

    def where(self, span) -> str:
        return f"{self.where_file(span.path)}:{span.line}" if span is not None else ""

    def comment(self, span) -> str:
        return f"  # {self.where(span)}" if self.comments and span is not None else ""

    def _flat_areas(self) -> dict[tuple, set[int]]:
        areas: dict[tuple, set[int]] = {}
        for node in self.graph.nodes():
            if node.op is Op.FLATTEN and node.span is not None:
                shape = self.graph.node(self.graph.inputs(node.id)[0]).shape
                area = shape[1] * shape[2] if shape is not None and len(shape) == 3 else 1
                areas.setdefault((node.span.path, node.span.start, node.span.end), set()).add(area)
        return areas

    def flat_area(self, call: syntax.Call, grid: Grid = None) -> int | str | None:
        """HxW seen by a flatten: from the IR, or, where `when` left it out of the IR, from a
        fixed-size pooling right before it (`grid`); None where its instances differ."""
        if isinstance(grid, str):  # a block parameter sets it: exact for every instance
            return grid
        areas = self.flat_areas.get((call.span.path, call.span.start, call.span.end), set())
        if not areas and grid is not None:
            return grid[0] * grid[1]
        if not areas:  # `when` left it out: no shape inference ran on it (see unreached.py)
            return unreached_call(self, call.span, "its input grid was never inferred")
        return next(iter(areas)) if len(areas) == 1 else None

    # -- classes
    def _new_scope(self, name: str, doc: str, env: dict[str, Any]) -> Scope:
        cls = Class(self.class_ns.create(name), safe_text(doc, 400), [])
        init_ns = Namespace({"in_channels", "grids"} | set(self.block_classes.values()))
        scope = Scope(cls, env, {}, init_ns, Namespace({"x"}))
        return scope

    def _network(self, definition: syntax.BlockDef) -> Class:
        env = dict(self.graph.params)
        shape = self.graph.input_node.shape
        scope = self._new_scope(camel(definition.name), self._doc(definition, "network"), env)
        scope.cls.signature = ["*"] if definition.params else []
        for param in definition.params:
            local = scope.init_ns.create(param.name)
            scope.names[param.name] = local
            scope.cls.signature.append(f"{local}{hint(env.get(param.name))} = {py_value(env.get(param.name))}")
        if len(scope.cls.signature) == 1:
            scope.cls.signature = []
        scope.cls.init.append(f"in_channels = {py_literal(shape[0])}  # input {fmt_shape(shape)}")
        scope.names["in_channels"] = "in_channels"
        scope.env.update(zip(syntax.BUILTIN_NAMES, shape))
        self._grid_locals(scope, definition)
        outputs = [(n, s.span) for s in definition.body if isinstance(s, syntax.OutputStmt) for n in s.names]
        statements = [s for s in definition.body if isinstance(s, syntax.Labeled)]
        aux_only = training_only(statements, [n for n, _ in outputs]) if len(outputs) > 1 else set()
        keep = {n for n, _ in outputs}
        scope.marks = []
        _, last_var, labels = self.body(scope, definition.body, "block", "in_channels", "x",
                                        keep=keep, training_only=aux_only)
        names = statement_names(definition.body, "block", self.program.definitions)
        if len(scope.marks) == len(statements):  # not a single-compound body
            write_model_api(self, scope, definition, names, scope.marks, aux_only)
        conditional = {s.label: n for s, n in zip(statements, names) if s.label and s.condition is not None}
        gated = frozenset(statements[i].label for i in aux_only if statements[i].label)
        write_returns(scope, outputs, labels, last_var, conditional, gated)
        scope.cls.attributes.insert(0, f"compiled_from = {py_literal((self.where_file(self.main_path), self.graph.name))}"
                                       "  # spec file, network: optimize() builds from the spec (docs/optimize.md)")
        write_init_weights(scope.cls, self.program.settings_for(definition.span), self.graph, self.init)
        self.instances.network(scope)
        self.classes.append(scope.cls)
        return scope.cls

    def _doc(self, definition: syntax.BlockDef, kind: str) -> str:
        lead = leading_comment(definition.span)
        return f"{kind.capitalize()} `{definition.name}` ({self.where(definition.span)})" + (f": {lead}" if lead else ".")

    def block_class(self, definition: syntax.BlockDef, env: dict[str, Any]) -> str:
        if definition.name in self.block_classes:
            return self.block_classes[definition.name]
        scope = self._new_scope(camel(definition.name), self._doc(definition, "block"), env)
        self.block_classes[definition.name] = scope.cls.name
        self.block_params[definition.name] = scope.names
        scope.cls.signature = ["in_channels: int"] + (["*"] if definition.params else [])
        scope.names["in_channels"] = "in_channels"
        self._grid_locals(scope, definition)
        defaults = []
        for param in definition.params:
            local = scope.init_ns.create(param.name)
            earlier = dict(scope.names)
            scope.names[param.name] = local
            if param.default is None:
                scope.cls.signature.append(f"{local}{hint(env.get(param.name))}")
            elif not mentions(param.default, earlier):
                scope.cls.signature.append(f"{local}{hint(env.get(param.name))} = {py_expr(param.default, {}, self.helpers)}")
            else:
                scope.cls.signature.append(f"{local}=None")
                defaults += [f"if {local} is None:", f"    {local} = {py_expr(param.default, earlier, self.helpers)}"]
        scope.cls.init += defaults
        out, var, _ = self.body(scope, definition.body, "block", "in_channels", "x")
        scope.cls.init.append(f"self.out_channels = {out}")
        scope.cls.forward.append(f"return {var}")
        self.instances.close(scope)
        self.classes.append(scope.cls)
        return scope.cls.name

    def compound_class(self, scope: Scope, name: str, stmt: syntax.Labeled) -> tuple[str, str]:
        """A class for a compound statement; returns (class name, its constructor's keyword arguments)."""
        used = [p for p in scope.names if mentioned_in(stmt.op, p)]
        kind = stmt.op.kind if isinstance(stmt.op, syntax.Concat) else {syntax.Seq: "sequence", syntax.Residual: "residual"}[type(stmt.op)]
        doc = f"The {kind} `{name}` of {scope.cls.name} ({self.where(stmt.span)})."
        inner = self._new_scope(scope.cls.name + camel(name), doc, scope.env)
        sources = syntax.branch_sources(stmt.op)
        inner.cls.signature = ["in_channels: int"] + (["*"] if used or sources else [])
        for param in used:
            local = inner.init_ns.create(param)
            inner.names[param] = local
            inner.cls.signature.append(f"{local}{hint(scope.env.get(param))}")
        extra = ""
        for label in sources:  # a branch's `from LABEL`: the tensor is a forward argument, its width a constructor's
            var, width = inner.forward_ns.create(label), inner.init_ns.create(f"{label}_channels")
            inner.cls.inputs.append(var)
            inner.cls.signature.append(f"{width}: int")
            inner.labels[label] = (var, width)
            extra += f", {width}={scope.labels[label][1]}"
        op = stmt.op
        if isinstance(op, syntax.Seq):
            inner.cls.base = "_Sequence"  # `features[i]`, as timm and torchvision users write
            self.helpers.add("_Sequence")
            out, var, _ = self.body(inner, op.body, "seq", "in_channels", "x")
        else:
            out, var = self.inline(inner, op, "in_channels", "x", stmt.span)
        inner.cls.init.append(f"self.out_channels = {out}")
        inner.cls.forward.append(f"return {var}")
        self.instances.close(inner)
        self.classes.append(inner.cls)
        kwargs = "".join(f", {inner.names[p]}={scope.names[p]}" for p in used) + extra
        return inner.cls.name, kwargs

    # -- statements
    def body(self, scope: Scope, body, context: str, in_ch: Channels, in_var: str, *,
             keep: set[str] = frozenset(), training_only: set[int] = frozenset(), chain_var: str = "x"):
        """Emit a sequence of statements; returns (out channels, forward variable, labels).
        `chain_var`: the variable the chain writes (a transparent branch of a concat must
        leave the concat's input `x` alone)."""
        statements = [s for s in body if isinstance(s, syntax.Labeled)]
        if context == "block" and is_single_compound(body):
            outer, scope.labels = scope.labels, {syntax.INPUT_LABEL: (in_var, in_ch)}  # the join's input
            out, var = self.inline(scope, statements[0].op, in_ch, in_var, statements[0].span)
            scope.labels = outer
            return out, var, {}
        names = statement_names(body, context, self.program.definitions)
        referenced = set(keep) | {s.source for s in statements if s.source}
        referenced |= {label for s in statements for label in syntax.branch_sources(s.op)}
        labels: dict[str, tuple[str, Channels]] = {}
        outer, scope.labels = scope.labels, labels  # what the branches of a join here read `from`
        if syntax.INPUT_LABEL in referenced:  # `from input`: kept in its own variable, as the chain rebinds `x`
            labels[syntax.INPUT_LABEL] = (scope.forward_ns.create("inputs"), in_ch)
            scope.cls.forward.append(f"{labels[syntax.INPUT_LABEL][0]} = {in_var}")
        var, ch = in_var, in_ch
        for index, (stmt, name) in enumerate(zip(statements, names)):
            src_var, src_ch = labels[stmt.source] if stmt.source else (var, ch)
            start_line = len(scope.cls.forward)
            if name is TRANSPARENT:
                if stmt.condition is not None:
                    raise CodegenError("an unlabelled concat with `when` inside a residual cannot be written; "
                                       "give it a label", stmt.span)
                out_var = chain_var if stmt.source is None else scope.forward_ns.create("x")
                out_ch, out_var = self.inline(scope, stmt.op, src_ch, src_var, stmt.span, out_var)
            else:
                if stmt.label in referenced or stmt.source is not None:
                    out_var = scope.forward_ns.create(stmt.label or name)
                else:
                    out_var = chain_var
                gate = index in training_only
                start = len(scope.cls.forward)
                if stmt.repeat is not None and is_spliced(context, stmt):
                    out_ch = write_spliced(self, scope, stmt, name, src_ch, src_var, out_var)
                else:
                    out_ch = self.member(scope, stmt, name, src_ch, src_var, out_var)
                if gate:
                    scope.cls.forward[start:] = ["if self.training:"] + [f"    {l}" for l in scope.cls.forward[start:]]
            if stmt.label:
                labels[stmt.label] = (out_var, out_ch)
            if stmt.source is None:
                var, ch = out_var, out_ch
            if scope.marks is not None and context == "block":
                scope.marks.append(Mark(start_line, src_var, src_ch, out_var))
        scope.labels = outer
        return ch, var, labels

    def inline(self, scope: Scope, op: syntax.Transform, in_ch: Channels, in_var: str, span,
               out_var: str = "x") -> tuple[Channels, str]:
        """A concat, residual or sequence whose parts live directly in this class
        (naming.py's transparent statements, and the bodies of compound classes)."""
        if isinstance(op, syntax.Residual):
            return self.residuals.write(scope, op, in_ch, in_var, span)
        if isinstance(op, syntax.Seq):
            out, var, _ = self.body(scope, op.body, "seq", in_ch, in_var, chain_var=out_var)
            return out, var
        assert isinstance(op, syntax.Concat), op  # concat, reduction, sum, product, split
        return write_join(self, scope, op, in_ch, in_var, span, out_var)

    def member(self, scope: Scope, stmt: syntax.Labeled, name: str, in_ch: Channels, in_var: str, out_var: str,
               append_to: str | None = None) -> Channels:
        """One statement as an attribute (`self.<name> = ...`) and its forward line(s);
        with `append_to`, the result is appended to that list instead of assigned."""
        if reserved_name(name) or name in scope.attrs:
            what = "is used twice in this scope" if name in scope.attrs else "is a reserved nn.Module attribute name"
            raise CodegenError(f"the name `{name}` {what}; give the statement another label", stmt.label_span or stmt.span)
        scope.attrs.add(name)
        ctor, out, note = self._member_constructor(scope, stmt, name, in_ch)
        comment = self.comment(stmt.span) + (f" ({note})" if note and self.comments else (f"  # {note}" if note else ""))
        cls = scope.cls
        reads = "".join(f", {scope.labels[label][0]}" for label in syntax.branch_sources(stmt.op))  # `from` on its branches
        result = f"{member_ref(name)}({in_var}{reads})"
        compute = f"{append_to}.append({result})" if append_to else f"{out_var} = {result}"
        if "\n" in ctor:  # a multi-line constructor carries its location on its first line
            first, rest = ctor.split("\n", 1)
            ctor, comment = f"{first}{comment}\n{rest}", ""
        if stmt.condition is None:
            cls.init.append(assign(name, ctor, comment))
            cls.forward.append(compute)
            return out
        use = scope.init_ns.create(f"use_{name}")
        cls.init.append(f"{use} = {py_expr(stmt.condition, scope.names, self.helpers)}{comment}")
        cls.init.append(assign(name, f"{ctor} if {use} else None", ""))
        if str(out) != str(in_ch) and stmt.source is None and not append_to:  # only chains carry `ch` on
            channels = scope.init_ns.create("ch")
            cls.init.append(f"{channels} = {out} if {use} else {paren(in_ch)}")
            out = channels if not append_to else f"({out} if {use} else 0)"
        elif append_to:
            out = f"({out} if {use} else 0)"
        cls.forward += [f"if {member_ref(name)} is not None:", f"    {compute}"]
        if out_var != in_var and not append_to and stmt.source is None:
            cls.forward += ["else:", f"    {out_var} = {in_var}"]  # a skipped statement passes its input on
        return out

    def _member_constructor(self, scope: Scope, stmt: syntax.Labeled, name: str, in_ch: Channels):
        """(constructor source, output channels, note) of a statement, `xN` included."""
        scope.at = (py_literal(name),)
        make, out_of, note = self._constructor(scope, stmt, name)
        out = out_of(in_ch)
        if stmt.repeat is None:
            return make(str(in_ch)), (f"{member_ref(name)}.out_channels" if out is None else out), note
        count = py_expr(stmt.repeat, scope.names, self.helpers)
        return (self.instances.repeated(scope, (py_literal(name),), count, in_ch, make),
                f"{member_ref(name)}[-1].out_channels" if out is None else out, note)

    def _constructor(self, scope: Scope, stmt: syntax.Labeled, name: str):
        """(make(in_channels_src) -> constructor source, out_of(in_channels) -> channels or
        None (read `.out_channels`), note)."""
        return guard_unreached(self, stmt, lambda: self._written_constructor(scope, stmt, name))

    def _written_constructor(self, scope: Scope, stmt: syntax.Labeled, name: str):
        op = stmt.op
        if isinstance(op, syntax.Call) and op.name in LAYERS:
            settings = self.program.settings_for(op.span)
            grid = scope.grid
            ctx = self._context(scope, settings, grid)
            scope.grid = grid_after(op, scope.env, grid, scope.names, self.helpers)

            def make(in_src: str) -> str:
                code = layer_code(op, parse_channels(in_src), ctx)
                self.helpers.update(code.helpers)
                return code.ctor

            first = layer_code(op, "in_channels", ctx)
            preserving = keeps_channels(op)
            return make, (lambda c: c if preserving else layer_code(op, c, ctx).out), first.comment
        if isinstance(op, syntax.Call):
            return self._block_call(scope, op)
        if isinstance(op, syntax.Seq) and is_layer_chain(op.body):
            return self._sequential(scope, op), (lambda c: self._chain_out(scope, op, c)), ""
        cls, kwargs = self.compound_class(scope, name, stmt)
        return (lambda in_src: f"{cls}({in_src}{kwargs}{self.instances.argument(scope, cls)})"), (lambda c: None), ""

    def _block_call(self, scope: Scope, call: syntax.Call):
        definition = self.program.definitions[call.name]
        try:
            env = bind_params(definition, call, scope.env, {}, DiagnosticSink(), self._builtins(definition, call))
        except EvalError:
            raise CodegenError(f"cannot bind the arguments of `{call.name}`", call.span) from None
        cls = self.block_class(definition, env)
        params = [p.name for p in definition.params]
        positional = list(params)
        kwargs = []
        for arg in call.args:
            target = arg.name if arg.name is not None else positional.pop(0)
            if target in positional:
                positional.remove(target)
            local = self.block_params[call.name][target]
            kwargs.append(f"{local}={py_expr(arg.value, scope.names, self.helpers)}")
        tail = "".join(f", {k}" for k in kwargs)
        return (lambda in_src: f"{cls}({in_src}{tail}{self.instances.argument(scope, cls)})"), (lambda c: None), ""

    def _grid_locals(self, scope: Scope, definition: syntax.BlockDef) -> None:
        """`in_height = 16` / `in_width = 16` in __init__ for a body that reads them: the
        grid is not a constructor argument, so its size comes from shape inference (the
        same for every instance, see _builtins)."""
        for name in syntax.BUILTIN_NAMES[1:]:
            if syntax.reads((definition.params, definition.body), (name,)):
                local = scope.init_ns.create(name)
                scope.names[name] = local
                scope.cls.init.append(f"{local} = {scope.env[name]!r}  # the input grid, from shape inference")

    def _builtins(self, definition: syntax.BlockDef, call: syntax.Call) -> dict[str, int]:
        """Concrete in_channels / in_height / in_width of a block call, from the IR. The
        generated class takes its input width as `in_channels`, so only the grid size is
        fixed in the source: it must be the same for every instance."""
        if not syntax.reads((definition.params, definition.body), syntax.BUILTIN_NAMES):
            return {}
        graph = self.graph
        instances = [path for path, site in graph.blocks.items() if site.block == definition.name]
        shapes = [graph.block_inputs[path] for path in instances if path in graph.block_inputs]
        here = [graph.block_inputs[p] for p in instances if p in graph.block_inputs
                and (graph.blocks[p].span.path, graph.blocks[p].span.start) == (call.span.path, call.span.start)]
        grids = {shape[1:] for shape in shapes}
        if len(grids) > 1 and syntax.reads((definition.params, definition.body), syntax.BUILTIN_NAMES[1:]):
            sizes = ", ".join(sorted("x".join(map(str, g)) for g in grids))
            raise CodegenError(f"block `{definition.name}` reads `in_height`/`in_width`, and its instances see "
                               f"different grids ({sizes}): one generated class cannot hold them all", call.span)
        shape = (here or shapes or [(1, 1, 1)])[0]  # a block no instance reaches (`when`) only needs a value
        return dict(zip(syntax.BUILTIN_NAMES, shape))

    def _context(self, scope: Scope, settings, grid: Grid) -> LayerContext:
        """What a layer call written into `scope` reads of its surroundings (`grid`: fixed by a pooling before it)."""
        return LayerContext(scope.env, scope.names, settings, lambda c: self.flat_area(c, grid), self.in_shapes,
                            lambda call, key, value, fallback: self.instances.value(scope, call, key, value, fallback))

    def _sequential(self, scope: Scope, op: syntax.Seq):
        names = statement_names(op.body, "seq", self.program.definitions)
        statements = [s for s in op.body if isinstance(s, syntax.Labeled)]

        def make(in_src: str) -> str:
            ch: Channels = parse_channels(in_src)
            lines = []
            grid = None
            outer = scope.at
            for stmt, name in zip(statements, names):
                settings = self.program.settings_for(stmt.op.span)
                ctx = self._context(scope, settings, grid)
                grid = grid_after(stmt.op, scope.env, grid, scope.names, self.helpers)
                scope.at = outer + (py_literal(name),)
                code = layer_code(stmt.op, ch, ctx)
                self.helpers.update(code.helpers)
                ctor = code.ctor
                if stmt.repeat is not None:
                    count = py_expr(stmt.repeat, scope.names, self.helpers)
                    ctor = self.instances.repeated(scope, scope.at, count, ch,
                                                   lambda lam, c=ctx, s=stmt: layer_code(s.op, lam, c).ctor, bare=False)
                    scope.at = outer + (py_literal(name),)
                # a location only where it adds one: `{ conv; conv }` on one line needs it once
                where = self.comment(stmt.span) if stmt.span.line != op.span.line else ""
                note = f"  # {code.comment}" if code.comment and not where else (f" ({code.comment})" if code.comment else "")
                lines.append(f'    ({py_literal(name)}, {ctor}),{where}{note}')
                ch = code.out
            scope.at = outer
            return "nn.Sequential(OrderedDict([\n" + "\n".join(lines) + "\n]))"

        return make

    def _chain_out(self, scope: Scope, op: syntax.Seq, in_ch: Channels) -> Channels:
        ch = in_ch
        grid = None
        for stmt in [s for s in op.body if isinstance(s, syntax.Labeled)]:
            ctx = self._context(scope, self.program.settings_for(stmt.op.span), grid)
            grid = grid_after(stmt.op, scope.env, grid, scope.names, self.helpers)
            ch = layer_code(stmt.op, ch, ctx).out
        return ch
