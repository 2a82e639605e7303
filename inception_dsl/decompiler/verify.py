"""The round trip: compile the decompiled spec, give it the reference's weights, compare.

The reference's tensors are first made unlike their initialization (BatchNorm statistics
and affine parameters drawn at random, every other floating tensor scaled by a random
factor per element, constant tensors such as a layer scale's 1e-6 moved off their
constant), so that a mis-paired layer cannot hide behind identical initial values. The
weights load into the compiled spec by name with `strict=True` where the names agree, else
through the converter (runtime/interop.py). Outputs are compared on a random input, and
where they differ the first top-level stage whose output differs is named. Imports torch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inception_dsl.decompiler.trace import main_output

__all__ = ["Verified", "verify"]


@dataclass
class Verified:
    ok: bool
    strict: bool  # the reference's state_dict loaded by name, strict=True
    max_error: float
    first_difference: str | None = None
    message: str = ""


def _perturb(model: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) * 0.5 + 0.75)
        for tensor in model.parameters():
            noise = torch.randn(tensor.shape, generator=generator)
            flat = tensor.detach().flatten()
            if flat.numel() and bool((flat == flat[0]).all()):
                base = float(flat[0])
                tensor.copy_(base + noise * 0.1 * max(abs(base), 0.1) if base else noise * 0.1)
            else:
                tensor.mul_(1 + 0.1 * noise)


def verify(text: str, reference: nn.Module, input_shape: tuple[int, ...], *, tolerance: float = 1e-4) -> Verified:
    from inception_dsl.runtime.module import loads
    from inception_dsl.runtime.interop import InteropError, convert_state_dict

    reference.eval()
    _perturb(reference)
    ours = loads(text, path="<decompiled>", seed=0).eval()
    state = reference.state_dict()
    strict = set(state) == set(ours.state_dict())
    try:
        if strict:
            ours.load_state_dict(state, strict=True)
        else:
            ours.load_state_dict(convert_state_dict(model=ours, reference=reference,
                                                    input_size=input_shape[-1]), strict=True)
    except (InteropError, RuntimeError) as error:
        return Verified(False, strict, float("inf"), None, f"the weights do not carry over: {error}")
    x = torch.randn((2, *input_shape), generator=torch.Generator().manual_seed(1))
    theirs_out, ours_out, theirs_stages, ours_stages = _run_both(reference, ours, x)
    error = _error(theirs_out, ours_out)
    if error <= tolerance:
        return Verified(True, strict, error)
    first = next((name for name in ours_stages if name in theirs_stages
                  and _error(theirs_stages[name], ours_stages[name]) > tolerance), None)
    where = f"; the first stage that differs is `{first}`" if first else ""
    return Verified(False, strict, error, first, f"outputs differ by {error:.3g} (relative){where}")


def _run_both(reference: nn.Module, ours: nn.Module, x: torch.Tensor):
    theirs_stages: dict[str, torch.Tensor] = {}
    ours_stages: dict[str, torch.Tensor] = {}
    handles = []
    for model, into in ((reference, theirs_stages), (ours, ours_stages)):
        for name, child in model.named_children():
            handles.append(child.register_forward_hook(
                lambda _m, _a, out, name=name, into=into: into.setdefault(name, out) if isinstance(
                    out, torch.Tensor) else None))
    try:
        with torch.no_grad():
            theirs_out, ours_out = main_output(reference(x)), ours(x)
    finally:
        for handle in handles:
            handle.remove()
    return theirs_out, ours_out, theirs_stages, ours_stages


def _error(a: torch.Tensor, b: torch.Tensor) -> float:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape:
        return float("inf")
    scale = float(a.abs().max()) or 1.0
    return float((a - b).abs().max()) / scale
