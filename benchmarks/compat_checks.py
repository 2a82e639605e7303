"""The compatibility checks of benchmarks/compat_matrix.py and tests/test_compat_matrix.py:
what users do with any PyTorch model, applied to a module and its input.

Each check takes a `Subject` (the module in eval mode, a way to build a fresh one of the
same kind, the input) and returns nothing or raises: `NotApplicable` where the check does
not apply by design (training an inference-only optimized module), anything else is a
failure. Outputs are compared with the module's own eager output."""

from __future__ import annotations

import copy
import io
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = ["CHECKS", "SLOW_CHECKS", "Subject", "NotApplicable", "run_check"]


class NotApplicable(Exception):
    """The check does not apply to this module by design."""


@dataclass
class Subject:
    model: nn.Module  # in eval mode
    fresh: Callable[[], nn.Module]  # another module of the same kind (fresh weights)
    x: torch.Tensor
    inference_only: bool = False
    pythonpath: list[str] = field(default_factory=list)  # where a fresh process imports the model's code from


def main_output(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def close(actual, expected, what: str, rtol: float = 1e-3) -> None:
    actual, expected = main_output(actual).float(), main_output(expected).float()
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {tuple(actual.shape)}, eager {tuple(expected.shape)}")
    scale = expected.abs().max().item() + 1e-6
    diff = (actual - expected).abs().max().item()
    if not diff <= rtol * scale + 1e-5:
        raise AssertionError(f"{what}: max |diff| {diff:.3g} against eager (max |y| {scale:.3g})")


def _eager(s: Subject):
    with torch.no_grad():
        return s.model(s.x)


def check_eager(s: Subject) -> None:
    out = main_output(_eager(s))
    if not torch.isfinite(out).all():
        raise AssertionError("eager output is not finite")


def check_train_eval(s: Subject) -> None:
    if s.inference_only:
        raise NotApplicable("inference-only by design: train() raises")
    model = copy.deepcopy(s.model)
    before = _eager(s)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    stats = [m.running_mean.clone() for m in bns]
    model.train()
    with torch.no_grad():
        model(s.x)
    if bns and all(torch.equal(a, m.running_mean) for a, m in zip(stats, bns)):
        raise AssertionError("training mode left every BatchNorm's running statistics alone")
    model.eval()
    with torch.no_grad():
        first, second = model(s.x), model(s.x)
    if not torch.equal(main_output(first), main_output(second)):
        raise AssertionError("eval mode is not deterministic")
    if not bns:
        close(first, before, "eval after train")


def check_train_step(s: Subject) -> None:
    if s.inference_only:
        raise NotApplicable("inference-only by design: train() raises")
    model = copy.deepcopy(s.model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    x = s.x.repeat(2, 1, 1, 1) if s.x.shape[0] == 1 else s.x  # BatchNorm needs two samples
    out = model(x)
    logits = main_output(out)
    loss = nn.functional.cross_entropy(logits.flatten(1), torch.zeros(len(x), dtype=torch.long))
    if isinstance(out, (tuple, list)):
        loss = loss + sum(0.3 * o.float().mean() for o in out[1:])
    optimizer.zero_grad()
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    if no_grad:
        raise AssertionError(f"no finite gradient for {len(no_grad)} parameters ({no_grad[0]}, ...)")
    optimizer.step()
    if all(torch.equal(a, p) for a, p in zip(before, model.parameters())):
        raise AssertionError("the step changed no parameter")


def check_checkpoint(s: Subject) -> None:
    """state_dict through torch.save / torch.load(weights_only=True) into a fresh module."""
    buffer = io.BytesIO()
    torch.save(s.model.state_dict(), buffer)
    buffer.seek(0)
    other = s.fresh()
    other.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    with torch.no_grad():
        close(other.eval()(s.x), _eager(s), "after load_state_dict")


def check_safetensors(s: Subject) -> None:
    from safetensors.torch import load_model, save_model

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        save_model(s.model, path)
        other = s.fresh()
        load_model(other, path, strict=True)
    with torch.no_grad():
        close(other.eval()(s.x), _eager(s), "after safetensors load_model")


def check_deepcopy(s: Subject) -> None:
    with torch.no_grad():
        close(copy.deepcopy(s.model)(s.x), _eager(s), "deepcopy")


def check_pickle(s: Subject) -> None:
    other = pickle.loads(pickle.dumps(s.model))
    with torch.no_grad():
        close(other(s.x), _eager(s), "pickle")


_FRESH_PROCESS = """
import sys, torch
model = torch.load(sys.argv[1], weights_only=False)
data = torch.load(sys.argv[2])
with torch.no_grad():
    out = model(data["x"])
out = out[0] if isinstance(out, (tuple, list)) else out
diff = (out.float() - data["y"].float()).abs().max().item()
scale = data["y"].abs().max().item() + 1e-6
sys.exit(0 if diff <= 1e-3 * scale + 1e-5 else 3)
"""


def check_pickle_process(s: Subject) -> None:
    """torch.save(model) here, torch.load(weights_only=False) in a fresh interpreter that
    has inception_dsl (and, for a compiled file, the file's folder) on its path."""
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(s.model, os.path.join(tmp, "model.pt"))
        torch.save({"x": s.x, "y": main_output(_eager(s))}, os.path.join(tmp, "data.pt"))
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([*s.pythonpath, root]))
        done = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, os.path.join(tmp, "model.pt"),
                               os.path.join(tmp, "data.pt")], capture_output=True, text=True, env=env, cwd=tmp,
                              timeout=600)
    if done.returncode:
        lines = (done.stderr.strip() or f"exit {done.returncode}: output differs").splitlines()
        raise AssertionError(f"fresh process: {lines[-1]}")


def check_jit_trace(s: Subject) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(s.model, (s.x,), check_trace=False)
        close(traced(s.x), _eager(s), "jit.trace")


def check_jit_script(s: Subject) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(s.model)
        close(scripted(s.x), _eager(s), "jit.script")


def check_fx(s: Subject) -> None:
    traced = torch.fx.symbolic_trace(s.model)
    with torch.no_grad():
        close(traced(s.x), _eager(s), "fx.symbolic_trace")


def check_export(s: Subject) -> None:
    exported = torch.export.export(s.model, (s.x,))
    with torch.no_grad():
        close(exported.module()(s.x), _eager(s), "torch.export")


def _compiled(s: Subject, backend: str) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(s.model, fullgraph=True, backend=backend)
    with torch.no_grad():
        close(compiled(s.x), _eager(s), f"torch.compile({backend})")


def check_compile_aot_eager(s: Subject) -> None:
    _compiled(s, "aot_eager")


def check_compile_inductor(s: Subject) -> None:
    _compiled(s, "inductor")


def _onnx(s: Subject, dynamo: bool) -> None:
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = os.path.join(tmp, "model.onnx")
        if dynamo:
            torch.onnx.export(s.model, (s.x,), path, dynamo=True, verbose=False)
        else:
            torch.onnx.export(s.model, (s.x,), path, dynamo=False, opset_version=17)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        (out, *_) = session.run(None, {session.get_inputs()[0].name: s.x.numpy()})
    close(torch.from_numpy(out), _eager(s), "onnxruntime")


def check_onnx_legacy(s: Subject) -> None:
    _onnx(s, dynamo=False)


def check_onnx_dynamo(s: Subject) -> None:
    _onnx(s, dynamo=True)


def check_autocast_bf16(s: Subject) -> None:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = main_output(s.model(s.x))
    if not torch.isfinite(out.float()).all():
        raise AssertionError("autocast output is not finite")
    close(out, _eager(s), "autocast bf16", rtol=0.15)


def _cast(s: Subject, dtype: torch.dtype) -> None:
    model = copy.deepcopy(s.model).to(dtype)
    with torch.no_grad():
        out = main_output(model(s.x.to(dtype)))
    if out.dtype != dtype or not torch.isfinite(out.float()).all():
        raise AssertionError(f"{dtype} output: {out.dtype}, finite {bool(torch.isfinite(out.float()).all())}")
    close(out, _eager(s), str(dtype), rtol=0.15)


def check_bf16(s: Subject) -> None:
    _cast(s, torch.bfloat16)


def check_half(s: Subject) -> None:
    _cast(s, torch.float16)


def check_channels_last(s: Subject) -> None:
    model = copy.deepcopy(s.model).to(memory_format=torch.channels_last)
    with torch.no_grad():
        close(model(s.x.to(memory_format=torch.channels_last)), _eager(s), "channels_last")


# in the order they run (cheap first); the column names of docs/compat.md
CHECKS: dict[str, Callable[[Subject], None]] = {
    "eager": check_eager,
    "train/eval": check_train_eval,
    "train step": check_train_step,
    "checkpoint": check_checkpoint,
    "safetensors": check_safetensors,
    "deepcopy": check_deepcopy,
    "pickle": check_pickle,
    "pickle in new process": check_pickle_process,
    "channels_last": check_channels_last,
    "autocast bf16": check_autocast_bf16,
    "bf16": check_bf16,
    "half": check_half,
    "jit.trace": check_jit_trace,
    "jit.script": check_jit_script,
    "fx": check_fx,
    "torch.export": check_export,
    "compile aot_eager": check_compile_aot_eager,
    "ONNX legacy": check_onnx_legacy,
    "ONNX dynamo": check_onnx_dynamo,
    "compile inductor": check_compile_inductor,
}
SLOW_CHECKS = frozenset({"compile inductor", "ONNX dynamo", "torch.export", "compile aot_eager",
                         "pickle in new process"})


def run_check(name: str, subject: Subject) -> tuple[str, str]:
    """("pass" | "fail" | "n/a", the first line of what went wrong)."""
    try:
        CHECKS[name](subject)
    except NotApplicable as reason:
        return "n/a", str(reason)
    except Exception as error:  # noqa: BLE001 - every failure is a result
        text = f"{type(error).__name__}: {error}".strip().splitlines()
        return "fail", (text[0] if text else type(error).__name__)[:300]
    return "pass", ""
