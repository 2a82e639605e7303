"""The decompiler's layers that take another tensor's size: `F.interpolate(y, size=z.shape[-2:])`
is `resize(to=z)` (`to=input` for the sequence's input), `F.pad` by the difference to another
tensor's grid (U-Net's skip) is `pad_to(z)`, `nn.ConvTranspose2d` is `conv_transpose`. Each
network compiles back to the same function; where the tensor is no earlier statement of the
sequence, an integer factor is `upsample(k)` as before."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from inception_dsl.decompiler import decompile
from inception_dsl.decompiler.verify import verify
from tests import decompile_models


class ToLabel(nn.Module):
    """LR-ASPP's head in small: back to an earlier map's size, 6 -> 11 (no integer factor)."""

    def __init__(self):
        super().__init__()
        self.low = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        low = self.low(x)
        y = F.interpolate(self.down(low), size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(y)


class ToInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        size = x.shape[-2:]
        return F.interpolate(self.down(x), size=size)


class UNetUp(nn.Module):
    """U-Net's decoder step: up-convolution, F.pad by the size difference, concat with the skip."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 4, 3, stride=2)
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)

    def forward(self, x):
        skip = self.enc(x)
        y = self.up(self.down(skip))
        dy, dx = skip.size()[2] - y.size()[2], skip.size()[3] - y.size()[3]
        y = F.pad(y, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return torch.cat([skip, y], dim=1)


class InBranch(nn.Module):
    """The size of the tensor a concat's branch forks from: no label of the branch names it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x):
        z = self.conv(x)
        return torch.cat([F.interpolate(self.down(z), size=z.shape[-2:]), z], dim=1)


def _exact(model, shape, *, strict=True) -> str:
    result = decompile(model, shape)
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok and checked.strict == strict and checked.max_error < 1e-5, checked.message
    return result.text


def test_interpolate_to_an_earlier_tensor_is_resize_to_its_label():
    text = _exact(ToLabel(), (3, 11, 11))
    assert "  low: conv(8, 3x3, bn=false, act=identity)\n  down: conv(8, 3x3, stride=2" in text
    assert "  resize(to=low, mode=bilinear)\n  head: conv(4, 1x1" in text


def test_interpolate_to_the_input_is_resize_to_input():
    text = _exact(ToInput(), (3, 11, 11))
    assert "  resize(to=input)\n}" in text  # nearest, the default


def test_a_segmentation_head_resizes_to_the_input():
    text = _exact(decompile_models.Segmenter(), (3, 16, 16))
    assert "resize(to=input, mode=bilinear)" in text and "upsample" not in text


def test_a_pad_to_the_skip_and_the_up_convolution():
    text = _exact(UNetUp(), (3, 11, 11))
    assert "  up: conv_transpose(4, 2x2, stride=2)\n  pad_to(enc)\n  concat {\n    identity from enc\n" in text


def test_a_size_no_label_names_is_an_integer_factor_or_read_from_a_tap():
    assert "upsample(2)" in _exact(InBranch(), (3, 8, 8))  # in the branch: the factor at this size
    text = _exact(InBranch(), (3, 11, 11))  # 6 -> 11: the concat follows the step, `conv` is tapped
    assert "  conv: conv(4, 1x1, bn=false, act=identity)\n  down: conv(4, 3x3, stride=2" in text
    assert "  resize(to=conv)\n  concat {\n    identity\n    identity from conv\n  }" in text
