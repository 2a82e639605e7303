"""`conv_transpose(out, kernel, stride, pad, output_padding, groups, dilation, bias)`
(inception_dsl/ops/conv_transpose.py): nn.ConvTranspose2d through every consumer, its
output size against PyTorch's, parameters and MACs against FlopCounterMode, BatchNorm
folded into it exactly, and its located errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.ir import Op
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph

from .op_checks import through_everything

CASES = [  # call, in_channels, (stride, padding, output_padding, groups, dilation)
    ("conv_transpose(6, 2x2, stride=2)", 4, ((2, 2), (0, 0), (0, 0), 1, (1, 1))),
    ("conv_transpose(6, 3x3, stride=2, pad=1, output_padding=1)", 4, ((2, 2), (1, 1), (1, 1), 1, (1, 1))),
    ("conv_transpose(8, (3, 5), stride=(2, 3), pad=(1, 2), output_padding=(1, 0), groups=2, bias=false)", 4,
     ((2, 3), (1, 2), (1, 0), 2, (1, 1))),
    ("conv_transpose(4, 3x3, dilation=2, output_padding=1)", 6, ((1, 1), (0, 0), (1, 1), 1, (2, 2))),
    ("conv_transpose(6, 4x4, stride=2, pad=3, groups=6)", 6, ((2, 2), (3, 3), (0, 0), 6, (1, 1))),
]


@pytest.mark.parametrize("call, channels, options", CASES, ids=[c[0] for c in CASES])
def test_equals_conv_transpose2d(call, channels, options):
    stride, padding, output_padding, groups, dilation = options
    text = f"network n {{\n  input {channels}x5x4\n  t: {call}\n}}\n"

    def reference(model, x):
        layer = model.t
        return F.conv_transpose2d(x, layer.weight, layer.bias, stride, padding, output_padding, groups, dilation)

    model = through_everything(text, reference, labels=("Transposed Conv",))
    assert isinstance(model.t, torch.nn.ConvTranspose2d)
    expected = reference(model, torch.zeros(1, channels, 5, 4)).shape[1:]
    assert analyze_text(text).graph.node("t").shape == tuple(expected)


UNET_UP = """
network n {
  input 8x4x4
  up: conv_transpose(6, 3x3, stride=2, pad=1, output_padding=1, bias=false)
  bn
  relu
  g: conv_transpose(6, 2x2, stride=2, groups=3)
  bn(eps=0.001)
  conv(4, 3x3)
}
"""


def test_batchnorm_after_a_transposed_conv_folds_exactly():
    """through_everything compares every optimize pass (and all of them) with the
    unoptimized eval output, BN statistics randomized; here both BNs are gone."""
    through_everything(UNET_UP)
    graph = analyze_text(UNET_UP).graph
    optimized, recipes = optimize_graph(graph, ("fold_bn",))
    assert not [n for n in optimized.nodes() if n.op is Op.BN]
    assert optimized.node("up").attrs["bias"] and optimized.node("g").attrs["bias"]


def test_residual_scale_folds_into_a_transposed_conv():
    text = ("network n {\n  input 4x6x6\n  residual(scale=0.2) { conv_transpose(4, 3x3, pad=1) }\n}\n")
    through_everything(text)
    optimized, _ = optimize_graph(analyze_text(text).graph, ("fold_residual_scale",))
    assert not [n for n in optimized.nodes() if n.op is Op.SCALE]


def test_parameters_reach_the_standalone_constructor():
    text = ("block up(out, s = 2) {\n  conv_transpose(out, s, stride=s)\n  relu\n}\n"
            "network n {\n  input 3x4x4\n  a: up(8)\n  b: up(4, s=3)\n  flatten\n  linear(2)\n}\n")
    source = to_python(analyze_text(text))
    assert "nn.ConvTranspose2d(in_channels, out, s, stride=s)" in source
    assert "* 576, 2)" in source  # 4x4 -> 8x8 -> 24x24 grid positions
    through_everything(text)


@pytest.mark.parametrize("call, code, column, words", [
    ("conv_transpose(8, 3x3, stride=2, output_padding=2)", "E105", 36, "must be smaller than the stride 2"),
    ("conv_transpose(8, 3x3, output_padding=1)", "E105", 26, "drop output_padding"),
    ("conv_transpose(8, 3x3, pad=same)", "E105", 26, "not `same`"),
    ("conv_transpose(8, 3x3, pad=-1)", "E112", 26, "at least 0"),
    ("conv_transpose(0, 3x3)", "E112", 18, "at least 1"),
    ("conv_transpose(8, 3x3, groups=4)", "E207", 3, "must divide both its 6 input and 8 output channels"),
    ("conv_transpose(8, 3x3, pad=4)", "E203", 3, "output size would be -2x-2"),
    ("conv_transpose(8)", "E104", 3, "kernel"),
])
def test_errors_are_located_with_fixes(call, code, column, words):
    result = analyze_text(f"network n {{\n  input 6x4x4\n  {call}\n}}\n")
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code.id, diagnostic.primary_span.line, diagnostic.primary_span.column) == (code, 3, column)
    assert words in diagnostic.message + " " + (diagnostic.help or ""), diagnostic.message


def test_lint_warns_of_a_bias_before_batchnorm():
    from inception_dsl.lint.linter import lint_spec

    text = "network n {\n  input 4x4x4\n  conv_transpose(4, 2x2, stride=2)\n  bn\n}\n"
    (finding,) = lint_spec("t.incp", text=text)
    assert (finding.code.id, finding.primary_span.line) == ("W106", 3)
    assert "transposed conv" in finding.message and "bias=false" in finding.help


def test_check_counts_transposed_convs_as_weighted_layers(tmp_path, capsys):
    from inception_dsl.cli import main

    spec = tmp_path / "t.incp"
    spec.write_text("network n {\n  input 4x4x4\n  conv(4, 1x1)\n  conv_transpose(4, 2x2, stride=2)\n}\n")
    assert main(["check", str(spec)]) == 0
    assert "2 weighted layers (1 conv, 1 transposed conv, 0 linear)" in capsys.readouterr().out


def test_the_general_converter_carries_a_reference_with_a_transposed_conv():
    from torch import nn

    import inception_dsl
    from inception_dsl.runtime.interop import convert_state_dict

    torch.manual_seed(0)
    reference = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                              nn.ConvTranspose2d(8, 4, 2, stride=2), nn.Upsample(scale_factor=2.0, mode="bilinear"),
                              nn.AdaptiveMaxPool2d(1)).eval()
    model = inception_dsl.loads("network n {\n  input 3x6x6\n  conv(8, 3x3)\n  conv_transpose(4, 2x2, stride=2)\n"
                                "  upsample(2, mode=bilinear)\n  global_maxpool\n}\n").eval()
    model.load_state_dict(convert_state_dict(reference=reference, model=model, input_size=6), strict=True)
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


ALL_NEW = """
network n {
  input 3x8x8
  conv(12, 3x3, stride=2)
  channel_shuffle(3)
  t: conv_transpose(8, 3x3, stride=2, pad=1, output_padding=1, groups=4, bias=false)
  bn
  relu
  upsample(2, mode=bilinear)
  adaptive_maxpool(4)
  conv(6, 1x1)
  global_maxpool
  flatten
  linear(3)
}
"""


def test_compile_optimize_writes_the_new_ops_and_computes_the_same(tmp_path):
    from inception_dsl import api
    from inception_dsl.cli import main
    from inception_dsl.runtime.graph_module import GraphModule
    from inception_dsl.runtime.optimized_module import optimize

    from .test_optimize_passes import randomized

    spec, out = tmp_path / "n.incp", tmp_path / "n_opt.py"
    spec.write_text(ALL_NEW)
    assert main(["compile", str(spec), "--optimize", "-o", str(out)]) == 0
    namespace: dict = {}
    exec(compile(out.read_text(encoding="utf-8"), str(out), "exec"), namespace)
    standalone = next(v for k, v in namespace.items() if k.endswith("Optimized"))()
    torch.manual_seed(0)
    reference = randomized(GraphModule(api.require(api.analyze(spec)))).eval()
    standalone.load_state_dict(optimize(reference).state_dict(), strict=True)
    assert not [m for m in standalone.modules() if isinstance(m, torch.nn.BatchNorm2d)]  # both folded, one into `t`
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(standalone(x), reference(x), rtol=1e-4, atol=1e-4)
    through_everything(ALL_NEW)
