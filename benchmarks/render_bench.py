"""Time `inception-dsl render specs/v4.incp --expand all -o x.svg` as a whole process
(interpreter start, parsing, elaboration, shape checks, DOT, Graphviz layout, write),
several runs, median. The .dot run beside it shows how much of that is Graphviz.

    .venv/bin/python benchmarks/render_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def time_render(output: Path, runs: int, extra: list[str]) -> list[float]:
    command = [sys.executable, "-m", "inception_dsl", "render", "specs/v4.incp", *extra, "-o", str(output)]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("--expand all -> svg", Path(tmp) / "x.svg", ["--expand", "all"]),
            ("--expand all -> dot", Path(tmp) / "x.dot", ["--expand", "all"]),
            ("stages -> svg", Path(tmp) / "y.svg", []),
        ]
        print(f"render specs/v4.incp, {args.runs} runs each, whole process (seconds)")
        for name, output, extra in cases:
            times = time_render(output, args.runs, extra)
            print(f"  {name:22s} median {statistics.median(times):.3f}  min {min(times):.3f}  max {max(times):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
