"""The general converter's pairing of layers that hold their own tensors (a block's layer
scale, used after its children ran) and of size-one dimensions, on hand-written modules.
The modern references that need it (ConvNeXt-T, InceptionNeXt-T) follow as their
operations land."""

from __future__ import annotations

import torch
from torch import nn

from inception_dsl.runtime.interop import GENERIC, Layer, execution_order

class _ScaledBlock(nn.Module):
    """A hand-written ConvNeXt-like block: its layer scale is its own (C, 1, 1) parameter,
    used after its children ran, and its pointwise layers are Linear on channels-last
    features with a LayerNorm over the last dimension."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pointwise = nn.Linear(dim, 2 * dim)
        self.project = nn.Linear(2 * dim, dim)
        self.scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x):
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.project(nn.functional.gelu(self.pointwise(y))).permute(0, 3, 1, 2)
        return x + self.scale * y


class _ScaledNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, stride=2)
        self.block = _ScaledBlock()
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.block(self.stem(x)).mean((2, 3)))


def test_a_blocks_own_parameter_is_ordered_by_its_use_not_by_its_module():
    """A forward pre-hook would put `block` (holding `scale`) before its children; the
    first use of `scale` comes after them, which is where our layer scale is defined."""
    order = execution_order(_ScaledNet(), 16)
    assert [(layer.name, layer.role) for layer in order] == [
        ("stem", "conv"), ("block.dwconv", "conv"), ("block.norm", "layernorm"), ("block.pointwise", "linear"),
        ("block.project", "linear"), ("block", GENERIC), ("head", "linear")]
    assert order[5].shapes == (("scale", (8, 1, 1)),)


def test_layers_pair_up_to_size_one_dimensions_only_when_one_is_generic():
    scale = Layer("block", GENERIC, (("layer_scale", (8, 1, 1)),))
    gamma = Layer("ls", GENERIC, (("gamma", (8,)),))
    assert gamma.key_pairs(scale) == [("gamma", "layer_scale")]
    norm = Layer("norm", "layernorm", (("bias", (8,)), ("weight", (8,))))
    custom = Layer("ln", GENERIC, (("bias", (8,)), ("weight", (8,))))  # a hand-written LayerNorm module
    assert norm.key_pairs(custom) == [("bias", "bias"), ("weight", "weight")]
    assert not gamma.matches(Layer("ls", GENERIC, (("gamma", (16,)),)))
    assert not Layer("a", "batchnorm", (("weight", (8,)),)).matches(Layer("b", "layernorm", (("weight", (8,)),)))
    assert not gamma.matches(norm)  # one tensor against two
