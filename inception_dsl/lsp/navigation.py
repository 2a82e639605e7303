"""Go to definition (block calls, imported blocks, imports, `from` and `output`
labels), find references of a block, and rename of a block or a label across the file
and every file that imports it. Positions are spans; server.py makes them locations."""

from __future__ import annotations

import os
from pathlib import Path

from inception_dsl.core import syntax
from inception_dsl.language.parse import KEYWORDS, RESERVED
from inception_dsl.language.program import Program, file_key
from inception_dsl.core.source import SourceFile, Span
from inception_dsl.lsp import syntax_index as index
from inception_dsl.lsp.signatures import is_layer

__all__ = ["RenameError", "definition", "symbol_at", "references", "rename_spans", "check_new_name"]


class RenameError(Exception):
    """The rename cannot be done; the message says why."""


def _import_target(path: str, item: syntax.Import) -> str:
    return os.path.normpath(str(Path(path).parent / item.path))


def symbol_at(module: syntax.Module, offset: int) -> tuple[str, str, Span, tuple | None] | None:
    """(kind, name, span under the cursor, label scope) where kind is "block" or "label"."""
    definition = index.definition_at(module, offset)
    if definition is not None:
        return "block", definition.name, definition.name_span, None
    hit = index.call_at(module, offset)
    if hit is not None:
        return "block", hit[0].name, index.name_span(hit[0]), None
    site = index.statement_at(module, offset)
    if site is None:
        return None
    for span in _label_spans_at(site):
        if span.start <= offset <= span.end:
            return "label", span.text(), span, site.body
    return None


def _label_spans_at(site: index.Site) -> list[Span]:
    stmt = site.stmt
    if isinstance(stmt, syntax.Labeled):
        return [s for s in (stmt.label_span, stmt.source_span) if s is not None]
    if isinstance(stmt, syntax.OutputStmt):
        return [s for name in stmt.names for s in index.label_sites(site.body, name) if s.source is stmt.span.source
                and stmt.span.start <= s.start < stmt.span.end]
    return []


def definition(program: Program, path: str, module: syntax.Module, offset: int) -> Span | str | None:
    """Where the thing under the cursor is defined: a span, or a file path for an import
    that the program read (an import the policy refused, E010, or that was not read, has
    no definition: nothing outside the project is pointed at)."""
    item = index.import_at(module, offset)
    if item is not None:
        target = _import_target(path, item)
        loaded = {file_key(key) for key in program.files}
        return target if file_key(target) in loaded else None
    found = symbol_at(module, offset)
    if found is None:
        return None
    kind, name, _, body = found
    if kind == "block":
        target = program.definitions.get(name)
        return target.name_span if target is not None and not is_layer(name) else None
    spans = index.label_sites(body, name)
    return next((s for s in spans if _is_label_definition(body, s)), None)


def _is_label_definition(body, span: Span) -> bool:
    return any(isinstance(s, syntax.Labeled) and s.label_span is not None and s.label_span.start == span.start
               and s.label_span.source is span.source for s in body)


def references(name: str, defining_path: str | None, modules: dict[str, tuple[SourceFile, syntax.Module]],
               importers: dict[str, set[str]], *, declaration: bool = True) -> list[Span]:
    """Every call of block `name` in the defining file and the files that import it
    (`importers`: file -> the files its program loaded), plus the definition."""
    spans = []
    for path, (source, module) in modules.items():
        if defining_path is not None and path != defining_path and defining_path not in importers.get(path, ()):
            continue
        for call, _ in index.calls(module):
            if call.name == name:
                spans.append(index.name_span(call))
        if declaration:
            spans.extend(d.name_span for d in module.definitions if d.name == name and path == defining_path)
    unique = {(s.path, s.start): s for s in spans}
    return sorted(unique.values(), key=lambda s: (s.path, s.start))


def check_new_name(kind: str, new_name: str) -> None:
    if not new_name.isidentifier() or not new_name.isascii():
        raise RenameError(f"`{new_name}` is not a name (letters, digits and _, not starting with a digit)")
    if new_name in KEYWORDS:
        raise RenameError(f"`{new_name}` is a keyword")
    if kind != "label" and new_name in RESERVED:
        raise RenameError(f"`{new_name}` is an operator of expressions (E009)")
    if kind == "block" and is_layer(new_name):
        raise RenameError(f"`{new_name}` is a built-in layer")
    if kind == "label" and new_name.startswith("x") and new_name[1:].isdigit():
        raise RenameError(f"`{new_name}` reads as a repetition count")


def rename_spans(kind: str, name: str, body, defining_path: str | None,
                 modules: dict[str, tuple[SourceFile, syntax.Module]], importers: dict[str, set[str]]) -> list[Span]:
    if kind == "label":
        return index.label_sites(body, name)
    if is_layer(name):
        raise RenameError(f"`{name}` is a built-in layer")
    return references(name, defining_path, modules, importers, declaration=True)
