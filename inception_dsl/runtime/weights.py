"""Loading a state_dict into a compiled network, with one error that says everything
that does not fit: missing, unexpected and mis-shaped keys, grouped by the block
instance they belong to (`inception_a.2: missing 6 keys (branch1.conv0.conv.weight, ...)`).

PyTorch's own `load_state_dict(strict=True)` stops with flat lists of full key names;
for a network of forty block instances the grouping is what tells you *which* block the
checkpoint and the spec disagree on. Nothing here imports torch: only `state_dict()`,
`.shape` and `load_state_dict` of the objects passed in are used."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

__all__ = ["WeightsError", "WeightsMismatch", "compare", "load_weights", "MAX_KEYS_SHOWN"]

MAX_KEYS_SHOWN = 6


@dataclass
class WeightsMismatch:
    """What differs between a network's state_dict and a checkpoint's, by block scope."""

    missing: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unexpected: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    misshaped: dict[str, list[tuple[str, tuple, tuple]]] = field(default_factory=lambda: defaultdict(list))
    # a float parameter given integer or boolean values (an int8 checkpoint): key, given, expected
    mistyped: dict[str, list[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(list))

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.misshaped or self.mistyped)

    def counts(self) -> tuple[int, int, int, int]:
        return (sum(map(len, self.missing.values())), sum(map(len, self.unexpected.values())),
                sum(map(len, self.misshaped.values())), sum(map(len, self.mistyped.values())))


class WeightsError(ValueError):
    """The checkpoint does not fit the network; `mismatch` has the details."""

    def __init__(self, mismatch: WeightsMismatch, hint: str | None = None):
        self.mismatch = mismatch
        super().__init__(_describe(mismatch, hint))


def scope_of(key: str, scopes: Iterable[str] = ()) -> str:
    """The block instance a key belongs to: the longest known scope that prefixes it, or
    else its first component plus a repetition index (`inception_a.2`)."""
    best = ""
    for scope in scopes:
        if key.startswith(scope + ".") and len(scope) > len(best):
            best = scope
    if best:
        return best
    parts = key.split(".")
    if len(parts) > 2 and parts[1].isdigit():
        return ".".join(parts[:2])
    return parts[0] if len(parts) > 1 else "(top level)"


def compare(expected: Mapping[str, Any], given: Mapping[str, Any], scopes: Iterable[str] = ()) -> WeightsMismatch:
    """Compare two state_dicts (values need only a `.shape`)."""
    scopes = tuple(scopes)
    mismatch = WeightsMismatch()
    for key in expected:
        scope = scope_of(key, scopes)
        if key not in given:
            mismatch.missing[scope].append(key)
        elif tuple(given[key].shape) != tuple(expected[key].shape):
            mismatch.misshaped[scope].append((key, tuple(given[key].shape), tuple(expected[key].shape)))
        elif _floating(expected[key]) and _floating(given[key]) is False:
            mismatch.mistyped[scope].append((key, _dtype(given[key]), _dtype(expected[key])))
    for key in given:
        if key not in expected:
            mismatch.unexpected[scope_of(key, scopes)].append(key)
    return mismatch


def _floating(value: Any) -> bool | None:
    """Whether a tensor holds floating-point values (None: cannot tell, not a tensor)."""
    return getattr(getattr(value, "dtype", None), "is_floating_point", None)


def _dtype(value: Any) -> str:
    return str(getattr(value, "dtype", "?")).replace("torch.", "")


def load_weights(model: Any, state_dict: Mapping[str, Any], scopes: Iterable[str] | None = None) -> None:
    """Load `state_dict` into `model` if every key fits; otherwise raise one WeightsError
    listing every difference, grouped by block. `scopes` are the block instances
    (`Graph.blocks`); by default the model's `block_scopes` attribute if it has one."""
    if scopes is None:
        scopes = getattr(model, "block_scopes", ())
    expected = model.state_dict()
    mismatch = compare(expected, state_dict, scopes)
    if mismatch:
        raise WeightsError(mismatch, _hint(expected, state_dict))
    model.load_state_dict(state_dict, strict=True)


def _hint(expected: Mapping[str, Any], given: Mapping[str, Any]) -> str | None:
    """A likely cause, when the keys differ only by a prefix."""
    for prefix in ("module.", "model.", "_orig_mod."):
        if given and all(k.startswith(prefix) for k in given) and any(k[len(prefix):] in expected for k in given):
            return f"every checkpoint key starts with `{prefix}` (a wrapped model): strip that prefix before loading"
    return None


def _shape(shape: tuple) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _keys(scope: str, keys: list[str]) -> str:
    local = [k[len(scope) + 1:] if k.startswith(scope + ".") else k for k in keys]
    shown = ", ".join(local[:MAX_KEYS_SHOWN])
    return shown + (f", ... {len(local) - MAX_KEYS_SHOWN} more" if len(local) > MAX_KEYS_SHOWN else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _pairs(scope: str, what: str, entries: list[tuple[str, str, str]]) -> str:
    """`  scope: <what> for N keys (key: checkpoint X, network Y, ...)`."""
    shown = ", ".join(f"{_keys(scope, [k])}: checkpoint {got}, network {want}" for k, got, want in entries[:MAX_KEYS_SHOWN])
    more = f", ... {len(entries) - MAX_KEYS_SHOWN} more" if len(entries) > MAX_KEYS_SHOWN else ""
    return f"  {scope}: {what} for {_plural(len(entries), 'key')} ({shown}{more})"


def _describe(mismatch: WeightsMismatch, hint: str | None) -> str:
    missing, unexpected, misshaped, mistyped = mismatch.counts()
    parts = [f"{missing} missing" if missing else "", f"{unexpected} unexpected" if unexpected else "",
             f"{misshaped} with the wrong shape" if misshaped else "",
             f"{mistyped} not floating-point" if mistyped else ""]
    lines = ["the state_dict does not fit the network: " + ", ".join(p for p in parts if p)]
    scopes = sorted(set(mismatch.missing) | set(mismatch.unexpected) | set(mismatch.misshaped)
                    | set(mismatch.mistyped))
    for scope in scopes:
        if scope in mismatch.missing:
            keys = mismatch.missing[scope]
            lines.append(f"  {scope}: missing {_plural(len(keys), 'key')} ({_keys(scope, keys)})")
        if scope in mismatch.unexpected:
            keys = mismatch.unexpected[scope]
            lines.append(f"  {scope}: unexpected {_plural(len(keys), 'key')} ({_keys(scope, keys)})")
        if scope in mismatch.misshaped:
            lines.append(_pairs(scope, "wrong shape", [(k, _shape(g), _shape(w)) for k, g, w in mismatch.misshaped[scope]]))
        if scope in mismatch.mistyped:
            lines.append(_pairs(scope, "not floating-point", mismatch.mistyped[scope]))
    if hint:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)
