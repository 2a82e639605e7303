"""Values of the language and the evaluation of expressions.

A value is an int, float, bool, str, tuple of values, None, or a Symbol: a bare name
that is not a parameter (`relu`, `same`, `valid`, `global`). Whether a symbol is
acceptable is decided where it is used, so `conv(nn, 1x1)` with a misspelt parameter
is reported as an unknown name at the argument."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink

__all__ = ["Symbol", "EvalError", "evaluate", "describe", "did_you_mean", "CONSTANTS", "outside_value_problem",
           "MAX_MAGNITUDE", "MAX_STRING",
           "MAX_NAME"]

CONSTANTS: dict[str, Any] = {"true": True, "false": False, "none": None}
MAX_MAGNITUDE = 10**12  # larger integers are refused before they reach arithmetic or torch
MAX_STRING = 1000  # characters in a string value given from outside the spec (a network parameter)
MAX_NAME = 255  # characters in a name given from outside the spec (`-p act=relu`, a YAML value, a kwarg)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Symbol:
    name: str

    def __str__(self) -> str:
        return self.name


class ListValue(tuple):
    """The value of a list `[a, b, c]` (a per-group argument): a tuple that never equals a
    plain tuple (`[3, 5]` is two kernels, `(3, 5)` one 3x5 kernel), hashable for the caches."""

    def __eq__(self, other) -> bool:
        return type(other) is ListValue and tuple.__eq__(self, other)

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(("list", *self))


class EvalError(Exception):
    """An expression could not be evaluated; the diagnostic has already been emitted."""


def describe(value: Any) -> str:
    if isinstance(value, Symbol):
        return f"the name `{value.name}`"
    if isinstance(value, bool):
        return f"the boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"the integer `{value}`"
    if isinstance(value, float):
        return f"the number `{value!r}`" if value.is_integer() and abs(value) < 1e16 else f"the number `{value:g}`"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, ListValue):
        return "the list `[" + ", ".join("x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value) + "]`"
    if isinstance(value, tuple):
        return "the size `" + "x".join(str(v) for v in value) + "`"
    if value is None:
        return "`none`"
    return repr(value)


def did_you_mean(name: str, candidates) -> str | None:
    match = difflib.get_close_matches(name, [c for c in candidates if isinstance(c, str)], n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


def evaluate(expr: syntax.Expr, env: Mapping[str, Any], sink: DiagnosticSink) -> Any:
    """Evaluate an expression in an environment of parameter bindings."""
    if isinstance(expr, syntax.Num):
        return _in_range(expr.value, expr, sink)
    if isinstance(expr, syntax.Dims):
        return tuple(_in_range(v, expr, sink) for v in expr.values)
    if isinstance(expr, syntax.Str):
        return expr.value
    if isinstance(expr, syntax.Name):
        if expr.name in env:
            return env[expr.name]
        if expr.name in CONSTANTS:
            return CONSTANTS[expr.name]
        return Symbol(expr.name)
    if isinstance(expr, syntax.Tuple):
        items = tuple(evaluate(item, env, sink) for item in expr.items)
        return ListValue(items) if expr.brackets else items
    if isinstance(expr, syntax.Neg):
        value = _number(evaluate(expr.operand, env, sink), expr.operand, env, sink)
        return -value
    if isinstance(expr, syntax.BinOp) and expr.op in syntax.BOOLEAN_OPS:
        left = _boolean(evaluate(expr.left, env, sink), expr.left, expr.op, env, sink)
        if left is (expr.op == "or"):  # short-circuit, as Python: `n > 0 and 64 // n > 2`
            return left
        return _boolean(evaluate(expr.right, env, sink), expr.right, expr.op, env, sink)
    if isinstance(expr, syntax.BinOp) and expr.op in syntax.COMPARISONS:
        return _compare(expr, evaluate(expr.left, env, sink), evaluate(expr.right, env, sink), env, sink)
    if isinstance(expr, syntax.BinOp):
        left = _number(evaluate(expr.left, env, sink), expr.left, env, sink)
        right = _number(evaluate(expr.right, env, sink), expr.right, env, sink)
        return _arith(expr, left, right, sink)
    if isinstance(expr, syntax.Not):
        return not _boolean(evaluate(expr.operand, env, sink), expr.operand, "not", env, sink)
    if isinstance(expr, syntax.IfElse):
        condition = _boolean(evaluate(expr.condition, env, sink), expr.condition, "if", env, sink)
        return evaluate(expr.then if condition else expr.other, env, sink)
    raise AssertionError(f"unknown expression {expr!r}")


def _in_range(value: int | float, expr: syntax.Expr, sink: DiagnosticSink) -> int | float:
    """A number literal, refused when it is not finite (`1e999`) or over MAX_MAGNITUDE."""
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        sink.emit(codes.LIMIT_EXCEEDED, f"number out of range (larger than {MAX_MAGNITUDE:.0e} in magnitude)",
                  expr.span, "this number is too large", help="sizes, counts and rates in a spec are far smaller")
        raise EvalError()
    return value


def outside_value_problem(value: Any) -> str | None:
    """Why a value given from outside a spec (`-p`, `load(params=...)`) is not a value of
    the language, or None when it is: bool, int and finite float up to MAX_MAGNITUDE, a
    str of at most MAX_STRING characters, None, a Symbol whose name is a NAME token of at
    most MAX_NAME characters, or a
    tuple of these. Exact types only: a subclass could change what it prints."""
    kind = type(value)
    if value is None or kind is bool:
        return None
    if kind in (int, float):
        if not math.isfinite(value):
            return f"`{value}`: only finite numbers are values of the language"
        return None if abs(value) <= MAX_MAGNITUDE else f"a number larger than {MAX_MAGNITUDE:.0e} in magnitude"
    if kind is str:
        return None if len(value) <= MAX_STRING else f"a string longer than {MAX_STRING} characters"
    if kind is Symbol:
        if len(value.name) > MAX_NAME:
            return f"a name longer than {MAX_NAME} characters"
        return None if _NAME.match(value.name) else "a name that is not an identifier"
    if kind is tuple:
        if len(value) > 16:
            return "a tuple of more than 16 items"
        return next((p for p in map(outside_value_problem, value) if p is not None), None)
    return f"a value of type `{kind.__name__}` (expected a number, a boolean, a string or a name)"


def _unknown(value: Symbol, expr: syntax.Expr, env: Mapping[str, Any], sink: DiagnosticSink) -> None:
    sink.emit(
        codes.UNKNOWN_NAME,
        f"unknown name `{value.name}`",
        expr.span,
        "not a parameter of this block",
        help=did_you_mean(value.name, env) or (f"parameters here: {', '.join(sorted(env))}" if env else None),
    )


def _boolean(value: Any, expr: syntax.Expr, op: str, env: Mapping[str, Any], sink: DiagnosticSink) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Symbol):
        _unknown(value, expr, env, sink)
    else:
        sink.emit(codes.BAD_ARG_TYPE, f"`{op}` needs true or false, got {describe(value)}", expr.span,
                  "not a boolean", help="compare it to get a boolean, e.g. `n > 1` or `t != 1`")
    raise EvalError()


def _compare(expr: syntax.BinOp, left: Any, right: Any, env: Mapping[str, Any], sink: DiagnosticSink) -> bool:
    """`==`/`!=` on any two values with Python's meaning (the generated code compares the
    same way; a symbol is its name, as generated code writes it: `act == relu`); the
    orderings on numbers. A bare name against a number is a misspelt parameter (E101)."""
    op = expr.op
    if op in ("==", "!="):
        for value, side, other in ((left, expr.left, right), (right, expr.right, left)):
            if isinstance(value, Symbol) and not isinstance(other, (Symbol, str)):
                _unknown(value, side, env, sink)
                raise EvalError()
        left, right = (v.name if isinstance(v, Symbol) else v for v in (left, right))
        return (left == right) == (op == "==")
    left = _number(left, expr.left, env, sink)
    right = _number(right, expr.right, env, sink)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _number(value: Any, expr: syntax.Expr, env: Mapping[str, Any], sink: DiagnosticSink) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, Symbol):
            _unknown(value, expr, env, sink)
        else:
            sink.emit(codes.BAD_ARG_TYPE, f"arithmetic on {describe(value)}", expr.span, "expected a number")
        raise EvalError()
    return value


def _arith(expr: syntax.BinOp, left, right, sink: DiagnosticSink):
    op = expr.op
    if op in ("/", "//", "%") and right == 0:
        sink.emit(codes.DIVISION_BY_ZERO, "division by zero", expr.right.span, "this is 0")
        raise EvalError()
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    elif op == "/":
        result = left / right
        if isinstance(left, int) and isinstance(right, int) and left % right == 0:
            result = left // right  # 2*k/2 stays an integer
    elif op == "//":
        result = left // right
    else:
        result = left % right
    if isinstance(result, float) and not math.isfinite(result) or abs(result) > MAX_MAGNITUDE:
        sink.emit(codes.LIMIT_EXCEEDED, f"arithmetic result out of range (larger than {MAX_MAGNITUDE:.0e} in magnitude)",
                  expr.span, "this value is too large", help="sizes and counts in a spec are far smaller; check the expression")
        raise EvalError()
    return result
