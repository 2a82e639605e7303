"""Helper classes that op modules bring to generated files (ops/layernorm.py's
`LayerNorm2d`, ops/drop_path.py's `DropPath`): an op registers its class source here at
import time, and the Python backend's prelude emits the registered helpers after its
fixed ones, in registration order. Here, below the ops, so that an op never imports a
backend."""

from __future__ import annotations

__all__ = ["REGISTERED", "register_helper"]

# name -> (source, names of the helpers it needs)
REGISTERED: dict[str, tuple[str, tuple[str, ...]]] = {}


def register_helper(name: str, source: str, needs: tuple[str, ...] = ()) -> None:
    """Add the helper `name` (its source, and the helpers it needs) to generated files."""
    if name in REGISTERED:
        raise ValueError(f"helper {name!r} is defined twice")
    REGISTERED[name] = (source, needs)
