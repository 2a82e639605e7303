"""MobileViT-XS (specs/mobilevit_xs.incp) against timm's `mobilevit_xs`: the parameter
count, MACs equal to FlopCounterMode's (math SDPA backend) for the reference and for our
module, and timm's 0.909 G without attention's two matrix products; equal outputs through
convert_state_dict and `inception-dsl convert --from` (random weights, BatchNorm statistics
and LayerNorm affines) at 256 and 64; timm's feature maps; a grid that the 2x2 patches do not
divide is located in the block (timm interpolates it)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from inception_dsl import CompileError, analyze
from inception_dsl.backends.summary import node_macs, to_summary
from inception_dsl.runtime.interop import build_reference
from inception_dsl.runtime.module import load

from .conftest import ROOT, SPECS
from .test_zoo_modern import assert_cli_converts_alike, converted_pair

SOURCE, PARAMS, MACS = "timm:mobilevit_xs", 2_317_848, 1_025_911_808


@pytest.mark.slow
def test_the_spec_equals_timms_mobilevit_xs(tmp_path):
    generator = torch.Generator().manual_seed(29)
    reference, ours, converted = converted_pair("mobilevit_xs", SOURCE, PARAMS, generator)
    for size in (256, 64):
        x = torch.randn(2, 3, size, size, generator=generator)
        with torch.no_grad():
            expected, actual = reference(x), ours(x)
        assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
        assert (expected - actual).abs().max().item() / max(1.0, expected.abs().max().item()) < 1e-4
    assert_cli_converts_alike("mobilevit_xs", SOURCE, reference, converted, tmp_path)


def test_params_and_macs_are_timms_and_the_zoo_tables():
    graph = analyze(SPECS / "mobilevit_xs.incp").graph
    summary = to_summary(graph)
    assert (summary.params, summary.macs) == (PARAMS, MACS)
    products = sum(node_macs(graph, n) - 4 * n.shape[0] ** 2 * n.shape[1] * n.shape.batch
                   for n in graph.nodes() if n.op.value == "attention")
    assert round((MACS - products) / 1e9, 3) == 0.909  # timm's figure: conv and linear only
    with torch.device("meta"):
        for model in (build_reference(SOURCE), load(SPECS / "mobilevit_xs.incp").eval()):
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                model(torch.empty(1, 3, 256, 256))
            assert counter.get_total_flops() == 2 * MACS
    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    assert f"| `specs/mobilevit_xs.incp` | timm `mobilevit_xs` | {PARAMS:,} | {MACS:,} |" in table


def test_feature_maps_are_timms():
    with torch.device("meta"):
        ours = load(SPECS / "mobilevit_xs.incp", features_only=True)
        theirs = build_reference(SOURCE)
        import timm

        theirs = timm.create_model("mobilevit_xs", features_only=True)
        x = torch.empty(1, 3, 256, 256)
        assert [f.shape for f in ours(x)] == [f.shape for f in theirs(x)]
    assert ours.feature_info.module_name() == theirs.feature_info.module_name()


def test_a_grid_the_patches_do_not_divide_is_located_in_the_block():
    with pytest.raises(CompileError) as error:
        load(SPECS / "mobilevit_xs.incp", input_shape=(3, 224, 224))
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code.id == "E212" and diagnostic.primary_span.path.endswith("blocks/mobilevit.incp")
    assert "needs a grid that divides into 2x2 patches, got 144x7x7" in diagnostic.message
