"""Signatures as the editor shows them, for built-in layers (from the op registry,
inception_dsl/ops/) and for blocks (from their definitions). The one place the server reads the
layer table, so a new layer shows up in hover and completion without a change here."""

from __future__ import annotations

from dataclasses import dataclass

from inception_dsl.core import syntax
from inception_dsl.language.fmt import expr
from inception_dsl.core.signatures import REQUIRED
from inception_dsl.ops import LAYERS
from inception_dsl.core.values import Symbol

__all__ = ["Signature", "layer_signature", "block_signature", "comment_above", "is_layer", "layer_names"]


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple[tuple[str, str | None], ...]  # (name, default as written, or None when required)
    flags: tuple[str, ...] = ()
    summary: str = ""
    kind: str = "layer"  # "layer" | "block" | "network"
    flag_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()  # flag -> the parameters it sets

    def label(self) -> str:
        parts = [name if default is None else f"{name}={default}" for name, default in self.params]
        parts += [f"[{flag}]" for flag in self.flags]
        return f"{self.name}({', '.join(parts)})"

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.params)


def _value(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


def layer_names() -> list[str]:
    return list(LAYERS)


def is_layer(name: str) -> bool:
    return name in LAYERS


def layer_signature(name: str, settings: dict | None = None, call: syntax.Call | None = None) -> Signature | None:
    """A layer's signature; with a file's `settings` (and the call being hovered), the defaults
    that come from them (conv's `act` is the file's `act`, not none) as they are there."""
    definition = LAYERS.get(name)
    if definition is None:
        return None
    sig = definition.sig
    defaults = {p: sig.keywords.get(p) for p in sig.parameters}
    summary = sig.summary
    if settings is not None and call is not None and sig.settle is not None:
        values = {p: (v, call.span) for p, v in defaults.items() if v is not REQUIRED}
        sig.settle(values, settings, call)
        settled = [p for p, (v, _) in values.items() if defaults[p] is None and v is not None]
        defaults.update((p, values[p][0]) for p in settled)
        if settled:
            summary += ("\n\n" if summary else "") + f"{', '.join(f'`{p}`' for p in settled)}: from this file's settings (`set ...`)"
    params = tuple((p, None if v is REQUIRED else _value(v)) for p, v in defaults.items())
    flag_keys = tuple((flag, tuple(values)) for flag, values in sig.flags.items())
    return Signature(name, params, tuple(sig.flags), summary, "layer", flag_keys)


def block_signature(definition: syntax.BlockDef) -> Signature:
    params = tuple((p.name, expr(p.default) if p.default is not None else None) for p in definition.params)
    return Signature(definition.name, params, (), comment_above(definition), definition.kind)


def comment_above(definition: syntax.BlockDef) -> str:
    """The comment lines right above a definition (its doc comment), without the `#`."""
    source = definition.span.source
    line = source.line_col(definition.span.start)[0] - 1
    found = []
    while line >= 1:
        text = source.line_text(line).strip()
        if not text.startswith("#"):
            break
        found.append(text.lstrip("#").strip())
        line -= 1
    return "\n".join(reversed(found))
