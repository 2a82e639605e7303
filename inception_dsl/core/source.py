"""Source text and spans: a SourceFile owns the text and its line table; a Span is a
pair of 0-based offsets into one file. Line and column (1-based, in code points, tabs
counted as one column as lark counts them) are computed only for display."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

__all__ = ["SourceFile", "Span"]


@dataclass(eq=False)
class SourceFile:
    path: str
    text: str
    _line_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts, find = [0], self.text.find
        index = find("\n")
        while index != -1:  # one step per line, not per character
            starts.append(index + 1)
            index = find("\n", index + 1)
        self._line_starts = starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of an offset; offsets past the end clamp to the end."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[start:end]

    @property
    def line_count(self) -> int:
        return len(self._line_starts)


@dataclass(frozen=True)
class Span:
    source: SourceFile
    start: int
    end: int

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def end_line(self) -> int:
        return self.source.line_col(max(self.start, self.end - 1))[0]

    @property
    def end_column(self) -> int:
        return self.source.line_col(self.end)[1]

    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def __repr__(self) -> str:  # keeps dataclass reprs of AST nodes short
        return f"Span({self.location()})"
