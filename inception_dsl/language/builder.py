"""How elaboration adds IR nodes for one statement: the builder an op's `elaborate` writes
through, the rule for node ids under a statement's path, and the one-edge-per-input rule."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from inception_dsl.core import codes
from inception_dsl.core.values import did_you_mean
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

    def add(self, suffix: str, kind, attrs: dict, also: tuple[str, ...] = ()) -> str | None:
        self.last = self.elaborator._add(join_path(self.path, suffix), kind, attrs, self.call.span, self.origin,
                                         [self.last, *also], statement=self.path, role=Role.LAYER)
        return self.last

    def add_from(self, suffix: str, kind, attrs: dict, inputs: list[str]) -> str | None:
        """Add a node `<path>.<suffix>` reading `inputs` (parallel parts: a mixed conv's)."""
        self.last = self.elaborator._add(join_path(self.path, suffix), kind, attrs, self.call.span, self.origin,
                                         list(inputs), statement=self.path, role=Role.LAYER)
        return self.last

    def in_shape(self):
        """The shape of the call's input (shape inference over the nodes built so far), or None."""
        return self.elaborator._shape(self.last)

    def tensor(self, label: str, span) -> str | None:
        """The node of `label`, an earlier labelled statement of the sequence this call
        stands in (or `input`, that sequence's input); E113, located at `span`, when it is
        unknown, comes later, or is switched off by its `when`."""
        return labelled_tensor(self.elaborator, self.call.name, label, span)


def labelled_tensor(elab, word: str, label: str, span) -> str | None:
    """What `LayerBuilder.tensor` reads: `elab.labels[-1]` (what the sequence produced so
    far, as `from` reads it) and `elab.sequence_labels[-1]` (every label of that sequence)."""
    produced = elab.labels[-1] if elab.labels else {}
    if label in produced:
        if produced[label] is None and not elab.sink.has_errors:
            elab.sink.emit(codes.UNKNOWN_SOURCE, f"`{word}` follows `{label}`, which is switched off by its `when`",
                           span, "this reads nothing for these parameters",
                           help=f"give this statement the same `when` as `{label}`")
        return produced[label]
    later = elab.sequence_labels[-1] if elab.sequence_labels else set()
    if label in later:
        elab.sink.emit(codes.UNKNOWN_SOURCE, f"`{word}` follows `{label}`, which is computed after this statement",
                       span, "not computed yet here",
                       notes=["a layer can follow the size of a tensor computed before it"],
                       help=f"move `{label}` before this statement, or follow an earlier label")
    else:
        elab.sink.emit(codes.UNKNOWN_SOURCE, f"`{word}` follows `{label}`: no earlier statement of this sequence has "
                       "that label", span, "unknown label", help=did_you_mean(label, [k for k in produced]),
                       notes=["the tensor must be an earlier labelled statement of the sequence this layer stands "
                              "in (or `input`), as `from` reads: labels inside another branch or block are not "
                              "reachable from here"])
    return None
