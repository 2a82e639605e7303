"""Swin-T (specs/swin_tiny_patch4_window7_224.incp) against timm's
`swin_tiny_patch4_window7_224`: the same parameter count, and equal outputs through
convert_state_dict and `inception-dsl convert --from` (random weights, random LayerNorm
affines, random relative position bias tables), at 224 and at 256, where every stage's grid
(64, 32, 16, 8) needs padding to whole 7x7 windows and the last one is shifted; the
features_only maps (NHWC, as timm's) and forward_features/forward_head; the MACs of
docs/zoo.md, which FlopCounterMode counts for both (math SDPA backend)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from inception_dsl import analyze, analyze_text
from inception_dsl.backends.summary import to_summary
from inception_dsl.runtime.interop import convert_state_dict
from inception_dsl.runtime.module import load, loads

from .conftest import ROOT, SPECS
from .test_zoo_modern import assert_cli_converts_alike, randomize_all

NAME = "swin_tiny_patch4_window7_224"
SOURCE = f"timm:{NAME}"
PARAMS, MACS = 28_288_354, 4_490_566_656


def _reference(size: int, generator: torch.Generator) -> torch.nn.Module:
    import timm

    reference = timm.create_model(NAME, pretrained=False, img_size=size).eval()
    randomize_all(reference, generator)  # the bias tables too (timm starts them near 0)
    return reference


def _ours(size: int) -> torch.nn.Module:
    text = (SPECS / f"{NAME}.incp").read_text(encoding="utf-8").replace("input 3x224x224", f"input 3x{size}x{size}")
    return loads(text, path=str(SPECS / f"{NAME}.incp")).eval()


def _close(expected: torch.Tensor, actual: torch.Tensor) -> None:
    assert expected.shape == actual.shape
    assert (expected - actual).abs().max().item() / max(1.0, expected.abs().max().item()) < 1e-4


@pytest.mark.slow
def test_swin_tiny_equals_timms_through_the_converter(tmp_path):
    generator = torch.Generator().manual_seed(23)
    reference, ours = _reference(224, generator), load(SPECS / f"{NAME}.incp").eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters()) == PARAMS
    converted = convert_state_dict(reference.state_dict(), source=SOURCE, model=ours)
    ours.load_state_dict(converted, strict=True)
    tables = [key for key in converted if key.endswith("relative_position_bias_table")]
    assert len(tables) == 12 and all(converted[key].std() > 0.1 for key in tables)  # random, not timm's 0.02
    x = torch.randn(2, 3, 224, 224, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
        assert 1e-2 < expected.std() and expected.abs().max() < 1e3
        _close(expected, actual)
        features = ours.forward_features(x)
        _close(reference.forward_features(x), features)  # NHWC (2, 7, 7, 768)
        _close(expected, ours.forward_head(features))
    assert_cli_converts_alike(NAME, SOURCE, reference, converted, tmp_path)


@pytest.mark.slow
def test_swin_tiny_at_256_pads_every_stage_as_timm_does():
    """Grids 64, 32, 16 and 8 do not divide by the 7x7 window: padded (and on 8x8 shifted),
    as timm's model built for img_size=256."""
    generator = torch.Generator().manual_seed(5)
    reference, ours = _reference(256, generator), _ours(256)
    graph = analyze(SPECS / f"{NAME}.incp").graph  # the 224 spec: no padding anywhere
    assert all(n.shape.grid[0] % 7 == 0 for n in graph.nodes() if n.op.name == "WINDOW_ATTENTION")
    ours.load_state_dict(convert_state_dict(model=ours, reference=reference, input_size=256), strict=True)
    x = torch.randn(1, 3, 256, 256, generator=generator)
    with torch.no_grad():
        _close(reference(x), ours(x))


@pytest.mark.slow
@pytest.mark.parametrize("size", [32, 64])
def test_swin_tiny_below_the_window_has_timms_smaller_tables(size):
    """At 32 (grids 8, 4, 2, 1) and 64 (16, 8, 4, 2) the last stages' grids are smaller than
    the 7x7 window, which shrinks to them, unshifted: timm builds their smaller tables, and
    so do load() and the IR's count (load() used to keep 13x13 tables there)."""
    generator = torch.Generator().manual_seed(size)
    reference, ours = _reference(size, generator), _ours(size)
    text = (SPECS / f"{NAME}.incp").read_text(encoding="utf-8").replace("input 3x224x224", f"input 3x{size}x{size}")
    summary = to_summary(analyze_text(text, str(SPECS / f"{NAME}.incp")).graph)
    assert sum(p.numel() for p in ours.parameters()) == summary.params == sum(p.numel() for p in reference.parameters())
    ours.load_state_dict(convert_state_dict(model=ours, reference=reference, input_size=size), strict=True)
    x = torch.randn(2, 3, size, size, generator=generator)
    with torch.no_grad():
        _close(reference(x), ours(x))


@pytest.mark.slow
def test_features_only_maps_equal_timms_values():
    """features_only gives the four stages NHWC at reductions 4..32, equal to timm's
    intermediates (timm's features_only net is the same modules, tested for its shapes and
    names in tests/test_timm_networks.py)."""
    generator = torch.Generator().manual_seed(7)
    reference = _reference(224, generator)
    ours = load(SPECS / f"{NAME}.incp", features_only=True).eval()
    ours.model.load_state_dict(convert_state_dict(reference.state_dict(), source=SOURCE, model=ours.model))
    assert ours.feature_info.reduction() == [4, 8, 16, 32]
    assert ours.feature_info.module_name() == ["layers.0", "layers.1", "layers.2", "layers.3"]
    x = torch.randn(1, 3, 224, 224, generator=generator)
    with torch.no_grad():
        theirs = [f.permute(0, 2, 3, 1) for f in reference.forward_intermediates(x, intermediates_only=True)]
        found = ours(x)
        assert [f.shape[1:] for f in found] == [(56, 56, 96), (28, 28, 192), (14, 14, 384), (7, 7, 768)]
        for expected, actual in zip(theirs, found, strict=True):
            _close(expected, actual)
        nchw = ours.model.forward_intermediates(x, intermediates_only=True)
        _close(theirs[2].permute(0, 3, 1, 2), nchw[2])


def test_the_zoo_table_states_the_checked_numbers():
    """docs/zoo.md's row is the summary's count, and FlopCounterMode counts twice the MACs
    for timm's model and ours (math SDPA backend: attention's products are seen)."""
    import timm

    summary = to_summary(analyze(SPECS / f"{NAME}.incp").graph)
    assert (summary.params, summary.macs) == (PARAMS, MACS)
    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    assert f"| `specs/{NAME}.incp` | timm `{NAME}` | {PARAMS:,} | {MACS:,} |" in table
    with torch.device("meta"):
        for model in (timm.create_model(NAME, pretrained=False), load(SPECS / f"{NAME}.incp").eval()):
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                model(torch.empty(1, 3, 224, 224))
            assert counter.get_total_flops() == 2 * MACS
