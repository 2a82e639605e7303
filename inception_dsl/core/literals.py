"""The one way a value reaches generated Python: `py_literal(value)` returns the source of
a Python literal and nothing else, whatever the value holds.

Every value written into generated source goes through here: network parameters (from
`-p`, from `load(params=...)`, from a spec's defaults), `set` values, layer arguments,
residual scales, activation names. The function accepts only the value types of the
language (bool, int, float, str, None, `values.Symbol` and tuples of those), checks the
exact type (a subclass could override `__repr__`), and builds the text itself:

* an int is written in decimal (`int.__repr__`, never a subclass's);
* a float must be finite: `inf` and `nan` have no literal, and the front end refuses them
  with a located diagnostic before code generation (docs/hardening.md), so a non-finite
  float here is a bug and raises `ValueError` instead of writing `inf` (a NameError) or
  a call;
* a string is written in double quotes with every character outside printable ASCII,
  the quote and the backslash escaped (`\\x..`, `\\u....`, `\\U........`), so the literal
  is one line of ASCII and cannot end early;
* a `Symbol` (a bare name such as `relu`) is written as the string of its name.

`ast.literal_eval(py_literal(v)) == v` for every accepted value (property-tested in
tests/test_literals.py). No torch here."""

from __future__ import annotations

import math
from typing import Any

from inception_dsl.core.values import ListValue, Symbol

__all__ = ["py_literal", "py_string"]

_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def py_literal(value: Any) -> str:
    """Python source of a literal equal to `value`; TypeError or ValueError otherwise."""
    kind = type(value)
    if value is None or kind is bool:
        return "True" if value is True else "False" if value is False else "None"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Python literal; non-finite numbers are refused before code generation")
        return float.__repr__(value)
    if kind is str:
        return py_string(value)
    if kind is Symbol:
        return py_string(value.name)
    if kind is ListValue:
        return "[" + ", ".join(py_literal(item) for item in value) + "]"
    if kind is tuple:
        items = [py_literal(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise TypeError(f"no literal for a value of type {kind.__name__}")


def py_string(text: str) -> str:
    """A double-quoted, single-line, ASCII Python string literal equal to `text`."""
    if type(text) is not str:
        raise TypeError(f"expected str, got {type(text).__name__}")
    parts = ['"']
    for char in text:
        if char in _PLAIN:
            parts.append(char)
        elif char in _SHORT_ESCAPES:
            parts.append(_SHORT_ESCAPES[char])
        else:
            code = ord(char)
            parts.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)
