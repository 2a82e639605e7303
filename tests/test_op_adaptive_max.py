"""`global_maxpool` and `adaptive_maxpool(size)` (inception_dsl/ops/adaptive_max.py):
nn.AdaptiveMaxPool2d through every consumer, and as the head pooling of timm's model API."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inception_dsl import analyze_text, loads
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything


@pytest.mark.parametrize("call, size, label", [("global_maxpool", (1, 1), "Global Max Pooling"),
                                               ("adaptive_maxpool(3)", (3, 3), "Adaptive Max Pooling (3)"),
                                               ("adaptive_maxpool((2, 3))", (2, 3), "Adaptive Max Pooling (2x3)"),
                                               ("adaptive_maxpool(9x8)", (9, 8), "Adaptive Max Pooling (9x8)")])
def test_equals_adaptive_max_pool2d(call, size, label):
    text = f"network n {{\n  input 5x7x6\n  p: {call}\n}}\n"
    through_everything(text, lambda model, x: F.adaptive_max_pool2d(x, size), labels=(label,))


HEAD = """
network n {
  input 3x12x12
  c1: conv(8, 3x3)
  bn
  c2: conv(16, 3x3, stride=2, bn=false, act=identity)
  bn
  relu
  pool: adaptive_maxpool(2)
  flatten
  fc: linear(5)
}
"""


def test_bn_after_a_conv_folds_and_the_flattened_grid_of_the_pool_is_known():
    through_everything(HEAD)
    source = to_python(analyze_text(HEAD))
    assert "nn.AdaptiveMaxPool2d(2)" in source and "nn.Linear(64, 5)" in source


def test_head_pooling_of_timm_model_api():
    text = HEAD.replace("adaptive_maxpool(2)", "global_maxpool").replace("fc: linear(5)", "drop: dropout(0.2)\n  fc: linear(5)")
    model = loads(text).eval()
    assert model.head_modules == ("fc", "pool", "flatten6")
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 16, 6, 6)
        pre = model.forward_head(features, pre_logits=True)
        torch.testing.assert_close(pre, features.amax((2, 3)), rtol=0, atol=0)
        torch.testing.assert_close(model.forward_head(features), model(x), rtol=0, atol=0)
    model.reset_classifier(3, global_pool="avg")
    assert model(x).shape == (2, 3)


def test_flat_input_and_bad_sizes_are_located():
    for call, code in [("adaptive_maxpool(0)", "E112"), ("adaptive_maxpool(true)", "E105"), ("adaptive_maxpool", "E104")]:
        result = analyze_text(f"network n {{\n  input 6x4x4\n  {call}\n}}\n")
        assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [(code, 3)], call
    flat = analyze_text("network n {\n  input 6x4x4\n  flatten\n  global_maxpool\n}\n")
    assert [(d.code.id, d.primary_span.line) for d in flat.diagnostics] == [("E204", 4)]
    assert "max pooling needs a CxHxW input" in flat.diagnostics[0].message


def test_a_block_parameter_sets_the_pooled_grid_that_flatten_sees():
    text = ("block head(s) {\n  adaptive_maxpool(s)\n  flatten\n  linear(3)\n}\n"
            "network n {\n  input 4x8x8\n  conv(8, 3x3)\n  head(2x3)\n}\n")
    source = to_python(analyze_text(text))
    assert "_area(s)" in source and "nn.AdaptiveMaxPool2d(s)" in source
    through_everything(text)
