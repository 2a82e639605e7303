"""Measured forward time: warm-up, then repeats, each synchronized on the device.

Shared by `sweep --measure` (one latency per variant) and `profile` (the whole forward
beside the per-stage times)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Mapping

import torch
from torch import nn

from inception_dsl import api

__all__ = ["DTYPES", "resolve_device", "synchronize", "prepare", "time_forward", "variant_timer"]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """`cpu`, `cuda`, `cuda:1`, ...; ValueError when it is not there."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available here (use --device cpu)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: only cpu and cuda are supported")
    return device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prepare(model: nn.Module, input_shape, *, device: torch.device, batch: int, dtype: str) -> tuple[nn.Module, torch.Tensor]:
    """The model in eval mode on `device` in `dtype`, and a random input batch."""
    torch_dtype = DTYPES[dtype]
    model = model.eval().to(device=device, dtype=torch_dtype)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *input_shape), generator=generator).to(device=device, dtype=torch_dtype)
    return model, x


def time_forward(model: nn.Module, x: torch.Tensor, *, warmup: int = 3, repeats: int = 10) -> list[float]:
    """Seconds per forward pass, one entry per repeat (after `warmup` untimed passes)."""
    device = x.device
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        synchronize(device)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            synchronize(device)
            times.append(time.perf_counter() - start)
    return times


def variant_timer(*, device: str = "cpu", batch: int = 1, dtype: str = "fp32", warmup: int = 3,
                  repeats: int = 10) -> Callable[[api.Result, Mapping[str, Any]], dict[str, Any]]:
    """For sweep: build each checked variant, time it, return latency (median, ms) and
    throughput (samples per second)."""
    from inception_dsl.runtime.module import build_module

    target = resolve_device(device)

    def measure(result: api.Result, point: Mapping[str, Any]) -> dict[str, Any]:
        model, x = prepare(build_module(result, seed=0), result.graph.input_node.shape, device=target, batch=batch,
                           dtype=dtype)
        median = statistics.median(time_forward(model, x, warmup=warmup, repeats=repeats))
        return {"latency_ms": round(median * 1000, 3), "throughput": round(batch / median, 1)}

    return measure
