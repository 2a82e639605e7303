"""List arguments on a real reference (issue 23 item 3): timm's `mixnet_s`, whose depthwise
convs mix kernel sizes per channel group and whose 1x1 convs are often split in two
(`conv(c, [3x3, 5x5, 7x7], groups=c)`, `conv(c, [1x1, 1x1])`, timm's MixedConv2d). Random
weights and BatchNorm statistics, through convert_state_dict and `inception-dsl convert
--from`, max |diff| / max(1, max |out|) < 1e-4."""

from __future__ import annotations

import pytest
import torch

from .test_zoo_modern import assert_cli_converts_alike, assert_equal_at_sizes, assert_zoo_rows, converted_pair

MIXED = {"mixnet_s": ("timm:mixnet_s", 4_134_606)}


@pytest.mark.slow
def test_mixnet_s_equals_timms_at_224_and_an_odd_size(tmp_path):
    source = "timm:mixnet_s"
    generator = torch.Generator().manual_seed(23)
    reference, ours, converted = converted_pair("mixnet_s", source, 4_134_606, generator)
    assert_equal_at_sizes(reference, ours, generator, (224, 193))
    assert_cli_converts_alike("mixnet_s", source, reference, converted, tmp_path)


@pytest.mark.slow
def test_the_zoo_row_states_the_checked_numbers():
    """docs/zoo.md's parameters and MACs are the summary's and FlopCounterMode's (224x224)."""
    assert_zoo_rows(MIXED)


def test_a_block_parameter_that_is_a_kernel_list_in_one_call_and_one_kernel_in_another():
    """One generated class serves both calls: it picks MixedConv or ConvAct when built (it
    took the first call's choice, and the second call's module failed to build)."""
    from .op_checks import through_everything

    text = ("block b(k) {\n  c: conv(in_channels, k, groups=in_channels, bn=false, act=identity)\n  bn\n}\n"
            "network n {\n  input 6x9x9\n  b(3x3)\n  b([3x3, 5x5])\n  b(5x5)\n  b([1x1, 3x3, 5x5])\n}\n")
    model = through_everything(text)
    assert [type(block.c).__name__ for block in model.children()] == ["ConvAct", "MixedConv"] * 2
