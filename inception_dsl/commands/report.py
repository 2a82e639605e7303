"""Printing diagnostics for people and for machines (text, concise, json, yaml, sarif)."""

from __future__ import annotations

import json
from typing import Iterable, TextIO

from inception_dsl.core.diagnostics import Diagnostic, render_concise, render_full, to_dict

__all__ = ["FORMATS", "STRUCTURED", "write_diagnostics", "write_document"]

FORMATS = ("text", "concise", "json", "yaml", "sarif")
STRUCTURED = ("json", "yaml", "sarif")  # one document for all specs, not text per spec


def write_document(document, stream: TextIO, fmt: str) -> None:
    """A JSON or YAML document (the machine formats' shared writer)."""
    if fmt == "yaml":
        import yaml  # only here: the text formats never need it

        stream.write(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None))
        return
    json.dump(document, stream, indent=2)
    stream.write("\n")


def write_diagnostics(diagnostics: Iterable[Diagnostic], stream: TextIO, fmt: str = "text") -> None:
    diagnostics = list(diagnostics)
    if fmt == "sarif":
        from inception_dsl.core.version import __version__
        from inception_dsl.commands.sarif import to_sarif

        json.dump(to_sarif(diagnostics, __version__), stream, indent=2)
        stream.write("\n")
        return
    if fmt in ("json", "yaml"):
        write_document([to_dict(d) for d in diagnostics], stream, fmt)
        return
    render = render_full if fmt == "text" else render_concise
    for diagnostic in diagnostics:
        stream.write(render(diagnostic) + "\n")
        if fmt == "text":
            stream.write("\n")
    errors = sum(1 for d in diagnostics if d.level.value == "error")
    warnings = sum(1 for d in diagnostics if d.level.value == "warning")
    if fmt == "text" and (errors or warnings):
        parts = []
        if errors:
            parts.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        stream.write(", ".join(parts) + "\n")
