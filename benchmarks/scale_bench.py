"""Does the front end grow linearly? Time parse, elaboration, shape checking (and lint)
on generated specs of 1k, 2k, 5k and 10k block instances (benchmarks/gen_large_spec.py).

    .venv/bin/python benchmarks/scale_bench.py [--sizes 1000,2000,5000,10000] [--runs 3]

Prints seconds per stage and per 1,000 blocks: a flat per-1k column means linear growth."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from gen_large_spec import large_spec  # noqa: E402

from inception_dsl.language.diagnostics import DiagnosticSink  # noqa: E402
from inception_dsl.language.elaborate import elaborate  # noqa: E402
from inception_dsl.ir import verify  # noqa: E402
from inception_dsl.language.limits import Limits  # noqa: E402
from inception_dsl.passes import run_analyses  # noqa: E402
from inception_dsl.language.program import load_program  # noqa: E402

LIMITS = Limits(max_nodes=10_000_000, max_file_bytes=256 * 1024 * 1024)


def stage_times(text: str) -> dict[str, float]:
    """Seconds for each front-end stage on one spec text (raises if the spec has errors)."""
    sink = DiagnosticSink()
    times = {}
    start = time.perf_counter()
    program = load_program("large.incp", sink, text=text, limits=LIMITS)
    times["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    graph = elaborate(program, sink, limits=LIMITS)
    times["elaborate"] = time.perf_counter() - start
    start = time.perf_counter()
    assert not verify(graph)
    run_analyses(graph, sink, LIMITS)
    times["shapes"] = time.perf_counter() - start
    if sink.has_errors:
        raise SystemExit(f"the generated spec has errors: {sink.sorted()[0].message}")
    lint = _lint()
    if lint is not None:
        start = time.perf_counter()
        lint(program, graph)
        times["lint"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def _lint():
    try:
        from inception_dsl.lint.rules import RULES, LintContext, lint
    except ImportError:
        return None

    def run(program, graph):
        lint(LintContext(program, program.main_module, [graph]), DiagnosticSink(), RULES)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for blocks in [int(v) for v in args.sizes.split(",")]:
        text = large_spec(blocks)
        runs = [stage_times(text) for _ in range(args.runs)]
        median = {stage: statistics.median(r[stage] for r in runs) for stage in runs[0]}
        rows.append((blocks, median))
    stages = list(rows[0][1])
    print(f"{'blocks':>7} " + " ".join(f"{s:>10}" for s in stages) + f" {'total/1k':>10}")
    for blocks, median in rows:
        print(f"{blocks:>7} " + " ".join(f"{median[s]:9.3f}s" for s in stages) + f" {median['total'] * 1000 / blocks:9.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
