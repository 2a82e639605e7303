"""MetaFormer pieces (inception_dsl/ops/metaformer.py): `pool_mixer(size)` against timm's
Pooling and `star_relu` against timm's StarReLU, through every consumer, with a layer
scale (timm's Scale) and a separable-conv mixer around them; their errors."""

from __future__ import annotations

import pytest
import torch
from timm.models.metaformer import Pooling, StarReLU

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything

MIXERS = """
block sep_conv(ratio = 2) {
  pwconv1: conv(ratio * in_channels, 1x1, bn=false, act=identity, bias=false)
  act1: star_relu
  dwconv: conv(ratio * in_channels, 7x7, groups=ratio * in_channels, bn=false, act=identity, bias=false)
  pwconv2: conv(in_channels, 1x1, bn=false, act=identity, bias=false)
}

network n {
  input 8x9x7
  residual(act=identity) {
    norm: groupnorm(1)
    mixer: pool_mixer(SIZE)
    scale: layer_scale(0.5)
  }
  sep: sep_conv
  act: star_relu(scale=0.8, bias=-0.1)
}
"""


@pytest.mark.parametrize("size", [3, 5])
def test_pool_mixer_and_star_relu_equal_timms(size):
    text = MIXERS.replace("SIZE", str(size))

    def reference(model, x):
        state = model.state_dict()
        pool = Pooling(size)
        norm = torch.nn.functional.group_norm(x, 1, state["residual0.norm.weight"], state["residual0.norm.bias"])
        y = x + pool(norm) * state["residual0.scale.gamma"].view(1, -1, 1, 1)
        act1 = StarReLU()
        act1.scale.data, act1.bias.data = state["sep.act1.scale"], state["sep.act1.bias"]
        s = model.sep
        z = s.pwconv2(s.dwconv(act1(s.pwconv1(y))))
        act = StarReLU()
        act.scale.data, act.bias.data = state["act.scale"], state["act.bias"]
        return act(z)

    through_everything(text, reference, labels=(f"{size}x{size} AvgPool - x", "StarReLU"))


def test_the_standalone_source_and_the_initial_values():
    text = MIXERS.replace("SIZE", "5")
    source = to_python(analyze_text(text))
    assert "PoolMixer(5)" in source and "StarReLU(scale=0.8, bias=-0.1)" in source and "StarReLU()" in source
    graph = analyze_text(text).graph
    assert graph.node("act").attrs == {"scale": 0.8, "bias": -0.1}


def test_an_even_pool_mixer_is_refused_where_written():
    result = analyze_text("network n {\n  input 8x9x7\n  pool_mixer(4)\n}\n")
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.id == "E105" and diagnostic.primary_span.line == 3 and "use 3 or 5" in diagnostic.help


def test_pool_mixer_on_tokens_says_how_to_get_a_grid():
    result = analyze_text("network n {\n  input 8x9x7\n  to_tokens\n  pool_mixer\n}\n")
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.id == "E204" and "`to_grid`" in diagnostic.help
