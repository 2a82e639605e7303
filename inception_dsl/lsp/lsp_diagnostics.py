"""Front-end diagnostics -> LSP diagnostics: the primary label's exact range, secondary
labels as related information (with their own file), notes and `help:` in the message
as the terminal shows them (control characters made visible), and the code.
The help text travels in `data` for the code actions."""

from __future__ import annotations

import os
import re

from lsprotocol import types
from pygls.uris import from_fs_path

from inception_dsl.core.codes import Severity
from inception_dsl.core.diagnostics import Diagnostic, _clean
from inception_dsl.lsp.positions import span_range

__all__ = ["to_lsp", "uri_of", "group_by_file"]

SOURCE = "inception-dsl"
_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: `C:` is a drive


def uri_of(path: str) -> str:
    """The URI of a file; a document that is not a file (`untitled:Untitled-1`) keeps its URI."""
    if not os.path.isabs(path) and _SCHEME.match(path):
        return path
    return from_fs_path(os.path.normpath(os.path.abspath(path))) or path


def group_by_file(diagnostics: list[Diagnostic], main: str) -> dict[str, list[Diagnostic]]:
    """Diagnostics by the file of their primary label (those without a location go to
    the main file)."""
    grouped: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        span = diagnostic.primary_span
        path = span.path if span is not None and span.path not in ("", "<input>") else main
        grouped.setdefault(os.path.normpath(path), []).append(diagnostic)
    return grouped


def to_lsp(diagnostic: Diagnostic, encoding: str = "utf-16") -> types.Diagnostic:
    span = diagnostic.primary_span
    where = span_range(span, encoding) if span is not None else types.Range(types.Position(0, 0), types.Position(0, 0))
    primary = next((lab for lab in diagnostic.labels if lab.primary), None)
    lines = [diagnostic.message]
    if primary is not None and primary.message:
        lines[0] += f" ({primary.message})"
    lines += [f"note: {note}" for note in diagnostic.notes]
    if diagnostic.help:
        lines.append(f"help: {diagnostic.help}")
    related = [
        types.DiagnosticRelatedInformation(types.Location(uri_of(lab.span.path), span_range(lab.span, encoding)),
                                           _clean(lab.message or "related"))
        for lab in diagnostic.labels if not lab.primary
    ]
    return types.Diagnostic(
        range=where,
        message="\n".join(_clean(line) for line in lines),
        severity=_SEVERITY.get(diagnostic.level, types.DiagnosticSeverity.Information),
        code=diagnostic.code.id,
        source=SOURCE,
        related_information=related or None,
        data={"help": diagnostic.help, "slug": diagnostic.code.slug},
    )
