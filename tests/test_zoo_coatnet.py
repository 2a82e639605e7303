"""specs/coatnet_0_rw_224.incp against timm's `coatnet_0_rw_224` (issue 24 item 2): the
parameter count; equal outputs through convert_state_dict and `inception-dsl convert
--from` (random weights, BatchNorm statistics and LayerNorm affines, random values in
the relative position bias tables, a 224x224 input: the tables fix the grid), max |diff|
/ max(1, max |out|) < 1e-4; MACs equal FlopCounterMode's on the math SDPA backend (and,
without the attention products that the fused kernel hides, the 4.209 G the issue
states); timm's model API: features_only maps (stem and four stages at reductions 2 to
32), forward_features, forward_intermediates, pretrained_cfg."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from inception_dsl import analyze, load
from inception_dsl.backends.summary import to_summary
from inception_dsl.runtime.interop import build_reference, convert_state_dict

from .conftest import ROOT, SPECS
from .test_zoo_modern import _reference, assert_cli_converts_alike

NAME, SOURCE, PARAMS, MACS = "coatnet_0_rw_224", "timm:coatnet_0_rw_224", 27_435_562, 4_406_300_928
# the attention products: 2 * N * N * C per block, C the attention's width (the first
# block of a stage attends at its input width): 7 blocks at 14x14, 2 at 7x7
ATTENTION_MACS = 2 * 196 * 196 * (192 + 6 * 384) + 2 * 49 * 49 * (384 + 768)


def _pair(**kwargs):
    import timm

    with torch.device("meta"):  # shapes only
        return load(SPECS / f"{NAME}.incp", **kwargs), timm.create_model(NAME, pretrained=False, **kwargs)


@pytest.mark.slow
def test_the_spec_equals_timms_coatnet(tmp_path):
    generator = torch.Generator().manual_seed(29)
    reference = _reference(SOURCE, generator)
    for module in reference.modules():  # built on the meta device: timm's non-persistent index buffers
        if hasattr(module, "init_non_persistent_buffers"):
            module.init_non_persistent_buffers()
    ours = load(SPECS / f"{NAME}.incp")  # on the CPU: the index buffers are computed when built
    assert sum(p.numel() for p in ours.parameters()) == PARAMS
    converted = convert_state_dict(reference.state_dict(), source=SOURCE, model=ours)
    ours.load_state_dict(converted, strict=True)
    reference, ours = reference.eval(), ours.eval()
    tables = [key for key in converted if key.endswith("relative_position_bias_table")]
    assert len(tables) == 9 and all(converted[key].std() > 0.1 for key in tables)  # random, not timm's init
    x = torch.randn(2, 3, 224, 224, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
    assert (expected - actual).abs().max().item() / max(1.0, expected.abs().max().item()) < 1e-4
    assert_cli_converts_alike(NAME, SOURCE, reference, converted, tmp_path)
    with FlopCounterMode(display=False) as counter, torch.no_grad():  # the default CPU kernel hides the products
        reference(x[:1])
    assert counter.get_total_flops() == 2 * (MACS - ATTENTION_MACS) == 2 * 4_208_996_352


def test_params_and_macs_are_the_references_and_the_zoo_states_them():
    summary = to_summary(analyze(SPECS / f"{NAME}.incp").graph)
    assert (summary.params, summary.macs) == (PARAMS, MACS)
    with torch.device("meta"):
        for model in (build_reference(SOURCE), load(SPECS / f"{NAME}.incp").eval()):
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                model(torch.empty(1, 3, 224, 224))
            assert counter.get_total_flops() == 2 * MACS
    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    assert f"| `specs/{NAME}.incp` | timm `{NAME}` | {PARAMS:,} | {MACS:,} |" in table


def test_features_only_and_forward_features_equal_timms():
    ours, theirs = _pair(features_only=True)
    assert ours.feature_info.channels() == theirs.feature_info.channels() == [64, 96, 192, 384, 768]
    assert ours.feature_info.reduction() == theirs.feature_info.reduction() == [2, 4, 8, 16, 32]
    assert ours.feature_info.module_name() == theirs.feature_info.module_name()
    with torch.device("meta"):
        x = torch.empty(2, 3, 224, 224)
        assert [f.shape for f in ours(x)] == [f.shape for f in theirs(x)]
        ours, theirs = _pair()
        assert ours.forward_features(x).shape == theirs.forward_features(x).shape == (2, 768, 7, 7)
        assert (ours.num_features, ours.head_hidden_size) == (theirs.num_features, theirs.head_hidden_size)
        for kwargs in ({}, {"indices": 2}, {"indices": [0, -1]}):
            final, found = ours.forward_intermediates(x, **kwargs)
            final_t, found_t = theirs.forward_intermediates(x, **kwargs)
            assert [f.shape for f in found] == [f.shape for f in found_t], kwargs
            assert final.shape == final_t.shape, kwargs
    for key in ("mean", "std", "crop_pct", "interpolation", "first_conv", "classifier", "input_size"):
        assert ours.pretrained_cfg[key] == theirs.pretrained_cfg[key], key


def test_the_keys_are_timms_but_for_the_transformer_blocks_residual_levels():
    """The spec's labels are timm's: the MBConv blocks' keys are timm's as they are; the
    transformer blocks' differ by their two residual levels, and a downsampling block's
    first norm is timm's `norm1.norm` (a Sequential with the pooling)."""
    ours, theirs = _pair()
    mine = {key for key in ours.state_dict() if not key.endswith("num_batches_tracked")}
    timms = {key for key in theirs.state_dict() if not key.endswith("num_batches_tracked")}
    renamed = {key.replace(".residual0", "").replace(".residual1", "") for key in mine}
    assert len(renamed) == len(mine) == len(timms)
    firsts = {f"stages.{i}.blocks.0.norm1.{p}" for i in (2, 3) for p in ("weight", "bias")}
    assert renamed - timms == firsts
    assert timms - renamed == {key.replace("norm1.", "norm1.norm.") for key in firsts}
