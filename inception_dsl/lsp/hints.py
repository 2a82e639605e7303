"""Inlay hints: the output shape after each statement (`→ 384x35x35`), from the same
instances hover shows; a statement elaborated with different shapes (a block called at
two grid sizes) lists each. Off unless the client's setting
`inception-dsl.inlayHints.shapes` is true (the server reads it from initialization
options or workspace/configuration)."""

from __future__ import annotations

from lsprotocol import types

from inception_dsl.ir import Graph
from inception_dsl.core import syntax
from inception_dsl.lsp import syntax_index as index
from inception_dsl.lsp.instances import instances, shape_text
from inception_dsl.lsp.positions import Lines

__all__ = ["inlay_hints"]

MAX_SHAPES = 3


def inlay_hints(module: syntax.Module, graphs: list[Graph], lines: Lines, start: int, end: int) -> list[types.InlayHint]:
    hints = []
    for site in index.walk(module):
        stmt = site.stmt
        if not isinstance(stmt, syntax.Labeled) or not (start <= stmt.span.end <= end):
            continue
        found = instances(graphs, stmt.span, repeated=stmt.repeat is not None)
        shapes = list(dict.fromkeys(shape_text(i.output_shape) for i in found if i.output_shape is not None))
        if not shapes:
            continue
        text = " | ".join(shapes[:MAX_SHAPES]) + (" | …" if len(shapes) > MAX_SHAPES else "")
        hints.append(types.InlayHint(position=lines.position(stmt.span.end), label=f"→ {text}",
                                     kind=types.InlayHintKind.Type, padding_left=True))
    return sorted(hints, key=lambda h: (h.position.line, h.position.character))
