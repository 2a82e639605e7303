"""weights.load_weights: a checkpoint that does not fit raises ONE error listing every
missing, unexpected and mis-shaped key, grouped by block instance; one that fits loads."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze, loads
from inception_dsl.runtime.weights import WeightsError, compare, load_weights, scope_of

from .conftest import SPECS


@pytest.fixture(scope="module")
def v4():
    text = (SPECS / "v4.incp").read_text(encoding="utf-8")
    model = loads(text, path=str(SPECS / "v4.incp"), input_shape=(3, 75, 75), seed=0)
    scopes = tuple(analyze(SPECS / "v4.incp", input_shape=(3, 75, 75)).graph.blocks)
    return model, scopes


def fresh_state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_fitting_checkpoint_loads(v4):
    model, scopes = v4
    state = fresh_state(model)
    torch.manual_seed(1)
    state["classifier.weight"] = torch.randn_like(state["classifier.weight"])
    load_weights(model, state, scopes)
    assert torch.equal(model.state_dict()["classifier.weight"], state["classifier.weight"])


def test_every_problem_in_one_error_grouped_by_block(v4):
    model, scopes = v4
    state = fresh_state(model)
    removed = [k for k in state if k.startswith("inception_a.2.branch1.")]
    for key in removed:
        del state[key]
    state["inception_c.1.extra.weight"] = torch.zeros(3)
    state["stem.conv0.conv.weight"] = torch.zeros(32, 1, 3, 3)
    before = fresh_state(model)
    with pytest.raises(WeightsError) as error:
        load_weights(model, state, scopes)
    message = str(error.value)
    lines = message.splitlines()
    assert lines[0] == (f"the state_dict does not fit the network: {len(removed)} missing, 1 unexpected, "
                        "1 with the wrong shape")
    assert any(line.startswith(f"  inception_a.2: missing {len(removed)} keys (branch1.conv0.conv.weight, ")
               for line in lines), message
    assert "  inception_c.1: unexpected 1 key (extra.weight)" in lines
    assert any(line.startswith("  stem: wrong shape for 1 key (conv0.conv.weight: checkpoint 32x1x3x3, network 32x3x3x3)")
               for line in lines), message
    # nothing was loaded: the model is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_long_key_lists_are_shortened(v4):
    model, scopes = v4
    state = {k: v for k, v in fresh_state(model).items() if not k.startswith("reduction_b.")}
    with pytest.raises(WeightsError) as error:
        load_weights(model, state, scopes)
    (line,) = [line for line in str(error.value).splitlines() if line.startswith("  reduction_b:")]
    assert line.endswith("more)") and line.count(",") == 6


def test_a_wrapped_checkpoint_gets_a_hint(v4):
    model, scopes = v4
    state = {f"module.{k}": v for k, v in fresh_state(model).items()}
    with pytest.raises(WeightsError, match="strip that prefix"):
        load_weights(model, state, scopes)


def test_scope_falls_back_to_stage_and_repetition_index():
    assert scope_of("inception_a.2.branch1.conv0.conv.weight") == "inception_a.2"
    assert scope_of("stem.conv0.conv.weight") == "stem"
    assert scope_of("classifier.weight") == "classifier"
    assert scope_of("a.b.c.weight", ["a", "a.b"]) == "a.b"


def test_compare_only_needs_shapes():
    class Shaped:
        def __init__(self, *shape):
            self.shape = shape

    mismatch = compare({"a.w": Shaped(2, 2), "b.w": Shaped(3)}, {"a.w": Shaped(2, 2), "c.w": Shaped(1)})
    assert dict(mismatch.missing) == {"b": ["b.w"]} and dict(mismatch.unexpected) == {"c": ["c.w"]}
    assert not mismatch.misshaped and mismatch.counts() == (1, 1, 0)
