"""Family 3 of issue 13, as a property: if `check` accepts a spec, `load()` builds exactly
that network: the parameter count and the output shape `check` reports, and a forward
pass that runs and is finite on finite input. Over the generated specs
(tests/spec_strategies.py) and over the mutation-fuzzing corpus (tests/fuzzing.py applied
to every spec in specs/). CI runs a small sample; `pytest -m fuzz tests/test_agreement.py`
runs AGREEMENT_LONG_CASES fuzz cases (seed base INCEPTION_DSL_FUZZ_SEED), every one
checked and built on the meta device, one in FORWARD_EVERY also run on real tensors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_dsl import analyze, analyze_text
from inception_dsl.core.diagnostics import CompileError
from inception_dsl.passes.analyses.budget import total_params
from inception_dsl.runtime.module import load, loads

from .conftest import SPECS
from .fuzzing import mutate
from .spec_strategies import valid_specs
from .test_fuzz import NETWORK_FOR, SPEC_FILES

AGREEMENT_CASES = 6
AGREEMENT_LONG_CASES = 10_000
FORWARD_EVERY = 50


def assert_agrees(result, model: torch.nn.Module, *, real: bool, what: str) -> None:
    """`model` (built from `result`'s spec) has the checked parameter count and output shape;
    with `real`, its forward on a random input is finite."""
    assert sum(p.numel() for p in model.parameters()) == total_params(result.graph), what
    shape = result.graph.input_node.shape
    device = "cpu" if real else "meta"
    x = torch.randn(2, *shape, device=device) if real else torch.zeros(2, *shape, device=device)
    with torch.no_grad():
        out = model.eval()(x)
    assert tuple(out.shape) == (2, *result.graph.node("output").shape), what
    if real:
        assert torch.isfinite(out).all(), what


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=valid_specs(max_statements=3), seed=st.integers(0, 2**16))
def test_generated_specs_that_check_build_exactly_the_checked_network(spec, seed):
    result = analyze_text(spec.text, path="generated.incp")
    assert result.ok
    assert_agrees(result, loads(spec.text, path="generated.incp", seed=seed), real=True, what=spec.text)


@pytest.fixture(scope="module")
def spec_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("agreement") / "specs"
    shutil.copytree(SPECS, root)
    return root


def run_case(spec_tree: Path, seed: int, *, real: bool) -> bool:
    """One fuzz case: mutate a spec file; if the network that uses it checks clean, build it
    (on the meta device unless `real`) and compare. Returns whether it checked clean."""
    target = SPEC_FILES[seed % len(SPEC_FILES)]
    network = NETWORK_FOR[target] or target
    original = (SPECS / target).read_text(encoding="utf-8")
    text, mutations = mutate(original, seed)
    path = spec_tree / target
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        result = analyze(spec_tree / network)
        if not result.ok:
            return False
        what = f"seed {seed}, {target}: {mutations}"
        if real:
            model = load(spec_tree / network, seed=seed)
        else:
            with torch.device("meta"):
                model = load(spec_tree / network, seed=seed)
        assert_agrees(result, model, real=real, what=what)
        return True
    except CompileError as error:  # check said yes, load said no: the disagreement itself
        raise AssertionError(f"seed {seed}, {target}: {mutations}: load() refused what check accepted: {error}")
    finally:
        path.write_text(original, encoding="utf-8")


@pytest.mark.slow
def test_fuzzed_specs_that_check_build_exactly_the_checked_network(spec_tree):
    accepted, seed = 0, 0
    while accepted < AGREEMENT_CASES and seed < 40 * AGREEMENT_CASES:
        accepted += run_case(spec_tree, 1_000 + seed, real=False)
        seed += 1
    assert accepted == AGREEMENT_CASES  # the mutations leave enough specs valid to test anything


@pytest.mark.fuzz
def test_fuzzed_specs_agree_long_profile(spec_tree):
    base = int(os.environ.get("INCEPTION_DSL_FUZZ_SEED", "0"))
    cases = int(os.environ.get("INCEPTION_DSL_AGREEMENT_CASES", AGREEMENT_LONG_CASES))
    accepted = 0
    for index in range(cases):
        accepted += run_case(spec_tree, base + index, real=index % FORWARD_EVERY == 0)
    print(f"{cases} fuzz cases, {accepted} checked clean and built")
