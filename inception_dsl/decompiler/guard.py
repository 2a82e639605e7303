"""The decompiler's own output must pass `check`: a spec it writes is parsed and checked
before it is returned, and one that fails (a bug of ours, never the user's) is refused with
the first diagnostic located in the text, the offending line, and the block it lies in with
the module class that block came from. No torch."""

from __future__ import annotations

import re

from inception_dsl.decompiler.source import DecompileError

__all__ = ["InternalError", "checked_text"]

_DEFINITION = re.compile(r"^(block|network) (\w+)")


class InternalError(DecompileError):
    """The decompiled text does not parse or does not pass `check`: a bug of the decompiler."""

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


def checked_text(text: str, path: str, *, complete: bool = True) -> str:
    """The text, canonical (`fmt`), after `check` accepted it. `complete=False` (a `--partial`
    spec with gaps, whose `identity` stand-ins may not fit the shapes around them) only
    requires that it parse."""
    from inception_dsl.api import analyze_text
    from inception_dsl.language.fmt import fmt

    result = analyze_text(text, path) if complete else None
    errors = [d for d in result.diagnostics if d.level.value == "error"] if result is not None else []
    if result is not None and not errors and result.graph is None:
        raise InternalError(f"internal error: the decompiled spec {path} defines no network", text)
    if not errors:
        try:
            return fmt(text, path)
        except Exception as error:  # noqa: BLE001 - fmt raises on text that does not parse
            if complete:
                raise InternalError(f"internal error: the decompiled spec {path} does not format: {error}",
                                    text) from None
            errors = [d for d in analyze_text(text, path).diagnostics if d.level.value == "error"] or [error]
    raise InternalError(_report(text, path, errors[0], len(errors)), text)


def _report(text: str, path: str, first, count: int) -> str:
    span = getattr(first, "primary_span", None)
    if span is None:
        return f"internal error: the decompiled spec {path} fails check: {first}"
    line, column = span.source.line_col(span.start)
    lines = text.splitlines()
    where = f"{path}:{line}:{column}: error[{first.code.id}]: {first.message}"
    more = f" (and {count - 1} more)" if count > 1 else ""
    return (f"internal error (a bug of the decompiler): the spec it wrote fails check: {where}{more}; "
            f"line {line} reads `{lines[line - 1].strip() if 0 < line <= len(lines) else ''}`"
            f"{_origin(lines, line)}")


def _origin(lines: list[str], line: int) -> str:
    """`, in block NAME (the comment above it: the module class and file:line)`."""
    for k in range(min(line, len(lines)) - 1, -1, -1):
        found = _DEFINITION.match(lines[k])
        if found:
            comment = lines[k - 1].lstrip("# ").strip() if k and lines[k - 1].startswith("#") else ""
            return f", in {found.group(1)} `{found.group(2)}`" + (f", from {comment}" if comment else "")
    return ""
