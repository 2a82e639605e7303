"""`timm:NAME`, `torchvision:NAME`, `package.module:callable` → the model to decompile
and its input shape. Nothing is downloaded (pretrained=False, weights=None). Imports torch."""

from __future__ import annotations

import importlib
import re
from typing import Any

from torch import nn

__all__ = ["DecompileError", "build", "model_name"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_CALLABLE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_TV_INPUT = {"inception_v3": (3, 299, 299)}


class DecompileError(ValueError):
    """The model cannot be decompiled: it does not build or trace, or the language lacks words."""


def model_name(source: str) -> str:
    name = source.rpartition(":")[2].rpartition(".")[2]
    text = re.sub(r"\W", "_", name).lower().strip("_") or "net"
    return text if not text[0].isdigit() else "net_" + text


def build(source: str) -> tuple[nn.Module, tuple[int, ...] | None]:
    """The model (eval mode, random weights) and the input shape it declares, if any."""
    library, _, name = source.partition(":")
    try:
        if library == "timm" and _NAME.fullmatch(name):
            return _timm(name)
        if library == "torchvision" and _NAME.fullmatch(name):
            return _torchvision(name)
        if _CALLABLE.fullmatch(source):
            return _callable(source), None
    except DecompileError:
        raise
    except Exception as error:  # noqa: BLE001 - a constructor may raise anything
        raise DecompileError(f"cannot construct `{source}`: {type(error).__name__}: {_first_line(error)}") from None
    raise DecompileError(f"unknown source `{source}`: expected `timm:NAME`, `torchvision:NAME` or "
                         f"`package.module:callable`")


def _timm(name: str):
    import timm

    if name not in timm.list_models():
        raise DecompileError(f"timm has no model `{name}`")
    model = timm.create_model(name, pretrained=False)
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size")
    return model.eval(), tuple(size) if size else None


def _torchvision(name: str):
    import torchvision

    if name not in torchvision.models.list_models():
        raise DecompileError(f"torchvision has no model `{name}`")
    kwargs: dict[str, Any] = {}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(init_weights=False, aux_logits=False)
    if "weights_backbone" in _parameters(torchvision.models.get_model_builder(name)):
        kwargs["weights_backbone"] = None  # offline: no pretrained backbone either
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    return model.eval(), _TV_INPUT.get(name, (3, 224, 224))


def _parameters(function) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def _callable(source: str) -> nn.Module:
    module_name, _, attr = source.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise DecompileError(f"cannot import `{module_name}`: {error}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise DecompileError(f"`{module_name}` has no `{attr}`")
        target = getattr(target, part)
    if isinstance(target, nn.Module):
        return target.eval()
    if not callable(target):
        raise DecompileError(f"`{source}` is neither a module nor a callable")
    model = target()
    if not isinstance(model, nn.Module):
        raise DecompileError(f"`{source}()` returns a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
