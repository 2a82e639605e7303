"""Facts about spec statements that the source generator needs: the grid size a
`flatten` sees when `when` kept it out of the IR, which top-level statements only feed
auxiliary outputs, which sequences are plain layer chains, type hints for parameters,
the comment above a definition. Pure functions over the AST; no torch here."""

from __future__ import annotations

from typing import Any, Mapping, Union

from inception_dsl.language import layers
from inception_dsl.language import syntax as ast
from inception_dsl.language.diagnostics import DiagnosticSink
from inception_dsl.language.layers import ACTIVATIONS, LAYERS
from inception_dsl.language.values import EvalError, Symbol, evaluate
from inception_dsl.backends.python.layers import Channels, mentions, py_expr
from inception_dsl.backends.python.names import safe_text

__all__ = ["paren", "parse_channels", "grid_after", "hint", "is_layer_chain", "mentioned_in", "training_only",
           "leading_comment"]


def paren(channels: Channels) -> str:
    text = str(channels)
    return text if isinstance(channels, int) or text.isidentifier() else f"({text})"


def parse_channels(src: str) -> Channels:
    return int(src) if src.isdigit() else src


Grid = Union[tuple[int, int], str, None]  # (h, w); a Python expression of h*w; or unknown


def grid_after(op: ast.Op, env: dict[str, Any], grid: Grid, names: Mapping[str, str], helpers: set[str]) -> Grid:
    """The grid after a layer when the spec fixes it (adaptive pooling), as (h, w), or as
    an expression of its area when a block parameter gives the size; None if unknown."""
    if not isinstance(op, ast.Call):
        return None
    if op.name == "global_avgpool":
        return (1, 1)
    if op.name == "adaptive_avgpool" and op.args and not op.args[0].name:
        if mentions(op.args[0].value, names):
            helpers.add("_area")
            return f"_area({py_expr(op.args[0].value, names, helpers)})"
        size = evaluate(op.args[0].value, env, DiagnosticSink())
        size = (size, size) if isinstance(size, int) else size
        return tuple(size) if isinstance(size, tuple) and len(size) == 2 else None
    if op.name in ("bn", "act", "dropout", "flatten", *ACTIVATIONS):
        return grid
    if op.name in ("conv", "maxpool", "avgpool") and isinstance(grid, str):
        probes = [(9, 9), (10, 10)]  # a layer that keeps these keeps any size
        return grid if all(window_grid(op, env, p) == p for p in probes) else None
    if op.name in ("conv", "maxpool", "avgpool") and grid is not None:
        return window_grid(op, env, grid)
    return None


def window_grid(op: ast.Call, env: dict[str, Any], grid: tuple[int, int]) -> tuple[int, int] | None:
    """A conv's or pool's output grid, computed as infer_shapes does (None on any doubt)."""
    from inception_dsl.language.shapes import conv2d_out, pool2d_out

    sink = DiagnosticSink()
    try:
        bound = layers.bind(op, LAYERS[op.name], env, layers.SETTINGS, sink)
        kernel = layers.pair(bound, "kernel", sink, "kernel")
        stride = layers.pair(bound, "stride", sink, "stride")
        if op.name == "conv":
            dilation = layers.pair(bound, "dilation", sink, "dilation")
            return conv2d_out(grid, kernel, stride, layers.padding(bound, sink, kernel, dilation), dilation)
        ceil = layers.boolean(bound, "ceil_mode", sink)
        return pool2d_out(grid, kernel, stride, layers.padding(bound, sink, kernel), ceil)
    except EvalError:
        return None


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
    statements = [s for s in body if isinstance(s, ast.Labeled)]
    return bool(statements) and all(
        isinstance(s.op, ast.Call) and s.op.name in LAYERS and s.source is None and s.condition is None
        and (s.label is not None or s.repeat is None)  # an unlabelled `xN` is spliced (naming.instance_names)
        for s in statements
    ) and not any(isinstance(s, (ast.InputStmt, ast.OutputStmt)) for s in body)


def mentioned_in(node: Any, name: str) -> bool:
    """Whether a statement or operation reads the parameter `name` anywhere inside."""
    return ast.reads(node, (name,))


def training_only(statements: list[ast.Labeled], outputs: list[str]) -> set[int]:
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
