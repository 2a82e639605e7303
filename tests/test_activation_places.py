"""Every activation of the table (ops/activations.py, plus those op modules register), in
every place a spec can name one: the bare word, `act(kind)`, a block parameter (`act(k)`,
`conv(..., act=k)`), `residual(act=)`, `set act`, and the word with its parameters away
from their defaults. Each computes what torch's own module computes, in `load()` (the
standalone source), the flat graph module and `optimize()`. Parametrized over the
registry: a new activation is tested here without an edit."""

from __future__ import annotations

import pytest
import torch
from timm.models.metaformer import SquaredReLU
from torch import nn

from inception_dsl.decompiler import decompile
from inception_dsl.decompiler.verify import verify
from inception_dsl.ops.activations import ACTIVATIONS

from .test_ops_activations import _all_forms

KINDS = sorted(ACTIVATIONS)
# activations torch has no module for (generated files hold the `Activation` helper), and an
# implementation of each to compare with
NOT_IN_TORCH = {"squared_relu": SquaredReLU}


def torch_module(kind: str, values: dict | None = None) -> nn.Module:
    """torch's module for the activation, built from its declared class and keywords (where
    torch has none, the implementation of NOT_IN_TORCH)."""
    act = ACTIVATIONS[kind]
    if not act.module:
        return NOT_IN_TORCH[kind]()
    keywords = {p.keyword: (values or {})[p.name] for p in act.params if p.name in (values or {})}
    return getattr(nn, act.module.removeprefix("nn."))(**keywords)


def _x(*shape):
    torch.manual_seed(0)
    return torch.randn(2, *shape) * 3  # wide enough to reach every piece of the piecewise ones


def _close(forms, x, expected, atol=1e-5):
    loaded, flat, optimized = forms
    with torch.no_grad():
        for module in (loaded, flat):
            torch.testing.assert_close(module(x), expected, rtol=0, atol=atol)
        torch.testing.assert_close(optimized(x), expected, rtol=1e-4, atol=1e-4)  # BN folded next to it


def _convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)], [m for m in model.modules()
                                                                         if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize("kind", KINDS)
def test_word_act_block_parameter_conv_and_residual(kind):
    text = f"""block unit(k) {{
      act(k)
      conv(4, 1x1, act=k)
      residual(act=k) {{ conv(4, 1x1, linear) }}
    }}
    network n {{ input 4x5x5; {kind}; act({kind}); unit({kind}) }}"""
    forms = _all_forms(text)
    f = torch_module(kind)
    (conv, plain), (bn,) = _convs(forms[0])
    x = _x(4, 5, 5)
    with torch.no_grad():
        y = f(f(f(x)))  # the word, act(kind), act(k) in the block
        y = f(bn(conv(y)))
        expected = f(y + plain(y))
    _close(forms, x, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_set_act_is_the_conv_default(kind):
    text = f"set act = {kind}\nnetwork n {{ input 3x5x5; conv(4, 3x3); residual {{ conv(4, 1x1, linear) }} }}"
    forms = _all_forms(text)
    f = torch_module(kind)
    (conv, plain), (bn,) = _convs(forms[0])
    x = _x(3, 5, 5)
    with torch.no_grad():
        y = f(bn(conv(x)))
        expected = f(y + plain(y))
    _close(forms, x, expected)


def _away_from_defaults(kind: str) -> dict:
    values = {}
    for p in ACTIVATIONS[kind].params:
        if p.choices:
            values[p.name] = next(c for c in p.choices if c != p.default)
        else:
            values[p.name] = p.default / 2 if p.default else 0.5
    return values


PARAMETERIZED = [k for k in KINDS if ACTIVATIONS[k].params]


@pytest.mark.parametrize("kind", PARAMETERIZED)
def test_parameterized_word_and_its_defaults_everywhere_else(kind):
    values = _away_from_defaults(kind)
    written = ", ".join(f"{name}={value}" for name, value in values.items())
    text = f"network n {{ input 4x5x5; {kind}({written}); conv(4, 1x1, act={kind}) }}"
    forms = _all_forms(text)
    (conv,), (bn,) = _convs(forms[0])
    x = _x(4, 5, 5)
    with torch.no_grad():
        expected = torch_module(kind)(bn(conv(torch_module(kind, values)(x))))
    _close(forms, x, expected)


def test_the_table_is_not_empty_and_has_parameterized_forms():
    assert {"relu", "gelu", "elu", "leaky_relu", "identity"} <= set(KINDS)
    assert "gelu" in PARAMETERIZED and _away_from_defaults("gelu") == {"approximate": "tanh"}


def test_gelu_tanh_is_not_plain_gelu_anywhere():
    """The bug this table fixed: a parameterized gelu written as plain F.gelu(x)."""
    forms = _all_forms("network n { input 4x5x5; gelu(approximate=tanh) }")
    x = _x(4, 5, 5)
    expected = nn.functional.gelu(x, approximate="tanh")
    _close(forms, x, expected, atol=1e-6)
    assert not torch.allclose(nn.functional.gelu(x), expected, atol=1e-6)


@pytest.mark.parametrize("kind", [k for k in KINDS if ACTIVATIONS[k].module])  # it reads torch's modules
def test_the_decompiler_reads_it_back_with_its_parameters(kind):
    """torch's module (parameters away from their defaults) after a conv: decompiled to a
    spec that computes the same (inception_dsl/decompiler reads the same table)."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), torch_module(kind, _away_from_defaults(kind))).eval()
    result = decompile(model, (3, 8, 8))
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok and checked.max_error < 1e-5, checked.message
