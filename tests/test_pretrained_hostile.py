"""`pretrained=` and `weights=` with files that are not what they claim (issue 26, row 14):
a text file is a clear CheckpointError naming it, integer tensors for float parameters
are refused, unknown and missing keys are reported by block, never dropped in silence."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from inception_dsl.runtime.checkpoint import CheckpointError
from inception_dsl.runtime.module import load
from inception_dsl.runtime.weights import WeightsError

SPEC = """block unit(c) { conv(c, 3x3) }
network n {
  input 3x8x8
  stem: unit(8)
  global_avgpool
  flatten
  linear(4)
}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "n.incp"
    path.write_text(SPEC)
    return path


@pytest.fixture
def state(spec):
    return load(spec).state_dict()


@pytest.mark.parametrize("how", ["pretrained", "weights"])
def test_a_text_file_is_not_a_checkpoint(spec, tmp_path, how):
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(CheckpointError, match=r"passwd: not a PyTorch checkpoint written by torch.save"):
        load(spec, **{how: text})
    (tmp_path / "junk.safetensors").write_text("root:x:0:0\n")
    with pytest.raises(CheckpointError, match=r"junk.safetensors: not a safetensors file"):
        load(spec, **{how: tmp_path / "junk.safetensors"})


@pytest.mark.parametrize("how", ["pretrained", "weights"])
@pytest.mark.parametrize("dtype", [torch.int8, torch.int64, torch.bool, torch.uint8])
def test_integer_tensors_for_float_parameters_are_refused(spec, state, tmp_path, how, dtype):
    path = tmp_path / "w.safetensors"
    save_file({k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}, str(path))
    with pytest.raises(WeightsError) as caught:
        load(spec, **{how: path})
    message = str(caught.value)
    assert "not floating-point" in message and f"checkpoint {str(dtype)[6:]}, network float32" in message
    assert "stem: not floating-point for" in message and "linear" in message  # by block


def test_half_precision_and_integer_buffers_still_load(spec, state, tmp_path):
    path = tmp_path / "w.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, path)
    model = load(spec, pretrained=path)
    key = "stem.conv0.conv.weight" if "stem.conv0.conv.weight" in state else next(iter(state))
    assert torch.equal(model.state_dict()[key], state[key].half().float())


def test_unknown_and_missing_keys_are_reported_by_block(spec, state, tmp_path):
    path = tmp_path / "w.pth"
    first = next(iter(state))
    extra = {"stem.extra.weight": torch.zeros(1), "bogus": torch.zeros(2)}
    torch.save({**{k: v for k, v in state.items() if k != first}, **extra}, path)
    with pytest.raises(WeightsError) as caught:
        load(spec, pretrained=path)
    message = str(caught.value)
    assert "1 missing, 2 unexpected" in message, message
    assert "stem: unexpected 1 key (extra.weight)" in message and "(top level): unexpected 1 key (bogus)" in message
    assert f"missing 1 key ({first.split('.', 1)[1]})" in message


def test_an_auxiliary_head_the_spec_switched_off_is_still_dropped(spec, state, tmp_path):
    path = tmp_path / "w.pth"
    torch.save({**state, "AuxLogits.fc.weight": torch.zeros(3)}, path)
    model = load(spec, pretrained=path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
