"""The compatibility matrix (docs/compat.md, benchmarks/compat_matrix.py) in reduced form:
a small network per construct the zoo uses (concat and residual, auxiliary heads off and
on, LayerNorm and layer scale, channel shuffle, squeeze-and-excitation), each built the
four ways inception-dsl builds a module (`load()`, the file of `compile`, `optimize()`, the
file of `compile --optimize`), through every check of benchmarks/compat_checks.py. Every
cell passes, except the training checks of the inference-only optimized modules, which
must say so (n/a). The slow checks (torch.compile, torch.export, the dynamo ONNX exporter,
a fresh interpreter) run on one network holding all those constructs, once per build, and
are marked slow."""

from __future__ import annotations

import sys

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from compat_checks import CHECKS, SLOW_CHECKS, run_check  # noqa: E402
from compat_matrix import build_subject  # noqa: E402

CASES = ROOT / "tests" / "cases"
# row -> (spec, network parameters)
ROWS = {
    "concat, residual": (CASES / "codegen" / "tiny.incp", {}),
    "aux heads off": (CASES / "compat" / "aux_heads.incp", {}),
    "aux heads on": (CASES / "compat" / "aux_heads.incp", {"aux_logits": True}),
    "layernorm, layer scale": (CASES / "compat" / "convnext.incp", {}),
    "channel_shuffle": (CASES / "compat" / "shuffle.incp", {}),
    "squeeze-excitation": (CASES / "compat" / "squeeze_excite.incp", {}),
    "patches (MobileViT)": (CASES / "compat" / "patches.incp", {}),
    "all constructs": (CASES / "compat" / "all_constructs.incp", {}),
}
ALL = "all constructs"
BUILDS = ("load", "file", "optimize", "file --optimize")
TRAINING = {"train/eval", "train step"}


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    made = {}

    def subject(row, build):
        if (row, build) not in made:
            spec, params = ROWS[row]
            made[row, build] = build_subject(spec, build, tmp_path_factory.mktemp("compat"), 32, params=params)
        return made[row, build]

    return subject


CELLS = [(row, check) for row in ROWS for check in CHECKS if check not in SLOW_CHECKS]
CELLS += [pytest.param(ALL, check, marks=pytest.mark.slow) for check in CHECKS if check in SLOW_CHECKS]


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize(("row", "check"), CELLS)
def test_cell(subjects, row, build, check):
    status, detail = run_check(check, subjects(row, build))
    expected = "n/a" if build in ("optimize", "file --optimize") and check in TRAINING else "pass"
    assert (status, detail if status != expected else "") == (expected, "")


def test_a_failing_check_is_reported_as_a_failure(subjects):
    """The control: a module whose eager output is not finite fails the first check."""
    import copy

    import torch

    subject = copy.copy(subjects("concat, residual", "load"))
    subject.model = copy.deepcopy(subject.model)
    with torch.no_grad():
        next(subject.model.parameters()).fill_(float("nan"))
    assert run_check("eager", subject)[0] == "fail"
    assert run_check("deepcopy", subject)[0] == "fail"  # nan != nan: the comparison itself fails
