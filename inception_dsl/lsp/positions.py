"""Offsets (code points, as spans hold them) <-> LSP positions (line, character in the
negotiated encoding: UTF-16 code units unless the client chose UTF-32 or UTF-8)."""

from __future__ import annotations

import bisect

from lsprotocol import types

from inception_dsl.core.source import Span

__all__ = ["Lines", "span_range"]


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


class Lines:
    """A text's line table, for converting in both directions."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text, self.encoding = text, encoding
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return types.Position(line, _units(self.text[self.starts[line]:offset], self.encoding))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(self.position(start), self.position(max(start, end)))

    def offset(self, position: types.Position) -> int:
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        end = self.starts[position.line + 1] - 1 if position.line + 1 < len(self.starts) else len(self.text)
        units = 0
        for index in range(start, end):
            if units >= position.character:
                return index
            units += _units(self.text[index], self.encoding)
        return end

    def line_text(self, line: int) -> str:
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]


_CACHE: dict[tuple[int, str], Lines] = {}  # a few files' line tables (each holds its text: keep few)
_CACHED_FILES = 8


def span_range(span: Span, encoding: str = "utf-16") -> types.Range:
    """The LSP range of a span, in its own file."""
    key = (id(span.source), encoding)
    lines = _CACHE.get(key)
    if lines is None or lines.text is not span.source.text:
        if len(_CACHE) >= _CACHED_FILES:
            _CACHE.clear()
        lines = _CACHE[key] = Lines(span.source.text, encoding)
    return lines.range(span.start, span.end)
