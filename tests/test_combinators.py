"""`product`, `sum` and `split(...)`: each against a hand-written torch equivalent (the
module `load()` builds, the standalone source `compile` writes, and the optimized
module), parameter and MAC counts against the built module, fmt round trips."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import inception_dsl
from inception_dsl import api
from inception_dsl.backends.python.source import to_python
from inception_dsl.backends.summary import to_summary
from inception_dsl.language.diagnostics import DiagnosticSink
from inception_dsl.language.fmt import fmt
from inception_dsl.language.parse import parse
from inception_dsl.language.source import SourceFile

from .backend_helpers import import_file

SE = """
block se(r) {
  product {
    identity;
    _: { global_avgpool; fc1: conv(r, 1x1, bn=false); fc2: conv(in_channels, 1x1, bn=false, act=identity) }
  }
}

network gated {
  input 16x9x9
  stem: conv(16, 3x3)
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


def _randomize(model: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 2)
                module.bias.uniform_(-1, 1)
    return model.eval()


def _all_forms(text: str, tmp_path, name: str):
    """(load()'s module, the compiled file's module with its weights, optimize()'s)."""
    spec = tmp_path / f"{name}.incp"
    spec.write_text(text)
    model = _randomize(inception_dsl.load(spec, seed=0))
    result = api.analyze(spec)
    (tmp_path / f"{name}.py").write_text(to_python(result))
    compiled = getattr(import_file(tmp_path / f"{name}.py", f"combinators_{name}"), "".join(
        part.capitalize() for part in result.graph.name.split("_")))()
    compiled.load_state_dict(model.state_dict())
    optimized = inception_dsl.optimize(spec, model.state_dict())
    return model, compiled.eval(), optimized


def _check(forms, reference, x):
    expected = reference(x)
    for form in forms:
        assert torch.equal(form(x), expected) if form is not forms[-1] else \
            torch.allclose(form(x), expected, atol=1e-5)


def test_squeeze_and_excitation_equals_torchvision(tmp_path):
    from torchvision.ops import SqueezeExcitation

    forms = _all_forms(SE, tmp_path, "gated")
    model = forms[0]
    se = SqueezeExcitation(16, 4, scale_activation=nn.Identity).eval()
    se.load_state_dict({k[len("gate."):]: v for k, v in model.state_dict().items() if k.startswith("gate.")})
    assert set(model.state_dict()) >= {"gate.fc1.weight", "gate.fc1.bias", "gate.fc2.weight", "gate.fc2.bias"}

    def reference(x):
        return model.head(se(model.stem(x)))

    _check(forms, reference, torch.randn(2, 16, 9, 9))


def test_split_by_count_and_by_sizes(tmp_path):
    forms = _all_forms(SPLITS, tmp_path, "splits")
    model = forms[0]

    def reference(x):
        a, b = torch.split(x, 6, 1)
        x = torch.cat((a, model.halves.branch1(b)), 1)
        a, b, c = torch.split(x, (6, 2, 4), 1)
        return torch.cat((torch.relu(a), model.bands.branch1(b), model.bands.branch2(c)), 1)

    _check(forms, reference, torch.randn(2, 12, 6, 6))


def test_n_way_sum_broadcasts_a_pooled_branch(tmp_path):
    forms = _all_forms(SUMS, tmp_path, "sums")
    model = forms[0]

    def reference(x):
        conv = model.sum0.branch1
        return model.bn1(x + conv(x) + x.mean((2, 3), keepdim=True))

    _check(forms, reference, torch.randn(2, 8, 6, 6))


@pytest.mark.parametrize("text", [SE, SPLITS, SUMS], ids=["product", "split", "sum"])
def test_summary_counts_equal_the_built_module(text, tmp_path):
    spec = tmp_path / "n.incp"
    spec.write_text(text)
    result = api.analyze(spec)
    model = inception_dsl.load(spec)
    summary = to_summary(result.graph)
    assert summary.params == sum(p.numel() for p in model.parameters())
    from torch.utils.flop_counter import FlopCounterMode

    shape = result.graph.input_node.shape
    with FlopCounterMode(display=False) as counter:
        model.eval()(torch.randn(1, *shape))
    assert summary.macs == counter.get_total_flops() // 2


@pytest.mark.parametrize("text", [SE, SPLITS, SUMS], ids=["product", "split", "sum"])
def test_fmt_round_trip(text):
    once = fmt(text)
    assert fmt(once) == once
    sink = DiagnosticSink()
    assert parse(SourceFile("<a>", once), sink) == parse(SourceFile("<b>", text), sink)
    assert not sink.has_errors


def test_fmt_keeps_split_sizes_and_the_one_line_forms():
    text = "network n {\n  input 8x4x4\n  split(in_channels-2,2) { relu; identity }\n  product { identity; relu }\n}\n"
    assert fmt(text) == ("network n {\n  input 8x4x4\n  split(in_channels - 2, 2) {\n    relu\n    identity\n  }\n"
                         "  product {\n    identity\n    relu\n  }\n}\n")


SKIPS = """
network skips {
  input 8x8x8
  a: conv(8, 3x3)
  b: conv(16, 3x3)
  pool: maxpool(3x3)
  concat { identity; identity from a }
  sum { identity; conv(24, 1x1) from a; { global_avgpool; conv(24, 1x1, bn=false) } from b }
  gate: product { identity; { global_avgpool; conv(24, 1x1, bn=false, act=identity) } from a }
}
"""


def test_branches_read_earlier_labels_with_from(tmp_path):
    forms = _all_forms(SKIPS, tmp_path, "skips")
    model = forms[0]

    def reference(x):
        a = model.a(x)
        b = model.b(a)
        y = torch.cat((model.pool(b), a), 1)
        y = y + model.sum4.branch1(a) + model.sum4.branch2(b)
        return y * model.gate.branch1(a)

    _check(forms, reference, torch.randn(2, 8, 8, 8))


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
