"""Hostile sweeps (issue 26, rows 1, 5 and 9): every filter is bounded in the work it can
ask for, every failure of a filter is a usage error quoting it, and a grid too large to
check is refused before the first variant unless a sample of it is asked for."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_dsl.cli import main
from inception_dsl.core.limits import Limits
from inception_dsl.study.expr import MAX_DIGITS, ExprError, compile_expr
from inception_dsl.study.sweep import Grid, SweepError, run_sweep

from tests import test_sweep

TINY = test_sweep.TINY.replace("classes = 10)", 'classes = 10, tag = "a")')


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "tiny.incp").write_text(TINY)
    return str(tmp_path / "tiny.incp")


# row 1: round's digits; row 9: failures on a row that were internal errors
HOSTILE_FILTERS = [
    "round(1, -99999999) >= 0",
    "round(params, 99999999) > 0",
    "round(1.5, 10**2) > 0",
    "round(1, 1.5) > 0",
    "round(1, 2, 3) > 0",
    "round() > 0",
    "abs() > 0",
    "abs(1, 2) > 0",
    "max(1) > 0",
    "min(tag) > 0",
    "params / 0 > 1",
    "params // 0 > 1",
    "params % 0 > 1",
    "tag < 1",
    "1 in tag",
    "-tag > 1",
    "tag * 2 == 1",
    "params * 1" + "0" * 400 + " > 1",
    "1" + "0" * 400 + " / 3 > 1",
    "1e308 * 1e308 > 1",
    "1e300 * params * 1e300 > 1",
    "9" * 40 + " > params",
]


@pytest.mark.parametrize("text", HOSTILE_FILTERS)
def test_hostile_filters_are_usage_errors_quickly(tiny, capsys, text):
    started = time.perf_counter()
    assert main(["sweep", tiny, "-p", "width=4,8", "--where", text]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and f"`({text})`" in err, err
    assert time.perf_counter() - started < 10


def test_a_grid_files_where_is_bounded_the_same(tiny, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("width: [4, 8]\nwhere: round(1, -99999999) >= 0\n")
    assert main(["sweep", tiny, "--grid", str(grid)]) == 2
    assert "round's digits must be between" in capsys.readouterr().err


def test_filters_that_hold_still_work(tiny):
    rows = run_sweep(tiny, Grid({"width": [4, 8]}, where="round(params / 3, -1) > 0 and max(width, 5) >= 5")).rows
    assert [r["width"] for r in rows] == [4, 8]
    assert compile_expr("round(2.567, 2) == 2.57")({}) and compile_expr("round(1234, -2) == 1200")({})


_NUMBERS = st.one_of(st.integers(-(10**40), 10**40), st.floats(allow_nan=False), st.sampled_from([0, -1, 1e308, 10**30]))


def _expressions():
    leaf = st.one_of(_NUMBERS.map(repr), st.sampled_from(["params", "width", "tag", "error", '"s"']))

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "<", "==", " in "]), inner)
        calls = st.tuples(st.sampled_from(["abs", "min", "max", "round"]), st.lists(inner, min_size=0, max_size=3))
        return st.one_of(binary.map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
                         calls.map(lambda t: f"{t[0]}({', '.join(t[1])})"),
                         inner.map(lambda e: f"-({e})"),
                         st.tuples(inner, inner).map(lambda t: f"({t[0]}, {t[1]})"))

    return st.recursive(leaf, extend, max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions())
def test_any_filter_returns_or_refuses_quickly(text):
    """The family: any expression of the filter language over numbers at the edges either
    gives a value or raises ExprError (never another exception), in bounded time."""
    row = {"params": 10**9, "width": 8, "tag": "a", "error": None}
    started = time.perf_counter()
    try:
        value = compile_expr(text, set(row))(row)
    except ExprError as error:
        assert str(error).startswith("`"), error  # quoted
        return
    finally:
        assert time.perf_counter() - started < 2
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        assert abs(value) <= 10**30


def test_round_digits_bound_is_documented():
    assert MAX_DIGITS == 30
    with pytest.raises(ExprError, match="between -30 and 30"):
        compile_expr("round(1, -31)")({})


# row 5: a grid of 10^12 variants
def test_a_grid_over_the_limit_is_refused_before_any_variant(tiny, capsys):
    axes = ["-p", "width=range(1,1001)", "-p", "k=range(1,1001)", "-p", "classes=range(1,1001)",
            "-p", "tag=" + ",".join(f'"t{i}"' for i in range(1000))]
    started = time.perf_counter()
    assert main(["sweep", tiny, *axes]) == 2
    err = capsys.readouterr().err
    assert "a grid of 1,000,000,000,000 variants is over the limit of 100,000" in err and "--sample" in err
    assert time.perf_counter() - started < 20
    assert main(["sweep", tiny, *axes, "--sample", "3", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert main(["sweep", tiny, *axes, "--sample", "200000"]) == 2
    assert "a sample of 200,000 is over the limit" in capsys.readouterr().err


def test_the_variant_limit_is_a_limit(tiny):
    with pytest.raises(SweepError, match="over the limit of 2 variants"):
        run_sweep(tiny, Grid({"width": [4, 8, 16]}), limits=Limits(max_variants=2))
    assert len(run_sweep(tiny, Grid({"width": [4, 8, 16]}), limits=Limits(max_variants=3)).rows) == 3
