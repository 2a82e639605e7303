"""Mutations of spec text for fuzzing (tests/test_fuzz.py): token and line edits, odd
numbers, truncation, non-ASCII and control characters. Deterministic for a seed."""

from __future__ import annotations

import random
import re
from typing import Callable

__all__ = ["MUTATIONS", "mutate"]

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:x[0-9]+)*(?:\.[0-9]+)?|\"[^\"\n]*\"|#[^\n]*|\s+|.", re.DOTALL)
NUMBER = re.compile(r"[0-9]+")
ODD_NUMBERS = ["0", "-1", "-0", "99999999999999999999999", "1e308", "2147483648", "0.5", "3x0", "0x3x3",
               "1x1x1x1x1", "x0", "x99999999"]
ODD_WORDS = ["none", "true", "relu", "same", "valid", "from", "concat", "network", "block", "output",
             "input", "__import__", "self", "nan", "inf", "x"]
ODD_TEXT = ["é", "\u200b", "\u202e", "\x00", "\x1b[31m", "\t", "\r", "\r\n", "\x0c", "\ufeff", "𝟘", "ß",
            "\\", '"', '"""', "{", "}", "(", ")", ",", ":", ";", "#", "\ud800"]


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _pick(rng: random.Random, tokens: list[str]) -> int | None:
    candidates = [i for i, t in enumerate(tokens) if not t.isspace()]
    return rng.choice(candidates) if candidates else None


def delete_token(rng, text):
    tokens = _tokens(text)
    i = _pick(rng, tokens)
    if i is not None:
        del tokens[i]
    return "".join(tokens)


def duplicate_token(rng, text):
    tokens = _tokens(text)
    i = _pick(rng, tokens)
    if i is not None:
        tokens.insert(i, tokens[i] + rng.choice(["", " "]))
    return "".join(tokens)


def swap_tokens(rng, text):
    tokens = _tokens(text)
    i, j = _pick(rng, tokens), _pick(rng, tokens)
    if i is not None and j is not None:
        tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


def replace_number(rng, text):
    matches = list(NUMBER.finditer(text))
    if not matches:
        return text
    m = rng.choice(matches)
    return text[: m.start()] + rng.choice(ODD_NUMBERS) + text[m.end():]


def replace_token_with_word(rng, text):
    tokens = _tokens(text)
    i = _pick(rng, tokens)
    if i is not None:
        tokens[i] = rng.choice(ODD_WORDS)
    return "".join(tokens)


def delete_line(rng, text):
    lines = text.split("\n")
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def duplicate_line(rng, text):
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    return "\n".join(lines)


def swap_lines(rng, text):
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def truncate(rng, text):
    return text[: rng.randrange(len(text) + 1)]


def insert_odd_text(rng, text):
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(ODD_TEXT) + text[at:]


MUTATIONS: list[Callable[[random.Random, str], str]] = [
    delete_token, duplicate_token, swap_tokens, replace_number, replace_token_with_word,
    delete_line, duplicate_line, swap_lines, truncate, insert_odd_text,
]


def mutate(text: str, seed: int, max_edits: int = 3) -> tuple[str, list[str]]:
    """The text after 1..max_edits random mutations, and their names."""
    rng = random.Random(seed)
    applied = []
    for _ in range(rng.randint(1, max_edits)):
        mutation = rng.choice(MUTATIONS)
        text = mutation(rng, text)
        applied.append(mutation.__name__)
    return text, applied
