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
from inception_dsl.ops import graph, activations, conv, pool, norm, linear, combine  # noqa: F401  (registration)

__all__ = ["LAYERS", "LayerDef", "Op", "OpKind", "register", "layer_names"]

_INFRASTRUCTURE = {"base"}


def _register_the_rest() -> None:
    loaded = {"graph", "activations", "conv", "pool", "norm", "linear", "combine"} | _INFRASTRUCTURE
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name not in loaded and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_register_the_rest()


def layer_names() -> tuple[str, ...]:
    """Every layer word of the language (for keyword lists and help texts)."""
    return tuple(LAYERS)
