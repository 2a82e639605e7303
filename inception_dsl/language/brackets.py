"""Brackets in syntax errors (parse.py): where the last unclosed `{` or `(` opened, and the
recovery from a missing `)`, so that one missing bracket is one E001."""

from __future__ import annotations

from lark import Token
from lark.exceptions import UnexpectedInput, UnexpectedToken

__all__ = ["close_brackets", "unclosed"]


def unclosed(text: str, end: int, pair: str = "{}") -> int | None:
    """Offset of the last `{` (or `pair[0]`) not closed before `end` (comments and strings skipped)."""
    stack: list[int] = []
    i = 0
    while i < end:
        char = text[i]
        if char == "#":
            while i < end and text[i] != "\n":
                i += 1
            continue
        if char == '"':
            i += 1
            while i < end and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif char == pair[0]:
            stack.append(i)
        elif char == pair[1] and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def close_brackets(error: UnexpectedToken, most: int = 8) -> None:
    """Recovery from a missing `)`: the parser goes on as if the `)`s that let it take the
    offending token had been written before it, so one missing bracket is one error (lark
    would otherwise skip token after token, one error per line, until a `)` turns up).
    Tried on a copy first; nothing changes when no such closing works."""
    closing = Token("RPAR", ")", start_pos=error.token.start_pos, line=error.token.line, column=error.token.column)
    for count in range(1, most + 1):
        trial = error.interactive_parser.copy(deepcopy_values=False)
        try:
            for _ in range(count):
                trial.feed_token(closing)
            trial.feed_token(error.token)
        except UnexpectedInput:
            continue
        for _ in range(count):
            error.interactive_parser.feed_token(closing)
        error.interactive_parser.feed_token(error.token)
        return
