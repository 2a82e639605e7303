"""The compatibility matrix: every way inception-dsl builds a module, against the
timm/torchvision reference of the same network, over the checks of compat_checks.py
(pickling, deepcopy, TorchScript, fx, torch.export, torch.compile, both ONNX exporters
with onnxruntime, reduced precision, channels_last, safetensors, training). Writes
docs/compat.md.

    python benchmarks/compat_matrix.py                      # all networks, resumable
    python benchmarks/compat_matrix.py --networks googlenet --builds load,optimize
    python benchmarks/compat_matrix.py --redo optimize      # forget the optimize rows first
    python benchmarks/compat_matrix.py --report-only        # docs/compat.md from the results

Each row (network x build) runs in its own process, each finished cell appended at once
to the results file (benchmarks/compat_results.jsonl): a rerun skips the cells it holds,
so an interrupted run resumes. A cell that takes longer than --cell-timeout seconds
(default 600) is recorded as a timeout and the row goes on in a new process. Inputs are
the smallest size each reference accepts (64x64; 107x107 for the Inception-v4 family): the
checks are about compatibility, not accuracy. Torch runs on one thread."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from compat_checks import CHECKS  # noqa: E402

# network -> (spec, reference, input size)
NETWORKS = {
    "inception_v4": ("v4.incp", "timm:inception_v4", 107),
    "inception_resnet_v2": ("inception_resnet_v2.incp", "timm:inception_resnet_v2", 107),
    "googlenet": ("googlenet.incp", "torchvision:googlenet", 64),
    "resnet50": ("resnet50.incp", "torchvision:resnet50", 64),
    "mobilenet_v3_large": ("mobilenet_v3_large.incp", "torchvision:mobilenet_v3_large", 64),
    "efficientnet_b0": ("efficientnet_b0.incp", "torchvision:efficientnet_b0", 64),
    "convnext_tiny": ("convnext_tiny.incp", "torchvision:convnext_tiny", 64),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0.incp", "torchvision:shufflenet_v2_x1_0", 64),
}
BUILDS = {
    "reference": "the timm/torchvision model",
    "load": "`inception_dsl.load(spec)`",
    "file": "the standalone file of `inception-dsl compile`",
    "optimize": "`inception_dsl.optimize(model)`",
    "file --optimize": "the file of `inception-dsl compile --optimize`, with `optimize(model).state_dict()`",
}
RESULTS = ROOT / "benchmarks" / "compat_results.jsonl"
DOC = ROOT / "docs" / "compat.md"


# -- building the subject of a row (in the row's process) -------------------------------
def _import_file(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # pickle finds the classes under the file's name
    spec.loader.exec_module(module)
    return module


def _compiled_class(spec: Path, size: int, out: Path, optimized: bool, params: dict):
    from inception_dsl.cli import main

    args = ["compile", str(spec), "--input", f"3x{size}x{size}", "-o", str(out)] + (["--optimize"] if optimized else [])
    args += [f"-p{name}={str(value).lower() if isinstance(value, bool) else value}" for name, value in params.items()]
    if main(args) != 0:
        raise RuntimeError(f"compile {' '.join(args)} failed")
    from inception_dsl import api
    from inception_dsl.backends.python.optimized_source import optimized_class_name
    from inception_dsl.backends.python.source import network_class_name

    result = api.analyze(spec, input_shape=(3, size, size), params=params)
    name = optimized_class_name(result) if optimized else network_class_name(result)
    return getattr(_import_file(out), name)


def subject(network: str, build: str, workdir: Path):
    """The Subject of one row of the matrix."""
    spec_name, reference, size = NETWORKS[network]
    return build_subject(ROOT / "specs" / spec_name, build, workdir, size, reference)


def build_subject(spec: Path, build: str, workdir: Path, size: int, reference: str | None = None,
                  params: dict | None = None):
    """The module `build` makes of `spec` with network `params` (eval mode), how to make
    another of its kind, and a seeded input of `size`x`size`; `reference` is the source of
    the "reference" build."""
    params = params or {}
    import torch

    from compat_checks import Subject
    from inception_dsl import load, optimize
    from inception_dsl.runtime.interop import build_reference

    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))

    def ours(seed):
        return load(spec, input_shape=(3, size, size), seed=seed, params=params)

    if build == "reference":
        return Subject(build_reference(reference).eval(), lambda: build_reference(reference), x)
    if build == "load":
        return Subject(ours(0).eval(), lambda: ours(1), x)
    if build == "optimize":
        return Subject(optimize(ours(0)), lambda: optimize(ours(1)), x, inference_only=True)
    optimized = build == "file --optimize"
    out = workdir / f"compat_{spec.stem}{'_optimized' if optimized else ''}.py"
    cls = _compiled_class(spec, size, out, optimized, params)
    if optimized:
        model = cls()
        model.load_state_dict(optimize(ours(0)).state_dict())
        return Subject(model.eval(), cls, x, inference_only=True, pythonpath=[str(workdir)])
    torch.manual_seed(0)
    return Subject(cls().eval(), cls, x, pythonpath=[str(workdir)])


def run_row(network: str, build: str, skip: set[str], results: Path) -> None:
    """Run the row's checks not in `skip`, appending each result as it finishes."""
    import torch

    from compat_checks import run_check

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            made = subject(network, build, Path(tmp))
        except Exception as error:  # noqa: BLE001 - a build that fails fails every cell
            made, reason = None, f"build: {type(error).__name__}: {error}".splitlines()[0][:300]
        for check in CHECKS:
            if check in skip:
                continue
            start = time.perf_counter()
            status, detail = run_check(check, made) if made is not None else ("fail", reason)
            _append(results, dict(network=network, build=build, check=check, status=status, detail=detail,
                                  seconds=round(time.perf_counter() - start, 1)))


def _append(results: Path, row: dict) -> None:
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


# -- the driver ----------------------------------------------------------------------
def read_results(results: Path) -> dict[tuple[str, str, str], dict]:
    cells = {}
    if results.exists():
        for line in results.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            cells[row["network"], row["build"], row["check"]] = row
    return cells


def drive_row(network: str, build: str, results: Path, cell_timeout: float, checks: list[str]) -> None:
    """Run a row's `checks` in child processes until each has a result; a child silent for
    longer than `cell_timeout` is killed and its current check recorded as a timeout."""
    while True:
        done = _done(results, network, build) | (set(CHECKS) - set(checks))
        if all(c in done for c in CHECKS):
            return
        command = [sys.executable, __file__, "--row", network, build, "--results", str(results),
                   "--skip", json.dumps(sorted(done))]
        child = subprocess.Popen(command, start_new_session=True)
        first = count = len(_done(results, network, build))
        last = time.monotonic()
        while child.poll() is None:
            time.sleep(2)
            now = len(_done(results, network, build))
            if now != count:
                count, last = now, time.monotonic()
            elif time.monotonic() - last > cell_timeout + (120 if count == first else 0):  # + building
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                current = next(c for c in CHECKS if c not in _done(results, network, build) and c not in done)
                _append(results, dict(network=network, build=build, check=current, status="timeout",
                                      detail=f"no result within {cell_timeout:.0f} s", seconds=cell_timeout))
        if child.returncode and _done(results, network, build) <= done:
            current = next(c for c in CHECKS if c not in done)  # died (native code) before any result
            _append(results, dict(network=network, build=build, check=current, status="fail",
                                  detail=f"the process died (exit {child.returncode})", seconds=0))


def _done(results: Path, network: str, build: str) -> set[str]:
    return {c for (n, b, c) in read_results(results) if (n, b) == (network, build)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--builds", default=",".join(BUILDS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--cell-timeout", type=float, default=600)
    parser.add_argument("--checks", default=",".join(CHECKS), help="comma-separated checks to run (default: all)")
    parser.add_argument("--redo", default="", help="comma-separated builds (or network:build) whose results to forget")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--row", nargs=2, metavar=("NETWORK", "BUILD"), help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.row:
        run_row(*args.row, set(json.loads(args.skip or "[]")), args.results)
        return 0
    if args.redo:
        forget(args.results, set(args.redo.split(",")))
    if not args.report_only:
        for network in args.networks.split(","):
            for build in args.builds.split(","):
                print(f"{network} / {build}", flush=True)
                drive_row(network, build, args.results, args.cell_timeout, args.checks.split(","))
    from compat_report import write_report

    write_report(read_results(args.results), NETWORKS, BUILDS, CHECKS, DOC)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


def forget(results: Path, which: set[str]) -> None:
    kept = [line for line in (results.read_text().splitlines() if results.exists() else [])
            if not _matches(line, which)]
    results.write_text("".join(line + "\n" for line in kept))


def _matches(line: str, which: set[str]) -> bool:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return True
    return row["build"] in which or f"{row['network']}:{row['build']}" in which


if __name__ == "__main__":
    sys.exit(main())
