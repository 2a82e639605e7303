"""Module calls → blocks: one `block` per module class and structure, parameters where
its instances differ, runs of identical calls folded into `xN`.

`Blocks.finalize(use)` works bottom-up: a child's calls are settled before its parent's.
A call of a module whose body is a conv named `conv`, a `bn` named `bn` (at the file's
BatchNorm settings) and an activation (timm's ConvNormAct, Inception's BasicConv2d) is the
language's `conv(...)` unit itself; a module without tensors of its own is written
inline; a body that is one `sum` of two branches (and an activation) is a `residual`.
Calls of one class with the same statements (up to argument values) share a block;
an argument that differs between instances becomes a parameter, written as
`in_channels` or a multiple of another parameter where every instance agrees. No torch."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from inception_dsl.decompiler.structure import residuals
from inception_dsl.decompiler.tree import SUM, Expr, Gap, Join, Layer, Refusal, Residual, Scale, Seq, Sym, Use
from inception_dsl.decompiler.words import act_name
from inception_dsl.language.naming import reserved_name
from inception_dsl.language.parse import KEYWORDS, RESERVED
from inception_dsl.ops import LAYERS

__all__ = ["Block", "Blocks", "holds_tensors", "walk_values"]

IDENTITY = "identity"
_RESERVED = KEYWORDS | RESERVED | {"x", "in_channels", "in_height", "in_width", "true", "false", "none"}


@dataclass
class Block:
    name: str
    cls: type
    body: list
    instances: list[Use] = field(default_factory=list)
    params: list[tuple[str, Any, bool]] = field(default_factory=list)  # (name, default, required)
    path: str = ""


def walk_values(body: list, out: list) -> list:
    """Every argument slot of a body, in a fixed order: (statement, index in its args)."""
    for stmt in body:
        if isinstance(stmt, (Layer, Use)):
            out.extend((stmt, i) for i in range(len(stmt.args)))
        elif isinstance(stmt, Seq):
            walk_values(stmt.body, out)
        elif isinstance(stmt, Join):
            for branch in stmt.branches:
                walk_values(branch, out)
        elif isinstance(stmt, Residual):
            walk_values(stmt.body, out)
            walk_values(stmt.shortcut or [], out)
    return out


def shape_key(body: list) -> str:
    parts = []
    for stmt in body:
        label = stmt.label or ""
        if isinstance(stmt, Layer):
            parts.append(f"L{label}:{stmt.word}({','.join(_arg_key(stmt.word, k, v) for k, v in stmt.args)})<{stmt.source or ''}")
        elif isinstance(stmt, Use):
            parts.append(f"U{label}:{stmt.block}({','.join(str(k) for k, _ in stmt.args)})")
        elif isinstance(stmt, Seq):
            parts.append(f"S{label}[{shape_key(stmt.body)}]")
        elif isinstance(stmt, Join):
            sizes = len(stmt.sizes) if len(set(stmt.sizes)) <= 1 else stmt.sizes  # `split(n)` holds no value
            parts.append(f"J{label}:{stmt.kind}{sizes}[" + "|".join(shape_key(b) for b in stmt.branches) + "]")
        elif isinstance(stmt, Residual):
            parts.append(f"R{stmt.scale},{stmt.act}[{shape_key(stmt.body)}|{shape_key(stmt.shortcut or [])}]")
        else:
            parts.append(f"G{id(stmt)}")
    return ";".join(parts)


def _arg_key(word: str, key, value) -> str:
    """An argument's name, and its value where it cannot be a block parameter: the label
    whose size `resize(to=...)`/`pad_to(...)` takes."""
    return f"{key}={value.name}" if word in ("resize", "pad_to") and isinstance(value, Sym) and key in ("to", None) \
        else str(key)


def snake(name: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    text = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", text)
    text = re.sub(r"[^A-Za-z0-9_]", "_", text).lower().strip("_") or "block"
    return text if not text[0].isdigit() else "b_" + text


class Blocks:
    def __init__(self, refusals: list[Refusal], bn: dict[str, float]):
        self.blocks: dict[tuple, Block] = {}
        self.names: set[str] = set()
        self.refusals = refusals
        self.bn = bn

    # -- bottom-up simplification ---------------------------------------------------
    def finalize(self, body: list) -> list:
        out = []
        for stmt in body:
            out.extend(self._statement(stmt))
        return _plain_labels([s for s in out if not _named_identity(s)])

    def _statement(self, stmt) -> list:
        if isinstance(stmt, Seq):
            stmt.body = self.finalize(stmt.body)
            return [stmt]
        if isinstance(stmt, Join):
            stmt.branches = [self.finalize(b) for b in stmt.branches]
            return [_added_to_input(stmt)]
        if isinstance(stmt, Residual):
            stmt.body = self.finalize(stmt.body)
            stmt.shortcut = self.finalize(stmt.shortcut) if stmt.shortcut else None
            return [stmt]
        if isinstance(stmt, Scale):
            path, cls, site = stmt.origin
            refusal = Refusal(path, cls, site, "scaling by a constant outside a residual", f"x {stmt.factor}")
            self.refusals.append(refusal)
            return [Gap(refusal, stmt.label)]
        if isinstance(stmt, Use):
            return self._use(stmt)
        return [stmt]

    def _use(self, use: Use) -> list:
        use.body = self.finalize(residuals(_no_identities(use.body)))
        fused = self._conv_unit(use)
        if fused is not None:
            return [fused]
        if len(use.body) == 1 and isinstance(use.body[0], Layer) and use.body[0].params and use.body[0].label is None:
            use.body[0].label = use.label  # a module around one word (timm's LayerScale: `gamma`)
            return [use.body[0]]
        if not holds_tensors(use.body):
            if len(use.body) == 1 and not isinstance(use.body[0], (Residual, Gap)):
                only = use.body[0]
                only.label = use.label
                return [only]
            return [Seq(_unlabelled(use.body), use.label)] if use.body else [Layer("identity", label=use.label)]
        if len(use.body) == 1 and isinstance(use.body[0], Seq) and use.body[0].label is None:
            use.seq_body = True
        key = (use.cls, shape_key(use.body))
        block = self.blocks.get(key)
        if block is None:
            block = Block(self._name(use.cls), use.cls, use.body, path=use.path)
            self.blocks[key] = block
        block.instances.append(use)
        use.block = block.name
        return [use]

    def _conv_unit(self, use: Use) -> Layer | None:
        body = use.body
        if len(body) not in (2, 3) or not all(isinstance(s, Layer) for s in body):
            return None
        conv, bn = body[0], body[1]
        if (conv.word, conv.label, bn.word, bn.label) != ("conv", "conv", "bn", "bn"):
            return None
        if dict(bn.args) != self.bn:
            return None
        act = Sym("identity")
        if len(body) == 3:
            if body[2].params or act_name(body[2]) is None:
                return None
            act = Sym(act_name(body[2]))
        args = [(k, v) for k, v in conv.args if k not in ("bn", "act")]
        return Layer("conv", args + [("bn", True), ("act", act)], use.label, params=True)

    def _name(self, cls: type) -> str:
        base = snake(cls.__name__)
        if base in LAYERS or base in _RESERVED or reserved_name(base):
            base += "_block"
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    # -- parameters -------------------------------------------------------------------
    def parameterize(self) -> None:
        for block in self.blocks.values():
            _parameterize(block)


def holds_tensors(body: list) -> bool:
    return any(isinstance(stmt, Use) or getattr(stmt, "params", False) or
               (isinstance(stmt, Seq) and holds_tensors(stmt.body)) or
               (isinstance(stmt, Join) and any(holds_tensors(b) for b in stmt.branches)) or
               (isinstance(stmt, Residual) and holds_tensors(stmt.body + (stmt.shortcut or [])))
               or isinstance(stmt, Gap) for stmt in body)


def _plain_labels(body: list) -> list:
    """A layer without tensors keeps its label only where it says something: not `relu: relu`,
    not a label used twice in one scope (torchvision's one `self.relu` called three times)."""
    counts = Counter(getattr(s, "label", None) for s in _scope_statements(body))
    for stmt in _scope_statements(body):
        if isinstance(stmt, Layer) and not stmt.params and stmt.label and not getattr(stmt, "tapped", False) and (
                stmt.label in (stmt.word, act_name(stmt)) or counts[stmt.label] > 1):
            stmt.label = None
    return body


def _scope_statements(body: list):
    """The statements whose labels share one scope: the body's, its residuals' and those of
    `_:`-like unlabelled joins' sequences (their parts are named in the enclosing scope)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, Residual):
            yield from _scope_statements(stmt.body)
            yield from _scope_statements(stmt.shortcut or [])
        elif isinstance(stmt, Join) and stmt.label in (None, "_"):
            for branch in stmt.branches:
                if len(branch) > 1 and any(getattr(s, "label", None) for s in branch):
                    yield from _scope_statements(branch)
                else:
                    yield from branch


def _named_identity(stmt) -> bool:
    """timm's `pos_drop`, `ls1`, `drop_path1` when off: a named identity says nothing (its
    name holds no tensor; an unnamed one may be a position in a sequence)."""
    return isinstance(stmt, Layer) and stmt.label is not None and act_name(stmt) == IDENTITY and \
        not getattr(stmt, "tapped", False) and not stmt.source


def _added_to_input(join: Join):
    """`x + f(x)` amid other statements (a transformer block's two): `residual(act=identity) { f }`."""
    if join.kind != SUM or len(join.branches) != 2 or [] not in join.branches:
        return join
    body = join.branches[1] if join.branches[0] == [] else join.branches[0]
    if not body or any(isinstance(s, Scale) for s in body) or getattr(body[0], "source", None):
        return join  # `sum { identity; x from LABEL }` adds another tensor: no residual
    return Residual(body, None, 1.0, IDENTITY, join.label)


def _no_identities(body: list) -> list:
    """A block body's identities (timm's `drop_block`, `aa` when off) say nothing."""
    return [s for s in body if not (isinstance(s, Layer) and act_name(s) == IDENTITY)]


def _unlabelled(body: list) -> list:
    for stmt in body:
        if not getattr(stmt, "tapped", False):  # a branch reads it `from` its label
            stmt.label = None
    return body


def _slot_name(stmt, index: int) -> str:
    if isinstance(stmt, Use):
        return stmt.arg_names[index]
    key = stmt.args[index][0]
    if key is None:
        word = getattr(stmt, "word", "")
        key = ("out" if index == 0 else "kernel") if word in ("conv", "linear", "conv_transpose") else \
            ("kernel" if "pool" in word else "p")
    return key


def _parameterize(block: Block) -> None:
    slots = [walk_values(use.body, []) for use in block.instances]
    count = len(slots[0])
    values = [[stmt.args[i][1] for stmt, i in row] for row in slots]
    channels = [use.in_channels for use in block.instances]
    params: list[tuple[str, list]] = []  # name, values per instance
    taken: set[str] = set()
    exprs: dict[int, Any] = {}
    for j in range(count):
        column = [row[j] for row in values]
        if _ints(column) and column == channels and slots[0][j][0].args[slots[0][j][1]][0] in (None, "groups"):
            exprs[j] = Expr("in_channels")
        elif any(repr(v) != repr(column[0]) for v in column):
            exprs[j] = _expression(column, channels, params) or _new_param(block, slots[0][j], column, params, taken)
    template = slots[0]
    for j, expr in exprs.items():
        stmt, i = template[j]
        stmt.args[i] = (stmt.args[i][0], expr)
    block.params = []
    for name, column in params:
        common = Counter(map(repr, column)).most_common(1)[0][0]
        default = next(v for v in column if repr(v) == common)
        required = _required(name)
        block.params.append((name, None if required else default, required))
    order = sorted(range(len(params)), key=lambda k: not block.params[k][2])  # required ones first
    block.params = [block.params[k] for k in order]
    columns = [params[k][1] for k in order]
    for k, use in enumerate(block.instances):
        use.arg_names = [name for name, _, _ in block.params]
        use.args = [(None if required else name, column[k])
                    for (name, _, required), column in zip(block.params, columns)]


def _ints(column: list) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in column)


def _required(name: str) -> bool:
    return name == "out" or name.endswith("_out")


def _expression(column: list, channels: list[int], params: list) -> Expr | None:
    if not _ints(column):
        for name, values in params:
            if values == column:
                return Expr(name)
        return None
    if column == channels:
        return Expr("in_channels")
    for name, values in params:
        if values == column:
            return Expr(name)
    for name, values in params:
        if all(isinstance(v, int) and not isinstance(v, bool) and v for v in values):
            ratios = {c / v for c, v in zip(column, values)}
            if len(ratios) == 1 and (r := ratios.pop()) == int(r) and r > 1:
                return Expr(f"{name} * {int(r)}")
    if channels and all(c for c in channels) and all(column):
        ratios = {c / ch for c, ch in zip(column, channels)}
        if len(ratios) == 1 and (r := ratios.pop()) == int(r) and r > 1:
            return Expr(f"in_channels * {int(r)}")
        parts = {ch / c for c, ch in zip(column, channels)}
        if len(parts) == 1 and (r := parts.pop()) == int(r) and r > 1 and all(ch % c == 0 for c, ch in zip(column, channels)):
            return Expr(f"in_channels // {int(r)}")
    return None


def _new_param(block: Block, slot, column: list, params: list, taken: set[str]) -> Expr:
    stmt, i = slot
    base = _slot_name(stmt, i)
    name = base
    if name in taken or name in LAYERS or name in _RESERVED or name == block.name:
        label = re.sub(r"\W", "_", stmt.label or getattr(stmt, "word", "") or getattr(stmt, "block", "") or "p")
        name = f"{label}_{base}"
    n = 2
    while name in taken or name in LAYERS or name in _RESERVED:
        name, n = f"{label}_{base}{n}", n + 1
    taken.add(name)
    params.append((name, column))
    return Expr(name)
