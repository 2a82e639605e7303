"""`load(..., weights=...)`: a checkpoint that fits loads strictly; one that does not
raises one WeightsError naming the block instances that disagree."""

from __future__ import annotations

import pytest
import torch

import inception_dsl
from inception_dsl.runtime.weights import WeightsError

SPEC = """
block unit(c = 8) {
  concat {
    conv(c, 1x1)
    { conv(4, 1x1); conv(c, 3x3) }
  }
}
network n {
  input 3x16x16
  stem: conv(8, 3x3)
  unit x2
  pool: global_avgpool
  flatten
  fc: linear(4)
}
"""


def test_weights_that_fit_are_loaded():
    source = inception_dsl.loads(SPEC, seed=1)
    model = inception_dsl.loads(SPEC, seed=2, weights=source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_weights_from_a_file(tmp_path):
    source = inception_dsl.loads(SPEC, seed=1)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    model = inception_dsl.loads(SPEC, seed=2, weights=tmp_path / "w.pth")
    assert torch.equal(model.fc.weight, source.fc.weight)


def test_weights_that_do_not_fit_raise_one_grouped_error():
    state = inception_dsl.loads(SPEC, seed=1).state_dict()
    del state["unit.1.branch1.1.conv.weight"]
    state["unit.0.branch0.bn.extra"] = torch.zeros(1)
    state["fc.weight"] = torch.zeros(5, 8)
    with pytest.raises(WeightsError) as error:
        inception_dsl.loads(SPEC, weights=state)
    message = str(error.value)
    assert "unit.1" in message and "branch1.1.conv.weight" in message
    assert "unit.0" in message and "extra" in message
    assert "fc: wrong shape" in message and "5x8" in message and "4x16" in message
