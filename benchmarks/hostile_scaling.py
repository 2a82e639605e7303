"""Scaling of the commands on hostile inputs within the documented limits (issue 13,
family 10): each case is measured at sizes n, 2n, 4n, ... and the time ratio between
consecutive sizes is printed. Linear work doubles (ratio ~2); quadratic work quadruples.

    .venv/bin/python benchmarks/hostile_scaling.py           # quick (< 1 min on a quiet machine)
    .venv/bin/python benchmarks/hostile_scaling.py --full    # up to the limits (8 MiB files, x300 repeats)
    .venv/bin/python benchmarks/hostile_scaling.py --limits  # the largest specs the default limits admit

`--limits` runs `check` in a fresh process on the largest spec the default limits admit in
each direction (tokens: `relu;` up to `max_tokens`; nodes: a repeated sequence up to
`max_nodes`; bytes: 8 MiB of comments and of `;`) and on inputs far beyond them (a 6 MB
file of 1,000,000 `relu;`), and prints wall and CPU seconds and the peak memory of each;
the goal (issue 26) is under 10 s and 1 GB each.

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


def _limit_cases() -> dict[str, str]:
    from inception_dsl.core.limits import DEFAULT_LIMITS as L

    head = "network n {\n  input 3x8x8\n"
    statements = (L.max_tokens - 20) // 2  # `relu` and `;`
    def nodes(reps: int) -> int:
        return len(api.analyze_text(head + f"  {{ relu; conv(8, 1x1) }} x{reps}\n}}\n").graph.nodes())

    per_rep = nodes(101) - nodes(100)  # nodes a repetition of `{ relu; conv(8, 1x1) }` adds
    reps = (L.max_nodes - nodes(1)) // per_rep
    return {
        f"{statements:,} x `relu;` (at max_tokens)": head + "  relu;\n" * statements + "}\n",
        f"{{ relu; conv }} x{reps:,} (at max_nodes)": head + "".join(
            f"  {{ relu; conv(8, 1x1) }} x{min(L.max_repeat, reps - done)}\n"
            for done in range(0, reps, L.max_repeat)) + "}\n",
        f"{L.max_tokens - 20:,} comments in 8 MiB": ("#" + "x" * ((L.max_file_bytes - 1024) // (L.max_tokens - 20) - 2)
                                                    + "\n") * (L.max_tokens - 20) + head + "  relu\n}\n",
        "8 MiB less 1 KiB of `;`": ";" * (L.max_file_bytes - 1024) + "\n" + head + "  relu\n}\n",
        "1,000,000 x `relu;` (6 MB, over max_tokens)": head + "  relu;\n" * 1_000_000 + "}\n",
    }


_CHILD = ("import resource, sys\nfrom inception_dsl.cli import main\ncode = main(['check', '-q', sys.argv[1]])\n"
          "r = resource.getrusage(resource.RUSAGE_SELF)\n"
          "print(code, r.ru_utime + r.ru_stime, r.ru_maxrss, file=sys.stderr)")


def limits(_argv) -> int:
    import os
    import subprocess
    import tempfile

    print(f"{'check of':46} {'exit':>4} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}   load {os.getloadavg()[0]:.1f}")
    for name, text in _limit_cases().items():
        with tempfile.NamedTemporaryFile("w", suffix=".incp", delete=False) as f:
            f.write(text)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CHILD, f.name], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        os.unlink(f.name)
        code, cpu, peak = done.stderr.split()[-3:]
        print(f"{name:46} {code:>4} {wall:7.2f} {float(cpu):7.2f} {int(peak) / 1024:8.0f}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="sizes up to the documented limits")
    parser.add_argument("--limits", action="store_true", help="the largest specs the default limits admit")
    args = parser.parse_args(argv)
    if args.limits:
        return limits(argv)
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
