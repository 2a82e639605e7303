"""The operations of the language, one module per operation or small family; each is
the single home of everything about its operation (see ops/base.py and the walkthrough
"Adding an operation" in docs/architecture.md).

Importing this package registers every op module in it: the families below in this
order, then any other module of the package (a new op is one new file here)."""

from __future__ import annotations

import importlib
import pkgutil

from inception_dsl.ir import Op, OpKind
from inception_dsl.ops.base import LAYERS, LayerDef, register

__all__ = ["LAYERS", "LayerDef", "Op", "OpKind", "register", "layer_names", "WORD_HOME", "OP_HOME"]

_INFRASTRUCTURE = {"base"}
_FIRST = ("graph", "activations", "conv", "pool", "norm", "linear", "combine")

# which op module registered each layer word and each IR op (the generated docs tables)
WORD_HOME: dict[str, str] = {}
OP_HOME: dict[str, str] = {}


def _load(name: str) -> None:
    words, kinds = set(LAYERS), {kind.value for kind in Op}
    importlib.import_module(f"{__name__}.{name}")
    WORD_HOME.update({word: name for word in LAYERS if word not in words})
    OP_HOME.update({kind.value: name for kind in Op if kind.value not in kinds})


def _register_all() -> None:
    rest = sorted(info.name for info in pkgutil.iter_modules(__path__))
    for name in _FIRST + tuple(n for n in rest if n not in _FIRST and n not in _INFRASTRUCTURE and not n.startswith("_")):
        _load(name)


_register_all()


def layer_names() -> tuple[str, ...]:
    """Every layer word of the language (for keyword lists and help texts)."""
    return tuple(LAYERS)
