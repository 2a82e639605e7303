"""Document symbols (networks, blocks, labelled statements, nested as written),
folding ranges (definitions and every multi-line body), and formatting (the fmt
engine: one edit replacing the whole text, or none when it is already canonical)."""

from __future__ import annotations

from lsprotocol import types

from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import CompileError
from inception_dsl.language.fmt import fmt
from inception_dsl.lsp import syntax_index as index
from inception_dsl.lsp.positions import Lines
from inception_dsl.lsp.signatures import block_signature

__all__ = ["document_symbols", "folding_ranges", "format_edits"]


def _symbol(name: str, detail: str, kind, span, selection, lines: Lines, children) -> types.DocumentSymbol:
    return types.DocumentSymbol(name=name, detail=detail or None, kind=kind,
                                range=lines.range(span.start, span.end),
                                selection_range=lines.range(selection.start, selection.end), children=children)


def _statement_symbols(body, lines: Lines) -> list[types.DocumentSymbol]:
    found = []
    for stmt in body:
        if not isinstance(stmt, syntax.Labeled):
            continue
        inner = [s for b in index.bodies(stmt.op) for s in _statement_symbols(b, lines)]
        if stmt.label and stmt.label_span is not None:
            what = stmt.op.name if isinstance(stmt.op, syntax.Call) else type(stmt.op).__name__.lower()
            found.append(_symbol(stmt.label, what, types.SymbolKind.Field, stmt.span, stmt.label_span, lines, inner))
        else:
            found.extend(inner)
    return found


def document_symbols(module: syntax.Module, lines: Lines) -> list[types.DocumentSymbol]:
    symbols = []
    for definition in module.definitions:
        kind = types.SymbolKind.Module if definition.kind == "network" else types.SymbolKind.Class
        detail = block_signature(definition).label()
        symbols.append(_symbol(definition.name, detail, kind, definition.span, definition.name_span or definition.span,
                               lines, _statement_symbols(definition.body, lines)))
    return symbols


def folding_ranges(module: syntax.Module, lines: Lines) -> list[types.FoldingRange]:
    spans = [d.span for d in module.definitions]
    spans += [site.stmt.span for site in index.walk(module)
              if isinstance(site.stmt, syntax.Labeled) and index.bodies(site.stmt.op)]
    found = {}
    for span in spans:
        first, last = lines.position(span.start).line, lines.position(max(span.start, span.end - 1)).line
        if last > first:
            found[first] = types.FoldingRange(start_line=first, end_line=last, kind=types.FoldingRangeKind.Region)
    return [found[k] for k in sorted(found)]


def format_edits(text: str, path: str) -> list[types.TextEdit] | None:
    """None when the text does not parse (nothing to format safely)."""
    try:
        formatted = fmt(text, path)
    except CompileError:
        return None
    if formatted == text:
        return []
    lines = Lines(text)
    return [types.TextEdit(lines.range(0, len(text)), formatted)]
