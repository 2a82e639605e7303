"""How elaboration adds IR nodes for one statement: the builder an op's `elaborate` writes
through, the rule for node ids under a statement's path, and the one-edge-per-input rule."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from inception_dsl.ir import Graph, Node, Role

if TYPE_CHECKING:
    from inception_dsl.core import syntax

__all__ = ["LayerBuilder", "distinct_inputs", "join_path"]


def join_path(scope: str, name: str | None) -> str:
    if not name:
        return scope
    return f"{scope}.{name}" if scope else name


def distinct_inputs(graph: Graph, id_: str, inputs: list[str], alias: Node) -> list[str]:
    """The graph has one edge per (source, target): an input read twice by one node (an
    empty residual body adds x to x; `concat { conv; {}; {} }` concatenates x twice)
    reads its repeats through IDENTITY nodes (copies of `alias`), so the IR says exactly
    what runs."""
    seen: set[str] = set()
    distinct = []
    for index, source in enumerate(inputs):
        if source in seen:
            copy = replace(alias, id=f"{id_}.in{index}")
            graph.add(copy, [source])
            source = copy.id
        seen.add(source)
        distinct.append(source)
    return distinct


class LayerBuilder:
    """What an op's `elaborate` adds nodes through (ops.base.Builder): ids under the
    statement's path, each node reading the one added before it."""

    def __init__(self, elaborator, call: "syntax.Call", path: str, x: str, origin, settings) -> None:
        self.elaborator, self.call, self.path, self.last, self.origin = elaborator, call, path, x, origin
        self.sink, self.settings = elaborator.sink, settings

    def unique(self, suffix: str = "") -> bool:
        return self.elaborator._check_unique(join_path(self.path, suffix), self.call.span)

    def add(self, suffix: str, kind, attrs: dict) -> str | None:
        self.last = self.elaborator._add(join_path(self.path, suffix), kind, attrs, self.call.span, self.origin,
                                         [self.last], statement=self.path, role=Role.LAYER)
        return self.last
