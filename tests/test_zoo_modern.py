"""The modern references of docs/zoo.md: ShuffleNet V2 (split, channel shuffle), ConvNeXt-T
(LayerNorm over channels, pointwise Linear layers on channels-last features, layer scale,
stochastic depth) and InceptionNeXt-T (the Inception depthwise conv's channel bands). Each
spec checks with the reference's parameter count, and equals the reference through
convert_state_dict and through `inception-dsl convert`: random weights, random BatchNorm
statistics, random LayerNorm affines and layer scales (at their 1e-6 init the residual
branches would not count, and a converter that dropped them would pass), a 64x64 input,
max |diff| < 1e-4. Also the general converter's new cases, on hand-written references."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inception_dsl import analyze
from inception_dsl.passes.analyses.budget import total_params
from inception_dsl.runtime.interop import (GENERIC, Layer, build_reference, convert_state_dict, definition_order,
                                           execution_order)
from inception_dsl.runtime.module import load, loads

from .conftest import SPECS
from .test_interop import TOLERANCE, randomize_weights

# spec (specs/<name>.incp) -> (source, parameters of the reference with 1000 classes)
MODERN = {
    "shufflenet_v2_x1_0": ("torchvision:shufflenet_v2_x1_0", 2_278_604),
    "convnext_tiny": ("torchvision:convnext_tiny", 28_589_128),
    "inception_next_tiny": ("timm:inception_next_tiny", 28_055_680),
}


def randomize_all(model: nn.Module, generator: torch.Generator) -> None:
    """randomize_weights, then every other tensor a module holds itself (LayerNorm and
    GroupNorm affines, layer-scale vectors): near 1 for scales, near 0 for shifts."""
    randomize_weights(model, generator)
    known = (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, known):
                continue
            for name, tensor in module.named_parameters(recurse=False):
                if name == "bias":
                    tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
                else:
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)


def _reference(source: str, generator: torch.Generator, num_classes: int = 1000) -> nn.Module:
    """Built on the meta device (no slow initialisation), then given memory; a reference with
    an index table among its buffers (EfficientFormer's `attention_bias_idxs`, which
    `to_empty` would leave uninitialised) is built on the CPU."""
    with torch.device("meta"):
        reference = build_reference(source, num_classes=num_classes)
    indexed = any(not b.is_floating_point() for m in reference.modules()
                  if not isinstance(m, nn.modules.batchnorm._BatchNorm) for b in m.buffers(recurse=False))
    if indexed:
        reference = build_reference(source, num_classes=num_classes)
    else:
        reference.to_empty(device="cpu")
    randomize_all(reference, generator)
    return reference


def _assert_equal_outputs(reference: nn.Module, ours: nn.Module, generator: torch.Generator) -> None:
    x = torch.randn(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        expected, actual = reference.eval()(x), ours.eval()(x)
    assert expected.shape == actual.shape == (1, 1000)
    assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
    assert (expected - actual).abs().max().item() < TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODERN))
def test_the_spec_equals_its_reference(name, tmp_path):
    """Through convert_state_dict, and through `inception-dsl convert --from`, which must
    write the same tensors."""
    source, params = MODERN[name]
    generator = torch.Generator().manual_seed(17)
    reference, ours, converted = converted_pair(name, source, params, generator)
    _assert_equal_outputs(reference, ours, generator)
    assert_cli_converts_alike(name, source, reference, converted, tmp_path)


def converted_pair(name: str, source: str, params: int, generator: torch.Generator, num_classes: int = 1000):
    """The reference (randomized), specs/<name>.incp loaded with its converted weights, and
    those weights; both have `params` parameters."""
    result = analyze(SPECS / f"{name}.incp")
    assert result.ok and total_params(result.graph) == params
    reference = _reference(source, generator, num_classes)
    with torch.device("meta"):
        ours = load(SPECS / f"{name}.incp")
    assert sum(p.numel() for p in ours.parameters()) == params
    converted = convert_state_dict(reference.state_dict(), source=source, model=ours)
    ours.load_state_dict(converted, strict=True, assign=True)
    return reference.eval(), ours.eval(), converted


def assert_equal_at_sizes(reference: nn.Module, ours: nn.Module, generator: torch.Generator, sizes) -> None:
    """Both on a batch of 2 at each square size: max |diff| / max(1, max |out|) < 1e-4,
    the reference's output neither constant nor exploded."""
    for size in sizes:
        x = torch.randn(2, 3, size, size, generator=generator)
        with torch.no_grad():
            expected, actual = reference(x), ours(x)
        assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
        relative = (expected - actual).abs().max().item() / max(1.0, expected.abs().max().item())
        assert relative < 1e-4, size


def assert_cli_converts_alike(name: str, source: str, reference: nn.Module, converted, tmp_path) -> None:
    """`inception-dsl convert --from` writes the tensors convert_state_dict gave."""
    from inception_dsl.cli import main

    torch.save(reference.state_dict(), tmp_path / "ref.pth")
    argv = ["convert", str(SPECS / f"{name}.incp"), "--from", source, "--weights", str(tmp_path / "ref.pth")]
    assert main(argv + ["-o", str(tmp_path / "ours.pth")]) == 0
    written = torch.load(tmp_path / "ours.pth", weights_only=True)
    assert written.keys() == converted.keys()
    assert all(torch.equal(written[key], converted[key]) for key in written)


def test_convnext_layer_scales_and_pointwise_linears_are_reshaped():
    """torchvision's (C, 1, 1) layer scales land on our (C,) gammas, its pointwise Linear
    weights on our 1x1 convs."""
    with torch.device("meta"):
        reference = build_reference("torchvision:convnext_tiny")
        ours = load(SPECS / "convnext_tiny.incp")
    converted = convert_state_dict(reference.state_dict(), source="torchvision:convnext_tiny", model=ours)
    gammas = [key for key in converted if key.endswith("gamma")]
    assert len(gammas) == 18 and {converted[key].shape for key in gammas} == {(96,), (192,), (384,), (768,)}
    pointwise = [v for v in converted.values() if v.dim() == 4 and v.shape[2:] == (1, 1)]
    assert len(pointwise) == 36  # two per block


def test_shufflenet_and_inception_next_carry_their_references_keys():
    """ShuffleNet's keys are torchvision's (its state_dict loads as it is); InceptionNeXt's
    are timm's but for the layer scale, which timm's block holds as its own `gamma`, and
    the head, whose layers are top-level statements (so that `fc2` is the classifier)."""
    with torch.device("meta"):
        shufflenet = load(SPECS / "shufflenet_v2_x1_0.incp")
        reference = build_reference("torchvision:shufflenet_v2_x1_0")
        assert shufflenet.state_dict().keys() == reference.state_dict().keys()
        ours = set(load(SPECS / "inception_next_tiny.incp").state_dict())
        theirs = set(build_reference("timm:inception_next_tiny").state_dict())
    head = ("fc1.", "norm.", "fc2.")
    renamed = {"head." + key if key.startswith(head) else key.replace(".layer_scale.gamma", ".gamma") for key in ours}
    assert renamed == theirs and len(ours - theirs) == 18 + 6


def test_the_zoo_table_states_the_checked_numbers():
    """docs/zoo.md's parameters and MACs for these networks are the summary's, and the MACs
    are what FlopCounterMode counts for the reference and for our module (224x224)."""
    assert_zoo_rows(MODERN)


def assert_zoo_rows(networks: dict) -> None:
    """docs/zoo.md states each network's (name -> (source, parameters)) checked numbers."""
    from torch.utils.flop_counter import FlopCounterMode

    from inception_dsl.backends.summary import to_summary

    from .conftest import ROOT

    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    for name, (source, params) in networks.items():
        summary = to_summary(analyze(SPECS / f"{name}.incp").graph)
        library = source.split(":")[0]
        assert summary.params == params
        assert f"| `specs/{name}.incp` | {library} `{name}` | {summary.params:,} | {summary.macs:,} |" in table
        with torch.device("meta"):
            for model in (build_reference(source), load(SPECS / f"{name}.incp").eval()):
                with FlopCounterMode(display=False) as counter:
                    model(torch.empty(1, 3, 224, 224))
                assert counter.get_total_flops() == 2 * summary.macs


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


SCALED_SPEC = """
network scaled {
  input 3x16x16
  conv(8, 2x2, stride=2, valid, linear)
  residual(act=identity) {
    conv(8, 3x3, groups=8, linear)
    layernorm(eps=1e-6)
    conv(16, 1x1, linear)
    gelu
    conv(8, 1x1, linear)
    layer_scale
  }
  global_avgpool
  flatten
  linear(4)
}
"""


def test_a_blocks_own_parameter_is_ordered_by_its_use_not_by_its_module():
    """A forward pre-hook would put `block` (holding `scale`) before its children; the
    first use of `scale` comes after them, which is where our layer scale is defined."""
    order = execution_order(_ScaledNet(), 16)
    assert [(layer.name, layer.role) for layer in order] == [
        ("stem", "conv"), ("block.dwconv", "conv"), ("block.norm", "layernorm"), ("block.pointwise", "linear"),
        ("block.project", "linear"), ("block", GENERIC), ("head", "linear")]
    assert order[5].shapes == (("scale", (8, 1, 1)),)


def test_a_channels_last_reference_with_its_own_layer_scale_converts():
    reference = _ScaledNet().eval()
    randomize_all(reference, torch.Generator().manual_seed(8))
    ours = loads(SCALED_SPEC).eval()
    roles = [layer.role for layer in definition_order(ours)]
    assert roles == ["conv", "conv", "layernorm", "conv", "conv", GENERIC, "linear"]
    converted = convert_state_dict(model=ours, reference=reference)
    ours.load_state_dict(converted, strict=True)
    scale = next(key for key in converted if key.endswith("gamma"))
    assert converted[scale].shape == (8,) and torch.equal(converted[scale], reference.block.scale.flatten())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert (reference(x) - ours(x)).abs().max().item() < TOLERANCE


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
