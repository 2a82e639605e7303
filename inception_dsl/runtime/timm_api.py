"""timm-facing pieces of the runtime: feature extraction (`features_only`), and pretrained
weights in one line (`load(spec, pretrained="timm:inception_v4")` or a local file).

Pretrained weights of a reference come from the reference library's own download code
(`timm.create_model(name, pretrained=True)`, `torchvision.models.get_model(name,
weights="DEFAULT")`): nothing here fetches a URL. They are carried over as they are when the
spec has the reference's keys (docs/language.md, Names), else through the converter
(runtime/interop.py). Local files are read by runtime/checkpoint.py (regular files only,
`torch.load(weights_only=True)` or safetensors)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from inception_dsl.runtime.checkpoint import read_checkpoint
from inception_dsl.runtime.weights import WeightsError, compare

__all__ = ["FeatureInfo", "FeatureListNet", "features_only", "reference_state_dict", "read_checkpoint",
           "load_pretrained"]


class FeatureInfo(list):
    """timm's FeatureInfo interface over the feature_info dicts of the selected taps."""

    def channels(self, idx: int | None = None):
        return self._get("num_chs", idx)

    def reduction(self, idx: int | None = None):
        return self._get("reduction", idx)

    def module_name(self, idx: int | None = None):
        return self._get("module", idx)

    def get_dicts(self) -> list[dict]:
        return [dict(info) for info in self]

    def _get(self, key: str, idx: int | None):
        return [info[key] for info in self] if idx is None else self[idx][key]


class FeatureListNet(nn.Module):
    """The network's feature maps at its feature taps (its `feature_info`), as a list, in
    the order of `out_indices`: what timm's `features_only=True` returns."""

    def __init__(self, model: nn.Module, out_indices: Sequence[int] | None = None):
        super().__init__()
        taps = list(model.feature_info)
        if not taps:
            raise ValueError(f"{type(model).__name__} has no feature taps (set feature_taps in its spec)")
        indices = tuple(range(len(taps))) if out_indices is None else tuple(out_indices)
        for index in indices:
            if not -len(taps) <= index < len(taps):
                raise ValueError(f"out_indices {indices}: the network has {len(taps)} feature maps (0..{len(taps) - 1})")
        self.model = model
        self.grids = dict(getattr(model, "feature_grids", {}))  # tokens on a grid: NHWC, as timm's Swin
        self.feature_info = FeatureInfo(taps[i] for i in indices)
        self.out_indices = indices
        self._outputs: dict[str, torch.Tensor] = {}
        for name in dict.fromkeys(info["module"] for info in self.feature_info):
            model.get_submodule(name).register_forward_hook(functools.partial(self._capture, name))

    def _capture(self, name: str, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        self._outputs[name] = output.unflatten(1, self.grids[name]) if name in self.grids else output

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self._outputs = {}
        try:
            self.model.forward_features(x)
            return [self._outputs[info["module"]] for info in self.feature_info]
        finally:
            self._outputs = {}


def features_only(model: nn.Module, out_indices: Sequence[int] | None = None) -> FeatureListNet:
    return FeatureListNet(model, out_indices)


def reference_state_dict(source: str, **kwargs: Any) -> dict[str, torch.Tensor]:
    """The pretrained weights of `library:name`, fetched by that library itself."""
    library, _, name = source.partition(":")
    if library == "timm":
        import timm

        return timm.create_model(name, pretrained=True, **kwargs).state_dict()
    if library == "torchvision":
        import torchvision

        return torchvision.models.get_model(name, weights="DEFAULT", **kwargs).state_dict()
    raise ValueError(f"pretrained={source!r}: expected 'timm:NAME', 'torchvision:NAME' or a .pth/.safetensors path")


def load_pretrained(model: nn.Module, pretrained: str | Path, source: str | None = None) -> nn.Module:
    """Carry pretrained weights into `model`: `pretrained` is "timm:NAME"/"torchvision:NAME"
    (the library fetches them) or a local file whose layout is ours or `source`'s. A
    classifier of another size than the checkpoint's is left as initialized (as timm does
    for num_classes != 1000), and so are the keys of auxiliary heads the spec switched off;
    anything else that does not fit (missing or unknown keys, shapes, integer tensors for
    float parameters) is one WeightsError naming each by block."""
    text = str(pretrained)
    if text.startswith(("timm:", "torchvision:")):
        state, source = reference_state_dict(text), source or text
    else:
        state = read_checkpoint(pretrained)
    ours = model.state_dict()
    if source is not None and set(state) != set(ours) and not set(ours) <= set(state):
        from inception_dsl.runtime.interop import convert_state_dict

        state = convert_state_dict(state, source=source, model=model)
    state = {k: v for k, v in state.items() if k in ours or not _aux_head(k)}  # heads the spec switched off
    classifier = getattr(model, "pretrained_cfg", {}).get("classifier") or ""
    head = {k for k, v in state.items()
            if classifier and k.startswith(classifier + ".") and k in ours and v.shape != ours[k].shape}
    kept = {k: v for k, v in state.items() if k not in head}
    mismatch = compare(ours, kept, getattr(model, "block_scopes", ()))
    for scope in list(mismatch.missing):  # a resized classifier stays as initialized
        mismatch.missing[scope] = [k for k in mismatch.missing[scope] if k not in head]
        if not mismatch.missing[scope]:
            del mismatch.missing[scope]
    if mismatch:
        raise WeightsError(mismatch)
    model.load_state_dict(kept, strict=not head)
    return model


def _aux_head(key: str) -> bool:
    """A key of an auxiliary classifier (timm's AuxLogits, torchvision's aux1/aux2)."""
    return "aux" in key.split(".")[0].lower()
