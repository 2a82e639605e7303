"""Family 10 of issue 13: render, parsing and summary take time linear in their input.
Each case is timed (CPU time, best of two) at n and 4n: linear work gives a ratio near 4,
quadratic near 16; the bound of 9 leaves room for a noisy shared machine. The full
measurement, up to the documented limits: benchmarks/hostile_scaling.py --full."""

from __future__ import annotations

import sys
import time

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import hostile_scaling  # noqa: E402


def _best(function, size: int) -> float:
    return max(min(hostile_scaling.measure(function, size) for _ in range(2)), 1e-3)


@pytest.mark.parametrize(("function", "size"), [
    (hostile_scaling.render_repeats, 6),
    (hostile_scaling.check_semicolons, 1 << 17),
], ids=["render-repeats", "semicolons"])
def test_four_times_the_input_takes_about_four_times_as_long(function, size):
    function(size)  # warm caches (parser tables, imports)
    small, large = _best(function, size), _best(function, 4 * size)
    assert large / small < 9 or large < 0.05, (small, large)


def test_summary_depth_does_not_multiply_the_work():
    start = time.process_time()
    hostile_scaling.summary_depth(10_000_000)
    assert time.process_time() - start < 1.0


def test_a_megabyte_of_semicolons_is_checked_in_well_under_a_second():
    start = time.process_time()
    hostile_scaling.check_semicolons(1 << 20)
    assert time.process_time() - start < 2.0
