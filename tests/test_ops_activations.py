"""The activation words (ops/activations.py): each computes exactly torch's module, as a
layer word, as `act=` of a conv (with and without BN) and of a residual, and as `act(kind)`
with the kind given by a block parameter; through `load()` (the generated source), the
flat graph module and `optimize()` (BN folded next to them)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.python.source import to_python
from inception_dsl.runtime.graph_module import GraphModule
from inception_dsl.runtime.optimized_module import optimize

from .test_optimize_passes import randomized

TORCH = {
    "sigmoid": nn.Sigmoid(), "hardsigmoid": nn.Hardsigmoid(), "hardswish": nn.Hardswish(), "tanh": nn.Tanh(),
    "mish": nn.Mish(), "elu": nn.ELU(), "leaky_relu": nn.LeakyReLU(), "relu": nn.ReLU(), "gelu": nn.GELU(),
}
NEW = ["sigmoid", "hardsigmoid", "hardswish", "tanh", "mish", "elu", "leaky_relu"]


def _x(*shape):
    torch.manual_seed(0)
    return torch.randn(2, *shape) * 3  # wide enough to reach every piece of the piecewise ones


def _all_forms(text: str):
    """The network of `text` as loaded (generated source), as a flat graph module and optimized,
    with the same randomized weights and statistics, in eval mode."""
    result = analyze_text(text)
    assert result.ok, result.diagnostics
    torch.manual_seed(0)
    loaded = randomized(inception_dsl.loads(text)).eval()
    flat = GraphModule(result.graph).eval()
    flat.load_ir_state_dict(loaded.state_dict())
    return loaded, flat, optimize(flat)


def _same(forms, x, expected):
    with torch.no_grad():
        for module in forms:
            torch.testing.assert_close(module(x), expected, rtol=0, atol=1e-6)


def test_layer_words_compute_torch_modules_with_their_parameters():
    text = """network acts {
      input 4x5x5
      sigmoid; hardsigmoid; hardswish; tanh; mish
      elu(alpha=0.5); leaky_relu(0.2); elu; leaky_relu
    }"""
    chain = [nn.Sigmoid(), nn.Hardsigmoid(), nn.Hardswish(), nn.Tanh(), nn.Mish(), nn.ELU(alpha=0.5),
             nn.LeakyReLU(negative_slope=0.2), nn.ELU(), nn.LeakyReLU()]
    x = _x(4, 5, 5)
    _same(_all_forms(text), x, nn.Sequential(*chain)(x))


@pytest.mark.parametrize("kind", NEW)
def test_act_argument_of_conv_with_and_without_bn(kind):
    text = f"""network convs {{
      input 3x6x6
      a: conv(4, 3x3, act={kind})
      b: conv(5, 1x1, bn=false, act={kind})
    }}"""
    loaded, flat, optimized = _all_forms(text)
    x = _x(3, 6, 6)
    with torch.no_grad():
        y = TORCH[kind](loaded.a.bn(loaded.a.conv(x)))
        expected = TORCH[kind](nn.functional.conv2d(y, loaded.b.weight, loaded.b.bias))
    _same((loaded, flat), x, expected)
    with torch.no_grad():  # BN folded into the conv next to the activation
        torch.testing.assert_close(optimized(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", NEW)
def test_act_from_a_block_parameter_and_on_a_residual(kind):
    text = f"""block unit(k) {{
      act(k)
      residual(act=k) {{ conv(4, 1x1, linear) }}
    }}
    network gated {{ input 4x3x3; unit({kind}) }}"""
    loaded, flat, optimized = _all_forms(text)
    x = _x(4, 3, 3)
    conv = next(m for m in loaded.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        y = TORCH[kind](x)
        expected = TORCH[kind](y + conv(y))
    _same((loaded, flat, optimized), x, expected)


def test_source_writes_the_modules_and_the_activate_helper():
    text = """block unit(k) { act(k); conv(4, 1x1, act=k) }
    network n { input 4x3x3; elu(0.5); leaky_relu(slope=0.3); hardswish; unit(mish) }"""
    source = to_python(analyze_text(text))
    assert "nn.ELU(alpha=0.5)" in source and "nn.LeakyReLU(negative_slope=0.3)" in source
    assert "nn.Hardswish()" in source
    assert 'if kind == "mish":\n        return F.mish(x, inplace=inplace)' in source
    assert 'if kind == "leaky_relu":\n        return F.leaky_relu(x, inplace=inplace)' in source


def test_diagram_labels_name_the_activation_and_a_non_default_parameter():
    result = analyze_text("""network n {
      input 3x8x8
      conv(8, 3x3, act=hardswish)
      l: leaky_relu(0.2)
      e: elu
    }""")
    dot = to_dot(result.graph)
    for expected in ("3x3 Conv (8)\\n+ Hardswish\\n", "LeakyReLU 0.2\\n", "ELU\\n"):
        assert f'label="{expected}' in dot, dot


@pytest.mark.parametrize("call, message", [
    ("elu(alpha=true)", "elu's alpha must be a number"),
    ("leaky_relu(slope=swish)", "unknown name `swish`"),
    ("conv(8, 1x1, act=swish)", "unknown activation `swish`"),
    ("act(hardswsh)", "unknown activation `hardswsh`"),
])
def test_bad_activation_arguments_are_located(call, message):
    result = analyze_text(f"network n {{\n  input 3x8x8\n  {call}\n}}")
    assert not result.ok
    diagnostic = result.diagnostics[0]
    assert message in diagnostic.message
    assert diagnostic.primary_span.line == 3
