"""Values that differ between the instances of one generated class: the grid each instance
of a layer call meets where a table's size depends on it (window_attention's and
attention2d's relative position bias, pos_embed's token count) and instances of one class
meet different grids at the same width, so neither a literal nor a dict by input width
(`{96: (56, 56), ...}`) can say it.

Shape inference knows each instance's input; `Node.statement` is its module path (as the
state_dict keys are). The network class holds these values in one dict, `grids`, keyed by
module path and argument (`{"s1.a.grid": (8, 8), "s2.a.grid": (2, 2)}`), and hands each
member the part below it through the block classes' constructors, as `in_channels` is
handed down (`SwinPair(in_channels, heads=3, grids=_within(grids, "s1"))`; a repetition's
index is part of the path: `_repeat_at`); a layer reads its own
(`_grid_of(grids, default, "a", "grid")`). A class built on its own (grids None) takes the
default. Where the instances agree nothing of this is written. No torch here."""

from __future__ import annotations

from typing import Any, Callable

from inception_dsl.backends.python.classes import Scope
from inception_dsl.core import syntax
from inception_dsl.core.literals import py_literal
from inception_dsl.core.python_exprs import CodegenError
from inception_dsl.ir import Graph

__all__ = ["Instances", "HELPERS"]

_WITHIN = '''
def _within(grids, *path):
    """What the network handed down for the member at `path` (its instances' grids where
    instances of one class meet different ones), keyed relative to it."""
    if grids is None:
        return None
    prefix = ".".join(map(str, path)) + "."
    return {key[len(prefix):]: value for key, value in grids.items() if key.startswith(prefix)}
'''

_GRID_OF = '''
def _grid_of(grids, default, *path):
    """This instance's value at `path` (member path, argument) from what the network handed
    down, or `default` for a class built on its own."""
    return default if grids is None else grids.get(".".join(map(str, path)), default)
'''

_REPEAT_AT = '''
def _repeat_at(count: int, in_channels: int, make) -> nn.Sequential:
    """`name xN` whose instances meet different grids: make(in_channels, index)."""
    modules = []
    for index in range(count):
        module = make(in_channels, index)
        in_channels = _out_channels(module, in_channels)
        modules.append(module)
    return nn.Sequential(*modules)
'''

HELPERS = {"_within": (_WITHIN, ()), "_grid_of": (_GRID_OF, ()), "_repeat_at": (_REPEAT_AT, ("_repeat",))}


def _key(span) -> tuple:
    return (span.path, span.start, span.end)


class Instances:
    """The input shape of each instance of each layer call (by the call's span), and the
    values written into the network's `grids` dict."""

    def __init__(self, graph: Graph, helpers: set[str]):
        self.helpers = helpers
        self.shapes: dict[tuple, set] = {}
        self.paths: dict[tuple, dict[str, Any]] = {}  # call -> {its instance's module path: (node, input shape)}
        for node in graph.nodes():
            inputs = graph.inputs(node.id)
            source = graph.node(inputs[0]) if inputs else None
            if node.span is None or source is None or source.shape is None:
                continue
            # a call's first node (its input comes from elsewhere, or from another instance of it: a repeated block)
            if (source.span, source.statement) != (node.span, node.statement):
                self.shapes.setdefault(_key(node.span), set()).add(source.shape)
                self.paths.setdefault(_key(node.span), {}).setdefault(node.statement or node.id, (node, source.shape))
        self.values: dict[str, str] = {}  # module path.argument -> literal
        self.classes: set[str] = set()  # the classes that take `grids`
        self.marks = 0  # repetitions written

    def in_shapes(self, call: syntax.Call) -> set:
        """The input shapes a layer call has in the IR's instances of it (none where `when` left it out)."""
        return self.shapes.get(_key(call.span), set())

    def value(self, scope: Scope, call: syntax.Call, key: str, value: Callable[[Any, Any], Any],
              fallback: str | None) -> str:
        """Source of `value(node, input shape)` for the instance of `call` being built in `scope`."""
        values = {path: value(node, shape) for path, (node, shape) in self.paths.get(_key(call.span), {}).items()}
        distinct = set(values.values())
        if not distinct:
            raise CodegenError(f"`{call.name}`: its {key} comes from shape inference, which never reached it",
                               call.span)
        if len(distinct) == 1:
            return py_literal(distinct.pop())
        for path, item in values.items():
            self.values[f"{path}.{key}"] = py_literal(item)
        scope.cls.takes_grids = True
        self.helpers.add("_grid_of")
        default = fallback if fallback is not None else py_literal(values[min(values)])
        return f"_grid_of(grids, {default}, {self._path(scope, py_literal(key))})"

    def argument(self, scope: Scope, cls: str) -> str:
        """`, grids=...` for a member of class `cls` built in `scope`, if `cls` takes it."""
        if cls not in self.classes:
            return ""
        scope.cls.takes_grids = True
        self.helpers.add("_within")
        return f", grids=_within(grids, {self._path(scope)})"

    def close(self, scope: Scope) -> None:
        """After a class's body: it takes `grids` if something in it reads it."""
        if scope.cls.takes_grids:
            self.classes.add(scope.cls.name)
            scope.cls.signature += ([] if "*" in scope.cls.signature else ["*"]) + ["grids: dict = None"]

    def network(self, scope: Scope) -> None:
        """The network's `grids`: every instance's value, first in its __init__."""
        if scope.cls.takes_grids:
            entries = "".join(f"\n    {py_literal(k)}: {v}," for k, v in sorted(self.values.items()))
            scope.cls.init.insert(0, f"grids = {{  # each instance's grid where instances of one class meet "
                                     f"different ones (shape inference){entries}\n}}")

    def repeated(self, scope: Scope, at: tuple[str, ...], count: str, in_ch, make, bare: bool = True,
                 first: int = 0) -> str:
        """`_repeat(count, in_ch, maker)` of the members at `at` + index (+ `first`: members
        spliced into a sequence; `make(channels source)`: a member's constructor);
        `_repeat_at`, whose maker also takes the index, where an instance's path below it is
        written. `bare`: a maker `Cls(c)` is passed as `Cls`."""
        lam = scope.repeat_var()
        self.marks += 1
        mark = f"\x00{self.marks}\x00"  # the index's place in the path, until it is named
        outer, scope.at = scope.at, at + (f"{first} + {mark}" if first else mark,)
        built = make(lam)
        scope.at = outer
        if mark in built:
            index = scope.init_ns.create("i")
            self.helpers.add("_repeat_at")
            return f"_repeat_at({count}, {in_ch}, lambda {lam}, {index}: {built.replace(mark, index)})"
        self.helpers.add("_repeat")
        suffix = f"({lam})"
        bare = bare and built.endswith(suffix) and built[: -len(suffix)].isidentifier()
        return f"_repeat({count}, {in_ch}, {built[: -len(suffix)] if bare else f'lambda {lam}: {built}'})"

    @staticmethod
    def _path(scope: Scope, *extra: str) -> str:
        return ", ".join(list(scope.at) + list(extra))
