"""The transformer and MetaFormer references of docs/zoo.md: timm's `vit_tiny_patch16_224`,
`poolformer_s12`, `caformer_s18`, `efficientformer_l1` and `levit_128s`. Each spec checks
with the reference's parameter count, and equals the reference through convert_state_dict
and through `inception-dsl convert --from`: random weights, random BatchNorm statistics and LayerNorm affines, and
random values in the class token, the position embedding, layer and residual scales,
attention biases and StarReLU's scalars (timm starts them at constants, where a converter that swapped or
dropped them would pass), a 224x224 input (a ViT's position embedding fixes its input size), max |diff| / max(1, max |out|) < 1e-4. MACs: the summary's
count, which includes attention's two matrix products, equals FlopCounterMode's on the
math SDPA backend, for the reference and for our module."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from inception_dsl import analyze
from inception_dsl.backends.summary import to_summary
from inception_dsl.runtime.interop import build_reference, convert_state_dict
from inception_dsl.runtime.module import load

from .conftest import ROOT, SPECS
from .test_zoo_modern import assert_cli_converts_alike, converted_pair

# spec (specs/<name>.incp) -> (source, parameters, MACs at 224 with the attention products)
TRANSFORMERS = {
    "vit_tiny_patch16_224": ("timm:vit_tiny_patch16_224", 5_717_416, 1_253_683_200),
    "poolformer_s12": ("timm:poolformer_s12", 11_915_176, 1_812_267_008),
    "caformer_s18": ("timm:caformer_s18", 26_341_656, 4_106_941_440),
    "efficientformer_l1": ("timm:efficientformer_l1", 12_289_928, 1_291_284_736),
    "levit_128s": ("timm:levit_128s", 7_777_058, 304_660_832),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_the_spec_equals_its_reference(name, tmp_path):
    source, params, _ = TRANSFORMERS[name]
    generator = torch.Generator().manual_seed(23)
    reference, ours, converted = converted_pair(name, source, params, generator)
    x = torch.randn(2, 3, 224, 224, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
    assert (expected - actual).abs().max().item() / max(1.0, expected.abs().max().item()) < 1e-4
    assert_cli_converts_alike(name, source, reference, converted, tmp_path)


def test_the_class_token_and_position_embedding_come_from_timms_own_tensors():
    """timm keeps `cls_token` and `pos_embed` on the VisionTransformer itself; ours are one
    layer each. Every key but these two and the blocks' residual levels is timm's."""
    with torch.device("meta"):
        reference = build_reference("timm:vit_tiny_patch16_224")
        ours = load(SPECS / "vit_tiny_patch16_224.incp")
    state = reference.state_dict()
    state = {key: torch.full(value.shape, float(i)) for i, (key, value) in enumerate(state.items())}
    converted = convert_state_dict(state, source="timm:vit_tiny_patch16_224", model=ours)
    assert torch.equal(converted["cls_token.token"], state["cls_token"])
    assert torch.equal(converted["pos_embed.weight"], state["pos_embed"])
    assert torch.equal(converted["blocks.11.residual0.attn.qkv.weight"], state["blocks.11.attn.qkv.weight"])
    renamed = {key.replace(".residual0", "").replace(".residual1", "") for key in converted}
    assert renamed - set(state) == {"cls_token.token", "pos_embed.weight"}


def test_the_zoo_table_states_the_checked_numbers():
    """docs/zoo.md's parameters and MACs are the summary's, and the MACs are what
    FlopCounterMode counts (math SDPA backend) for the reference and for our module."""
    table = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    for name, (source, params, macs) in TRANSFORMERS.items():
        summary = to_summary(analyze(SPECS / f"{name}.incp").graph)
        assert (summary.params, summary.macs) == (params, macs)
        library = source.split(":")[0]
        assert f"| `specs/{name}.incp` | {library} `{name}` | {params:,} | {macs:,} |" in table
        with torch.device("meta"):
            for model in (build_reference(source), load(SPECS / f"{name}.incp").eval()):
                with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                    model(torch.empty(1, 3, 224, 224))
                assert counter.get_total_flops() == 2 * macs
