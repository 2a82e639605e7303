"""`sweep`: grids of network parameters checked in process (CLI, API, filters, errors)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import inception_dsl
from inception_dsl import api
from inception_dsl.backends.summary import to_summary
from inception_dsl.cli import main
from inception_dsl.commands.sweep import parse_axis
from inception_dsl.study.expr import ExprError, compile_expr
from inception_dsl.study.sweep import Grid, run_sweep, variants

from tests.conftest import ROOT

SCALED = str(ROOT / "specs" / "examples" / "inception_v4_scaled.incp")
TINY = """network tiny(width = 8, k = 3, classes = 10) {
  input 3x16x16
  conv(width, (k, k), valid)
  pool: maxpool(3x3, stride=2)
  global_avgpool
  flatten
  linear(classes)
}
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.incp"
    path.write_text(TINY)
    return str(path)


def test_rows_equal_summary_for_a_sample_of_variants():
    rows = inception_dsl.sweep(SCALED, width=[50, 75, 100, 125], a=[1, 2, 4], k=[128, 256], sample=3, seed=7)
    assert len(rows) == 3
    for row in rows:
        result = api.analyze(SCALED, params={"width": row["width"], "a": row["a"], "k": row["k"]})
        summary = to_summary(result.graph)
        assert (row["params"], row["macs"], row["activation_bytes"]) == (summary.params, summary.macs,
                                                                         summary.activation_bytes)
        assert row["output"] == "1000" and row["error_code"] is None


def test_invalid_variants_show_their_error_code(tiny):
    rows = inception_dsl.sweep(tiny, width=[0, 8], k=[3, 40])
    by_point = {(r["width"], r["k"]): r for r in rows}
    assert by_point[(8, 3)]["error_code"] is None and by_point[(8, 3)]["params"] == 216 + 16 + 90
    assert by_point[(0, 3)]["error_code"] == "E112" and by_point[(0, 3)]["params"] is None
    assert by_point[(8, 40)]["error_code"].startswith("E2")  # a 40x40 kernel on a 16x16 input
    assert "tiny.incp:3:" in by_point[(0, 3)]["error"]


def test_grid_order_sample_and_seed():
    grid = Grid({"a": [1, 2, 3], "b": ["x", "y"]})
    assert [tuple(p.values()) for p in variants(grid)] == [(1, "x"), (1, "y"), (2, "x"), (2, "y"), (3, "x"), (3, "y")]
    sample = Grid(grid.axes, sample=3, seed=1)
    first, again = list(variants(sample)), list(variants(sample))
    assert first == again and len(first) == 3 and all(p in list(variants(grid)) for p in first)


def test_where_and_sort_on_any_column(tiny, capsys):
    rows = inception_dsl.sweep(tiny, width=[4, 8, 16], k=[1, 3], where="params > 100 and not error", sort="-macs,width")
    assert [r["macs"] for r in rows] == sorted((r["macs"] for r in rows), reverse=True)
    assert all(r["params"] > 100 for r in rows) and len(rows) == 5  # all but width 4, k 1 (70 params)
    assert main(["sweep", tiny, "-p", "width=range(4,17,4)", "-p", "k=3", "--where", "width >= 12", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["width"] for r in document] == [12, 16]
    both = run_sweep(tiny, Grid({"width": [4, 8, 16]}, where=["width > 4", "params < 400"]))  # a YAML grid's list
    assert [r["width"] for r in both.rows] == [8]


def test_cli_table_and_csv(tiny, capsys):
    assert main(["sweep", tiny, "-p", "width=0,8", "--sort=-params"]) == 0
    out = capsys.readouterr().out
    assert "error[E112]" in out and "2 rows, 1 with errors" in out
    assert out.index("322") < out.index("error[E112]")  # failed rows sort last
    assert main(["sweep", tiny, "-p", "width=4,8", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "width,output,params,macs,activation_bytes,error_code,error" and len(lines) == 3


def test_usage_errors_exit_2(tiny, capsys):
    assert main(["sweep", tiny, "-p", "widht=1,2"]) == 2
    assert "did you mean `width`" in capsys.readouterr().err
    assert main(["sweep", tiny, "-p", "width=1,2", "--where", "__import__('os').system('true')"]) == 2
    assert "only abs, min, max and round may be called" in capsys.readouterr().err
    assert main(["sweep", tiny, "-p", "width=1,2", "--sort", "nope"]) == 2
    with pytest.raises(argparse.ArgumentTypeError):
        parse_axis("width=range(1,10,0)")
    assert parse_axis("k=range(1,8,3)") == ("k", [1, 4, 7])
    assert [str(v) for v in parse_axis("s=relu,gelu")[1]] == ["relu", "gelu"]


def test_spec_errors_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.incp"
    bad.write_text("network n(a = 1) {\n  input 3x8x8\n  conv(8, 3x3\n}\n")
    assert main(["sweep", str(bad), "-p", "a=1,2"]) == 1
    assert "bad.incp:" in capsys.readouterr().err


def test_interrupt_keeps_finished_rows(tiny):
    def progress(done, total):
        if done == 2:
            raise KeyboardInterrupt

    result = run_sweep(tiny, Grid({"width": [4, 8, 16, 32]}), progress=progress)
    assert result.interrupted and [r["width"] for r in result.rows] == [4, 8]


def test_filter_language_is_closed():
    columns = {"macs", "width", "error"}
    assert compile_expr("macs < 5e9 and width in (1, 2) and not error", columns)({"macs": 1, "width": 2, "error": None})
    assert compile_expr("max(width, 3) == 3", columns)({"width": 1})
    for text in ["width.__class__", "width[0]", "open('x')", "[w for w in width]", "lambda: 1", "width ** 99",
                 "'a' * 10**9", "foo > 1"]:
        with pytest.raises(ExprError):
            compile_expr(text, columns)({"width": 1, "macs": 1, "error": None})


def test_measure_adds_latency(tiny):
    rows = inception_dsl.sweep(tiny, width=[4, 0], measure=True, warmup=1, repeats=2)
    ok, failed = rows
    assert ok["latency_ms"] > 0 and ok["throughput"] > 0
    assert failed["latency_ms"] is None and failed["error_code"] == "E112"


def test_sweep_does_not_import_torch(tiny):
    code = f"import sys; from inception_dsl.cli import main; main(['sweep', {tiny!r}, '-p', 'width=4,8']); assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_progress_bar_only_on_a_terminal_and_never_on_stdout(tiny):
    import os
    import pty

    master, slave = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "inception_dsl", "sweep", tiny, "-p", "width=4,8", "--format", "csv"],
                              stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    assert done.returncode == 0 and done.stdout.decode().splitlines()[0].startswith("width,output,params")
    assert len(done.stdout.decode().splitlines()) == 3
