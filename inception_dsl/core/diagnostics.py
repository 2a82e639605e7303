"""Diagnostics: what went wrong, where, and what to do about it.

Passes emit `Diagnostic`s into a `DiagnosticSink` and keep going; exceptions are kept for
the API boundary (`CompileError`) and for internal bugs. Rendering follows rustc/ruff:

    error[E201]: concat branches disagree on spatial size: ...
      --> specs/v4.incp:42:7
       |
    42 |   concat {
       |   ^^^^^^ branch 3 gives 17x17
       = note: ...
       = help: ...
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from inception_dsl.core.codes import Code, Severity
from inception_dsl.core.source import Span

__all__ = [
    "Label",
    "Diagnostic",
    "DiagnosticSink",
    "CompileError",
    "render_full",
    "render_concise",
    "to_dict",
]


@dataclass(frozen=True)
class Label:
    span: Span
    message: str = ""
    primary: bool = True


@dataclass(frozen=True)
class Diagnostic:
    code: Code
    message: str
    labels: tuple[Label, ...]
    notes: tuple[str, ...] = ()
    help: str | None = None
    severity: Severity | None = None  # None: the code's own severity

    @property
    def level(self) -> Severity:
        return self.severity or self.code.severity

    @property
    def primary_span(self) -> Span | None:
        for label in self.labels:
            if label.primary:
                return label.span
        return self.labels[0].span if self.labels else None

    def sort_key(self) -> tuple:
        span = self.primary_span
        if span is None:
            return ("", 0, 0, self.code.id)
        return (span.path, span.line, span.column, self.code.id)


class CompileError(Exception):
    """Raised at the API boundary when a spec has errors; carries every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(render_concise(d) for d in self.diagnostics))


@dataclass
class DiagnosticSink:
    """Collects diagnostics; de-duplicates identical ones (a block instantiated many
    times reports a definition-site error once)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    _seen: set = field(default_factory=set, repr=False)
    count: int = field(default=0, repr=False, compare=False)  # every diagnostic added, kept or not

    def emit(
        self,
        code: Code,
        message: str,
        span: Span | None,
        label: str = "",
        *,
        secondary: Iterable[Label] = (),
        notes: Iterable[str] = (),
        help: str | None = None,
    ) -> Diagnostic:
        labels = ((Label(span, label, True),) if span is not None else ()) + tuple(secondary)
        diagnostic = Diagnostic(code, message, labels, tuple(notes), help)
        self.add(diagnostic)
        return diagnostic

    def add(self, diagnostic: Diagnostic) -> None:
        """Keep a diagnostic unless an identical one is already here (also how a
        diagnostic remembered by caches/parsed_files.py is re-emitted)."""
        self.count += 1
        span = diagnostic.primary_span
        key = (diagnostic.code.id, diagnostic.message, span.start if span else None, span.path if span else None)
        if key not in self._seen:
            self._seen.add(key)
            self.diagnostics.append(diagnostic)

    @property
    def has_errors(self) -> bool:
        return any(d.level is Severity.ERROR for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level is Severity.ERROR]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.diagnostics, key=Diagnostic.sort_key)


def render_concise(diagnostic: Diagnostic) -> str:
    span = diagnostic.primary_span
    where = f"{span.location()}: " if span else ""
    return _clean(f"{where}{diagnostic.level.value}[{diagnostic.code.id}]: {diagnostic.message}")


TAB_WIDTH = 4


def _shown(char: str) -> str:
    """How one source character is printed in an excerpt: tabs expanded, control
    characters as their visible Unicode pictures (a spec must not drive the terminal)."""
    if char == "\t":
        return " " * TAB_WIDTH
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return chr(0x2400 + ord(char)) if ord(char) < 0x20 else "\u2421"
    if ord(char) >= 0x80 and unicodedata.category(char) in _INVISIBLE:
        return f"<U+{ord(char):04X}>"  # C1 controls (U+009B is CSI), bidi overrides (U+202E), separators
    return char


# categories never printed as themselves: controls, format characters (bidi overrides,
# zero-width), surrogates, private use, unassigned, line and paragraph separators
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _width(text: str) -> int:
    """Terminal columns of `text` as shown: wide (CJK) characters take 2, combining marks 0."""
    total = 0
    for char in "".join(_shown(c) for c in text):
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return total


def _excerpt(text: str) -> str:
    return "".join(_shown(c) for c in text)


def _clean(text: str) -> str:
    """Message text with control characters made visible: names and paths quoted from
    a spec must not move the cursor or recolour the terminal."""
    return "".join(_shown(c) if c != "\t" else " " for c in text)


def _marker_line(span: Span, line: int, char: str) -> tuple[int, int]:
    """Start column and width (in terminal columns, 1-based) of the underline for
    `span` on `line`."""
    text = span.source.line_text(line)
    start_line, start_col = span.source.line_col(span.start)
    end_line, end_col = span.source.line_col(span.end)
    first = start_col if line == start_line else 1 + (len(text) - len(text.lstrip()))
    last = end_col if line == end_line else len(text) + 1
    shown_first = _width(text[: first - 1]) + 1
    return shown_first, max(1, _width(text[first - 1 : last - 1]))


def render_full(diagnostic: Diagnostic) -> str:
    """rustc-style rendering: header, location, source excerpt with labelled underlines,
    then notes and help."""
    head = f"{diagnostic.level.value}[{diagnostic.code.id}]: {diagnostic.message}"
    span = diagnostic.primary_span
    if span is None or not span.source.text:
        lines = [head] + ([f" --> {span.location()}"] if span is not None else [])
        lines += [f"  = note: {note}" for note in diagnostic.notes]
        if diagnostic.help:
            lines.append(f"  = help: {diagnostic.help}")
        return "\n".join(_clean(line) for line in lines)
    same_file = [lab for lab in diagnostic.labels if lab.span.source is span.source]
    other_files = [lab for lab in diagnostic.labels if lab.span.source is not span.source]
    shown_lines = sorted({lab.span.line for lab in same_file})
    width = len(str(max(shown_lines)))
    pad = " " * width
    out = [head, f"{pad}--> {span.location()}", f"{pad} |"]
    previous = None
    for line in shown_lines:
        if previous is not None and line > previous + 1:
            out.append(f"{pad}...")
        text = _excerpt(span.source.line_text(line))
        out.append(f"{str(line).rjust(width)} | {text}".rstrip())
        for lab in [lab for lab in same_file if lab.span.line == line]:
            first, length = _marker_line(lab.span, line, "^")
            char = "^" if lab.primary else "-"
            marker = " " * (first - 1) + char * length
            out.append(f"{pad} | {marker} {lab.message}".rstrip())
        previous = line
    for lab in other_files:
        out.append(f"{pad} = note: {lab.message} at {lab.span.location()}".rstrip())
    for note in diagnostic.notes:
        out.append(f"{pad} = note: {note}")
    if diagnostic.help:
        out.append(f"{pad} = help: {diagnostic.help}")
    return "\n".join(_clean(line) for line in out)


def to_dict(diagnostic: Diagnostic) -> dict:
    """The JSON form: the same fields the text form shows."""
    span = diagnostic.primary_span

    def place(s: Span | None) -> dict:
        if s is None:
            return {"path": None, "line": None, "col": None, "end_line": None, "end_col": None}
        return {
            "path": s.path,
            "line": s.line,
            "col": s.column,
            "end_line": s.end_line,
            "end_col": s.end_column,
        }

    return {
        "code": diagnostic.code.id,
        "slug": diagnostic.code.slug,
        "severity": diagnostic.level.value,
        "message": diagnostic.message,
        **place(span),
        "labels": [
            {"message": lab.message, "primary": lab.primary, **place(lab.span)}
            for lab in diagnostic.labels
        ],
        "notes": list(diagnostic.notes),
        "help": diagnostic.help,
    }
