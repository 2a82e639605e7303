"""Shifted-window attention and patch merging (inception_dsl/ops/windows.py, with the
relative position bias of ops/relpos.py): small Swin pieces through every consumer
(tests/op_checks.py) against timm's own SwinTransformerBlock._attn and PatchMerging with
our random weights, on grids that tile and on grids that need padding, the shapes, labels
and standalone source, and the errors."""

from __future__ import annotations

import pytest
import torch
from timm.models.swin_transformer import PatchMerging, SwinTransformerBlock, get_relative_position_index

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.python.source import to_python
from inception_dsl.backends.summary import to_summary
from inception_dsl.core.shapes import Tokens
from inception_dsl.ops.windows import fitted

from .op_checks import through_everything


def _spec(grid: str, window: int, shift: int, channels: int = 24, heads: int = 3) -> str:
    return f"""
network n {{
  input {channels}x{grid}
  to_tokens
  attn: window_attention({heads}, {window}, shift={shift})
  to_grid
}}
"""


def _timm_attn(model, x, window, shift, heads):
    """timm's SwinTransformerBlock._attn on the same input, with the weights of `model.attn`."""
    _, channels, height, width = x.shape
    block = SwinTransformerBlock(channels, (height, width), num_heads=heads, window_size=window, shift_size=shift)
    state = {k: v for k, v in model.attn.state_dict().items()}
    block.attn.load_state_dict(state, strict=False)
    missing = set(block.attn.state_dict()) - set(state) - {"relative_position_index"}
    assert not missing, missing
    with torch.no_grad():
        return block.eval()._attn(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


CASES = [  # grid, window, shift: tiling, padding on both axes, padding with a shift, a window larger than the grid
    ("8x8", 4, 0), ("8x8", 4, 2), ("9x10", 4, 0), ("9x11", 4, 2), ("5x12", 6, 3), ("3x3", 4, 2),
]


@pytest.mark.parametrize("grid, window, shift", CASES)
def test_window_attention_equals_timms(grid, window, shift):
    model = through_everything(_spec(grid, window, shift),
                               lambda m, x: _timm_attn(m, x, window, shift, 3), atol=2e-5)
    height, width = map(int, grid.split("x"))
    size, _ = fitted((height, width), (window, window), (shift, shift))
    assert model.attn.relative_position_bias_table.shape == ((2 * size[0] - 1) * (2 * size[1] - 1), 3)
    assert torch.equal(model.attn.relative_position_index, get_relative_position_index(*size))
    assert "relative_position_index" not in model.state_dict() and "attn.attn_mask" not in model.state_dict()


def test_the_shifted_mask_is_timms_buffer():
    """The -100/0 mask of a padded, shifted grid: the flat forward's buffer and the
    standalone file's helper both equal timm's `attn_mask`."""
    import sys

    from inception_dsl.runtime.graph_module import GraphModule

    text = _spec("9x11", 4, 2)
    block = SwinTransformerBlock(24, (9, 11), num_heads=3, window_size=4, shift_size=2)
    model = inception_dsl.loads(text)
    flat = GraphModule(analyze_text(text).graph, state_dict=model.state_dict())
    assert torch.equal(flat.get_submodule("attn").attn_mask, block.attn_mask)
    helper = sys.modules[type(model).__module__]._window_shift_mask
    assert torch.equal(helper(12, 12, (4, 4), (2, 2)), block.attn_mask)


@pytest.mark.parametrize("grid", ["8x8", "7x9"])
def test_merge_patches_with_norm_and_reduction_equals_timms_patch_merging(grid):
    text = f"""
network n {{
  input 16x{grid}
  to_tokens
  merge: {{
    merge_patches
    norm: layernorm
    reduce: linear(32, bias=false)
  }}
  to_grid
}}
"""
    def reference(model, x):
        merging = PatchMerging(16, 32)
        merging.norm.load_state_dict(model.merge.norm.state_dict())
        merging.reduction.load_state_dict(model.merge.reduce.state_dict())
        with torch.no_grad():
            return merging(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    through_everything(text, reference, labels=("Merge 2x2 patches",))
    height, width = map(int, grid.split("x"))
    assert analyze_text(text).graph.node("merge.0").shape == Tokens(64, ((height + 1) // 2) * ((width + 1) // 2),
                                                                    ((height + 1) // 2, (width + 1) // 2))


def test_labels_name_the_windows_the_padding_and_the_shift():
    dot = to_dot(analyze_text(_spec("9x11", 4, 2)).graph)
    assert "SW-MSA, 3 heads x 8" in dot and "3x3 windows of 4x4 (padded to 12x12)" in dot and "rolled by (2, 2), masked" in dot
    dot = to_dot(analyze_text(_spec("8x8", 4, 0)).graph)
    assert "W-MSA, 3 heads x 8" in dot and "2x2 windows of 4x4\\n" in dot and "rolled" not in dot


def test_params_and_macs_count_the_table_and_the_padded_windows():
    summary = to_summary(analyze_text(_spec("9x11", 4, 2)).graph)
    # qkv and proj (4C^2 + 4C), the 7x7x3 table; projections and the two products over 12x12 padded positions
    assert summary.params == 4 * 24 * 24 + 4 * 24 + 49 * 3
    assert summary.macs == 4 * 144 * 24 * 24 + 2 * 144 * 16 * 24


BLOCKS = """
block swin_pair(heads, window) {
  a: window_attention(heads, window)
  b: window_attention(heads, window, shift=window // 2)
}

network n {
  input 3x32x32
  conv(24, 2, stride=2, valid, linear)
  to_tokens
  s1: swin_pair(3, 4)
  merge_patches
  s2: swin_pair(6, 4)
  pool: avg_tokens
  head: linear(5)
}
"""


def test_the_standalone_source_gives_each_instance_its_grid():
    """One generated class serves a block on a 16x16 and an 8x8 grid: each instance picks
    its grid by its input width (timm's names kept)."""
    source = to_python(analyze_text(BLOCKS))
    assert ("WindowAttention(in_channels, heads, grid={24: (16, 16), 96: (8, 8)}, window=window, "
            "shift=window // 2)") in source
    model = through_everything(BLOCKS)
    assert {"s1.a.relative_position_bias_table", "s2.b.qkv.weight", "s2.b.proj.bias"} <= set(model.state_dict())


def test_a_block_on_different_grids_that_are_not_square_builds_each_instances_grid():
    """A block on a 16x24 and an 8x12 grid: the flat tokens do not say their grid, so the
    generated class is given the grid of each input width and picks its own (it used to be
    refused by load() although check accepted it)."""
    text = BLOCKS.replace("input 3x32x32", "input 3x32x48")
    assert "grid={24: (16, 24), 96: (8, 12)}" in to_python(analyze_text(text))
    through_everything(text)  # parameters == summary's, outputs == the IR's flat forward


def test_a_window_larger_than_some_instances_grids_builds_their_smaller_tables():
    """A block with a 4x4 window (a block parameter) on a 4x4 and a 2x2 grid: on 2x2 the
    window shrinks to 2x2 and its table is 3x3, as timm builds it; load() has the IR's and
    summary's parameters (it used to keep the 7x7 table and read the 2x2 offsets from it)."""
    text = BLOCKS.replace("input 3x32x32", "input 3x16x16").replace("stride=2", "stride=4")
    graph = analyze_text(text).graph
    assert sorted({n.shape.grid for n in graph.nodes() if n.op.name == "WINDOW_ATTENTION"}) == [(2, 2), (4, 4)]
    model = through_everything(text)  # parameters == summary's (op_checks._counts_agree)
    assert model.state_dict()["s2.a.relative_position_bias_table"].shape == (9, 6)
    assert model.state_dict()["s1.a.relative_position_bias_table"].shape == (49, 3)


def test_a_symbolic_window_on_square_grids_of_one_width_builds_each_instances_table():
    """The same block at one width on an 8x8 and a 2x2 grid, its window a block parameter: the
    width cannot tell the instances apart, so the network hands each its grid down the
    constructors, and the 2x2 instance builds its shrunken window's 3x3 table (refused by
    load() since 1218d19, built with 7x7 tables everywhere before; check accepted it)."""
    text = BLOCKS.replace("input 3x32x32", "input 3x16x16").replace(
        "  merge_patches\n  s2: swin_pair(6, 4)", "  to_grid\n  maxpool(4x4, stride=4, valid)\n  to_tokens\n  s2: swin_pair(3, 4)")
    graph = analyze_text(text).graph
    assert sorted({n.shape.grid for n in graph.nodes() if n.op.name == "WINDOW_ATTENTION"}) == [(2, 2), (8, 8)]
    model = through_everything(text)  # parameters == summary's (op_checks._counts_agree)
    assert model.state_dict()["s2.a.relative_position_bias_table"].shape == (9, 3)
    assert model.state_dict()["s1.a.relative_position_bias_table"].shape == (49, 3)


@pytest.mark.parametrize("call, code, text", [
    ("window_attention(5, 4)", "E213", "divisible by 5"),
    ("window_attention(3, 4, shift=4)", "E112", "smaller than the window"),
    ("window_attention(3, 0)", "E112", "at least 1"),
])
def test_bad_window_attention_is_located(call, code, text):
    spec = f"network n {{\n  input 3x32x32\n  conv(24, 4x4, stride=4, valid, linear)\n  to_tokens\n  {call}\n}}\n"
    result = analyze_text(spec)
    assert not result.ok
    (diagnostic,) = [d for d in result.diagnostics if d.code.id == code]
    assert text in diagnostic.message + (diagnostic.help or "")
    assert diagnostic.primary_span.line == 5


@pytest.mark.parametrize("before, word, text", [
    ("", "window_attention(3)", "needs tokens, got the grid"),
    ("  to_tokens\n  class_token\n", "window_attention(3)", "1 prepended token(s)"),
    ("  to_tokens\n  class_token\n", "merge_patches", "1 prepended token(s)"),
])
def test_windows_need_tokens_on_a_grid(before, word, text):
    spec = f"network n {{\n  input 3x32x32\n  conv(24, 4x4, stride=4, valid, linear)\n{before}  {word}\n}}\n"
    result = analyze_text(spec)
    (diagnostic,) = [d for d in result.diagnostics if d.code.id == "E212"]
    assert text in diagnostic.message


def test_a_shifted_window_network_exports_to_onnx_and_computes_the_same(tmp_path):
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    from inception_dsl.cli import main
    from inception_dsl.runtime.module import load

    spec, out = tmp_path / "swin.incp", tmp_path / "swin.onnx"
    spec.write_text(BLOCKS.replace("input 3x32x32", "input 3x28x28"), encoding="utf-8")  # 14x14 and 7x7: padded
    assert main(["export", str(spec), "--onnx", str(out), "--seed", "0"]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    x = torch.randn(1, 3, 28, 28)
    (onnx_out,) = ReferenceEvaluator(model).run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = load(spec, seed=0).eval()(x).numpy()
    np.testing.assert_allclose(onnx_out, expected, rtol=1e-4, atol=1e-5)


def test_hover_shows_the_signature_and_the_instance():
    from inception_dsl.lsp.analysis import Analyzer
    from inception_dsl.lsp.hover import hover_text

    text = _spec("9x11", 4, 2)
    analysis = Analyzer().analyze("h.incp", text)
    shown, _ = hover_text(analysis.program, analysis.module, text.index("window_attention(") + 1, analysis.graphs)
    assert "window_attention(heads, window=7, shift=0" in shown and "99x24 tokens" in shown
