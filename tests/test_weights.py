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
    state["last_linear.weight"] = torch.randn_like(state["last_linear.weight"])
    load_weights(model, state, scopes)
    assert torch.equal(model.state_dict()["last_linear.weight"], state["last_linear.weight"])


def test_every_problem_in_one_error_grouped_by_block(v4):
    model, scopes = v4
    state = fresh_state(model)
    removed = [k for k in state if k.startswith("features.8.branch1.")]
    for key in removed:
        del state[key]
    state["features.20.extra.weight"] = torch.zeros(3)
    state["features.0.conv.weight"] = torch.zeros(32, 1, 3, 3)
    before = fresh_state(model)
    with pytest.raises(WeightsError) as error:
        load_weights(model, state, scopes)
    message = str(error.value)
    lines = message.splitlines()
    assert lines[0] == (f"the state_dict does not fit the network: {len(removed)} missing, 1 unexpected, "
                        "1 with the wrong shape")
    assert any(line.startswith(f"  features.8: missing {len(removed)} keys (branch1.0.conv.weight, ")
               for line in lines), message
    assert "  features.20: unexpected 1 key (extra.weight)" in lines
    assert any(line.startswith("  features.0: wrong shape for 1 key (conv.weight: checkpoint 32x1x3x3, network 32x3x3x3)")
               for line in lines), message
    # nothing was loaded: the model is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_long_key_lists_are_shortened(v4):
    model, scopes = v4
    state = {k: v for k, v in fresh_state(model).items() if not k.startswith("features.18.")}
    with pytest.raises(WeightsError) as error:
        load_weights(model, state, scopes)
    (line,) = [line for line in str(error.value).splitlines() if line.startswith("  features.18:")]
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
    assert not mismatch.misshaped and mismatch.counts() == (1, 1, 0, 0)
