"""List arguments: `conv(out, [3x3, 5x5, 7x7], ...)` (inception_dsl/ops/mixed_conv.py), one
kernel per channel group as MixNet's mixed conv, against timm's MixedConv2d (depthwise and
full, the first group taking the remainder) through every consumer; `fmt` keeps the list;
a list where a layer takes one value, or one of the wrong length, is a located E105."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze_text
from inception_dsl.language.fmt import fmt

from .op_checks import through_everything

timm_layers = pytest.importorskip("timm.layers")


def _timm_mixed(model, name, cin, cout, kernels, stride=1, depthwise=False):
    ours = model.get_submodule(name)
    conv = getattr(ours, "conv", ours)
    ref = timm_layers.MixedConv2d(cin, cout, kernels, stride=stride, padding="", depthwise=depthwise)
    ref.load_state_dict({k: v for k, v in conv.state_dict().items()})
    return ref


@pytest.mark.parametrize("cin, cout, kernels, stride, depthwise", [
    (13, 13, [3, 5, 7], 1, True), (12, 8, [3, 5], 1, False), (8, 10, [1, 3], 2, False), (16, 16, [3, 5, 7, 9], 2, True)])
def test_equals_timms_mixed_conv2d(cin, cout, kernels, stride, depthwise):
    written = ", ".join(f"{k}x{k}" for k in kernels)
    groups = f", groups={cout}" if depthwise else ""
    text = f"network n {{\n  input {cin}x11x11\n  m: conv({cout}, [{written}], stride={stride}{groups}, bias=false, bn=false, act=identity)\n}}\n"

    def reference(model, x):
        return _timm_mixed(model, "m", cin, cout, kernels, stride, depthwise)(x)

    model = through_everything(text, reference)
    first = cout - cout // len(kernels) * (len(kernels) - 1)  # the first group takes the remainder
    assert [conv.out_channels for conv in model.m.values()] == [first] + [cout // len(kernels)] * (len(kernels) - 1)
    assert fmt(text, "n.incp") == text


def test_with_batchnorm_and_activation_the_groups_are_children_of_conv():
    text = "network n {\n  input 12x8x8\n  conv_dw: conv(12, [3x3, 5x5, 7x7], groups=12, act=silu)\n}\n"
    model = through_everything(text)
    keys = {k for k in model.state_dict() if k.endswith("weight")}
    assert keys == {"conv_dw.conv.0.weight", "conv_dw.conv.1.weight", "conv_dw.conv.2.weight", "conv_dw.bn.weight"}
    assert [model.conv_dw.conv[str(i)].out_channels for i in range(3)] == [4, 4, 4]
    graph = analyze_text(text).graph
    assert graph.node("conv_dw.conv.0").attrs["kernel"] == (3, 3) and graph.node("output").shape == (12, 8, 8)


@pytest.mark.parametrize("layer, message", [
    ("conv(8, 3x3, stride=[1, 2])", "`stride` of `conv` takes one value, not the list `[1, 2]`"),
    ("maxpool([3, 5])", "`kernel` of `maxpool` takes one value"),
    ("conv(2, [3x3, 5x5, 7x7])", "a list of 3 kernels splits the channels into 3 groups"),
    ("conv(8, [3x3, 5x5], groups=2)", "a kernel list takes groups=1 or a depthwise conv"),
    ("conv(8, [3x3, relu])", "each kernel of the list must be a size"),
    ("conv(8, [3x3, 5x5], stride=2, tf_same)", "`tf_same` is not taken with a kernel list"),
])
def test_a_list_where_it_does_not_fit_is_located(layer, message):
    result = analyze_text(f"network n {{\n  input 8x8x8\n  {layer}\n}}\n")
    assert not result.ok
    diagnostic = result.diagnostics[0]
    assert diagnostic.code.id == "E105" and message in diagnostic.message, diagnostic.message
    assert diagnostic.primary_span.line == 3 and diagnostic.help
