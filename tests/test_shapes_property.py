"""shapes.py and infer_shapes agree with PyTorch's own layers on random sizes, kernels,
strides, paddings, dilations and ceil_mode, including the configurations PyTorch
refuses (the checker must refuse them too, with a located diagnostic)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_dsl import analyze_text
from inception_dsl.core.shapes import conv_out, pool_out, same_padding

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

sizes = st.integers(1, 24)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
dilations = st.integers(1, 3)


def torch_size(layer: torch.nn.Module, h: int, w: int, pad: tuple[int, int, int, int] | None = None):
    """(H, W) PyTorch gives, or None when it refuses the configuration."""
    x = torch.zeros(1, 1, h, w)
    try:
        with torch.no_grad():
            if pad is not None:
                x = F.pad(x, (pad[2], pad[3], pad[0], pad[1]))  # F.pad wants (left, right, top, bottom)
            y = layer(x)
    except RuntimeError:
        return None
    if min(y.shape[2:]) < 1:
        return None
    return tuple(y.shape[2:])


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, before=st.integers(0, 4), after=st.integers(0, 4), dilation=dilations)
def test_conv_out_matches_conv2d(size, kernel, stride, before, after, dilation):
    conv = torch.nn.Conv2d(1, 1, (kernel, 1), stride=(stride, 1), dilation=(dilation, 1), bias=False)
    expected = torch_size(conv, size, 1, pad=(before, after, 0, 0))
    ours = conv_out(size, kernel, stride, before, after, dilation)
    assert (ours if ours >= 1 else None) == (expected[0] if expected else None)


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, pad=st.integers(0, 4), dilation=dilations, ceil=st.booleans())
def test_pool_out_matches_maxpool2d(size, kernel, stride, pad, dilation, ceil):
    try:
        pool = torch.nn.MaxPool2d((kernel, 1), stride=(stride, 1), padding=(pad, 0), dilation=(dilation, 1), ceil_mode=ceil)
        expected = torch_size(pool, size, 1)
    except RuntimeError:
        expected = None
    ours = pool_out(size, kernel, stride, pad, ceil, dilation)
    if pad > kernel // 2:
        assert expected is None  # PyTorch refuses; infer_shapes refuses it before pool_out (below)
        return
    assert (ours if ours >= 1 else None) == (expected[0] if expected else None)


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, pad=st.integers(0, 3), ceil=st.booleans())
def test_pool_out_matches_avgpool2d(size, kernel, stride, pad, ceil):
    pool = torch.nn.AvgPool2d((kernel, 1), stride=(stride, 1), padding=(pad, 0), ceil_mode=ceil)
    expected = torch_size(pool, size, 1)
    if pad > kernel // 2:
        assert expected is None
        return
    ours = pool_out(size, kernel, stride, pad, ceil)
    assert (ours if ours >= 1 else None) == (expected[0] if expected else None)


@PROPERTY
@given(size=sizes, kernel=kernels, dilation=dilations)
def test_same_padding_keeps_the_size_at_stride_1(size, kernel, dilation):
    before, after = same_padding(kernel, dilation)
    assert before <= after <= before + 1
    conv = torch.nn.Conv2d(1, 1, (kernel, 1), dilation=(dilation, 1), bias=False)
    assert torch_size(conv, size, 1, pad=(before, after, 0, 0)) == (size, 1)


# -- the whole checker against a one-layer network ---------------------------------
def check_one_layer(h: int, w: int, layer: str):
    result = analyze_text(f"network n {{\n  input 1x{h}x{w}\n  {layer}\n}}\n")
    if result.ok:
        return tuple(result.graph.node("output").shape[1:])
    assert result.diagnostics, "rejected without a diagnostic"
    for diagnostic in result.diagnostics:
        assert diagnostic.primary_span is not None and diagnostic.primary_span.line == 3, diagnostic
    return None


@PROPERTY
@given(h=sizes, w=sizes, kernel=st.tuples(kernels, kernels), stride=st.tuples(strides, strides),
       pad=st.tuples(st.integers(0, 4), st.integers(0, 4)), dilation=st.tuples(dilations, dilations))
def test_checker_accepts_exactly_the_convs_torch_accepts(h, w, kernel, stride, pad, dilation):
    conv = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=pad, dilation=dilation, bias=False)
    layer = f"conv(1, {kernel[0]}x{kernel[1]}, stride={stride}, pad={pad}, dilation={dilation}, linear)"
    assert check_one_layer(h, w, layer) == torch_size(conv, h, w)


@PROPERTY
@given(h=sizes, w=sizes, kind=st.sampled_from(["max", "avg"]), kernel=st.tuples(kernels, kernels),
       stride=st.tuples(strides, strides), pad=st.tuples(st.integers(0, 4), st.integers(0, 4)), ceil=st.booleans())
def test_checker_accepts_exactly_the_pools_torch_accepts(h, w, kind, kernel, stride, pad, ceil):
    try:
        cls = torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d
        expected = torch_size(cls(kernel, stride=stride, padding=pad, ceil_mode=ceil), h, w)
    except RuntimeError:
        expected = None
    layer = f"{kind}pool({kernel[0]}x{kernel[1]}, stride={stride}, pad={pad}, ceil_mode={str(ceil).lower()})"
    assert check_one_layer(h, w, layer) == expected


@PROPERTY
@given(h=sizes, w=sizes, kernel=st.tuples(kernels, kernels), stride=st.tuples(strides, strides))
def test_checker_same_padding_matches_tf_same_in_torch(h, w, kernel, stride):
    """`pad=same` (the default) puts the odd pixel of an even kernel after, as TF does."""
    top, bottom = same_padding(kernel[0])
    left, right = same_padding(kernel[1])
    conv = torch.nn.Conv2d(1, 1, kernel, stride=stride, bias=False)
    expected = torch_size(conv, h, w, pad=(top, bottom, left, right))
    assert check_one_layer(h, w, f"conv(1, {kernel[0]}x{kernel[1]}, stride={stride}, linear)") == expected
