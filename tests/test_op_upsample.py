"""`upsample(scale, mode=nearest|bilinear, align_corners=false)` (inception_dsl/ops/upsample.py):
nn.Upsample through every consumer, its exact shape rule, its errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything


@pytest.mark.parametrize("call, factor, mode, align, label", [
    ("upsample(2)", 2, "nearest", None, "Upsample x2 (nearest)"),
    ("upsample(3, mode=bilinear)", 3, "bilinear", False, "Upsample x3 (bilinear)"),
    ("upsample(2x3, mode=bilinear, align_corners=true)", (2, 3), "bilinear", True,
     "Upsample 2x3 (bilinear, align corners)"),
    ("upsample((1, 2))", (1, 2), "nearest", None, "Upsample 1x2 (nearest)"),
])
def test_equals_interpolate(call, factor, mode, align, label):
    text = f"network n {{\n  input 3x5x4\n  u: {call}\n}}\n"
    model = through_everything(text, lambda model, x: F.interpolate(x, scale_factor=factor, mode=mode, align_corners=align),
                               labels=(label,))
    fh, fw = (factor, factor) if isinstance(factor, int) else factor
    assert model(torch.zeros(1, 3, 5, 4)).shape == (1, 3, 5 * fh, 4 * fw)
    assert analyze_text(text).graph.node("u").shape == (3, 5 * fh, 4 * fw)


DECODER = """
block up(out, mode = nearest) {
  upsample(2, mode=mode)
  conv(out, 3x3)
}

network n {
  input 3x6x6
  conv(8, 3x3, stride=2)
  up(8)
  up(4, mode=bilinear)
  bn
  flatten
  linear(3)
}
"""


def test_a_parameter_may_choose_the_mode_and_bn_folding_stays_exact():
    through_everything(DECODER)
    source = to_python(analyze_text(DECODER))
    assert "nn.Upsample(scale_factor=2.0, mode=mode, align_corners=None if mode == 'nearest' else False)" in source
    assert "* 144, 3)" in source  # the grid after both upsamplings, 12x12, is known to the source


@pytest.mark.parametrize("call, code, column, text", [
    ("upsample(2, align_corners=true)", "E105", 15, "applies to bilinear upsampling only"),
    ("upsample(2, mode=bicubic)", "E105", 15, "unknown upsampling mode `bicubic`"),
    ("upsample(0)", "E112", 12, "must be at least 1"),
    ("upsample(1.5)", "E112", 12, "whole numbers"),
])
def test_bad_arguments_are_located(call, code, column, text):
    result = analyze_text(f"network n {{\n  input 6x4x4\n  {call}\n}}\n")
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code.id, diagnostic.primary_span.line, diagnostic.primary_span.column) == (code, 3, column)
    assert text in diagnostic.message


def test_flat_input_is_refused():
    flat = analyze_text("network n {\n  input 6x4x4\n  flatten\n  upsample(2)\n}\n")
    assert [(d.code.id, d.primary_span.line) for d in flat.diagnostics] == [("E204", 4)]


def test_concat_fix_search_does_not_guess_through_an_upsampling():
    """The E201 fix search simulates window ops only; past an upsample it cannot know the
    grid, so it suggests nothing rather than `stride=1` (which would give 64x64 here)."""
    text = ("network n {\n  input 4x16x16\n  concat {\n    { conv(4, 3x3, stride=2); upsample(4) }\n"
            "    conv(4, 3x3)\n    conv(4, 3x3)\n  }\n}\n")
    (diagnostic,) = analyze_text(text).diagnostics
    assert diagnostic.code.id == "E201" and diagnostic.help is None
    fixed = analyze_text(text.replace("stride=2", "stride=1"))
    assert fixed.diagnostics and fixed.diagnostics[0].code.id == "E201"  # stride=1 was not a fix
