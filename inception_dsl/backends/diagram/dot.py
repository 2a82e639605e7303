"""ir.Graph (with shapes) -> Graphviz DOT source text, deterministically.

`to_dot` lays a network out top to bottom like the paper's figures: branches side by
side, "Filter concat" below them, convs labelled `1x7 Conv (192)`, `3x3 Conv (256 stride
2 V)`. Every string that comes from a spec (names, paths) is written as an escaped,
quoted DOT string; DOT ids are generated (`n0`, `cluster_0`), never taken from a spec.
Rendering DOT to svg/png/pdf is the render command's business, not this module's."""

from __future__ import annotations

from typing import Callable

from inception_dsl.backends.diagram.drawing import Drawing, Unit, View, build_drawing, is_named_instance, layer_path
from inception_dsl.ir import Graph, Op, fmt_shape

__all__ = ["to_dot", "quote", "unit_label", "header", "emit_drawing", "Fill"]

Fill = Callable[[Unit], "str | None"]

_BLOCK_FILL, _INPUT_FILL = "#fde9c9", "#eef5e1"


def quote(text: str, *, tooltip: bool = False) -> str:
    """A DOT double-quoted string that Graphviz shows as `text` literally: quotes and
    backslashes escaped (so `\\N` is no node-name placeholder), `&` written as an entity
    (Graphviz decodes entities in labels), line breaks as DOT's centred break, other
    control characters dropped. Graphviz (2.43 at least) unescapes tooltips twice, so a
    tooltip's backslashes are doubled once more."""
    backslash = "\\\\\\\\" if tooltip else "\\\\"
    out = []
    for char in text:
        if char == "\\":
            out.append(backslash)
        elif char == '"':
            out.append('\\"')
        elif char == "&":
            out.append("&amp;")
        elif char == "\n":
            out.append("\\n")
        elif ord(char) < 32 or ord(char) == 127:
            out.append(" ")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def unit_label(drawing: Drawing, unit: Unit) -> str:
    """The text in a unit's box."""
    if unit.kind == "block":
        title = _block_title(drawing.graph, unit.id, unit.repeat)
        return f"{title}\n{fmt_shape(unit.shape)}"
    node = unit.nodes[0]
    label = node.op.label(node, unit.nodes)
    if unit.kind == "input" and unit.nodes[0].op is not Op.INPUT:
        label = "Input"
    if unit.repeat > 1:
        label += f" x{unit.repeat}"
    if unit.is_stage or unit.kind == "input":
        label += "\n" + fmt_shape(unit.shape)
    return label


def _block_title(graph: Graph, scope: str, repeat: int) -> str:
    """`inception_a x4` for a folded repetition, `inception_a.2` for one instance of it,
    `stem: stem_v4` where the statement's name differs from the block's."""
    parts = scope.split(".")
    block = graph.blocks[scope].block
    if is_named_instance(graph, scope) and len(parts) > 1:
        name = parts[-2] if repeat > 1 else ".".join(parts[-2:])
        base = parts[-2]
    elif parts[-1].isdigit():  # a position in a `{ ... }` sequence, as nn.Sequential prints it
        name, base = (block if repeat > 1 else f"{parts[-1]}: {block}"), block
    else:
        name = base = parts[-1]
    title = name if base == block else f"{name}: {block}"
    return title + (f" x{repeat}" if repeat > 1 else "")


def _cluster_title(drawing: Drawing, scope: str):
    """A cluster's label and source span: an opened block instance, or a compound statement."""
    repeat = drawing.repeats.get(scope, 1)
    if scope in drawing.graph.blocks:
        return _block_title(drawing.graph, scope, repeat), drawing.graph.blocks[scope].span
    stage = drawing.groups[scope]
    name = stage.name.rpartition(".")[0] if repeat > 1 else stage.name
    return name + (f" x{repeat}" if repeat > 1 else ""), stage.span


def _tooltip(drawing: Drawing, unit: Unit) -> str:
    node = unit.nodes[0]
    span = drawing.graph.blocks[unit.id].span if unit.kind == "block" else node.span
    where = f"{span.path}:{span.line}" if span is not None else "(no source)"
    name = layer_path(unit)  # a conv+BN layer: its module, owner of .conv and .bn
    return f"{where}\n{name}"


def _node_style(unit: Unit, fill: str | None = None) -> str:
    """Fill (a heat map's `fill` wins over the op's own) and shape of a unit's box."""
    if unit.kind == "block":
        return f"fillcolor={quote(fill or _BLOCK_FILL)}, penwidth=1.4"
    if unit.kind == "input":  # the network input, or a tensor entering a drawn block
        return f'fillcolor={quote(fill or _INPUT_FILL)}, shape=box, style="rounded,filled"'
    op = unit.nodes[0].op
    return ", ".join([f"fillcolor={quote(fill or op.fill)}"] + ([op.style] if op.style else []))


def header(title: str | None) -> list[str]:
    """The opening lines of a diagram, up to its first node."""
    return [
        "digraph inception {",
        "  graph [rankdir=TB, ordering=out, newrank=true, nodesep=0.3, ranksep=0.35, fontname=\"Helvetica\", "
        "fontsize=12, labelloc=t" + (f", label={quote(title)}" if title else "") + "];",
        '  node [shape=box, style=filled, fontname="Helvetica", fontsize=11, height=0.3, margin="0.12,0.04"];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6];',
    ]


def to_dot(graph: Graph, view: View = View(), *, title: str | None = None, fill: Fill | None = None) -> str:
    """DOT source for `graph` as `view` asks: a box per stage by default, blocks opened
    by `view.expand`/`view.depth`, or one block instance alone (`view.scope`).
    `fill(unit)`: a box's fill colour instead of the default (heat maps, diffs)."""
    lines = header(title)
    emit_drawing(lines, build_drawing(graph, view), "n", [0], "  ", fill)
    lines.append("}")
    return "\n".join(lines) + "\n"


def emit_drawing(lines: list[str], drawing: Drawing, prefix: str, counter: list[int], indent: str,
                 fill: Fill | None = None) -> None:
    """A drawing's nodes, clusters and edges; DOT ids `<prefix>0, ...` and `cluster_<counter>`."""
    ids = {unit.id: f"{prefix}{i}" for i, unit in enumerate(drawing.units)}
    _emit_clusters(lines, drawing, ids, (), indent, counter, fill)
    for source, target, shape in drawing.edges:
        lines.append(f"{indent}{ids[source]} -> {ids[target]} [label={quote(shape)}];")


def _emit_clusters(lines: list[str], drawing: Drawing, ids, prefix: tuple[str, ...], indent: str, counter: list[int],
                   fill: Fill | None = None) -> None:
    """Units directly in the cluster `prefix`, then each child cluster, in first-use order."""
    children: list[str] = []
    for unit in drawing.units:
        if unit.clusters == prefix:
            style = _node_style(unit, fill(unit) if fill is not None else None)
            lines.append(f"{indent}{ids[unit.id]} [label={quote(unit_label(drawing, unit))}, "
                         f"tooltip={quote(_tooltip(drawing, unit), tooltip=True)}, {style}];")
        elif unit.clusters[: len(prefix)] == prefix and len(unit.clusters) > len(prefix):
            child = unit.clusters[len(prefix)]
            if child not in children:
                children.append(child)
    for child in children:
        lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
        counter[0] += 1
        label, span = _cluster_title(drawing, child)
        tooltip = f"{span.path}:{span.line}\n{child}" if span is not None else child
        lines.append(f'{indent}  graph [label={quote(label)}, tooltip={quote(tooltip, tooltip=True)}, style="rounded,dashed", '
                     f'color="#999999", labeljust=l];')
        _emit_clusters(lines, drawing, ids, prefix + (child,), indent + "  ", counter, fill)
        lines.append(f"{indent}}}")
