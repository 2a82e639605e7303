"""The activation `squared_relu` (ops/squared_relu.py): relu(x)², timm's `SquaredReLU`,
through every consumer (tests/op_checks.py) on a grid and on tokens, as a word, `act=` and
in a generated file (torch has no module for it: the `Activation` helper); CAFormer-S18's
head uses it (tests/test_zoo_transformers.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.models.metaformer import SquaredReLU

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything

TEXT = """
network n {
  input 4x6x6
  c: conv(8, 3x3, bn=false, act=squared_relu)
  to_tokens
  fc1: linear(6)
  squared_relu
  pool: avg_tokens
  fc2: linear(3)
}
"""


def test_squared_relu_is_timms_on_a_grid_and_on_tokens():
    def reference(model, x):
        s, act = model.state_dict(), SquaredReLU()
        y = act(F.conv2d(x, s["c.weight"], s["c.bias"], padding=1)).flatten(2).transpose(1, 2)
        y = act(F.linear(y, s["fc1.weight"], s["fc1.bias"])).mean(1)
        return F.linear(y, s["fc2.weight"], s["fc2.bias"])

    through_everything(TEXT, reference)


def test_the_generated_file_uses_the_activation_helper():
    source = to_python(analyze_text(TEXT))
    assert 'Activation("squared_relu")' in source and 'if kind == "squared_relu":' in source
    assert "F.relu(x).square()" in source


def test_the_word_has_no_parameters():
    result = analyze_text(TEXT.replace("  squared_relu\n", "  squared_relu(2)\n"))
    assert not result.ok and result.diagnostics[0].primary_span.line == 7
    assert torch.equal(SquaredReLU()(torch.tensor([-2.0, 3.0])), torch.tensor([0.0, 9.0]))
