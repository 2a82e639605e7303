"""Hover: the shapes of the statement under the cursor (every instance: each call of
the enclosing block, each repetition), its parameters and MACs; for a block name its
signature and the comment above its definition; for a layer its signature."""

from __future__ import annotations

from inception_dsl.ir import Graph
from inception_dsl.core import syntax
from inception_dsl.language.program import Program
from inception_dsl.core.source import Span
from inception_dsl.lsp import syntax_index as index
from inception_dsl.lsp.instances import Instance, instances, shape_text
from inception_dsl.lsp.signatures import Signature, block_signature, layer_signature

__all__ = ["hover_text"]

MAX_ROWS = 12


def _signature_text(sig: Signature) -> str:
    text = f"```incp\n{sig.kind} {sig.label()}\n```"
    if sig.kind != "layer":
        text = f"```incp\n{sig.kind} {sig.name}" + (f"({', '.join(n if d is None else f'{n} = {d}' for n, d in sig.params)})"
                                                      if sig.params else "") + "\n```"
    return text + (f"\n\n{sig.summary}" if sig.summary else "")


def _row(instance: Instance) -> tuple[str, str]:
    return f"{shape_text(instance.input_shape)} → {shape_text(instance.output_shape)}", _name(instance)


def _name(instance: Instance) -> str:
    ids = [n.id.split(".") for n in instance.nodes]
    common = ids[0]
    for parts in ids[1:]:
        k = 0
        while k < min(len(common), len(parts)) and common[k] == parts[k]:
            k += 1
        common = common[:k]
    return ".".join(common) or instance.nodes[0].stage or instance.graph.name


def shapes_text(found: list[Instance]) -> str:
    """Markdown lines: one per instance (identical ones grouped), then params and MACs."""
    if not found:
        return "_no shapes: the statement was not elaborated (an error above, or `when` left it out)_"
    rows = [_row(i) for i in found]
    lines = []
    if len(rows) == 1:
        lines.append(f"**{rows[0][0]}**")
    else:
        for (shapes, name) in rows[:MAX_ROWS]:
            lines.append(f"- `{name}`: {shapes}")
        if len(rows) > MAX_ROWS:
            lines.append(f"- … and {len(rows) - MAX_ROWS} more instances")
    params, macs = {i.params for i in found}, {i.macs for i in found}
    each = " each" if len(found) > 1 else ""
    lines.append("")
    lines.append(f"params{each}: {_range(params)} · MACs{each}: {_range(macs)}")
    return "\n".join(lines)


def _range(values: set[int]) -> str:
    return f"{min(values):,}" if len(values) == 1 else f"{min(values):,}–{max(values):,}"


def hover_text(program: Program, module: syntax.Module, offset: int, graphs: list[Graph]) -> tuple[str, Span] | None:
    definition = index.definition_at(module, offset)
    if definition is not None:
        sig = _signature_text(block_signature(definition))
        calls = [i for g in graphs for i in _calls_of(g, definition.name)]
        return sig + ("\n\n---\n" + shapes_text(calls) if calls else ""), definition.name_span
    site = index.statement_at(module, offset)
    if site is None or not isinstance(site.stmt, syntax.Labeled):
        return None
    stmt = site.stmt
    found = instances(graphs, stmt.span, repeated=stmt.repeat is not None)
    head = ""
    target = stmt.span
    hit = index.call_at(module, offset)
    if hit is not None and hit[1].stmt is stmt:
        call = hit[0]
        target = index.name_span(call)
        layer = layer_signature(call.name, program.settings_for(call.span), call)
        block = program.definitions.get(call.name)
        if layer is not None:
            head = _signature_text(layer)
        elif block is not None:
            head = _signature_text(block_signature(block))
    title = f"`{stmt.label}`" if stmt.label else ""
    body = (title + "\n\n" if title else "") + shapes_text(found)
    return (head + "\n\n---\n" + body if head else body), target


def _calls_of(graph: Graph, block: str) -> list[Instance]:
    """Every instance of a block in a graph, one per call (its scope), in one pass."""
    scopes = {scope: Instance(graph) for scope, site in graph.blocks.items() if site.block == block}
    if not scopes:
        return []
    for node in graph.nodes():
        parts = node.id.split(".")
        for k in range(1, len(parts)):
            instance = scopes.get(".".join(parts[:k]))
            if instance is not None:
                instance.nodes.append(node)
                break
    return [i for i in scopes.values() if i.nodes]
