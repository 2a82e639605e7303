"""Where a module class or a function is written: `file:line`, the file relative to the
import path (site-packages, the project). No torch."""

from __future__ import annotations

import functools
import inspect
import sys

__all__ = ["qualname", "short_path", "where"]


def qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def where(obj) -> str:
    """`file:line` of a class or function, the file relative to site-packages or the cwd."""
    target = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    return _where(target)


@functools.lru_cache(maxsize=None)
def _where(target) -> str:
    try:
        path = inspect.getsourcefile(target) or "?"
        line = inspect.getsourcelines(target)[1]
    except (TypeError, OSError):
        return "?"
    return f"{short_path(path)}:{line}"


def short_path(path: str) -> str:
    for root in sorted((p for p in sys.path if p), key=len, reverse=True):
        if path.startswith(root.rstrip("/") + "/"):
            return path[len(root.rstrip("/")) + 1:]
    return path
