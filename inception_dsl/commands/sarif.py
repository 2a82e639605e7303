"""Diagnostics as a SARIF 2.1.0 log (the format GitHub code scanning reads), so
findings show inline on pull requests:

    inception-dsl lint --format sarif specs/ -o lint.sarif

One run, one rule per code that occurs (in code order), one result per diagnostic.
Columns count code points, 1-based, end column exclusive, as Span reports them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from inception_dsl.core.codes import Severity
from inception_dsl.core.diagnostics import Diagnostic
from inception_dsl.core.source import Span

__all__ = ["SCHEMA", "VERSION", "to_sarif", "INFORMATION_URI"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
INFORMATION_URI = "https://pypi.org/project/inception-dsl/"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _uri(path: str) -> str:
    location = Path(path)
    return location.as_uri() if location.is_absolute() else location.as_posix()


def _location(span: Span, message: str = "") -> dict:
    location: dict = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(span.path)},
            "region": {
                "startLine": span.line,
                "startColumn": span.column,
                "endLine": span.end_line,
                "endColumn": max(span.end_column, span.column) if span.end_line == span.line else span.end_column,
            },
        }
    }
    if not Path(span.path).is_absolute():
        location["physicalLocation"]["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
    if message:
        location["message"] = {"text": message}
    return location


def _text(diagnostic: Diagnostic) -> str:
    lines = [diagnostic.message]
    primary = next((label for label in diagnostic.labels if label.primary and label.message), None)
    if primary is not None:
        lines[0] += f": {primary.message}"
    lines += [f"note: {note}" for note in diagnostic.notes]
    if diagnostic.help:
        lines.append(f"help: {diagnostic.help}")
    return "\n".join(lines)


def to_sarif(diagnostics: Iterable[Diagnostic], tool_version: str | None = None) -> dict:
    diagnostics = list(diagnostics)
    codes = sorted({d.code.id: d.code for d in diagnostics}.values(), key=lambda c: c.id)
    index = {code.id: i for i, code in enumerate(codes)}
    driver: dict = {"name": "inception-dsl", "informationUri": INFORMATION_URI}
    if tool_version:
        driver["version"] = tool_version
    driver["rules"] = [
        {
            "id": code.id,
            "name": code.slug,
            "shortDescription": {"text": code.summary},
            "defaultConfiguration": {"level": _LEVELS[code.severity]},
        }
        for code in codes
    ]
    results = []
    for diagnostic in diagnostics:
        result: dict = {
            "ruleId": diagnostic.code.id,
            "ruleIndex": index[diagnostic.code.id],
            "level": _LEVELS[diagnostic.level],
            "message": {"text": _text(diagnostic)},
        }
        span = diagnostic.primary_span
        if span is not None:
            result["locations"] = [_location(span)]
        related = [label for label in diagnostic.labels if not label.primary]
        if related:
            result["relatedLocations"] = [dict(_location(label.span, label.message), id=i)
                                          for i, label in enumerate(related)]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}],
    }
