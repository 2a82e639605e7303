"""Sweep speed: N variants of specs/examples/inception_v4_scaled.incp checked in process by
`sweep` (the spec read and parsed once) against N separate `analyze()` calls (each reading
and parsing the spec again), and against N `inception-dsl check -p ...` processes
(estimated from a few).

    .venv/bin/python benchmarks/sweep_bench.py [--variants 1000] [--processes 5]

The grid is width x a x c (the width multiplier in percent and the repeat counts of the
Inception-A and -C stages; 10 values each for 1,000 variants). Prints seconds and the ratios."""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inception_dsl import api  # noqa: E402
from inception_dsl.study.sweep import Grid, run_sweep  # noqa: E402

SPEC = ROOT / "specs" / "examples" / "inception_v4_scaled.incp"


def grid(variants: int) -> Grid:
    side = max(1, round(variants ** (1 / 3)))
    axes = {"width": list(range(50, 50 + 10 * side, 10)), "a": list(range(1, side + 1)),
            "c": list(range(1, side + 1))}
    return Grid(axes, sample=variants if variants < side ** 3 else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=5, help="check processes timed to estimate N of them")
    args = parser.parse_args()
    g = grid(args.variants)
    start = time.perf_counter()
    done = run_sweep(SPEC, g)
    swept = time.perf_counter() - start
    count = len(done.rows)
    assert all(r["error_code"] is None for r in done.rows), "the benchmark grid should check cleanly"
    points = [dict(zip(g.axes, values)) for values in itertools.product(*g.axes.values())][:count]
    start = time.perf_counter()
    for point in points:
        assert api.analyze(SPEC, params=point).ok
    separate = time.perf_counter() - start
    start = time.perf_counter()
    for point in points[: args.processes]:
        flags = [f"-p{k}={v}" for k, v in point.items()]
        subprocess.run([sys.executable, "-m", "inception_dsl", "check", "-q", str(SPEC), *flags], check=True)
    per_process = (time.perf_counter() - start) / max(1, min(args.processes, count))
    print(f"{count} variants of {SPEC.relative_to(ROOT)}")
    print(f"  sweep (in process, parsed once): {swept:7.2f} s  ({swept / count * 1000:.1f} ms per variant)")
    print(f"  {count} analyze() calls:          {separate:7.2f} s  ({separate / count * 1000:.1f} ms per variant)"
          f"  ratio {separate / swept:.2f}x")
    print(f"  {count} check processes (est.):   {per_process * count:7.2f} s  ({per_process * 1000:.0f} ms per process)"
          f"  ratio {per_process * count / swept:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
