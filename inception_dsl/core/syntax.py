"""The surface AST: frozen dataclasses produced by parse.py and consumed by
elaborate.py, fmt.py and the Python backend. Every node carries the `span` it was
parsed from; spans are excluded from equality so that `parse(fmt(ast)) == ast`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from inception_dsl.core.source import Span

__all__ = [
    "Num", "Dims", "Str", "Name", "BinOp", "Neg", "Not", "IfElse", "Tuple", "Expr", "subexpressions", "names_in", "reads",
    "BUILTIN_NAMES", "INPUT_LABEL", "COMPARISONS", "BOOLEAN_OPS",
    "Arg", "Call", "Seq", "Concat", "COMBINATORS", "Residual", "Transform", "branch_sources", "LABEL_ARGUMENTS", "call_labels",
    "Labeled", "InputStmt", "OutputStmt", "Stmt",
    "Param", "BlockDef", "Import", "Setting", "Module",
]


def _span() -> Span:
    return field(default=None, compare=False, repr=False)  # type: ignore[return-value]


# -- expressions --------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: int | float
    span: Span = _span()


@dataclass(frozen=True)
class Dims:
    """A literal like `3x3`, `1x7` or `3x299x299`."""

    values: tuple[int, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Str:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    name: str
    span: Span = _span()


COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
BOOLEAN_OPS = ("and", "or")
# Names every block body can read: the shape of the tensor the block (or network) receives.
BUILTIN_NAMES = ("in_channels", "in_height", "in_width")
# `from input`: the input of the sequence a statement stands in (a block's input in its body).
# `input` is a keyword, so no statement has it as its label.
INPUT_LABEL = "input"


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // %, a comparison (COMPARISONS), or `and` / `or`
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class IfElse:
    """`then if condition else other`, as Python writes it."""

    condition: "Expr"
    then: "Expr"
    other: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Tuple:
    items: tuple["Expr", ...]
    span: Span = _span()
    brackets: bool = False  # `[a, b]`: a list argument (per-group values: `kernel=[3x3, 5x5]`)


Expr = Union[Num, Dims, Str, Name, BinOp, Neg, Not, IfElse, Tuple]


def subexpressions(expr: "Expr | None"):
    """The expression and every expression inside it, outermost first."""
    stack = [expr] if expr is not None else []
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, BinOp):
            stack += [node.right, node.left]
        elif isinstance(node, (Neg, Not)):
            stack.append(node.operand)
        elif isinstance(node, IfElse):
            stack += [node.other, node.then, node.condition]
        elif isinstance(node, Tuple):
            stack += reversed(node.items)


def reads(node, names) -> bool:
    """Whether a statement, operation, expression or definition (or a tuple of them)
    reads any of `names` anywhere inside (block calls are not followed)."""
    if isinstance(node, Name):
        return node.name in names
    if isinstance(node, (list, tuple)):
        return any(reads(item, names) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        return any(reads(getattr(node, f), names) for f in node.__dataclass_fields__ if not f.endswith("span"))
    return False


def names_in(expr: "Expr | None"):
    """Every name an expression reads, in order."""
    return [node.name for node in subexpressions(expr) if isinstance(node, Name)]


# -- operations ---------------------------------------------------------------------
@dataclass(frozen=True)
class Arg:
    name: str | None  # None for a positional argument
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """A layer (`conv(96, 1x1)`) or a block (`inception_a`, `reduction_a(k=192)`)."""

    name: str
    args: tuple[Arg, ...]
    has_parens: bool = True
    span: Span = _span()


@dataclass(frozen=True)
class Seq:
    """`{ a; b; c }`: statements applied one after another."""

    body: tuple["Stmt", ...]
    span: Span = _span()


COMBINATORS = ("concat", "sum", "product", "split")


@dataclass(frozen=True)
class Concat:
    """A statement whose statements are parallel branches, joined by `kind`:
    `concat { ... }` / `reduction { ... }` (each branch reads the same input; outputs
    concatenated on channels in the written order), `sum { ... }` and `product { ... }`
    (elementwise, a 1x1 grid broadcasts), `split(n) { ... }` / `split(a, b, ...)`
    (branch i reads channel slice i; outputs concatenated; `args` are the sizes)."""

    body: tuple["Stmt", ...]
    reduction: bool = False
    span: Span = _span()
    kind: str = "concat"  # one of COMBINATORS; `reduction` only with "concat"
    args: tuple[Arg, ...] = ()

    @property
    def word(self) -> str:
        """The keyword as written: `concat`, `reduction`, `sum`, `product` or `split`."""
        return "reduction" if self.reduction else self.kind


@dataclass(frozen=True)
class Residual:
    """`residual(scale=0.17) { f } [shortcut { g }]`: y = act(g(x) + scale * f(x))."""

    args: tuple[Arg, ...]
    body: tuple["Stmt", ...]
    shortcut: tuple["Stmt", ...] | None = None
    span: Span = _span()


# what a statement applies to its input (not ir.Op, an IR operation)
Transform = Union[Call, Seq, Concat, Residual]


# -- statements ---------------------------------------------------------------------
@dataclass(frozen=True)
class Labeled:
    """One statement: `[label:] op [xN] [from NAME] [when EXPR]`; `x4` is `Num(4)`,
    `x n` and `x (2 * n)` their expressions."""

    label: str | None
    op: Transform
    repeat: Expr | None = None
    source: str | None = None
    condition: Expr | None = None
    span: Span = _span()
    label_span: Span | None = field(default=None, compare=False, repr=False)
    repeat_span: Span | None = field(default=None, compare=False, repr=False)
    source_span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InputStmt:
    dims: tuple[int, ...]
    span: Span = _span()


@dataclass(frozen=True)
class OutputStmt:
    names: tuple[str, ...]
    span: Span = _span()


Stmt = Union[Labeled, InputStmt, OutputStmt]


# -- top level ----------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class BlockDef:
    """A `block` or a `network` definition (kind tells which)."""

    kind: str  # "block" | "network"
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span = _span()
    name_span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Import:
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class Setting:
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Module:
    items: tuple[Import | Setting | BlockDef, ...]
    span: Span = _span()

    @property
    def imports(self) -> list[Import]:
        return [i for i in self.items if isinstance(i, Import)]

    @property
    def settings(self) -> list[Setting]:
        return [i for i in self.items if isinstance(i, Setting)]

    @property
    def definitions(self) -> list[BlockDef]:
        return [i for i in self.items if isinstance(i, BlockDef)]


# Layer words whose first argument names a labelled tensor of the sequence they stand in
# (`resize(to=low)`, `pad_to(skip)`): word -> that parameter's name. Filled by the op modules.
LABEL_ARGUMENTS: dict[str, str] = {}


def call_labels(call: "Call") -> list[str]:
    """The label a layer call reads besides its input (`resize(to=low)` reads `low`)."""
    param = LABEL_ARGUMENTS.get(call.name)
    for index, arg in enumerate(call.args if param else ()):
        if (arg.name == param or (arg.name is None and index == 0)) and isinstance(arg.value, Name):
            return [arg.value.name]
    return []


def branch_sources(op: "Transform") -> list[str]:
    """The labels that `from` on the branches of `op` (and of joins written directly as
    its branches) reads, in order of first use; for a layer call, the label it names
    (`resize(to=low)`)."""
    found: list[str] = []
    if isinstance(op, Call):
        return call_labels(op)
    if isinstance(op, Concat):
        for stmt in op.body:
            if isinstance(stmt, Labeled):
                found += [stmt.source] if stmt.source else []
                found += branch_sources(stmt.op)
    return list(dict.fromkeys(found))
