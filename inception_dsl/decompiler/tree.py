"""The decompiler's statements: what a traced module becomes before it is written as text.

A body is a list of statements; each one is a `Layer` (a layer word and its arguments),
a `Use` (a block call, before the block is known), a `Seq` (`{ ... }`), a `Join`
(`concat`/`sum`/`product`, a `split` by sizes), a `Residual` or a `Gap` (what the
language cannot say, with the reason: `--partial` writes it as a marked `identity`).
Values are Python ints, floats, bools and tuples, plus `Sym` (a bare name such as
`relu`), `Size` (`3x3`) and `Expr` (source text, a block parameter or an expression
over parameters). No torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUM = "sum"  # the join kind a residual is made of

__all__ = ["SUM", "Expr", "Follows", "Gap", "Join", "Layer", "Refusal", "Residual", "Seq", "Size", "Sym", "Use", "value_text"]


@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Size:
    h: int
    w: int


@dataclass(frozen=True)
class Expr:
    text: str


@dataclass(frozen=True)
class Refusal:
    """What cannot be expressed, located in the reference's source."""

    path: str  # qualified module name ('' is the network)
    cls: str  # the module's class, qualified
    where: str  # file:line of the module's class (or of the function)
    missing: str  # the missing word or feature, short (the census ranks these)
    detail: str = ""

    def describe(self) -> str:
        text = f"`{self.path or '(network)'}` ({self.cls}, {self.where}): no language word for {self.missing}"
        return text + (f": {self.detail}" if self.detail else "")


@dataclass
class Layer:
    word: str
    args: list[tuple[str | None, Any]] = field(default_factory=list)
    label: str | None = None
    params: bool = False  # holds tensors (its label matters for the state_dict)
    source: str | None = None  # `from LABEL`: a join's branch that reads an earlier statement


@dataclass
class Use:
    """A call of a module that becomes a block: `key` groups calls of one block."""

    path: str
    cls: type
    body: list
    label: str | None = None
    in_channels: int = 0
    block: str = ""
    args: list[tuple[str | None, Any]] = field(default_factory=list)
    seq_body: bool = False  # the block's module is a sequence (`_: { ... }`)
    arg_names: list[str] = field(default_factory=list)  # the block's parameter of each argument


@dataclass
class Seq:
    body: list
    label: str | None = None


@dataclass
class Join:
    kind: str  # concat | sum | product | split
    branches: list[list]
    label: str | None = None
    sizes: tuple[int, ...] = ()  # a split's sizes


@dataclass
class Residual:
    body: list
    shortcut: list | None
    scale: float = 1.0
    act: str = "identity"
    label: str | None = None


@dataclass
class Gap:
    refusal: Refusal
    label: str | None = None


@dataclass
class Fork:
    """`chunk`/`split` on channels: only a `split` statement (its parts concatenated again) says it."""

    sizes: tuple[int, ...]


@dataclass(frozen=True)
class Follows:
    """`resize(to=...)`/`pad_to(...)` before structure.py names the tensor whose size it takes:
    `ref` is that tensor; `fallback` the layer that says it at the traced size (`upsample(k)`),
    where there is one, for a tensor that no label of the sequence names."""

    ref: tuple[int, int]
    fallback: Any = None


@dataclass
class Scale:
    """A multiplication by a constant (only a residual's scale can say it)."""

    factor: float
    label: str | None = None
    origin: tuple[str, str, str] = ("", "", "?")  # module path, class, file:line


def value_text(value: Any) -> str:
    if isinstance(value, Sym):
        return value.name
    if isinstance(value, Size):
        return f"{value.h}x{value.w}"
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text if ("e" in text or "." in text) else text + ".0"
    if isinstance(value, tuple):
        return "(" + ", ".join(value_text(v) for v in value) + ")"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
