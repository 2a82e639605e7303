"""`pixel_shuffle(upscale)` (inception_dsl/ops/pixel_shuffle.py): torch's nn.PixelShuffle
through every consumer; the channel count it leaves reaches the next layer's module; the
channels must divide by upscale² (E207, located)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything


@pytest.mark.parametrize("upscale", [1, 2, 3])
def test_equals_torch_pixel_shuffle(upscale):
    channels = 2 * upscale * upscale
    text = f"network n {{\n  input {channels}x3x4\n  p: pixel_shuffle({upscale})\n}}\n"
    through_everything(text, lambda model, x: nn.PixelShuffle(upscale)(x), labels=(f"Pixel Shuffle (x{upscale})",))


def test_after_a_conv_and_before_one_it_sets_their_channels():
    """The sub-pixel conv of ESPCN: conv to C*r*r, shuffle, conv reading C channels."""
    text = "network n {\n  input 3x5x5\n  conv(16, 3x3)\n  pixel_shuffle(2)\n  conv(8, 3x3, bn=false)\n}\n"
    model = through_everything(text)
    assert model(torch.randn(1, 3, 5, 5)).shape == (1, 8, 10, 10)
    assert analyze_text(text).graph.node("output").shape == (8, 10, 10)


def test_standalone_source_with_a_block_parameter():
    text = ("block up(r) {\n  conv(4 * r * r, 1x1)\n  pixel_shuffle(r)\n  conv(6, 1x1)\n}\n"
            "network n {\n  input 3x4x4\n  a: up(2)\n  b: up(r=1)\n}\n")
    source = to_python(analyze_text(text))
    assert "nn.PixelShuffle(r)" in source
    through_everything(text)


def test_channels_not_divisible_by_the_square_is_located():
    result = analyze_text("network n {\n  input 6x4x4\n  pixel_shuffle(2)\n}\n")
    assert not result.ok
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.id == "E207" and diagnostic.primary_span.line == 3
    assert "divisible by 4, got 6" in diagnostic.message
