"""Printing diagnostics for people and for machines (text, concise, json, sarif)."""

from __future__ import annotations

import json
from typing import Iterable, TextIO

from inception_dsl.language.diagnostics import Diagnostic, render_concise, render_full, to_dict

__all__ = ["FORMATS", "write_diagnostics"]

FORMATS = ("text", "concise", "json", "sarif")


def write_diagnostics(diagnostics: Iterable[Diagnostic], stream: TextIO, fmt: str = "text") -> None:
    diagnostics = list(diagnostics)
    if fmt == "sarif":
        from inception_dsl import __version__
        from inception_dsl.commands.sarif import to_sarif

        json.dump(to_sarif(diagnostics, __version__), stream, indent=2)
        stream.write("\n")
        return
    if fmt == "json":
        json.dump([to_dict(d) for d in diagnostics], stream, indent=2)
        stream.write("\n")
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
