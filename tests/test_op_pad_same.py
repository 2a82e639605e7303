"""TensorFlow's SAME padding computed from the input size (`conv(..., tf_same)`,
inception_dsl/ops/pad_same.py), against timm's Conv2dSame / create_conv2d(padding='same'):
exact at the declared size through every consumer, and the loaded module, the flat forward
and the optimized module stay exact at other input sizes (where a written
`pad=(0, 1, 0, 1)` is right at one parity only)."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze_text, loads
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.ops.pad_same import same_total
from inception_dsl.runtime.graph_module import GraphModule, optimize_graph_module

from .op_checks import through_everything

timm_layers = pytest.importorskip("timm.layers")


def _timm_conv(model, name, kernel, stride, dilation=1, groups=1, bias=False):
    """timm's create_conv2d with TF padding, holding the weights of `model.<name>`."""
    ours = model.get_submodule(name)
    conv = getattr(ours, "conv", ours)
    ref = timm_layers.create_conv2d(conv.in_channels, conv.out_channels, kernel, stride=stride, dilation=dilation,
                                    groups=groups, padding="same", bias=bias)
    ref.load_state_dict(conv.state_dict())
    return ref


@pytest.mark.parametrize("size", [16, 17, 33])
@pytest.mark.parametrize("kernel, stride, dilation", [(3, 2, 1), (5, 2, 1), (2, 2, 1), (3, 1, 1), (4, 1, 1), (3, 2, 2),
                                                      (1, 2, 1)])
def test_a_linear_conv_equals_timms_conv2d_same(size, kernel, stride, dilation):
    text = (f"network n {{\n  input 4x{size}x{size}\n"
            f"  c: conv(6, {kernel}x{kernel}, stride={stride}, dilation={dilation}, tf_same, linear)\n}}\n")
    through_everything(text, lambda model, x: _timm_conv(model, "c", kernel, stride, dilation, bias=True)(x))


def test_the_loaded_flat_and_optimized_modules_follow_the_input_size():
    """The spec declares 3x32x32; at 31, 32, 33 and 35 every module pads as timm does."""
    text = ("network n {\n  input 3x32x32\n  a: conv(8, 3x3, stride=2, tf_same)\n"
            "  b: conv(8, 5x5, stride=2, groups=8, tf_same, bn=false, act=relu)\n  c: conv(4, 1x1)\n}\n")
    model = through_everything(text)
    graph = analyze_text(text).graph
    flat = GraphModule(graph, state_dict=model.state_dict()).eval()
    optimized = optimize_graph_module(graph, model.state_dict())
    a, b = _timm_conv(model, "a", 3, 2), _timm_conv(model, "b", 5, 2, groups=8, bias=True)
    for size in (31, 32, 33, 35):
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            expected = model.c(torch.relu(b(torch.relu(model.a.bn(a(x))))))
            for module in (model, flat, optimized):
                torch.testing.assert_close(module(x), expected, rtol=1e-4, atol=1e-4)
        assert expected.shape[-1] == -(-size // 4)


def test_check_gives_ceil_of_the_input_over_the_stride_and_the_diagram_says_tf_same():
    text = "network n {\n  input 3x225x224\n  a: conv(8, 3x3, stride=2, tf_same)\n  b: conv(8, 3x3, tf_same)\n}\n"
    result = analyze_text(text)
    assert result.ok
    assert result.graph.node("a.pad").shape == (3, 227, 225)  # (0, 1) rows after, where 225 is odd: 1 + 1
    assert result.graph.node("output").shape == (8, 113, 112)
    assert "b.pad" not in {n.id for n in result.graph.nodes()}  # stride 1: TF's SAME is `same`, no node
    dot = to_dot(result.graph)  # its own box before the conv, which pads nothing itself
    assert "TF same pad (3x3 stride 2)\\n3x227x225" in dot and "3x3 Conv (8 stride 2 V)" in dot


@pytest.mark.parametrize("size, kernel, stride, dilation, total", [(224, 3, 2, 1, 1), (225, 3, 2, 1, 2),
                                                                   (7, 1, 2, 1, 0), (10, 5, 3, 1, 4), (9, 3, 1, 2, 4)])
def test_same_total_is_timms_get_same_padding(size, kernel, stride, dilation, total):
    assert same_total(size, kernel, stride, dilation) == total == \
        timm_layers.get_same_padding(size, kernel, stride, dilation)


def test_a_block_parameter_may_say_tf_same():
    text = ("block down(p) {\n  conv(8, 3x3, stride=2, pad=p)\n}\n"
            "network n {\n  input 3x17x17\n  a: down(tf_same)\n  b: down(same)\n}\n")
    model = through_everything(text)
    assert (type(model.a.conv0).__name__, type(model.b.conv0).__name__) == ("ConvBnActSame", "ConvBnAct")
    x = torch.randn(1, 3, 17, 17)
    assert model(x).shape == (1, 8, 5, 5)
    assert loads(text, path="n.incp")(torch.randn(1, 3, 18, 18)).shape == (1, 8, 5, 5)


@pytest.mark.parametrize("word, fill", [("maxpool", "-inf"), ("avgpool", "zero")])
def test_pools_equal_timms_pool2d_same_at_other_sizes(word, fill):
    text = f"network n {{\n  input 3x16x16\n  p: {word}(3x3, stride=2, tf_same)\n}}\n"
    reference = timm_layers.create_pool2d("max" if word == "maxpool" else "avg", 3, stride=2, padding="same")
    model = through_everything(text, lambda model, x: reference(x))
    graph = analyze_text(text).graph
    assert graph.node("p.pad").attrs["fill"] == fill
    flat = GraphModule(graph, state_dict=model.state_dict()).eval()
    for size in (15, 16, 17):
        x = torch.rand(1, 3, size, size) - 3  # negative: a zero pad would win a max
        with torch.no_grad():
            torch.testing.assert_close(model(x), reference(x))
            torch.testing.assert_close(flat(x), reference(x))


def test_a_padding_expression_that_may_say_tf_same_is_chosen_when_built():
    """`pad=(0, 1, 0, 1) if stride == 2 else tf_same`: the generated class is picked from the
    whole expression (it was written unparenthesized: a SyntaxError in the generated file)."""
    text = ("block down(stride) {\n  conv(8, 3x3, stride=stride, pad=(0, 1, 0, 1) if stride == 2 else tf_same)\n}\n"
            "network n {\n  input 3x16x16\n  a: down(2)\n  b: down(1)\n}\n")
    model = through_everything(text)
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 8, 8, 8)
