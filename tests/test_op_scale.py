"""The layer word `scale(value)` (ops/scale.py, the IR op `scale`): a distilled head's two
classifiers averaged as timm's DeiT/EfficientFormer/LeViT heads do in inference, through
every consumer (tests/op_checks.py); the generated file's `Scale`; a bad value."""

from __future__ import annotations

import torch.nn.functional as F

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything

TEXT = """
network n {
  input 4x6x6
  conv(8, 3x3)
  global_avgpool
  flatten
  head: {
    sum {
      head: linear(3)
      head_dist: linear(3)
    }
    scale(0.5)
  }
}
"""


def test_a_distilled_head_averages_its_classifiers():
    def reference(model, x):
        s = model.state_dict()
        features = model.conv0(x).mean((2, 3))
        head = F.linear(features, s["head.0.head.weight"], s["head.0.head.bias"])
        return (head + F.linear(features, s["head.0.head_dist.weight"], s["head.0.head_dist.bias"])) / 2

    through_everything(TEXT, reference, labels=("x0.5",))


def test_the_generated_file_and_a_bad_value():
    assert "Scale(0.5)" in to_python(analyze_text(TEXT))
    result = analyze_text(TEXT.replace("scale(0.5)", "scale(relu)"))
    assert not result.ok and result.diagnostics[0].primary_span.line == 12
