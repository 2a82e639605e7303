"""timm's Res2Net (issue 23): `res2net50_26w_4s` and `res2net50_14w_8s`, whose bottleneck
splits the 1x1 conv's output into `scale` channel groups (`channels(a, b) from input`), adds
each group but the first to the previous group's output before its 3x3 conv, and in a
stage's first block pools the last group instead (specs/blocks/res2net.incp). Random weights
and BatchNorm statistics, through convert_state_dict and `inception-dsl convert --from`,
max |diff| / max(1, max |out|) < 1e-4; the zoo rows' MACs against FlopCounterMode."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze_text

from .conftest import SPECS
from .test_zoo_modern import assert_cli_converts_alike, assert_equal_at_sizes, assert_zoo_rows, converted_pair

RES2NET = {
    "res2net50_26w_4s": ("timm:res2net50_26w_4s", 25_699_120),
    "res2net50_14w_8s": ("timm:res2net50_14w_8s", 25_059_816),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RES2NET))
def test_res2net_equals_timms_at_224_and_an_odd_size(name, tmp_path):
    source, params = RES2NET[name]
    generator = torch.Generator().manual_seed(23)
    reference, ours, converted = converted_pair(name, source, params, generator)
    assert_equal_at_sizes(reference, ours, generator, (224, 97))
    assert_cli_converts_alike(name, source, reference, converted, tmp_path)


@pytest.mark.slow
def test_the_zoo_rows_state_the_checked_numbers():
    """docs/zoo.md's parameters and MACs are the summary's and FlopCounterMode's (224x224)."""
    assert_zoo_rows(RES2NET)


def _small(scale: int) -> str:
    """A small Res2Net on the shared blocks: timm's ResNet(Bottle2neck, channels=(16, 32, 64, 64))."""
    return f"""import "blocks/res2net.incp"
network small(num_classes = 10) {{
  input 3x48x48
  conv1: conv(64, 7x7, stride=2)
  maxpool: maxpool(3x3, stride=2)
  layer1: {{
    bottle2neck(16, 26, {scale})
    bottle2neck(16, 26, {scale})
  }}
  layer2: {{
    bottle2neck(32, 26, {scale}, stride=2)
    bottle2neck(32, 26, {scale})
  }}
  layer3: {{
    bottle2neck(64, 26, {scale}, stride=2)
    bottle2neck(64, 26, {scale})
  }}
  layer4: {{
    bottle2neck(64, 26, {scale}, stride=2)
    bottle2neck(64, 26, {scale})
  }}
  avgpool: global_avgpool
  flatten
  fc: linear(num_classes)
}}
"""


@pytest.mark.parametrize("scale", [2, 3, 5, 8])
def test_every_scale_of_the_blocks_equals_timms_bottle2neck(scale):
    """Each rung of the group ladders (2 to 8 groups) against timm's Bottle2neck: layer1's
    first block keeps its width and stride (timm's stype 'normal', no projection), the
    other stages' first blocks are stype 'stage' (strided groups, the last one pooled)."""
    from timm.models.res2net import Bottle2neck
    from timm.models.resnet import ResNet

    from inception_dsl.runtime.interop import convert_state_dict
    from inception_dsl.runtime.module import loads

    from .test_zoo_modern import randomize_all

    generator = torch.Generator().manual_seed(scale)
    reference = ResNet(Bottle2neck, [2, 2, 2, 2], num_classes=10, base_width=26, channels=(16, 32, 64, 64),
                       block_args={"scale": scale}).eval()
    randomize_all(reference, generator)
    ours = loads(_small(scale), path=str(SPECS / "small.incp")).eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())
    ours.load_state_dict(convert_state_dict(model=ours, reference=reference, input_size=48), strict=True)
    x = torch.randn(2, 3, 48, 48, generator=generator)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert 1e-2 < expected.std() and (expected - actual).abs().max().item() < 1e-4 * max(1.0, expected.abs().max().item())


@pytest.mark.parametrize("scale", [1, 9])
def test_a_scale_the_ladders_do_not_reach_is_refused_at_the_block(scale):
    """The ladders stop at 8 groups: a ninth would be left out, a network of another width
    built; scale 1 (no 3x3 conv in timm) is refused too, located in the block."""
    result = analyze_text(_small(scale), str(SPECS / "small.incp"))
    assert not result.ok
    codes = {(d.code.id, d.primary_span.line) for d in result.diagnostics}
    block = (SPECS / "blocks" / "res2net.incp").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(block, 1) if "when scale < 2 or scale > 8" in text)
    assert codes == {("E211", line)}
