"""Latency of the language server's re-check after one edit, in process: the time from
a changed text to the diagnostics ready to publish (analysis of the unsaved text:
parse of the edited file, imports from the parse cache, elaboration and shape checks of
every network, lint, conversion to LSP diagnostics). The debounce wait is not included.

Each run edits specs/v4.incp in one place (alternately the repeat count of a stage,
a number in an argument and a comment), so every re-check sees new text. Also timed,
for comparison: the same re-check without the parse cache (what a fresh `check` of the
text costs in process), and a hover on `inception_a x4` after the re-check. Usage:

    .venv/bin/python benchmarks/lsp_latency.py [--runs 200]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inception_dsl.lsp.analysis import Analyzer  # noqa: E402
from inception_dsl.lsp.lsp_diagnostics import to_lsp  # noqa: E402
from inception_dsl.lsp.hover import hover_text  # noqa: E402

SPEC = ROOT / "specs" / "v4.incp"
EDITS = [("inception_a x4", "inception_a x{n}"), ("dropout = 0.2", "dropout = 0.{n}"), ("# 384x35x35", "# edit {n}")]


def edited(text: str, run: int) -> str:
    old, new = EDITS[run % len(EDITS)]
    return text.replace(old, new.format(n=3 + run % 5), 1)


def recheck(analyzer: Analyzer, text: str) -> float:
    start = time.perf_counter()
    analysis = analyzer.analyze(str(SPEC), text)
    [to_lsp(d) for d in analysis.diagnostics]
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, float]:
    text = SPEC.read_text(encoding="utf-8")
    warm = Analyzer()
    warm.analyze(str(SPEC), text)
    cached, uncached, hovers = [], [], []
    for run in range(runs):
        new = edited(text, run) + " " * (run % 2)  # never the same text twice in a row
        cached.append(recheck(warm, new))
        analysis = warm.last(str(SPEC))
        start = time.perf_counter()
        hover_text(analysis.program, analysis.module, new.index("inception_a"), analysis.graphs)
        hovers.append(time.perf_counter() - start)
        uncached.append(recheck(Analyzer(), new))
    ms = lambda values: 1000 * statistics.median(values)  # noqa: E731
    return {"recheck_ms": ms(cached), "recheck_p90_ms": 1000 * sorted(cached)[int(0.9 * len(cached))],
            "recheck_without_cache_ms": ms(uncached), "hover_ms": ms(hovers),
            "parse_cache_hits": warm.cache.hits, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    result = measure(args.runs)
    print(f"specs/v4.incp, {result['runs']} edits, Python {platform.python_version()}, {platform.machine()}")
    print(f"re-check after one edit: median {result['recheck_ms']:.1f} ms, p90 {result['recheck_p90_ms']:.1f} ms")
    print(f"the same without the parse cache: median {result['recheck_without_cache_ms']:.1f} ms")
    print(f"hover on `inception_a x4` after it: median {result['hover_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
