"""Python source for spec values: literals, expressions over a class's constructor
arguments, channel arithmetic, and `SourceArgs`, the bound arguments of one layer call
as an op's `source` reads them (each a concrete value, or Python source where a block
parameter decides). No torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import Diagnostic, DiagnosticSink, Label
from inception_dsl.core.signatures import Bound
from inception_dsl.core.literals import py_literal
from inception_dsl.core.values import CONSTANTS, Symbol

__all__ = ["Channels", "CodegenError", "LayerCode", "LayerContext", "Arg", "SourceArgs", "mentions", "py_value",
           "py_expr", "channels_src", "add_channels", "mul_channels", "channels_of", "short"]

Channels = Union[int, str]  # a channel count: a literal, or a Python expression


class CodegenError(Exception):
    """The spec is valid but this construct cannot be written as one Python class."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span

    def diagnostic(self) -> Diagnostic:
        """The error as an E301 diagnostic located at the statement."""
        labels = (Label(self.span, "not supported by the Python backend", True),) if self.span is not None else ()
        return Diagnostic(codes.UNSUPPORTED, str(self), labels)


@dataclass
class LayerCode:
    ctor: str
    out: Channels
    comment: str = ""
    helpers: set[str] = field(default_factory=set)


@dataclass
class LayerContext:
    """What a layer needs from its surroundings."""

    env: Mapping[str, Any]  # concrete parameter values of one instance (for literal arguments)
    names: Mapping[str, str]  # spec parameter -> Python local
    settings: Mapping[str, Any]
    flat_area: Callable[[syntax.Call], Union[int, str, None]]  # flatten: HxW of its input (None: instances differ)
    in_shapes: Callable[[syntax.Call], set] = lambda call: set()  # the call's input shapes in the IR, one per instance
    # (call, key, value of (IR node, input shape), fallback source) -> this instance's value (SourceArgs.per_instance)
    per_instance: Callable[[syntax.Call, str, Callable[[Any, Any], Any], str | None], str] | None = None


# -- expressions ----------------------------------------------------------------------
def mentions(expr: syntax.Expr, names: Mapping[str, str]) -> bool:
    """Whether the expression reads any of the given parameters."""
    return any(name in names for name in syntax.names_in(expr))


def py_value(value: Any) -> str:
    """A bound value (int, float, bool, None, symbol, string, tuple) as a Python literal
    (literals.py: the only way a value reaches generated source)."""
    return py_literal(value)


def py_expr(expr: syntax.Expr, names: Mapping[str, str], helpers: set[str]) -> str:
    """A spec expression as Python source; parameters become the constructor's locals."""
    if isinstance(expr, (syntax.Num, syntax.Str)):
        return py_literal(expr.value)
    if isinstance(expr, syntax.Dims):
        return py_literal(expr.values)
    if isinstance(expr, syntax.Name):
        if expr.name in names:
            return names[expr.name]
        return py_literal(CONSTANTS.get(expr.name, Symbol(expr.name)))  # a bare symbol: `relu`, `same`
    if isinstance(expr, syntax.Neg):
        return f"-{_operand(expr.operand, names, helpers)}"
    if isinstance(expr, syntax.Tuple) and expr.brackets:
        return "[" + ", ".join(py_expr(item, names, helpers) for item in expr.items) + "]"
    if isinstance(expr, syntax.Tuple):
        items = [py_expr(item, names, helpers) for item in expr.items]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(expr, syntax.Not):
        return f"not {_operand(expr.operand, names, helpers)}"
    if isinstance(expr, syntax.IfElse):
        parts = (_operand(e, names, helpers) for e in (expr.then, expr.condition, expr.other))
        return "{} if {} else {}".format(*parts)
    if isinstance(expr, syntax.BinOp):
        left, right = _operand(expr.left, names, helpers), _operand(expr.right, names, helpers)
        if expr.op == "/":
            helpers.add("_div")
            return f"_div({py_expr(expr.left, names, helpers)}, {py_expr(expr.right, names, helpers)})"
        return f"{left} {expr.op} {right}"
    raise AssertionError(f"unknown expression {expr!r}")


def _operand(expr: syntax.Expr, names, helpers) -> str:
    text = py_expr(expr, names, helpers)
    compound = (syntax.BinOp, syntax.Neg, syntax.Not, syntax.IfElse)
    # `/` is written as the call `_div(a, b)`, already an atom; `_div(a, b) + c` is not
    is_call = isinstance(expr, syntax.BinOp) and expr.op == "/"
    return f"({text})" if isinstance(expr, compound) and not is_call else text


def short(value: Any) -> str:
    """(3, 3) -> 3: PyTorch accepts one int for a square size (and for even padding)."""
    if type(value) is tuple and len(value) == 2 and value[0] == value[1]:
        return py_literal(value[0])
    if type(value) is tuple and len(value) == 4:
        top, bottom, left, right = value
        if top == bottom and left == right:
            return py_literal(top) if top == left else py_literal((top, left))
    return py_literal(value)


# -- channel arithmetic ---------------------------------------------------------------
def channels_src(channels: Channels) -> str:
    return str(channels)


def channels_of(src: str) -> Channels:
    return int(src) if src.lstrip("-").isdigit() else src


def _atom(channels: Channels) -> str:
    text = str(channels)
    return text if isinstance(channels, int) or text.replace("_", "").replace(".", "").isalnum() else f"({text})"


def add_channels(parts: list[Channels]) -> Channels:
    literal = sum(p for p in parts if isinstance(p, int))
    symbolic = [str(p) for p in parts if not isinstance(p, int)]
    if not symbolic:
        return literal
    return " + ".join(symbolic + ([str(literal)] if literal else []))


def mul_channels(channels: Channels, factor: int | str) -> Channels:
    if isinstance(factor, str):
        return f"{_atom(channels)} * {factor}"
    if isinstance(channels, int):
        return channels * factor
    return channels if factor == 1 else f"{_atom(channels)} * {factor}"


# -- the arguments of one call, as an op's `source` reads them --------------------------
@dataclass(frozen=True)
class Arg:
    """One argument: `src` is its Python source; `value` the checked value, or None where
    a block parameter decides it (then only `src` is known)."""

    src: str
    value: Any = None
    symbolic: bool = False

    def is_(self, value: Any) -> bool:
        """Whether the argument is known to be `value` (never for a symbolic one)."""
        return not self.symbolic and self.value == value and type(self.value) is type(value)


@dataclass
class SourceArgs:
    call: syntax.Call
    bound: Bound
    symbolic: Mapping[str, syntax.Expr]  # written arguments that read block parameters
    ctx: LayerContext
    sink: DiagnosticSink
    helpers: set[str] = field(default_factory=set)
    coercions: Mapping[str, Callable[[Bound, str, DiagnosticSink], Any]] = field(default_factory=dict)

    def get(self, name: str, coerce: Callable[[Bound, str, DiagnosticSink], Any] | None = None,
            literal: Callable[[Any], str] = short) -> Arg:
        """The argument `name`: its expression if a parameter decides it, else the value its
        coercion checks (the layer's declared one, `LayerDef.args`, unless `coerce` is
        given; raising EvalError as elaboration would), written by `literal`."""
        if name in self.symbolic:
            return Arg(self.expr(name), None, True)
        value = (coerce or self.coercions[name])(self.bound, name, self.sink)
        return Arg(literal(value), value)

    def value(self, value: Any) -> Arg:
        """A value computed from the arguments."""
        return Arg(short(value), value)

    def text(self, src: str) -> Arg:
        """Python source computed from the arguments (decided when the module is built)."""
        return Arg(src, None, True)

    @staticmethod
    def literal(value: Any) -> str:
        return py_literal(value)

    def expr(self, name: str) -> str:
        return py_expr(self.symbolic[name], self.ctx.names, self.helpers)

    def is_symbolic(self, name: str) -> bool:
        return name in self.symbolic

    def code(self, ctor: str, out: Channels, comment: str = "") -> LayerCode:
        return LayerCode(ctor, out, comment, self.helpers)

    def per_instance(self, key: str, value: Callable[..., Any], fallback: str | None = None,
                     of_node: bool = False) -> str:
        """Python source of `value(input shape)` (`of_node`: `value(IR node, input shape)`,
        the node's attributes being the instance's arguments; the node is None where no
        generated file is written, as for the docs' tables) for the instance being built (a
        grid, a token count: hashable values): a literal where every instance of the call has
        the same, else what the network hands each instance of the class down its
        constructors (`grids`, backends/python/instances.py), with `fallback` (default: the
        first instance's value) where the class is built on its own."""
        if self.ctx.per_instance is not None:
            return self.ctx.per_instance(self.call, key, value if of_node else lambda node, shape: value(shape), fallback)
        values = {value(None, shape) if of_node else value(shape) for shape in self.ctx.in_shapes(self.call)}
        if len(values) != 1:
            raise CodegenError(f"`{self.call.name}` sees different inputs in different instances, so one "
                               f"class cannot know its {key}", self.call.span)
        return py_literal(next(iter(values)))
