"""Statements that `when` left out of the checked network.

`check` elaborates only what the network's parameters reach, but the generated class also
defines what a `when` switched off, so that one source serves every parameter value. Where a
left-out statement cannot be written (its arguments are invalid for these parameters, as in
`conv(16 // (k - 1), 1x1) when k != 1`, or its sizes were never inferred), refusing it would
make `compile` reject a spec `check` accepted. Instead such a statement becomes a call that
raises when the class is built with parameters that reach it; the checked network is exact."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

from inception_dsl.core.python_exprs import CodegenError
from inception_dsl.core.literals import py_literal

__all__ = ["Reach", "guard_unreached", "unreached_call"]


class Reach:
    """Which source ranges produced at least one IR node."""

    def __init__(self, graph):
        starts: dict[str, list[int]] = defaultdict(list)
        for node in graph.nodes():
            if node.span is not None:
                starts[node.span.path].append(node.span.start)
        self._starts = {path: sorted(found) for path, found in starts.items()}

    def reached(self, span) -> bool:
        starts = self._starts.get(span.path, [])
        index = bisect_left(starts, span.start)
        return index < len(starts) and starts[index] < span.end


def unreached_call(gen, span, why: str) -> str:
    """A Python expression that raises, naming the statement and why it has no source."""
    gen.helpers.add("_unreached")
    return f"_unreached({py_literal(gen.where(span))}, {py_literal(why)})"


def guard_unreached(gen, stmt, constructor):
    """`constructor()` -> (make, out_of, note) for statement `stmt`; if no IR node came from
    it and writing it fails, the parts that fail become `unreached_call`s."""
    if gen.reach.reached(stmt.span):
        return constructor()
    try:
        make, out_of, note = constructor()
    except CodegenError as error:
        stub = unreached_call(gen, stmt.span, str(error))
        return (lambda in_src: stub), (lambda in_ch: stub), ""

    def or_stub(part):  # `make` and `out_of` run later, when the enclosing class is written
        def guarded(argument):
            try:
                return part(argument)
            except CodegenError as error:
                return unreached_call(gen, stmt.span, str(error))
        return guarded

    return or_stub(make), or_stub(out_of), note
