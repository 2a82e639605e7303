"""inception-dsl against the hand-written timm models, side by side in one process.

    .venv/bin/python benchmarks/bench.py            # the full run (tens of minutes on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # a smoke run: small batch and input, no torch.compile

Every comparison runs on identical weights (timm's random init, carried into ours by
interop.convert_state_dict), interleaved round by round (A, B, C, A, B, C, ...) after a
warm-up, and reports the median. Ratios are ours / timm in throughput (>1: ours is
faster). The results, with the machine they ran on, go to docs/performance.md.

Measured: eager forward (eval, float32, CPU) of the unoptimized and the optimized module
against timm in its default memory format and in channels_last; the same with
torch.compile on both sides; one training step (forward, backward, RMSProp); `check` as
a whole process against timm's import + build + forward on the meta device; and module
build time against timm.create_model. Denormals are flushed on both sides: random
weights make activations tiny, and denormal arithmetic would measure the CPU's slow path."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

import inception_dsl  # noqa: E402
from inception_dsl.runtime.optimized_module import optimize  # noqa: E402
from inception_dsl.commands.common import write_atomic  # noqa: E402
from inception_dsl.runtime.interop import convert_state_dict  # noqa: E402

PAIRS = {"specs/v4.incp": "inception_v4", "specs/inception_resnet_v2.incp": "inception_resnet_v2"}
REPORT = ROOT / "docs" / "performance.md"


@dataclass
class Row:
    section: str
    name: str
    ours: float  # seconds (median)
    timm: float
    note: str = ""
    target: float | None = None  # the ratio this row should reach

    @property
    def ratio(self) -> float:
        return self.timm / self.ours

    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.ratio >= self.target else f"MISSED by {(1 - self.ratio / self.target) * 100:.1f}%"


@dataclass
class Settings:
    batch: int
    size: int
    runs: int
    compile: bool
    train: bool
    sections: set[str] = field(default_factory=set)


def interleaved(cases: dict[str, Callable[[], object]], runs: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per case, the cases taking turns so that noise hits all alike."""
    for _ in range(warmup):
        for run in cases.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def build_pair(spec: str, timm_name: str, size: int):
    """timm's model (random init) and ours holding the same tensors."""
    import timm

    torch.manual_seed(0)
    reference = timm.create_model(timm_name, pretrained=False)
    ours = inception_dsl.load(ROOT / spec, input_shape=(3, size, size))
    weights = convert_state_dict(reference.state_dict(), source=f"timm:{timm_name}", model=ours)
    ours.load_state_dict(weights, strict=True)
    return reference, ours, weights


def forward_rows(spec: str, timm_name: str, s: Settings) -> list[Row]:
    reference, ours, weights = build_pair(spec, timm_name, s.size)
    reference.eval()
    ours.eval()
    reference_cl = _channels_last_copy(reference)
    optimized = optimize(ROOT / spec, weights, input_shape=(3, s.size, s.size))
    x = torch.randn(s.batch, 3, s.size, s.size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        _agree(reference(x), optimized(x), f"{spec}: optimized vs timm")
        _agree(reference(x), ours(x), f"{spec}: unoptimized vs timm")
        t = interleaved({"timm": lambda: reference(x), "timm_cl": lambda: reference_cl(x_cl),
                         "ours": lambda: ours(x), "optimized": lambda: optimized(x)}, s.runs)
    rows = [
        Row("forward", f"{timm_name}: unoptimized eager vs timm eager", t["ours"], t["timm"], target=0.98),
        Row("forward", f"{timm_name}: optimized eager vs timm eager", t["optimized"], t["timm"], target=1.5),
        Row("forward", f"{timm_name}: optimized eager vs timm eager channels_last", t["optimized"], t["timm_cl"],
            target=1.15),
    ]
    if s.compile:
        rows += _compiled_rows(timm_name, reference, optimized, x, s)
    return rows


def _compiled_rows(timm_name, reference, optimized, x, s: Settings) -> list[Row]:
    """torch.compile (inductor, default mode) on both sides. timm in its default format:
    compiling a third model (timm in channels_last) would add minutes per network."""
    compiled = {"timm": torch.compile(reference), "optimized": torch.compile(optimized)}
    with torch.inference_mode():
        start = time.perf_counter()
        for model in compiled.values():
            model(x)  # compiles
        print(f"  torch.compile warm-up: {time.perf_counter() - start:.0f}s", flush=True)
        t = interleaved({name: (lambda m=m: m(x)) for name, m in compiled.items()}, s.runs)
    return [Row("compile", f"{timm_name}: compiled optimized vs compiled timm", t["optimized"], t["timm"],
                target=1.0)]


def train_rows(spec: str, timm_name: str, s: Settings) -> list[Row]:
    reference, ours, _ = build_pair(spec, timm_name, s.size)
    x = torch.randn(s.batch, 3, s.size, s.size)
    labels = torch.randint(0, 1000, (s.batch,))

    def stepper(model):
        model.train()
        # TF-slim's Inception schedule: RMSProp, decay 0.9, epsilon 1.0
        optimizer = torch.optim.RMSprop(model.parameters(), lr=0.045, alpha=0.9, eps=1.0)

        def step():
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            out = out[0] if isinstance(out, tuple) else out
            torch.nn.functional.cross_entropy(out, labels).backward()
            optimizer.step()
        return step

    t = interleaved({"timm": stepper(reference), "ours": stepper(ours)}, s.runs)
    return [Row("train", f"{timm_name}: training step (fwd+bwd+RMSProp)", t["ours"], t["timm"], target=0.98)]


def build_rows(spec: str, timm_name: str, s: Settings) -> list[Row]:
    import timm

    t = interleaved({"timm": lambda: timm.create_model(timm_name, pretrained=False),
                     "ours": lambda: inception_dsl.load(ROOT / spec)}, s.runs)
    return [Row("build", f"{timm_name}: build the module (random init)", t["ours"], t["timm"])]


def check_rows(s: Settings) -> list[Row]:
    """`inception-dsl check` as a fresh process vs import timm + build + forward on meta."""
    from check_bench import TIMM_INPUT, TIMM_MODELS, TIMM_SCRIPT, median_of

    rows = []
    python, env = sys.executable, dict(os.environ)
    for spec in sorted((ROOT / "specs").glob("*.incp")):
        model = TIMM_MODELS.get(spec.name)
        if model is None:
            continue
        relative = spec.relative_to(ROOT).as_posix()
        check = median_of([python, "-m", "inception_dsl", "check", "-q", relative], s.runs, env)
        meta = median_of([python, "-c", TIMM_SCRIPT, model, str(TIMM_INPUT[model])], s.runs, env)
        rows.append(Row("check", f"{relative}: check vs timm on meta ({model})", check, meta, target=10.0))
    return rows


def _channels_last_copy(model):
    import copy

    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def _agree(expected: torch.Tensor, actual: torch.Tensor, what: str) -> None:
    error = (expected - actual).abs().max().item()
    scale = expected.abs().max().item()
    if error > 1e-3 * max(scale, 1e-6):
        raise SystemExit(f"{what}: outputs differ by {error:g} (scale {scale:g}); not benchmarking wrong code")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import timm

    return (f"{cpu}; {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}; "
            f"torch {torch.__version__}, timm {timm.__version__}, Python {platform.python_version()}")


def render(rows: list[Row], s: Settings, skipped: list[str], command: str, seconds: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Performance",
        "",
        f"Measured {when} by `{command}` ({seconds / 60:.0f} min). Machine: {machine()}.",
        f"Batch {s.batch}, input 3x{s.size}x{s.size}, float32, CPU; median of {s.runs} interleaved runs after a "
        "warm-up; identical weights on both sides; denormals flushed. Ratio = timm time / our time "
        "(throughput, ours / timm: above 1 means ours is faster). Shared, noisy machine: treat differences "
        "under ~5% as noise.",
        "",
        "| what | ours | timm | ratio | target | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        target = f"{row.target:g}x" if row.target is not None else ""
        lines.append(f"| {row.name} | {_seconds(row.ours)} | {_seconds(row.timm)} | {row.ratio:.2f}x | "
                     f"{target} | {row.verdict()} |")
    lines += [""] + [f"* skipped: {reason}" for reason in skipped]
    return "\n".join(lines).rstrip() + "\n"


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def parse_args(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 2, 160x160, 2 runs, no torch.compile")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--size", type=int, help="input height and width (default 299)")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile comparison")
    parser.add_argument("--only", default="forward,train,check,build",
                        help="comma-separated sections: forward, train, check, build")
    parser.add_argument("--output", type=Path, default=REPORT, help="where to write the report ('-': nowhere)")
    args = parser.parse_args(argv)
    settings = Settings(
        batch=args.batch or (2 if args.quick else 8), size=args.size or (160 if args.quick else 299),
        runs=args.runs or (2 if args.quick else 5), compile=not (args.quick or args.no_compile), train=True,
        sections=set(args.only.split(",")))
    return settings, args


def main(argv: list[str] | None = None) -> int:
    settings, args = parse_args(argv)
    torch.set_flush_denormal(True)
    started = time.perf_counter()
    rows: list[Row] = []
    skipped = [] if settings.compile else ["torch.compile (--quick or --no-compile)"]
    for spec, timm_name in PAIRS.items():
        if not (ROOT / spec).exists():
            skipped.append(f"{timm_name}: {spec} does not exist")
            print(f"skipping {timm_name}: {spec} does not exist", flush=True)
            continue
        for section, measure in (("forward", forward_rows), ("train", train_rows), ("build", build_rows)):
            if section in settings.sections:
                print(f"{section}: {timm_name} ...", flush=True)
                rows += _report(measure(spec, timm_name, settings))
    if "check" in settings.sections:
        print("check: every spec with a timm counterpart ...", flush=True)
        rows += _report(check_rows(settings))
    command = "python benchmarks/bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = render(rows, settings, skipped, command.strip(), time.perf_counter() - started)
    if str(args.output) != "-":
        text = _keep_notes(text, args.output)
        write_atomic(args.output, text)
        print(f"wrote {args.output}")
    return 0


NOTES_HEADING = "## Reading these numbers"


def _keep_notes(text: str, path: Path) -> str:
    """Keep the hand-written notes (from NOTES_HEADING on) of the report being replaced."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if NOTES_HEADING not in old:
        return text
    return text.rstrip("\n") + "\n\n" + old[old.index(NOTES_HEADING):]


def _report(rows: list[Row]) -> list[Row]:
    for row in rows:
        print(f"  {row.name:70} ours {_seconds(row.ours):>10}  timm {_seconds(row.timm):>10}  "
              f"{row.ratio:5.2f}x  {row.verdict()}", flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
