"""Scaling of the commands on hostile inputs within the documented limits (issue 13,
family 10): each case is measured at sizes n, 2n, 4n, ... and the time ratio between
consecutive sizes is printed. Linear work doubles (ratio ~2); quadratic work quadruples.

    .venv/bin/python benchmarks/hostile_scaling.py           # quick (< 1 min on a quiet machine)
    .venv/bin/python benchmarks/hostile_scaling.py --full    # up to the limits (8 MiB files, x300 repeats)

Cases: `render` of a block repeated many times (`block a { conv(3, 1x1) x100 }` used as
`a xN`; was quadratic in a list-membership test), `check` of a file that is mostly `;`
(was ~1 KB and ~15 us per `;`), `summary --depth N` (was O(nodes x N)), and `check` of
the same repeated network, for comparison. Times are CPU seconds of this process
(time.process_time), so other load on a shared machine disturbs them less than wall time."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inception_dsl import api  # noqa: E402
from inception_dsl.backends.diagram.dot import to_dot  # noqa: E402
from inception_dsl.backends.summary import to_summary  # noqa: E402


def _repeated(n: int) -> str:
    return f"block a {{ conv(3, 1x1) x100 }}\nnetwork n {{\n  input 3x8x8\n  a x{n}\n}}\n"


def render_repeats(n: int) -> None:
    to_dot(api.analyze_text(_repeated(n)).graph)


def check_repeats(n: int) -> None:
    assert api.analyze_text(_repeated(n)).ok


def check_semicolons(n: int) -> None:
    assert api.analyze_text(";" * n + "\nnetwork n {\n  input 3x8x8\n  conv(8, 1x1)\n}\n").ok


_V4 = api.analyze(ROOT / "specs" / "v4.incp").graph


def summary_depth(n: int) -> None:
    to_summary(_V4, depth=n)


CASES = {  # name -> (function, quick sizes, full sizes)
    "render `a xN` (100 convs each)": (render_repeats, [10, 20, 40], [20, 40, 80, 160, 300]),
    "check `a xN` (100 convs each)": (check_repeats, [10, 20, 40], [20, 40, 80, 160, 300]),
    "check N bytes of `;`": (check_semicolons, [1 << 18, 1 << 19, 1 << 20], [1 << 20, 1 << 21, 1 << 22, 8 << 20]),
    "summary --depth N (Inception-v4)": (summary_depth, [10, 1000, 100_000], [10, 1000, 100_000, 10_000_000]),
}


def measure(function, size: int) -> float:
    start = time.process_time()
    function(size)
    return time.process_time() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="sizes up to the documented limits")
    args = parser.parse_args(argv)
    print(f"{'case':34} {'size':>10} {'cpu s':>8} {'ratio':>6}")
    for name, (function, quick, full) in CASES.items():
        previous = None
        for size in full if args.full else quick:
            seconds = measure(function, size)
            ratio = f"{seconds / previous:6.2f}" if previous else ""
            print(f"{name:34} {size:>10,} {seconds:8.3f} {ratio:>6}", flush=True)
            previous = max(seconds, 1e-3)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
