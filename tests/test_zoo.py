"""The reference networks of docs/zoo.md: each spec checks with the reference's parameter
count (from the IR, without torch, and from the built module), and equals the reference
through convert_state_dict: random weights, random BatchNorm statistics, a small input
(64x64: every network here accepts it), max |diff| < 1e-4. Also the general converter:
any nn.Module with the same computation as the reference, Linear paired with a 1x1 conv."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from inception_dsl import analyze
from inception_dsl.passes.analyses.budget import total_params
from inception_dsl.runtime.interop import InteropError, build_reference, convert_state_dict
from inception_dsl.runtime.module import load, loads

from .conftest import SPECS
from .test_interop import TOLERANCE, randomize_weights

# spec (specs/<name>.incp) -> (source, parameters of the reference with 1000 classes)
ZOO = {
    "vgg16": ("torchvision:vgg16", 138_357_544),
    "squeezenet1_1": ("torchvision:squeezenet1_1", 1_235_496),
    "resnext50_32x4d": ("torchvision:resnext50_32x4d", 25_028_904),
    "densenet121": ("torchvision:densenet121", 7_978_856),
    "mobilenet_v2": ("torchvision:mobilenet_v2", 3_504_872),
    "legacy_xception": ("timm:legacy_xception", 22_855_952),
    "mobilenet_v3_large": ("torchvision:mobilenet_v3_large", 5_483_032),
    "efficientnet_b0": ("torchvision:efficientnet_b0", 5_288_548),
    "regnet_y_400mf": ("torchvision:regnet_y_400mf", 4_344_144),
}
# the squeeze-and-excitation networks: also converted through `inception-dsl convert`
SE_NETWORKS = ("mobilenet_v3_large", "efficientnet_b0", "regnet_y_400mf")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_the_spec_equals_its_reference(name):
    source, params = ZOO[name]
    result = analyze(SPECS / f"{name}.incp")
    assert result.ok and total_params(result.graph) == params
    generator = torch.Generator().manual_seed(11)
    with torch.device("meta"):
        ours = load(SPECS / f"{name}.incp")
    assert sum(p.numel() for p in ours.parameters()) == params
    reference = (_shared_reference if name in SE_NETWORKS else _random_reference)(source)
    converted = convert_state_dict(reference.state_dict(), source=source, model=ours)
    ours.load_state_dict(converted, strict=True, assign=True)
    x = torch.randn(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x), ours.eval()(x)
    assert expected.shape == actual.shape == (1, 1000)
    assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
    assert (expected - actual).abs().max().item() < TOLERANCE


def _random_reference(source: str) -> nn.Module:
    """The reference with random weights and BatchNorm statistics. Built on the meta device
    and allocated, or on the CPU where its constructor computes with tensors (RegNet)."""
    try:
        with torch.device("meta"):
            reference = build_reference(source).to_empty(device="cpu")
    except InteropError:
        reference = build_reference(source)
    randomize_weights(reference, torch.Generator().manual_seed(11))
    return reference


# the small SE networks' references, made once for the two tests that read them
_shared_reference = functools.lru_cache(maxsize=None)(_random_reference)


class _ChannelsLast(nn.Module):
    """A hand-written reference: a conv stem, then a pointwise layer written as a Linear over
    channels-last features (as ConvNeXt writes its 1x1 convs), then a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(8)
        self.pointwise = nn.Linear(8, 16)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.norm(self.stem(x)))
        x = self.pointwise(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.head(x.mean((2, 3)))


SPEC = """
network small {
  input 3x16x16
  conv(8, 3x3)
  conv(16, 1x1, linear)
  global_avgpool
  flatten
  linear(5)
}
"""


def test_any_module_with_the_same_computation_converts_linear_onto_1x1_conv():
    reference = _ChannelsLast().eval()
    randomize_weights(reference, torch.Generator().manual_seed(5))
    ours = loads(SPEC).eval()
    converted = convert_state_dict(model=ours, reference=reference)
    ours.load_state_dict(converted, strict=True)
    assert converted["conv1.weight"].shape == (16, 8, 1, 1)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert (reference(x) - ours(x)).abs().max().item() < TOLERANCE


def test_a_reference_module_that_differs_is_refused_naming_the_layers():
    reference = _ChannelsLast().eval()
    ours = loads(SPEC.replace("conv(16, 1x1, linear)", "conv(12, 1x1, linear)")).eval()
    with pytest.raises(InteropError, match=r"layer 2 disagrees: the reference runs `pointwise` \(linear"):
        convert_state_dict(model=ours, reference=reference)
    with pytest.raises(InteropError, match="exactly one of"):
        convert_state_dict({}, model=ours, source="torchvision:vgg16", reference=reference)


def test_any_library_model_name_is_a_source():
    with pytest.raises(InteropError, match="cannot build the reference 'torchvision:no_such_net'"):
        convert_state_dict({}, model=nn.Identity(), source="torchvision:no_such_net")
    with pytest.raises(InteropError, match="unknown weight source 'caffe:vgg16'"):
        convert_state_dict({}, model=nn.Identity(), source="caffe:vgg16")


def test_the_zoo_table_states_the_checked_numbers():
    """docs/zoo.md's parameters and MACs are the summary's, and the MACs are FlopCounterMode's."""
    from torch.utils.flop_counter import FlopCounterMode

    from inception_dsl.backends.summary import to_summary

    from .conftest import ROOT

    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    for name in ZOO:
        summary = to_summary(analyze(SPECS / f"{name}.incp").graph)
        library = ZOO[name][0].split(":")[0]
        assert f"| `specs/{name}.incp` | {library} `{name}` | {summary.params:,} | {summary.macs:,} |" in table
    for name in ("mobilenet_v2", *SE_NETWORKS):  # an SE gate's product is no MAC for either
        with torch.device("meta"):
            model = load(SPECS / f"{name}.incp").eval()
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, 224, 224, device="meta"))
        assert counter.get_total_flops() == 2 * to_summary(analyze(SPECS / f"{name}.incp").graph).macs


def test_convert_command_takes_any_library_model_and_refuses_other_forms(tmp_path, capsys):
    from inception_dsl.cli import main

    reference = build_reference("torchvision:squeezenet1_1")
    randomize_weights(reference, torch.Generator().manual_seed(2))
    torch.save(reference.state_dict(), tmp_path / "ref.pth")
    out = tmp_path / "ours.pth"
    argv = ["convert", str(SPECS / "squeezenet1_1.incp"), "--weights", str(tmp_path / "ref.pth"), "-o", str(out)]
    assert main(argv + ["--from", "torchvision:squeezenet1_1"]) == 0
    ours = load(SPECS / "squeezenet1_1.incp", weights=out).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (reference(x) - ours(x)).abs().max().item() < TOLERANCE
    with pytest.raises(SystemExit) as usage:
        main(argv + ["--from", "keras:squeezenet"])
    assert usage.value.code == 2 and "not `timm:<model>` or `torchvision:<model>`" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", SE_NETWORKS)
def test_convert_command_carries_the_se_networks_weights(name, tmp_path):
    """`inception-dsl convert --from torchvision:<name>`: the file it writes loads strictly
    and gives the reference's outputs."""
    from inception_dsl.cli import main

    source = ZOO[name][0]
    generator = torch.Generator().manual_seed(3)
    reference = _shared_reference(source)
    torch.save(reference.state_dict(), tmp_path / "ref.pth")
    out = tmp_path / "ours.pth"
    argv = ["convert", str(SPECS / f"{name}.incp"), "--from", source, "--weights", str(tmp_path / "ref.pth")]
    assert main(argv + ["-o", str(out)]) == 0
    ours = load(SPECS / f"{name}.incp", weights=out).eval()
    x = torch.randn(2, 3, 64, 64, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert 1e-2 < expected.std() and (expected - actual).abs().max().item() < TOLERANCE
