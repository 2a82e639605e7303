"""Statements and blocks → `.incp` text (then `fmt` makes it canonical).

Arguments equal to a word's default are left out (docs/language.md's table; the file's
`set bn_eps`/`bn_momentum` for BatchNorm), `pad=valid` is the flag `valid`, runs of one
block called with the same arguments become `xN`. Each block carries a comment naming the
module class it came from and its file:line; what the language cannot say is a marked
`identity` (only with `--partial`). No torch."""

from __future__ import annotations

import re
from typing import Any

from inception_dsl.decompiler.blocks import Block, holds_tensors
from inception_dsl.decompiler.tree import Expr, Gap, Join, Layer, Residual, Seq, Sym, Use, value_text
from inception_dsl.decompiler.words import DEFAULTS, act_name

__all__ = ["Emitter", "separated"]

IND = "  "


class Emitter:
    def __init__(self, blocks: list[Block], bn: dict[str, float]):
        self.blocks = {block.name: block for block in blocks}
        self.defaults = {**DEFAULTS, "bn": dict(bn)}

    # -- values -------------------------------------------------------------------------
    def layer_args(self, layer: Layer) -> list[str]:
        defaults = self.defaults.get(layer.word, {})
        values = dict(layer.args)
        out = []
        for key, value in layer.args:
            if key is None:
                out.append(value_text(value))
            elif key == "pad" and value in (Sym("valid"), Sym("tf_same")):
                out.append(value.name)  # the flag
            elif key == "bias" and layer.word == "conv":
                bn = values.get("bn", True)
                if isinstance(value, Expr) or isinstance(bn, Expr) or value != (not bn):
                    out.append(f"bias={value_text(value)}")
            elif isinstance(value, Expr) or key not in defaults or not _same(defaults[key], value):
                out.append(f"{key}={value_text(value)}")
        return out

    def use_args(self, use: Use) -> list[str]:
        block = self.blocks[use.block]
        defaults = {name: default for name, default, required in block.params if not required}
        out = []
        for key, value in use.args:
            if key is None:
                out.append(value_text(value))
            elif isinstance(value, Expr) or not _same(defaults.get(key), value):
                out.append(f"{key}={value_text(value)}")
        return out

    # -- statements ---------------------------------------------------------------------
    def call_text(self, stmt) -> str:
        if isinstance(stmt, Layer):
            if act_name(stmt):
                return act_name(stmt)
            args = self.layer_args(stmt)
            return stmt.word + (f"({', '.join(args)})" if args else "")
        args = self.use_args(stmt)
        return stmt.block + (f"({', '.join(args)})" if args else "")

    def body(self, body: list, depth: int, lines: list[str]) -> None:
        i = 0
        while i < len(body):
            stmt = body[i]
            run = 1
            if isinstance(stmt, Use) and stmt.label is None:
                while i + run < len(body) and _same_call(body[i + run], stmt):
                    run += 1
            elif _dense_step(stmt):
                while i + run < len(body) and _dense_step(body[i + run]) and _same_step(body[i + run], stmt):
                    run += 1
                if run > 1:  # DenseNet's layers: one repeated statement, their weights through the converter
                    stmt.label = stmt.branches[1][0].label = None
            self.statement(stmt, depth, lines, run)
            i += run

    def statement(self, stmt, depth: int, lines: list[str], repeat: int = 1, label: str | None = None) -> None:
        pad = IND * depth
        label = stmt.label if label is None else label
        head = f"{pad}{label}: " if label else pad
        times = f" x{repeat}" if repeat > 1 else ""
        if isinstance(stmt, (Layer, Use)):
            source = f" from {stmt.source}" if getattr(stmt, "source", None) else ""
            lines.append(f"{head}{self.call_text(stmt)}{times}{source}")
        elif isinstance(stmt, Gap):
            lines.append(f"{head}identity  # GAP: {_comment(stmt.refusal.describe())}")
        elif isinstance(stmt, Seq):
            run = _uniform(stmt.body)
            if run:
                lines.append(f"{head}{self.call_text(stmt.body[0])} x{len(stmt.body)}")
                return
            lines.append(f"{head}{{")
            self.body(stmt.body, depth + 1, lines)
            lines.append(f"{pad}}}")
        elif isinstance(stmt, Join):
            sizes = stmt.sizes
            kind = stmt.kind if not sizes else (
                f"split({len(sizes)})" if len(set(sizes)) == 1 else f"split({', '.join(map(str, sizes))})")
            lines.append(f"{head}{kind} {{")
            taken: set[str] = set()
            for k, branch in enumerate(stmt.branches):
                self.branch(_unclashed(branch, k, taken), depth + 1, lines)
            lines.append(f"{pad}}}{times}")
        elif isinstance(stmt, Residual):
            self.residual(stmt, head, pad, depth, lines)

    def branch(self, branch: list, depth: int, lines: list[str]) -> None:
        if not branch:
            lines.append(f"{IND * depth}identity")
        elif len(branch) == 1:
            self.statement(branch[0], depth, lines)
        else:
            labelled = any(getattr(s, "label", None) for s in branch)
            self.statement(Seq(_joins_in_scope(branch) if labelled else branch), depth, lines,
                           label="_" if labelled else None)

    def residual(self, stmt: Residual, head: str, pad: str, depth: int, lines: list[str]) -> None:
        args = ([f"scale={value_text(stmt.scale)}"] if stmt.scale != 1.0 else []) + (
            [f"act={stmt.act}"] if stmt.act != "relu" else [])
        lines.append(f"{head}residual{'(' + ', '.join(args) + ')' if args else ''} {{  "
                     f"# noqa: W101 - as the reference adds")
        self.body(stmt.body, depth + 1, lines)
        if stmt.shortcut:
            lines.append(f"{pad}}} shortcut {{")
            self.body(stmt.shortcut, depth + 1, lines)
        lines.append(f"{pad}}}")

    # -- definitions --------------------------------------------------------------------
    def block(self, block: Block, comment: str) -> list[str]:
        params = [name if required else f"{name} = {value_text(default)}" for name, default, required in
                  block.params]
        lines = [f"# {_comment(comment)}", f"block {block.name}{'(' + ', '.join(params) + ')' if params else ''} {{"]
        body = block.body
        if len(body) == 1 and isinstance(body[0], Seq) and body[0].label is None:
            self.statement(body[0], 1, lines, label="_")
        elif len(body) == 1 and isinstance(body[0], (Join, Residual)) and body[0].label is None:
            self.statement(body[0], 1, lines)
        else:
            self.body(_joins_in_scope(body), 1, lines)
        lines.append("}")
        return lines


_BARE = re.compile(r"^(\s*(\w+:\s*)?\w+( x\d+)?)(\s+#.*)?$")


def separated(lines: list[str]) -> list[str]:
    """A bare name before a line opening `{` would read as a label (E008): end it with `;`
    (before its comment: a `--partial` gap is `identity  # GAP: ...`)."""
    out = list(lines)
    for i in range(len(out) - 1):
        bare = _BARE.match(out[i])
        if bare and out[i + 1].lstrip().startswith("{"):
            out[i] = bare.group(1) + ";" + (bare.group(4) or "")
    return out


def _unclashed(branch: list, k: int, taken: set[str]) -> list:
    """A branch written `_: { ... }` names its unlabelled statements by position in the join's
    scope: where an earlier branch took that name (`sum { _: { channels(0, 3); c1: conv(...) };
    _: { channels(3, 8); c2: conv(...) } }`), the statement gets a label of its own."""
    if len(branch) < 2 or not any(getattr(s, "label", None) for s in branch):
        return branch
    for i, stmt in enumerate(branch):
        if not hasattr(stmt, "label"):
            continue
        if stmt.label is None and str(i) in taken:
            stmt.label = next(f"part{k}_{i}{suffix}" for suffix in ("", *range(2, len(taken) + 3))
                              if f"part{k}_{i}{suffix}" not in taken)
        taken.add(stmt.label if stmt.label is not None else str(i))
    return branch


def _joins_in_scope(body: list) -> list:
    """Joins that are not a body's only statement keep their branches in its scope (`_:`), where
    these hold tensors (the reference's names); two joins without would name `branch0` twice (E111)."""
    for stmt in body:
        if isinstance(stmt, Join) and stmt.label is None and holds_tensors([stmt]):
            stmt.label = "_"
    return body


def _same(default: Any, value: Any) -> bool:
    return repr(default) == repr(value) or (isinstance(default, (int, float)) and not isinstance(default, bool)
                                            and isinstance(value, (int, float)) and not isinstance(value, bool)
                                            and float(default) == float(value))


def _same_call(a, b) -> bool:
    return isinstance(a, Use) and a.label is None and a.block == b.block and repr(a.args) == repr(b.args)


def _dense_step(stmt) -> bool:
    """`concat { identity; block(...) }`, a DenseNet layer."""
    return isinstance(stmt, Join) and stmt.kind == "concat" and len(stmt.branches) == 2 and not stmt.branches[0] \
        and len(stmt.branches[1]) == 1 and isinstance(stmt.branches[1][0], Use)


def _same_step(a: Join, b: Join) -> bool:
    first, second = a.branches[1][0], b.branches[1][0]
    return first.block == second.block and repr(first.args) == repr(second.args)


def _uniform(body: list) -> bool:
    return len(body) > 1 and all(_same_call(s, body[0]) for s in body)


def _comment(text: str) -> str:
    return " ".join(text.split())
