"""`product`, `sum`, `split(...)` and `from` on branches: each through every consumer
(tests/op_checks.py: `load()`'s standalone source against a hand-written torch
equivalent, the flat forward and every optimize pass, summary counts against
FlopCounterMode, diagram labels, fmt, lint), plus their diagnostics."""

from __future__ import annotations

import pytest
import torch

import inception_dsl
from inception_dsl import analyze_text, api
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.diagram.drawing import View
from inception_dsl.language.fmt import fmt

from .op_checks import through_everything

SE = """
block se(r) {
  product {
    identity;
    _: { global_avgpool; fc1: conv(r, 1x1, bn=false); fc2: conv(in_channels, 1x1, bn=false, act=sigmoid) }
  }
}

network gated {
  input 16x9x9
  stem: conv(16, 3x3, bn=false, act=identity)
  gate: se(4)
  head: bn
}
"""

SPLITS = """
network splits(g = 2) {
  input 12x6x6
  halves: split(2) { identity; conv(6, 3x3, bn=false) }
  bands: split(in_channels - 3 * g, g, 2 * g) { relu; conv(g, 1x3, bn=false); conv(2 * g, 3x1, bn=false) }
}
"""

SUMS = """
network sums {
  input 8x6x6
  sum { identity; conv(8, 3x3, bn=false, act=identity); global_avgpool }
  bn
}
"""


def test_squeeze_and_excitation_equals_torchvision():
    """The gate between a bias-free conv and a BatchNorm: BN folding must not fold across it."""
    from torchvision.ops import SqueezeExcitation

    se = SqueezeExcitation(16, 4).eval()  # ReLU, then a sigmoid gate

    def reference(model, x):
        se.load_state_dict({k[len("gate."):]: v for k, v in model.state_dict().items() if k.startswith("gate.")})
        return model.head(se(model.stem(x)))

    model = through_everything(SE, reference)
    assert {"gate.fc1.weight", "gate.fc1.bias", "gate.fc2.weight", "gate.fc2.bias"} <= set(model.state_dict())
    opened = to_dot(analyze_text(SE, "se.incp").graph, View(expand=frozenset({"all"})))
    assert '"⊗"' in opened and "shape=circle" in opened  # the gate, drawn as the papers do


def test_split_by_count_and_by_sizes():
    def reference(model, x):
        a, b = torch.split(x, 6, 1)
        x = torch.cat((a, model.halves.branch1(b)), 1)
        a, b, c = torch.split(x, (6, 2, 4), 1)
        return torch.cat((torch.relu(a), model.bands.branch1(b), model.bands.branch2(c)), 1)

    through_everything(SPLITS, reference, labels=("Channels 0:6", "Channels 8:12"))


def test_n_way_sum_broadcasts_a_pooled_branch():
    def reference(model, x):
        return model.bn1(x + model.sum0.branch1(x) + x.mean((2, 3), keepdim=True))

    through_everything(SUMS, reference)


def test_split_module_is_scriptable_and_keeps_its_sizes():
    model = inception_dsl.loads(SPLITS, path="splits.incp").eval()
    assert model.bands._split0 == (6, 2, 4) and model.halves._split0 == (6, 6)
    x = torch.randn(1, 12, 6, 6)
    assert torch.equal(torch.jit.script(model)(x), model(x))


def test_fmt_keeps_split_sizes_and_the_one_line_forms():
    text = "network n {\n  input 8x4x4\n  split(in_channels-2,2) { relu; identity }\n  product { identity; relu }\n}\n"
    assert fmt(text) == ("network n {\n  input 8x4x4\n  split(in_channels - 2, 2) {\n    relu\n    identity\n  }\n"
                         "  product {\n    identity\n    relu\n  }\n}\n")


SKIPS = """
network skips {
  input 8x8x8
  a: conv(8, 3x3, bn=false, act=identity)
  b: conv(16, 3x3)
  pool: maxpool(3x3)
  concat { identity; identity from a }
  sum { identity; conv(24, 1x1) from a; { global_avgpool; conv(24, 1x1, bn=false) } from b }
  gate: product { identity; { global_avgpool; conv(24, 1x1, bn=false, act=identity) } from a }
}
"""


def test_branches_read_earlier_labels_with_from():
    def reference(model, x):
        a = model.a(x)
        b = model.b(a)
        y = torch.cat((model.pool(b), a), 1)
        y = y + model.sum4.branch1(a) + model.sum4.branch2(b)
        return y * model.gate.branch1(a)

    through_everything(SKIPS, reference)


PLACEMENTS = """
block rb {
  residual {
    a: conv(8, 1x1)
    concat { identity; identity from a }
    conv(in_channels, 1x1, linear)
  }
}

block nest {
  a: conv(8, 1x1)
  b: conv(8, 3x3)
  concat {
    sum { identity; identity from a }
    product { identity from a; { global_avgpool; conv(8, 1x1, bn=false, act=sigmoid) } from b }
  }
}

network placements {
  input 8x6x6
  rb
  nest
  s: { a: conv(8, 1x1); _: concat { identity; identity from a } }
  t: { a: conv(8, 1x1); b: conv(8); sum { identity; identity from a; identity from b } } x2
}
"""


def test_from_on_branches_wherever_a_join_is_written():
    """Inside a residual (the join written in the residual's class), a block body, a nested
    join (the label handed through two generated classes), a `_:` concat, a repeated
    sequence: the generated source computes what the IR says (flat forward, optimize)."""
    through_everything(PLACEMENTS)


@pytest.mark.parametrize("body, code, line", [
    ("a: conv(8)\n  concat { identity; identity from nope }", "E113", 4),
    ("a: conv(8)\n  split(4, 4) { identity; identity from a }", "E114", 4),
    ("a: conv(8)\n  sum { identity; identity from a } x2", "E114", 4),
    ("a: conv(8) when false\n  sum { identity; identity from a }", "E113", 4),
    ("{ a: conv(8) }\n  sum { identity; identity from a }", "E113", 4),
])
def test_from_on_a_branch_is_checked(body, code, line, tmp_path):
    spec = tmp_path / "bad.incp"
    spec.write_text(f"network n {{\n  input 8x8x8\n  {body}\n}}\n")
    result = api.analyze(spec)
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [(code, line)]
