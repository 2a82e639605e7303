"""Front-end speed at scale, with the elaboration memo (language/caches/block_templates.py) on and off side by
side in one run, so that the ratios hold on a noisy shared machine:

1. stages: parse, elaborate, shapes + verify + budgets, lint, on generated specs of N
   block instances (benchmarks/gen_large_spec.py), memo on and off;
2. process: `inception-dsl check -q` of the largest spec as a whole process, the first
   time its text is seen (parsed) and again (the parsed tree read back from the disk cache,
   language/caches/large_file_parses.py), in a fresh cache directory whose parser tables are warm;
3. variant: in-process `api.analyze` of specs/v4.incp with one parameter changed, after a
   first analysis (parse and imports cached by content hash, templates on the program),
   memo on and off.

    .venv/bin/python benchmarks/scale_bench.py [--sizes 1000,10000] [--runs 3] [--variants 50]

The load average is printed beside the figures: other processes slow everything down."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from gen_large_spec import large_spec  # noqa: E402

from inception_dsl import api  # noqa: E402
from inception_dsl.ir import verify  # noqa: E402
from inception_dsl.language.caches import block_templates  # noqa: E402
from inception_dsl.core.diagnostics import DiagnosticSink  # noqa: E402
from inception_dsl.language.elaborate import elaborate  # noqa: E402
from inception_dsl.core.limits import Limits  # noqa: E402
from inception_dsl.language.caches.programs import ProgramCache  # noqa: E402
from inception_dsl.language.program import load_program  # noqa: E402
from inception_dsl.passes.analyses import run_analyses  # noqa: E402

LIMITS = Limits(max_nodes=10_000_000, max_file_bytes=256 * 1024 * 1024)


def load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def stage_times(text: str, lint: bool = True) -> dict[str, float]:
    """Seconds for each front-end stage on one spec text (raises if the spec has errors), with
    the cycle collector paused as `api.analyze` pauses it."""
    with api.collector_paused():
        return _stage_times(text, lint)


def _stage_times(text: str, with_lint: bool) -> dict[str, float]:
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
    from inception_dsl.lint.rules import RULES, LintContext, lint

    start = time.perf_counter()
    if with_lint:  # not part of `check`
        lint(LintContext(program, program.main_module, [graph]), DiagnosticSink(), RULES)
    times["lint"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def stages(sizes: list[int], runs: int, lint: bool) -> None:
    print(f"1. stages (median of {runs}; {load()})")
    print(f"{'blocks':>7} {'memo':>4} " + " ".join(f"{s:>10}" for s in ("parse", "elaborate", "shapes", "lint", "total"))
          + f" {'total/1k':>9}")
    for blocks in sizes:
        text = large_spec(blocks)
        for on in (True, False):
            results = []
            for _ in range(runs):
                if on:
                    results.append(stage_times(text, lint))
                else:
                    with block_templates.disabled():
                        results.append(stage_times(text, lint))
            median = {stage: statistics.median(r[stage] for r in results) for stage in results[0]}
            print(f"{blocks:>7} {'on' if on else 'off':>4} " + " ".join(f"{median[s]:9.3f}s" for s in median)
                  + f" {median['total'] * 1000 / blocks:8.3f}s")


def _run(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one child process."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def process(blocks: int, baseline: Path | None) -> None:
    print(f"2. whole process, `inception-dsl check -q` of {blocks:,} blocks: wall-clock and CPU seconds ({load()})")
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        small, large = Path(work, "small.incp"), Path(work, "large.incp")
        small.write_text(large_spec(2), encoding="utf-8")
        large.write_text(large_spec(blocks), encoding="utf-8")
        command = [sys.executable, "-m", "inception_dsl", "check", "-q", "--max-nodes", "10000000"]
        runs = [("first time (parsed)", {}, ROOT), ("again (tree from the disk cache)", {}, ROOT),
                ("again, memo off", {"INCEPTION_DSL_MEMO": "0"}, ROOT)]
        if baseline is not None:
            runs.append((f"the code of {baseline}", {}, baseline))
        for checkout in {ROOT, *([baseline] if baseline else [])}:  # parser tables, as any machine has them
            subprocess.run(command + [str(small)], env=env, cwd=checkout, check=True)
        for label, extra, cwd in runs:
            wall, cpu = _run(command + [str(large)], {**env, **extra}, cwd)
            print(f"  {label:44} {wall:6.2f} s wall, {cpu:6.2f} s CPU")


def variants(count: int) -> None:
    spec = str(ROOT / "specs" / "v4.incp")
    print(f"3. in-process variants of specs/v4.incp, median of {count} after a first analysis ({load()})")
    for on in (True, False):
        api.PROGRAMS = ProgramCache()  # as a fresh process has it
        start = time.perf_counter()
        with block_templates.disabled() if not on else nullcontext():
            assert api.analyze(spec).ok
            first = time.perf_counter() - start
            times, cpu = [], []
            for index in range(count):
                start, start_cpu = time.perf_counter(), time.process_time()
                assert api.analyze(spec, params={"num_classes": 10 + index, "dropout": 0.1}).ok
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
        print(f"  memo {'on ' if on else 'off'}: first {first * 1000:7.1f} ms, then {statistics.median(times) * 1000:6.2f} ms"
              f" per variant (min {min(times) * 1000:.2f} ms; CPU median {statistics.median(cpu) * 1000:.2f} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", type=int, default=50)
    parser.add_argument("--baseline", type=Path, help="another checkout whose `check` to time beside this one's")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: stages, lint, process, variant")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    sizes = [int(v) for v in args.sizes.split(",")]
    if "stages" not in skip:
        stages(sizes, args.runs, "lint" not in skip)
    if "process" not in skip:
        process(max(sizes), args.baseline)
    if "variant" not in skip:
        variants(args.variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
