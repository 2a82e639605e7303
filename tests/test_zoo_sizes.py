"""The references of issue 23 whose layers follow another tensor's size (docs/zoo.md):
timm's `tf_efficientnetv2_b0`, whose strided convs pad TensorFlow's 'SAME' from the input
size (`tf_same`), equal to timm's at 193, 224 and 225 (a written `pad=(0, 1, 0, 1)` was
right at even sizes only: max |diff| 0.03 at 193). Random weights and BatchNorm statistics,
through convert_state_dict and `inception-dsl convert --from`,
max |diff| / max(1, max |out|) < 1e-4."""

from __future__ import annotations

import pytest
import torch

from .test_zoo_modern import assert_cli_converts_alike, assert_zoo_rows, converted_pair


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
