"""A block whose grid-sized tables (window_attention's and attention2d's relative position
bias, pos_embed's embedding) meet several grids at the same width: the network hands each
instance its own grid down the generated block classes' constructors
(backends/python/instances.py), so `check`'s parameter count, `load()`'s and the compiled
file's are one, and the compiled file computes what `load()` computes. These specs were
accepted by `check` and refused by `compile`/`load()` (or, for a symbolic window, refused
since 1218d19)."""

from __future__ import annotations

import itertools

import pytest
import torch

import inception_dsl
from inception_dsl import analyze, analyze_text
from inception_dsl.backends.python.source import network_class_name, to_python
from inception_dsl.backends.summary import to_summary
from inception_dsl.cli import main

from .backend_helpers import import_file
from .op_checks import through_everything
from .test_op_windows import BLOCKS

_NAMES = itertools.count()


def _agree(text: str, tmp_path) -> tuple[torch.nn.Module, str]:
    """check, load() (through every consumer: the IR's flat forward, optimize, the summary's
    parameters and MACs), the file `compile` writes and `compile --optimize`'s agree; returns load()'s module and the source."""
    spec = tmp_path / "grids.incp"
    spec.write_text(text)
    assert main(["check", str(spec)]) == 0
    result = analyze(spec)
    counted = to_summary(result.graph).params
    model = through_everything(text)  # its parameters == the summary's (op_checks._counts_agree)
    out = tmp_path / "grids_gen.py"
    assert main(["compile", str(spec), "-o", str(out)]) == 0
    generated = getattr(import_file(out, f"grids_gen_{next(_NAMES)}"), network_class_name(result))().eval()
    assert sum(p.numel() for p in generated.parameters()) == counted == sum(p.numel() for p in model.parameters())
    assert {k: v.shape for k, v in generated.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    generated.load_state_dict(model.state_dict())
    optimized_file = tmp_path / "grids_opt.py"  # and `compile --optimize` (built from the IR's nodes)
    assert main(["compile", str(spec), "--optimize", "-o", str(optimized_file)]) == 0
    module = import_file(optimized_file, f"grids_opt_{next(_NAMES)}")
    optimized = next(v for k, v in vars(module).items() if k.endswith("Optimized"))()
    optimized.load_state_dict(inception_dsl.optimize(model).state_dict(), strict=True)
    x = torch.randn(2, *result.graph.input_node.shape)
    with torch.no_grad():
        torch.testing.assert_close(generated(x), model(x), rtol=0, atol=0)
        torch.testing.assert_close(optimized.eval()(x), model(x), rtol=1e-4, atol=1e-4)
    return model, out.read_text()


SWIN = BLOCKS.replace("input 3x32x32", "input 3x16x16").replace(  # swin_pair at width 24 on 8x8 and 2x2
    "  merge_patches\n  s2: swin_pair(6, 4)", "  to_grid\n  maxpool(4x4, stride=4, valid)\n  to_tokens\n  s2: swin_pair(3, 4)")


def _tables(model, key="relative_position_bias_table") -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k.endswith(key)}


def test_a_symbolic_window_on_square_grids_of_one_width_builds_each_instances_table(tmp_path):
    """swin_pair at width 24 on an 8x8 and a 2x2 grid, its 4x4 window a block parameter: the
    2x2 instance's window shrinks to 2x2 (a 3x3 table, unshifted), the 8x8 one keeps 7x7
    (refused by load() before, and built with 7x7 tables everywhere before that)."""
    model, source = _agree(SWIN, tmp_path)
    assert _tables(model) == {"s1.a.relative_position_bias_table": (49, 3), "s1.b.relative_position_bias_table": (49, 3),
                              "s2.a.relative_position_bias_table": (9, 3), "s2.b.relative_position_bias_table": (9, 3)}
    assert '"s2.b.grid": (2, 2),' in source and 'grid=_grid_of(grids, None, "b", "grid")' in source
    assert 'SwinPair(24, heads=3, window=4, grids=_within(grids, "s1"))' in source
    assert model.s2.b.shift == (0, 0) and model.s1.b.shift == (2, 2)  # timm's rule, per instance


def test_a_literal_window_that_shrinks_in_some_instances_only(tmp_path):
    text = (SWIN.replace("swin_pair(heads, window)", "swin_pair(heads)").replace("window // 2", "2")
            .replace("(heads, window", "(heads, 4").replace("swin_pair(3, 4)", "swin_pair(3)"))
    model, _ = _agree(text, tmp_path)
    assert _tables(model)["s2.a.relative_position_bias_table"] == (9, 3)


def test_grids_of_one_width_that_are_not_square(tmp_path):
    """8x12 and 2x3 at width 24: flat tokens do not say their grid, and the width cannot tell
    the instances apart (refused by load() before)."""
    model, _ = _agree(SWIN.replace("3x16x16", "3x16x24"), tmp_path)
    assert model.s2.a.grid == (2, 3) and model.s1.a.grid == (8, 12)


COAT = """
block coat(width) {
  attn: attention2d(2, width)
}

block down(width) {
  c: coat(width)
  pool: avgpool(2x2, stride=2, valid)
}

block chain(width) {
  s: { attn: attention2d(2, width); pool: avgpool(2x2, stride=2, valid) }
}

network n {
  input 8x16x16
  coat(8)
  stage: down(8) x2
  seq: { down(8) x2 }
  upsample(4)
  chain(8)
  chain(8)
}
"""


def test_attention2d_in_blocks_repeated_nested_and_spliced_at_several_grids(tmp_path):
    """attention2d without `grid=` in blocks met at 16x16, 8x8, 4x4 and 2x2 at width 8: through a
    repetition (`_repeat_at` gives each its index), a block inside a block, a repetition
    spliced into a sequence and a layer chain (an nn.Sequential) inside a block."""
    model, source = _agree(COAT, tmp_path)
    tables = _tables(model)
    assert tables["coat.attn.rel_pos.relative_position_bias_table"] == (961, 2)  # 16x16: 31x31
    assert tables["stage.0.c.attn.rel_pos.relative_position_bias_table"] == (961, 2)
    assert tables["stage.1.c.attn.rel_pos.relative_position_bias_table"] == (225, 2)  # 8x8: 15x15
    assert tables["seq.0.c.attn.rel_pos.relative_position_bias_table"] == (49, 2)  # 4x4
    assert tables["seq.1.c.attn.rel_pos.relative_position_bias_table"] == (9, 2)  # 2x2
    assert tables["chain.s.attn.rel_pos.relative_position_bias_table"] == (49, 2)
    assert tables["chain_2.s.attn.rel_pos.relative_position_bias_table"] == (9, 2)
    assert "_repeat_at(2, " in source and "grids=_within(grids, \"stage\", i)" in source
    assert 'grid=_grid_of(grids, (4, 4), "s", "attn", "grid")' in source


EMBED = """
block embed() {
  BODY
}

network n {
  input 8x8x8
  to_tokens
  e1: embed()
  to_grid
  maxpool(2x2, stride=2, valid)
  to_tokens
  TOKEN
  e2: embed()
  pool: avg_tokens
  head: linear(3)
}
"""


def test_pos_embed_in_a_block_at_several_grids(tmp_path):
    model, source = _agree(EMBED.replace("BODY", "pos_embed\n  layernorm").replace("TOKEN", "class_token"), tmp_path)
    assert model.state_dict()["e1.pos_embed0.weight"].shape == (1, 64, 8)
    assert model.state_dict()["e2.pos_embed0.weight"].shape == (1, 17, 8)  # 4x4 and the class token
    assert '"e2.pos_embed0.count": 17,' in source


def test_pos_embed_resampled_in_some_instances_only(tmp_path):
    """Built for 4x4: resampled on the 8x8 instance, added as it is on the 4x4 one."""
    model, _ = _agree(EMBED.replace("BODY", "pos_embed(grid=4x4, resample=true)").replace("TOKEN", ""), tmp_path)
    assert model.e1.pos_embed0.resample_to == (8, 8) and model.e2.pos_embed0.resample_to is None
    assert model.state_dict()["e1.pos_embed0.weight"].shape == model.state_dict()["e2.pos_embed0.weight"].shape


def test_pos_embed_whose_grid_is_a_block_parameter(tmp_path):
    """`pos_embed(grid=g, resample=true)` with g a block parameter (one size or two): each
    instance's embedding is built for its own g (load() built the tokens' count, 64, and never
    resampled: more parameters than check counted, silently)."""
    text = (EMBED.replace("block embed()", "block embed(g)").replace("BODY", "pos_embed(grid=g, resample=true)")
            .replace("e1: embed()", "e1: embed(4)").replace("e2: embed()", "e2: embed(2x2)").replace("TOKEN", ""))
    model, source = _agree(text, tmp_path)
    assert model.state_dict()["e1.pos_embed0.weight"].shape == (1, 16, 8)  # 4x4, resampled to 8x8
    assert model.state_dict()["e2.pos_embed0.weight"].shape == (1, 4, 8)  # 2x2, resampled to 4x4
    assert model.e1.pos_embed0.grid == (4, 4) and model.e2.pos_embed0.resample_to == (4, 4)
    assert "grid=g," in source


def test_a_block_class_built_on_its_own_takes_a_default():
    """Without `grids` (a class built by hand), each layer takes its first instance's grid, or
    window attention on square grids reads its grid at run time as before."""
    source = to_python(analyze_text(SWIN))
    assert "def __init__(self, in_channels: int, *, heads: int, window: int, grids: dict = None):" in source
    model = inception_dsl.loads(SWIN)
    pair = type(model.s1)(24, heads=3, window=4)
    assert pair.a.grid is None and pair(torch.randn(1, 16, 24)).shape == (1, 16, 24)
    coat = type(inception_dsl.loads(COAT).coat)(8, width=8)
    assert coat.attn.grid == (16, 16)


@pytest.mark.parametrize("spec", ["swin_tiny_patch4_window7_224", "coatnet_0_rw_224", "vit_tiny_patch16_224",
                                  "mobilevit_xs"])
def test_the_zoo_writes_no_grids(spec):
    """Where the instances of a class agree (or differ by width) nothing is handed down."""
    from .conftest import SPECS
    source = to_python(analyze(SPECS / f"{spec}.incp"))
    assert not any(word in source for word in ("_within(", "_grid_of(", "_repeat_at(", "grids: dict"))


BRANCHES = """
block b() {
  BODY
}

network n {
  input 8x8x12
  sum { b(); { maxpool(2x2, stride=2, valid); b() } }
  head: linear(3)
}
"""


@pytest.mark.parametrize("body", [
    "to_tokens\n  class_token\n  pos_embed\n  token(0)",  # class_token's `after`, pos_embed's count
    "to_tokens\n  class_token(2)\n  class_token\n  avg_tokens",  # `after=2` and avg_tokens' skip
    "to_tokens\n  attention(2, key_dim=4, attn_bias=true)\n  avg_tokens",  # LeViT's attention biases: a table per grid
    "to_tokens\n  layernorm\n  to_grid\n  global_avgpool\n  flatten",  # to_grid on 8x12 and 4x6
    "to_patches(2x2)\n  layernorm\n  from_patches(2x2)\n  global_avgpool\n  flatten",  # from_patches on non-square
    "flatten\n  linear(4)",  # 96 and 24 positions: the flat width differs, the linear's in_features too
    "to_tokens\n  merge_patches\n  to_grid\n  global_avgpool\n  flatten\n  linear(8)",  # merge_patches on 8x12, 4x6
], ids=["class_token", "avg_tokens", "attention_biases", "to_grid", "from_patches", "flatten", "merge_patches"])
def test_token_layers_in_a_block_at_two_grids(body, tmp_path):
    """One block met at 8x12 and 4x6 at the same width: each layer that needs its instance's
    grid or prepended tokens gets it (load() refused every one of these)."""
    _agree(BRANCHES.replace("BODY", body), tmp_path)
