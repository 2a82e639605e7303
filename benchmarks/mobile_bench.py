"""Optimized mobile networks against torchvision's eager models, side by side in one process:
EfficientNet-B0 and MobileNetV3-Large (CPU, float32, batch 8, 224x224), each in the default
memory format and in channels_last on both sides.

    .venv/bin/python benchmarks/mobile_bench.py                  # the short run (about a minute on 2 cores)
    .venv/bin/python benchmarks/mobile_bench.py --runs 21        # the longer version, for a quiet machine
    .venv/bin/python benchmarks/mobile_bench.py --update-docs    # also write the table into docs/performance.md

Both sides hold identical weights: torchvision's random init with randomized BatchNorm
statistics, carried into ours by interop.convert_state_dict, then `optimize()` (BatchNorm
folded into the convs, the generated flat forward; `channels_last=True` or False). The
cases run interleaved round by round after a warm-up, and the median is reported. Ratio =
torchvision time / our time (above 1: ours is faster). Outputs are compared before timing.
Denormals are flushed on both sides, as in benchmarks/bench.py."""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

import inception_dsl  # noqa: E402
from bench import interleaved  # noqa: E402
from inception_dsl.commands.common import write_atomic  # noqa: E402
from inception_dsl.runtime.interop import build_reference, convert_state_dict  # noqa: E402
from inception_dsl.runtime.optimized_module import optimize  # noqa: E402

PAIRS = {"efficientnet_b0": "specs/efficientnet_b0.incp", "mobilenet_v3_large": "specs/mobilenet_v3_large.incp"}
REPORT = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- mobile_bench: begin -->", "<!-- mobile_bench: end -->"
TARGET = 1.0  # optimized channels_last vs torchvision's own channels_last eager


def build(name: str, spec: str, size: int):
    """torchvision's model (random weights, random BatchNorm statistics) and our optimized
    modules, default memory format and channels_last, on the same tensors."""
    generator = torch.Generator().manual_seed(0)
    reference = build_reference(f"torchvision:{name}")
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
    ours = inception_dsl.load(ROOT / spec, input_shape=(3, size, size))
    weights = convert_state_dict(reference.state_dict(), source=f"torchvision:{name}", model=ours)
    shape = {"input_shape": (3, size, size)}
    optimized = optimize(ROOT / spec, weights, channels_last=False, **shape)
    optimized_cl = optimize(ROOT / spec, weights, channels_last=True, **shape)
    reference_cl = copy.deepcopy(reference).to(memory_format=torch.channels_last)
    return reference.eval(), reference_cl.eval(), optimized, optimized_cl


def measure(name: str, spec: str, batch: int, size: int, runs: int) -> list[tuple[str, float, float]]:
    reference, reference_cl, optimized, optimized_cl = build(name, spec, size)
    x = torch.randn(batch, 3, size, size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = reference(x)
        for model in (optimized, optimized_cl):
            error = (expected - model(x)).abs().max().item()
            if error > 1e-3 * max(expected.abs().max().item(), 1e-6):
                raise SystemExit(f"{name}: optimized output differs by {error:g}; not benchmarking wrong code")
        t = interleaved({"tv": lambda: reference(x), "tv_cl": lambda: reference_cl(x_cl),
                         "ours": lambda: optimized(x), "ours_cl": lambda: optimized_cl(x)}, runs)
    return [
        (f"{name}: optimized vs torchvision eager (default memory format, both)", t["ours"], t["tv"]),
        (f"{name}: optimized channels_last vs torchvision eager channels_last", t["ours_cl"], t["tv_cl"]),
        (f"{name}: optimized channels_last vs torchvision eager (default format)", t["ours_cl"], t["tv"]),
    ]


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def table(rows, batch: int, size: int, runs: int, command: str, load_before: str) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} by `{command}`; load average (1/5/15 min) {load_before} before the run, "
        f"{_load()} after "
        f"({os.cpu_count()} cores, torch threads {torch.get_num_threads()}, torch {torch.__version__}). "
        f"Batch {batch}, 3x{size}x{size}, float32, CPU, median of {runs} interleaved runs.",
        "",
        "| what | ours | torchvision | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for what, ours, theirs in rows:
        ratio = theirs / ours
        target = ""
        if "channels_last vs torchvision eager channels_last" in what:
            target = f"{TARGET:g}x: " + ("met" if ratio >= TARGET else f"missed by {(1 - ratio / TARGET) * 100:.1f}%")
        lines.append(f"| {what} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms | {ratio:.2f}x | {target} |")
    return "\n".join(lines)


def update_docs(text: str, path: Path = REPORT) -> None:
    """Replace the text between the mobile_bench markers of docs/performance.md."""
    old = path.read_text(encoding="utf-8")
    if BEGIN not in old or END not in old:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} section")
    head, rest = old.split(BEGIN, 1)
    write_atomic(path, f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--only", choices=sorted(PAIRS), help="one network")
    parser.add_argument("--update-docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    load_before = _load()
    rows = []
    for name, spec in PAIRS.items():
        if args.only in (None, name):
            print(f"{name} ...", flush=True)
            rows += measure(name, spec, args.batch, args.size, args.runs)
    command = "python benchmarks/mobile_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = table(rows, args.batch, args.size, args.runs, command.strip(), load_before)
    print(text)
    if args.update_docs:
        update_docs(text)
        print(f"wrote {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
