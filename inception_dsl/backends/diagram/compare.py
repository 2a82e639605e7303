"""Diagrams that colour the network: two networks side by side with their differences
(`render --diff`), and one network coloured by a measured or counted value per stage
(`render --heat time|macs|params`). DOT text only; the render command runs Graphviz."""

from __future__ import annotations

from inception_dsl.backends.diagram.dot import Fill, emit_drawing, header, quote
from inception_dsl.backends.diagram.drawing import Unit, View, build_drawing, is_named_instance
from inception_dsl.ir import Graph

__all__ = ["DIFF_COLOURS", "side_by_side", "heat_fill", "heat_colour", "statement_of"]

DIFF_COLOURS = {"removed": "#f4b6b0", "added": "#b9e4b4", "changed": "#fbe38e"}


def statement_of(graph: Graph, stage_name: str) -> str:
    """The statement a stage comes from: `inception_a.2` -> `inception_a` for a labelled
    `inception_a x4`; `features.8` -> `features.6` for the third of `inception_a x4` at
    positions 6-9 of a sequence (its first instance names it); any other stage itself."""
    first = graph.repeats.get(stage_name, (stage_name, 1))[0]
    return first.rpartition(".")[0] if is_named_instance(graph, first) else first


def _unit_stage(unit: Unit) -> str | None:
    if unit.kind in ("input", "output") or not unit.nodes:
        return None
    return unit.nodes[0].stage or None


def _status_fill(graph: Graph, statuses: dict[str, str]) -> Fill:
    def fill(unit: Unit) -> str | None:
        stage = _unit_stage(unit)
        return DIFF_COLOURS.get(statuses.get(statement_of(graph, stage), "")) if stage else None

    return fill


def side_by_side(graph_a: Graph, graph_b: Graph, statuses_a: dict[str, str], statuses_b: dict[str, str], *,
                 title_a: str, title_b: str, view: View = View()) -> str:
    """Both networks in one picture, A left and B right; statements coloured by status
    (`statuses_*`: statement name -> removed/added/changed; absent means the same)."""
    lines = header("red: only in A, green: only in B, yellow: changed")
    counter = [0]
    for prefix, graph, statuses, title in (("a", graph_a, statuses_a, title_a), ("b", graph_b, statuses_b, title_b)):
        lines.append(f"  subgraph cluster_{counter[0]} {{")
        counter[0] += 1
        lines.append(f'    graph [label={quote(title)}, style="rounded", color="#666666", labeljust=c];')
        emit_drawing(lines, build_drawing(graph, view), prefix, counter, "    ", _status_fill(graph, statuses))
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def heat_colour(fraction: float) -> str:
    """White (0) through orange to red (1)."""
    fraction = min(max(fraction, 0.0), 1.0)
    green = round(255 - 190 * fraction)
    blue = round(255 - 235 * min(1.0, 2 * fraction))
    return f"#ff{green:02x}{blue:02x}"


def heat_fill(graph: Graph, values: dict[str, float], *, fold: bool = True) -> Fill:
    """Colour each box by its share of the largest value (`values`: stage name -> value).
    With `fold` (repetitions drawn once) a box stands for its statement and gets the sum
    over the statement's instances."""
    if fold:
        totals: dict[str, float] = {}
        for stage, value in values.items():
            key = statement_of(graph, stage)
            totals[key] = totals.get(key, 0.0) + value
    else:
        totals = dict(values)
    top = max(totals.values(), default=0.0) or 1.0

    def fill(unit: Unit) -> str | None:
        stage = _unit_stage(unit)
        if stage is None:
            return None
        return heat_colour(totals.get(statement_of(graph, stage) if fold else stage, 0.0) / top)

    return fill
