"""Sweep speed: N variants of specs/examples/inception_v4_scaled.incp checked in process by
`sweep` (the spec read and parsed once, block templates shared across variants, language/caches/block_templates.py)
against the same with the memo off, N separate `analyze()` calls (with this process's
caches: the spec not parsed again, templates kept; and as before: parsed again, memo off),
and N `inception-dsl check -p ...` processes (estimated from a few). The other modes are
timed on `--compare` of the variants, side by side in the same run.

    .venv/bin/python benchmarks/sweep_bench.py [--variants 1000] [--compare 200] [--processes 3]

The grid is width x a x c (the width multiplier in percent and the repeat counts of the
Inception-A and -C stages; 10 values each for 1,000 variants). Prints seconds and the ratios."""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inception_dsl import api  # noqa: E402
from inception_dsl.language.caches import block_templates  # noqa: E402
from inception_dsl.language.caches.programs import ProgramCache  # noqa: E402
from inception_dsl.study.sweep import Grid, run_sweep, variants  # noqa: E402

SPEC = ROOT / "specs" / "examples" / "inception_v4_scaled.incp"


def grid(variants: int) -> Grid:
    side = max(1, round(variants ** (1 / 3)))
    axes = {"width": list(range(50, 50 + 10 * side, 10)), "a": list(range(1, side + 1)),
            "c": list(range(1, side + 1))}
    return Grid(axes, sample=variants if variants < side ** 3 else None)


CPU = {}  # label -> CPU seconds of this process, beside the wall-clock seconds


def _timed(function, label: str = "") -> float:
    start, start_cpu = time.perf_counter(), time.process_time()
    function()
    CPU[label] = CPU.get(label, 0.0) + time.process_time() - start_cpu
    return time.perf_counter() - start


def _analyze_each(points, fresh: bool) -> None:
    for point in points:
        if fresh:  # as separate analyze() calls were before: the spec read and parsed again, no templates
            api.PROGRAMS = ProgramCache()
        assert api.analyze(SPEC, params=point).ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--compare", type=int, default=200, help="variants timed in each of the other modes")
    parser.add_argument("--processes", type=int, default=3, help="check processes timed to estimate N of them")
    args = parser.parse_args()
    g = grid(args.variants)
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    done = None

    def sweep_all():
        nonlocal done
        done = run_sweep(SPEC, g)
    swept = _timed(sweep_all, "all")
    count = len(done.rows)
    assert all(r["error_code"] is None for r in done.rows), "the benchmark grid should check cleanly"
    # the modes side by side: rounds of a few variants each, every mode on the same variants
    # in every round, so that a change of load hits all of them alike
    totals = dict.fromkeys(["sweep, memo on", "sweep, memo off", "analyze() each, caches on",
                            "analyze() each, as before (parsed again, memo off)"], 0.0)
    rounds, per_round = max(1, args.compare // 20), min(20, args.compare)
    for seed in range(rounds):
        sample = Grid(g.axes, sample=per_round, seed=seed)
        points = list(variants(sample))
        label = "sweep, memo on"
        totals[label] += _timed(lambda: run_sweep(SPEC, sample), label)
        with block_templates.disabled():
            label = "sweep, memo off"
            totals[label] += _timed(lambda: run_sweep(SPEC, sample), label)
            label = "analyze() each, as before (parsed again, memo off)"
            totals[label] += _timed(lambda: _analyze_each(points, fresh=True), label)
        api.PROGRAMS = ProgramCache()
        label = "analyze() each, caches on"
        totals[label] += _timed(lambda: _analyze_each(points, fresh=False), label)
    timed = rounds * per_round
    per_process = _timed(lambda: [subprocess.run(
        [sys.executable, "-m", "inception_dsl", "check", "-q", str(SPEC), *[f"-p{k}={v}" for k, v in p.items()]],
        check=True) for p in points[: args.processes]]) / max(1, args.processes)
    print(f"{count} variants of {SPEC.relative_to(ROOT)}: sweep {swept:.2f} s ({swept / count * 1000:.1f} ms per variant), "
          f"{CPU['all']:.2f} s CPU")
    base = totals["sweep, memo on"] / timed
    print(f"per variant, {rounds} rounds of {per_round} (ratio: time / sweep's with the memo; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())})")
    for label, seconds in [*((k, v / timed) for k, v in totals.items()), ("a check process each", per_process)]:
        cpu = f"  {CPU[label] / timed * 1000:7.1f} ms CPU" if label in CPU else ""
        print(f"  {label:52} {seconds * 1000:8.1f} ms  ratio {seconds / base:6.1f}x{cpu}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
