"""Facts about spec statements that the source generator needs: the grid size a
`flatten` sees when `when` kept it out of the IR, which top-level statements only feed
auxiliary outputs, which sequences are plain layer chains, type hints for parameters,
the comment above a definition. Pure functions over the AST; no torch here."""

from __future__ import annotations

from typing import Any, Mapping

from inception_dsl.core.python_exprs import Channels
from inception_dsl.backends.python.names import safe_text
from inception_dsl.core import syntax
from inception_dsl.core.values import Symbol
from inception_dsl.ops import LAYERS
from inception_dsl.ops.base import Grid

__all__ = ["paren", "parse_channels", "grid_after", "hint", "is_layer_chain", "mentioned_in", "training_only",
           "leading_comment"]


def paren(channels: Channels) -> str:
    text = str(channels)
    return text if isinstance(channels, int) or text.isidentifier() else f"({text})"


def parse_channels(src: str) -> Channels:
    return int(src) if src.isdigit() else src


def grid_after(op: syntax.Transform, env: dict[str, Any], grid: Grid, names: Mapping[str, str], helpers: set[str]) -> Grid:
    """The grid after a layer when the spec fixes it (adaptive pooling), as (h, w), or as
    an expression of its area when a block parameter gives the size; None if unknown
    (each op says, ops.LayerDef.grid)."""
    if not isinstance(op, syntax.Call) or op.name not in LAYERS:
        return None
    return LAYERS[op.name].leaves_grid(op, env, grid, names, helpers)


def hint(value: Any) -> str:
    if isinstance(value, bool):
        return ": bool"
    if isinstance(value, int):
        return ": int"
    if isinstance(value, float):
        return ": float"
    if isinstance(value, (str, Symbol)):
        return ": str"
    return ""


def is_layer_chain(body) -> bool:
    statements = [s for s in body if isinstance(s, syntax.Labeled)]
    return bool(statements) and all(
        isinstance(s.op, syntax.Call) and s.op.name in LAYERS and s.source is None and s.condition is None
        and not syntax.call_labels(s.op)  # `resize(to=low)` is called with a second tensor
        and (s.label is not None or s.repeat is None)  # an unlabelled `xN` is spliced (naming.instance_names)
        for s in statements
    ) and not any(isinstance(s, (syntax.InputStmt, syntax.OutputStmt)) for s in body)


def mentioned_in(node: Any, name: str) -> bool:
    """Whether a statement or operation reads the parameter `name` anywhere inside."""
    return syntax.reads(node, (name,))


def training_only(statements: list[syntax.Labeled], outputs: list[str]) -> set[int]:
    """Indices of top-level statements that only auxiliary outputs need."""
    feeds: dict[int, int | None] = {}
    last_label: dict[str, int] = {}
    chain: int | None = None
    for index, stmt in enumerate(statements):
        feeds[index] = last_label.get(stmt.source) if stmt.source else chain
        if stmt.label:
            last_label[stmt.label] = index
        if stmt.source is None:
            chain = index
    needed: set[int] = set()
    current = last_label.get(outputs[0]) if outputs else chain
    while current is not None and current not in needed:
        needed.add(current)
        current = feeds[current]
    return set(range(len(statements))) - needed


def leading_comment(span) -> str:
    """The `#` comment lines right above a definition, joined (the spec's own description)."""
    if span is None:
        return ""
    lines = []
    line = span.line - 1
    while line >= 1:
        text = span.source.line_text(line).strip()
        if not text.startswith("#"):
            break
        lines.insert(0, text.lstrip("#").strip())
        line -= 1
    return safe_text(" ".join(lines), 300)
