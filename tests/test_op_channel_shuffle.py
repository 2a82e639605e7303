"""`channel_shuffle(groups)` (inception_dsl/ops/shuffle.py): torchvision's shufflenetv2
channel_shuffle, through every consumer, with BN folding next to it."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.shufflenetv2 import channel_shuffle as torchvision_shuffle

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.ir import Op
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph

from .op_checks import through_everything


@pytest.mark.parametrize("groups", [1, 3, 12])  # 1 and 12 leave the tensor as it is (a view)
def test_equals_torchvision_channel_shuffle(groups):
    text = f"network n {{\n  input 12x5x3\n  s: channel_shuffle({groups})\n}}\n"
    through_everything(text, lambda model, x: torchvision_shuffle(x, groups),
                       labels=(f"Channel Shuffle (groups {groups})",))


def test_permutation_moves_channel_i_of_group_g_to_i_times_groups_plus_g():
    text = "network n {\n  input 6x1x1\n  channel_shuffle(2)\n}\n"
    model = through_everything(text)
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert model(x).flatten().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


SHUFFLE_UNIT = """
network unit {
  input 4x6x6
  conv(12, 1x1)
  channel_shuffle(3)
  bn
  conv(12, 3x3, groups=3)
  residual { channel_shuffle(4); relu }
  channel_shuffle(1)
  relu
}
"""


def test_bn_folding_next_to_a_shuffle_is_exact():
    """The conv's own BN folds into it; a BN after the shuffle (not after a conv) stays
    and the optimized module computes the same (through_everything checks each pass)."""
    through_everything(SHUFFLE_UNIT)
    graph = analyze_text(SHUFFLE_UNIT).graph
    optimized, _ = optimize_graph(graph, ("fold_bn",))
    (bn,) = [n for n in optimized.nodes() if n.op is Op.BN]
    assert optimized.node(optimized.inputs(bn.id)[0]).op is Op.CHANNEL_SHUFFLE


def test_standalone_source_writes_the_shuffle_as_torchvision_and_a_parameter_reaches_it():
    """view/transpose/view as torchvision's channel_shuffle: the legacy ONNX exporter has
    no symbolic for nn.ChannelShuffle (aten::channel_shuffle) at opset 17."""
    text = ("block unit(g) {\n  conv(12, 1x1)\n  channel_shuffle(g)\n}\n"
            "network n {\n  input 4x6x6\n  a: unit(2)\n  b: unit(g=3)\n}\n")
    source = to_python(analyze_text(text))
    assert "= ChannelShuffle(g)" in source and "= nn.ChannelShuffle(" not in source
    through_everything(text)


def test_groups_must_be_a_positive_integer_and_the_input_spatial():
    for call, code in [("channel_shuffle(0)", "E112"), ("channel_shuffle(1.5)", "E112"), ("channel_shuffle", "E104"),
                       ("channel_shuffle(4)", "E207")]:
        result = analyze_text(f"network n {{\n  input 6x4x4\n  {call}\n}}\n")
        assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [(code, 3)], call
    flat = analyze_text("network n {\n  input 6x4x4\n  flatten\n  channel_shuffle(2)\n}\n")
    assert [(d.code.id, d.primary_span.line) for d in flat.diagnostics] == [("E204", 4)]
