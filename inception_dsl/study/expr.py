"""Row filters for `sweep --where`: a small, safe expression language over a row's columns.

    macs < 5e9 and params >= 20_000_000
    width in (0.5, 1.0) and not error
    error_code == "E202" or output == "1000"

The text is parsed with Python's own parser (`ast.parse(mode="eval")`) and then
*interpreted here*, node by node, over a closed set: constants, column names, arithmetic
(+ - * / // %), comparisons (chained too), `and`/`or`/`not`, `in` with a tuple or list,
and the functions abs, min, max, round. Anything else (attributes, subscripts, calls of
anything else, lambdas, comprehensions) is refused before evaluation with the column of
the offending part. Nothing is ever passed to eval or exec.

Every number is bounded, so that no filter costs more than a few operations per row: a
literal or an intermediate result beyond MAX_MAGNITUDE (or not finite) is an error, and
`round`'s digits are limited to MAX_DIGITS either way (`round(1, -99999999)` would
otherwise build a 100-million-digit power of ten). Every failure is an ExprError quoting
the filter, which sweep reports as a usage error."""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Expr", "ExprError", "compile_expr"]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.In: lambda a, b: a in b,
            ast.NotIn: lambda a, b: a not in b}
_FUNCTIONS = {"abs": abs, "min": min, "max": max, "round": round}
_CONSTANTS = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}
MAX_LENGTH = 1000
MAX_MAGNITUDE = 10**30  # above any count a sweep row holds (parameters, MACs, bytes)
MAX_DIGITS = 30  # round(x, n): |n| at most this
MAX_ARGS = 64  # min/max arguments


class ExprError(ValueError):
    """A filter that cannot be parsed, uses something outside the language, or fails on a row."""


@dataclass(frozen=True)
class Expr:
    text: str
    tree: ast.expression
    names: frozenset[str]  # the columns it reads

    def __call__(self, row: Mapping[str, Any]) -> Any:
        try:
            return _eval(self.tree.body, row)
        except ExprError as error:
            raise ExprError(f"`{self.text}`: {error}") from None
        except (TypeError, ZeroDivisionError, ValueError, OverflowError, ArithmeticError) as error:
            raise ExprError(f"`{self.text}`: {error}") from None


def compile_expr(text: str, columns: set[str] | frozenset[str] | None = None) -> Expr:
    """Parse and vet `text`; with `columns`, unknown names are an error too."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExprError(f"`{text}`: syntax error at column {error.offset or 0}: {error.msg}") from None
    names: set[str] = set()
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        _vet(node, text, names, functions)
    names -= set(_CONSTANTS)
    if columns is not None:
        unknown = sorted(names - set(columns))
        if unknown:
            raise ExprError(f"`{text}`: no column named `{unknown[0]}`; columns: {', '.join(sorted(columns))}")
    return Expr(text, tree, frozenset(names))


_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
            ast.Compare, ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List, ast.Call,
            *_BINARY, *_COMPARE)


def _vet(node: ast.AST, text: str, names: set[str], functions: set[int]) -> None:
    where = f" at column {node.col_offset + 1}" if hasattr(node, "col_offset") else ""
    if not isinstance(node, _ALLOWED):
        raise ExprError(f"`{text}`: {type(node).__name__.lower()} is not allowed in a filter{where} "
                        "(columns, numbers, strings, arithmetic, comparisons, and/or/not, in, abs/min/max/round)")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise ExprError(f"`{text}`: only abs, min, max and round may be called{where}")
    elif isinstance(node, ast.Name) and id(node) not in functions:
        names.add(node.id)
    elif isinstance(node, ast.Call) and len(node.args) > MAX_ARGS:
        raise ExprError(f"`{text}`: more than {MAX_ARGS} arguments{where}")
    elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
        raise ExprError(f"`{text}`: unsupported constant{where}")
    elif isinstance(node, ast.Constant) and _out_of_range(node.value):
        raise ExprError(f"`{text}`: number out of range{where} (finite, at most {MAX_MAGNITUDE:.0e} in magnitude)")


def _out_of_range(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_MAGNITUDE


def _bounded(value: Any) -> Any:
    """An intermediate result, refused when it is out of range (as a literal would be)."""
    if _out_of_range(value):
        raise ExprError(f"a value out of range ({value:.3g}; finite, at most {MAX_MAGNITUDE:.0e} in magnitude)")
    return value


def _round(number: Any, digits: Any = None) -> Any:
    if digits is not None:
        if isinstance(digits, bool) or not isinstance(digits, int):
            raise ExprError(f"round's digits must be an integer, got {digits!r}")
        if abs(digits) > MAX_DIGITS:
            raise ExprError(f"round's digits must be between {-MAX_DIGITS} and {MAX_DIGITS}, got {digits}")
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ExprError(f"round needs a number, got {number!r}")
    return round(number) if digits is None else round(number, digits)


def _call(name: str, args: list[Any]) -> Any:
    if name == "round":
        if not 1 <= len(args) <= 2:
            raise ExprError(f"round takes 1 or 2 arguments, got {len(args)}")
        return _round(*args)
    if name == "abs" and len(args) != 1:
        raise ExprError(f"abs takes 1 argument, got {len(args)}")
    if name in ("min", "max") and len(args) == 1 and not isinstance(args[0], tuple):
        raise ExprError(f"{name} needs two values or a tuple, got {args[0]!r}")
    return _FUNCTIONS[name](*args)


def _eval(node: ast.AST, row: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in row:
            return row[node.id]
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ExprError(f"no column named `{node.id}`")
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, row) for e in node.elts)
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, row) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, row)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExprError(f"a sign needs a number, got {value!r}")
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, row), _eval(node.right, row)
        if not all(isinstance(v, (int, float)) for v in (left, right)) and not isinstance(node.op, ast.Add):
            raise ExprError(f"arithmetic needs numbers, got {left!r} and {right!r}")
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, row)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, row)
            if left is None or right is None:
                if not isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
                    return False  # a missing value (a failed variant) is never < or > anything
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        return _bounded(_call(node.func.id, [_eval(a, row) for a in node.args]))
    raise ExprError(f"unsupported expression {type(node).__name__}")  # _vet refuses it first
