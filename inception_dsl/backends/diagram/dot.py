"""ir.Graph (with shapes) -> Graphviz DOT source text, deterministically.

`to_dot` lays a network out top to bottom like the paper's figures: branches side by
side, "Filter concat" below them, convs labelled `1x7 Conv (192)`, `3x3 Conv (256 stride
2 V)`. Every string that comes from a spec (names, paths) is written as an escaped,
quoted DOT string; DOT ids are generated (`n0`, `cluster_0`), never taken from a spec.
Rendering DOT to svg/png/pdf is the render command's business, not this module's."""

from __future__ import annotations

from inception_dsl.ir import Graph, Node, Op
from inception_dsl.language.shapes import same_padding
from typing import Callable

from inception_dsl.backends.diagram.drawing import Drawing, Unit, View, build_drawing, is_named_instance

__all__ = ["to_dot", "quote", "unit_label", "header", "emit_drawing", "Fill"]

Fill = Callable[[Unit], "str | None"]

_ACT_NAMES = {"relu": "ReLU", "relu6": "ReLU6", "gelu": "GELU", "silu": "SiLU", "identity": "Identity"}
_FILL = {"block": "#fde9c9", "conv": "#ffffff", "linear": "#ffffff", "pool": "#dcebf7",
         "adaptive_avgpool": "#dcebf7", "concat": "#e8e8e8", "add": "#e8e8e8", "input": "#eef5e1",
         "output": "#eef5e1"}


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


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape is not None else "?"


def _pair(values: tuple[int, int]) -> str:
    return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"


def _conv_label(node: Node, bn: bool, act: str) -> str:
    a = node.attrs
    (kh, kw), details = a["kernel"], [str(a["out_channels"])]
    if a["stride"] != (1, 1):
        details.append(f"stride {_pair(a['stride'])}")
    details.extend(_padding_words(a["kernel"], a["padding"], a.get("dilation", (1, 1))))
    if a.get("dilation", (1, 1)) != (1, 1):
        details.append(f"dilation {_pair(a['dilation'])}")
    if a.get("groups", 1) != 1:
        details.append(f"groups {a['groups']}")
    if not bn and act == "identity":
        details.append("Linear")
    label = f"{kh}x{kw} Conv ({' '.join(details)})"
    return label + (f"\n+ {_ACT_NAMES.get(act, act)}" if act not in ("relu", "identity") else "")


def _padding_words(kernel, padding, dilation=(1, 1)) -> list[str]:
    if tuple(padding) == (0, 0, 0, 0) and tuple(kernel) != (1, 1):
        return ["V"]
    if tuple(padding) == same_padding(kernel[0], dilation[0]) + same_padding(kernel[1], dilation[1]):
        return []
    return ["pad " + ",".join(map(str, padding))]


def _pool_label(node: Node) -> str:
    a = node.attrs
    kh, kw = a["kernel"]
    details = [f"stride {_pair(a['stride'])}"] if a["stride"] != (1, 1) else []
    details += _padding_words(a["kernel"], a["padding"])
    name = "MaxPool" if a["kind"] == "max" else "Avg Pooling"
    return f"{kh}x{kw} {name}" + (f" ({' '.join(details)})" if details else "")


def _node_label(node: Node, members: list[Node]) -> str:
    a, op = node.attrs, node.op
    if op is Op.CONV:
        acts = [m.attrs.get("kind", "identity") for m in members if m.op is Op.ACT]
        return _conv_label(node, any(m.op is Op.BN for m in members), acts[0] if acts else "identity")
    if op is Op.LINEAR:
        return f"Linear ({a['out_features']})"
    if op is Op.POOL:
        return _pool_label(node)
    if op is Op.ADAPTIVE_AVGPOOL:
        return "Average Pooling" if tuple(a["size"]) == (1, 1) else f"Adaptive Avg Pooling ({_pair(a['size'])})"
    if op is Op.DROPOUT:
        return f"Dropout (keep {1 - a['p']:g})"
    if op is Op.SCALE:
        return f"x{a['value']:g}"
    if op is Op.ACT:
        return _ACT_NAMES.get(a.get("kind", ""), str(a.get("kind", "activation")))
    fixed = {Op.CONCAT: "Filter concat", Op.ADD: "+", Op.BN: "BatchNorm", Op.FLATTEN: "Flatten",
             Op.IDENTITY: "Identity", Op.INPUT: "Input", Op.OUTPUT: "Output"}
    if op is Op.OUTPUT and a.get("aux"):
        return f"Aux output {a.get('name', '')}".rstrip()
    return fixed.get(op, op.value)


def unit_label(drawing: Drawing, unit: Unit) -> str:
    """The text in a unit's box."""
    if unit.kind == "block":
        title = _block_title(drawing.graph, unit.id, unit.repeat)
        return f"{title}\n{_shape(unit.shape)}"
    label = _node_label(unit.nodes[0], unit.nodes)
    if unit.kind == "input" and unit.nodes[0].op is not Op.INPUT:
        label = "Input"
    if unit.repeat > 1:
        label += f" x{unit.repeat}"
    if unit.is_stage or unit.kind == "input":
        label += "\n" + _shape(unit.shape)
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
    name = unit.id
    if node.op is Op.CONV and name.endswith(".conv") and any(m.op is Op.BN for m in unit.nodes):
        name = name[: -len(".conv")]  # the traditional layer's module, owner of .conv and .bn
    return f"{where}\n{name}"


def _node_style(unit: Unit, fill: str | None = None) -> str:
    kind = unit.kind if unit.kind in ("block", "input") else unit.nodes[0].op.value
    attrs = [f"fillcolor={quote(fill or _FILL.get(kind, '#ffffff'))}"]
    if unit.kind == "add":
        attrs.append("shape=circle, width=0.35, fixedsize=true")
    elif kind in ("input", "output"):
        attrs.append('shape=box, style="rounded,filled"')
    elif kind == "block":
        attrs.append("penwidth=1.4")
    elif kind == "scale":
        attrs.append('shape=box, style="filled,dashed"')
    return ", ".join(attrs)


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
