"""`bn` beyond grids (ops/norm.py): on tokens a BatchNorm1d over every token of the batch
after a linear layer (timm's LeViT LinearNorm), on flat features a BatchNorm1d before the
classifier (timm's NormLinear), through every consumer (tests/op_checks.py) against timm's
own modules with converted weights and random statistics; the BatchNorm on tokens folds
into the linear layer before it (passes/rewrites/fold_bn.py, linear's rows)."""

from __future__ import annotations

import torch
from timm.models.levit import LinearNorm, NormLinear
from torch import nn

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.ir import Op
from inception_dsl.passes.rewrites.pipeline import optimize
from inception_dsl.runtime.interop import convert_state_dict

from .op_checks import through_everything
from .test_zoo_modern import randomize_all

TEXT = """
network n {
  input 3x4x4
  embed: conv(8, 1x1, linear)
  to_tokens
  ln: {
    linear: linear(12, bias=false)
    bn: bn
  }
  pool: avg_tokens
  head: {
    bn: bn
    linear: linear(5)
  }
}
"""


class _Reference(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.ln, self.head = nn.Conv2d(3, 8, 1), LinearNorm(8, 12), NormLinear(12, 5)

    def forward(self, x):
        return self.head(self.ln(self.embed(x).flatten(2).transpose(1, 2)).mean(1))


def test_batchnorm_on_tokens_and_flat_features_equals_timms():
    reference = _Reference().eval()
    generator = torch.Generator().manual_seed(7)
    randomize_all(reference, generator)
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator))
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)

    def timm_output(model, x):
        converted = convert_state_dict(model=model, reference=reference, input_size=4)
        theirs = {key: tensor for key, tensor in reference.state_dict().items()}
        key_of = {tensor.data_ptr(): key for key, tensor in theirs.items()}
        for key, tensor in model.state_dict().items():
            theirs[key_of[converted[key].data_ptr()]].copy_(tensor)
        return reference(x)

    through_everything(TEXT, timm_output, labels=("BatchNorm",))


def test_the_batchnorm_on_tokens_folds_into_the_linear_layer():
    graph = analyze_text(TEXT).graph
    optimized = optimize(graph)[0]
    kinds = [node.op for node in optimized.nodes()]
    assert kinds.count(Op.BN) == 1  # the head's, before its linear layer, stays
    assert optimized.node("ln.linear").attrs["bias"]


def test_the_generated_file_builds_batchnorm1d():
    source = to_python(analyze_text(TEXT))
    assert "TokenBatchNorm(12, eps=1e-05, momentum=0.1)" in source
    assert "nn.BatchNorm1d(12, eps=1e-05, momentum=0.1)" in source
