"""benchmarks/coverage.py, the census: its report (counts, ranked missing words) and a run
over a small fixed sample, each model in its own subprocess."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# by path: `coverage` is also the name of coverage.py's package
_spec = importlib.util.spec_from_file_location("coverage_census", ROOT / "benchmarks" / "coverage.py")
census = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(census)

ROWS = [
    {"model": "timm:a", "family": "fa", "status": "exact", "strict": True, "lines": 40, "seconds": 3.0},
    {"model": "timm:b", "family": "fb", "status": "refused", "missing": ["layer scale"], "lines": 50, "seconds": 2},
    {"model": "timm:c", "family": "fc", "status": "refused", "missing": ["layer scale", "attention"]},
    {"model": "timm:d", "family": "fd", "status": "refused", "missing": ["attention"]},
    {"model": "timm:e", "family": "fe", "status": "refused", "missing": ["attention", "token pooling"]},
    {"model": "torchvision:f", "status": "trace failed", "detail": "returns a dict"},
]


def test_missing_words_are_ranked_by_what_they_alone_unlock():
    assert census.ranked_missing(ROWS) == [("attention", 3, 1), ("layer scale", 2, 1), ("token pooling", 1, 0)]


def test_the_report_counts_each_status():
    text = census.report(ROWS, "torch x", pending=2)
    assert "**6 models: 1 exact, 4 refused, 1 trace failed.** Of 5 timm families, 1 round-trip exactly" in text
    assert "| attention | 3 | 1 |" in text
    assert "| fa | timm:a | exact | weights load by name (strict) | 40 | 3.0 |" in text
    assert "| torchvision | torchvision:f | trace failed | returns a dict |  |  |" in text
    assert "2 model(s) not measured yet" in text


def test_rerun_picks_rows_by_status_or_missing_word():
    rerun = [row["model"] for row in ROWS if census._matches(row, ["trace failed", "layer scale"])]
    assert rerun == ["timm:b", "timm:c", "torchvision:f"]
    assert census._matches({"model": "timm:g", "status": "trace failed", "detail": "internal error: x"}, ["error"])


@pytest.mark.slow
def test_a_sample_census_runs_and_resumes(tmp_path):
    out, cache = tmp_path / "coverage.md", tmp_path / "coverage.json"
    sample = ["torchvision:squeezenet1_1", "timm:regnetx_002"]
    assert census.main(["--models", *sample, "--out", str(out), "--cache", str(cache), "--timeout", "400"]) == 0
    rows = json.loads(cache.read_text())
    assert [rows[m]["status"] for m in sample] == ["exact", "exact"]
    assert "**2 models: 2 exact.**" in out.read_text()
    rows["timm:regnetx_002"]["status"] = "refused"  # a cached row is not measured again
    cache.write_text(json.dumps(rows))
    assert census.main(["--models", *sample, "--out", str(out), "--cache", str(cache)]) == 0
    assert "1 exact, 1 refused" in out.read_text()
