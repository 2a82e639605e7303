"""The references of issue 23 whose layers follow another tensor's size (docs/zoo.md):
timm's `tf_efficientnetv2_b0`, whose strided convs pad TensorFlow's 'SAME' from the input
size (`tf_same`), equal to timm's at 193, 224 and 225 (a written `pad=(0, 1, 0, 1)` was
right at even sizes only: max |diff| 0.03 at 193). Random weights and BatchNorm statistics,
through convert_state_dict and `inception-dsl convert --from`,
max |diff| / max(1, max |out|) < 1e-4."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inception_dsl.runtime.interop import convert_state_dict
from inception_dsl.runtime.module import load

from .conftest import SPECS
from .test_zoo_modern import assert_cli_converts_alike, assert_zoo_rows, converted_pair, randomize_all


def _relative(expected: torch.Tensor, actual: torch.Tensor) -> float:
    return (expected - actual).abs().max().item() / max(1.0, expected.abs().max().item())


@pytest.mark.slow
def test_tf_efficientnetv2_b0_equals_timms_at_odd_and_even_sizes(tmp_path):
    source = "timm:tf_efficientnetv2_b0"
    generator = torch.Generator().manual_seed(23)
    reference, ours, converted = converted_pair("tf_efficientnetv2_b0", source, 7_139_704, generator)
    for size in (193, 224, 225):
        x = torch.randn(2, 3, size, size, generator=generator)
        with torch.no_grad():
            expected, actual = reference(x), ours(x)
        assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
        assert _relative(expected, actual) < 1e-4, size
    assert_cli_converts_alike("tf_efficientnetv2_b0", source, reference, converted, tmp_path)


SIZES = {"tf_efficientnetv2_b0": ("timm:tf_efficientnetv2_b0", 7_139_704)}


def test_the_zoo_table_states_the_checked_numbers():
    """docs/zoo.md's parameters and MACs are the summary's, and the MACs are what
    FlopCounterMode counts for the reference and for our module (224x224)."""
    assert_zoo_rows(SIZES)


@pytest.mark.slow
def test_lraspp_mobilenet_v3_large_equals_torchvisions_out_at_520(tmp_path):
    """The resizes follow the 1/8 map (65x65, where doubling 33 gives 66) and the input."""
    source = "torchvision:lraspp_mobilenet_v3_large"
    generator = torch.Generator().manual_seed(23)
    reference, ours, converted = converted_pair("lraspp_mobilenet_v3_large", source, 3_221_538, generator,
                                                 num_classes=21)
    x = torch.randn(1, 3, 520, 520, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x)["out"], ours(x)
    assert expected.shape == actual.shape == (1, 21, 520, 520)
    assert 1e-2 < expected.std() and expected.abs().max() < 1e3
    assert _relative(expected, actual) < 1e-4
    assert_cli_converts_alike("lraspp_mobilenet_v3_large", source, reference, converted, tmp_path)


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = _DoubleConv(cin, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dh, dw = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class ReferenceUNet(nn.Module):
    """A classic U-Net written in torch (the common padded form of Ronneberger et al. 2015)."""

    def __init__(self, num_classes: int = 2):
        super().__init__()
        widths = (64, 128, 256, 512, 1024)
        self.inc = _DoubleConv(3, 64)
        self.downs = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), _DoubleConv(a, b)) for a, b in zip(widths, widths[1:]))
        self.ups = nn.ModuleList(_Up(b, a) for a, b in reversed(list(zip(widths, widths[1:]))))
        self.outc = nn.Conv2d(64, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)


@pytest.mark.slow
def test_unet_equals_a_torch_unet_at_572():
    """The four pads follow the skips' sizes: 70 to 71 and 142 to 143 at 572x572."""
    generator = torch.Generator().manual_seed(23)
    reference = ReferenceUNet().eval()
    randomize_all(reference, generator)
    ours = load(SPECS / "unet.incp").eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters()) == 31_037_698
    ours.load_state_dict(convert_state_dict(model=ours, reference=reference, input_size=64), strict=True)
    for size in (572, 61):
        x = torch.randn(1, 3, size, size, generator=generator)
        with torch.no_grad():
            expected, actual = reference(x), ours(x)
        assert expected.shape == actual.shape == (1, 2, size, size)
        assert 1e-2 < expected.std() and expected.isfinite().all()  # random BN statistics grow it: relative diff
        assert _relative(expected, actual) < 1e-4, size


def test_the_zoo_rows_of_the_segmentation_networks_state_the_checked_numbers():
    """docs/zoo.md's parameters and MACs at the spec's own input size are the summary's and
    FlopCounterMode's, for our module and the reference (the resizes and pads count none)."""
    from torch.utils.flop_counter import FlopCounterMode

    from inception_dsl import analyze
    from inception_dsl.backends.summary import to_summary
    from inception_dsl.runtime.interop import build_reference

    from .conftest import ROOT

    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    with torch.device("meta"):
        references = {"lraspp_mobilenet_v3_large": (build_reference("torchvision:lraspp_mobilenet_v3_large", num_classes=21),
                                                    "torchvision `lraspp_mobilenet_v3_large`", 520),
                      "unet": (ReferenceUNet(), "a torch U-Net (tests/test_zoo_sizes.py)", 572)}
        for name, (reference, words, size) in references.items():
            summary = to_summary(analyze(SPECS / f"{name}.incp").graph)
            assert f"| `specs/{name}.incp` | {words} | {summary.params:,} | {summary.macs:,} |" in table
            for model in (reference, load(SPECS / f"{name}.incp").eval()):
                assert sum(p.numel() for p in model.parameters()) == summary.params
                with FlopCounterMode(display=False) as counter:
                    model(torch.empty(1, 3, size, size))
                assert counter.get_total_flops() == 2 * summary.macs
