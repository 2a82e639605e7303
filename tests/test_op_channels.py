"""`channels(start, stop)` (inception_dsl/ops/channels.py): a channel slice as its own
tensor, usable with `from`: a Res2Net-style hierarchical split and rexnet's partial
shortcut (`x[:, 0:c] += shortcut`) against hand-written torch, through every consumer; a
slice out of range is E211, an empty one E112, both located."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze_text

from .op_checks import through_everything

RES2NET = """network n {
  input 16x8x8
  conv1: conv(32, 1x1)
  channels(0, 8)
  s0: conv(8, 3x3)
  sum { identity; channels(8, 16) from conv1 }
  s1: conv(8, 3x3)
  sum { identity; channels(16, 24) from conv1 }
  s2: conv(8, 3x3)
  concat { identity from s0; identity from s1; identity; channels(24, 32) from conv1 }
}
"""


def test_res2net_scales_read_channel_groups_of_an_earlier_tensor():
    def reference(model, x):
        out = model.conv1(x)
        parts = torch.split(out, 8, 1)
        s0 = model.s0(parts[0])
        s1 = model.s1(s0 + parts[1])
        s2 = model.s2(s1 + parts[2])
        return torch.cat([s0, s1, s2, parts[3]], 1)

    through_everything(RES2NET, reference, labels=("Channels 8:16",))
    assert analyze_text(RES2NET).graph.node("output").shape == (32, 8, 8)


def test_rexnets_partial_shortcut_adds_into_a_channel_slice():
    text = """block partial_residual(out) {
  body: conv(out, 3x3)
  concat { sum { channels(0, in_channels); identity from input }; channels(in_channels, out) }
}
network n {
  input 8x6x6
  b: partial_residual(12)
}
"""

    def reference(model, x):
        y = model.b.body(x)
        y[:, 0:8] += x
        return y

    through_everything(text, reference)


@pytest.mark.parametrize("layer, code, message", [
    ("channels(4, 20)", "E211", "channels 4:20 of a 16-channel input are out of range"),
    ("channels(6, 6)", "E112", "is empty"),
    ("channels(-1, 4)", "E112", "at least 0"),
])
def test_a_bad_slice_is_located(layer, code, message):
    result = analyze_text(f"network n {{\n  input 16x4x4\n  {layer}\n}}\n")
    assert not result.ok
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.id == code and message in diagnostic.message and diagnostic.primary_span.line == 3


def test_a_generated_class_refuses_a_slice_past_its_input_when_built():
    """A block whose slice bounds are parameters: its class, built for arguments the spec
    never checked, refuses a slice past its input (ValueError) instead of running on an
    empty or short tensor (Res2Net's group ladders, built with a scale beyond their input)."""
    from inception_dsl.runtime.module import loads

    text = "block group(w) {\n  channels(w, 2 * w)\n}\nnetwork n {\n  input 16x4x4\n  g: group(8)\n}\n"
    model = loads(text)
    cls = type(model.g)
    assert cls(16, w=4)(torch.randn(1, 16, 4, 4)).shape == (1, 4, 4, 4)
    with pytest.raises(ValueError, match="channels 12:24 of a 16-channel input are out of range"):
        cls(16, w=12)
