"""2-D attention with a relative position bias (inception_dsl/ops/attention2d.py) against
timm's Attention2d + RelPosBias (CoAtNet): through every consumer, with its options, the
table and index against timm's, the standalone source, ONNX, and its located errors."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from timm.layers.pos_embed_rel import RelPosBias, gen_relative_position_index
from timm.models.maxxvit import Attention2d

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.ops.relpos import table_rows

from .op_checks import through_everything

SPEC = """
network n {
  input 8xHGRID
  norm: layernorm(eps=1e-6)
  attn: attention2d(HEADS, OUT, ARGS)
  act: gelu
}
"""


def _spec(h=5, w=6, heads=2, out=12, args="bias=true"):
    return (SPEC.replace("HGRID", f"{h}x{w}").replace("HEADS", str(heads)).replace("OUT", str(out))
            .replace("ARGS", args))


def _timm(model, heads, out, bias, grid):
    """timm's Attention2d as CoAtNet builds it (expand_first=False, head-first qkv), with
    the model's tensors."""
    rel_pos = partial(RelPosBias, window_size=grid) if grid else None
    attn = Attention2d(8, out, dim_head=8 // heads, bias=bias, expand_first=False, rel_pos_cls=rel_pos).eval()
    state = {k[len("attn."):]: v for k, v in model.state_dict().items() if k.startswith("attn.")}
    attn.load_state_dict(state)
    return attn


@pytest.mark.parametrize("h, w, heads, out, args", [
    (5, 6, 2, 12, "bias=true"),        # a grid that is not square, wider output
    (4, 4, 4, 8, "bias=false"),        # no biases, one channel... two channels per head
    (3, 5, 1, 16, "rel_pos=false"),    # no bias table
])
def test_attention2d_equals_timms_attention2d(h, w, heads, out, args):
    text = _spec(h, w, heads, out, args)
    bias, rel_pos = "bias=false" not in args, "rel_pos=false" not in args

    def reference(model, x):
        norm = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (8,), model.state_dict()["norm.weight"],
                                              model.state_dict()["norm.bias"], 1e-6).permute(0, 3, 1, 2)
        attn = _timm(model, heads, out, bias, (h, w) if rel_pos else None)
        return torch.nn.functional.gelu(attn(norm))

    model = through_everything(text, reference, labels=(f"ttention 2D ({heads} heads, {h}x{w} grid, {out})",))
    if rel_pos:  # random values in the table, so the bias really counts
        assert model.state_dict()["attn.rel_pos.relative_position_bias_table"].shape == \
            (table_rows((h, w)), heads)
        index = gen_relative_position_index((h, w))  # timm's, for the whole grid
        assert torch.equal(model.attn.rel_pos.relative_position_index.view(-1), index.view(-1))


def test_a_block_parameter_reaches_the_standalone_source():
    text = """
block coat(width, grid) {
  attn: attention2d(in_channels // 4, width, grid=grid)
}

network n {
  input 8x6x6
  coat(16, 6x6)
  pool: avgpool(2x2, stride=2, valid)
  coat(16, 3x3)
}
"""
    source = to_python(analyze_text(text))
    assert "Attention2d(in_channels, in_channels // 4, out=width, grid=grid)" in source
    model = inception_dsl.loads(text)
    keys = model.state_dict()
    assert keys["coat.attn.rel_pos.relative_position_bias_table"].shape == (121, 2)
    assert keys["coat_2.attn.rel_pos.relative_position_bias_table"].shape == (25, 4)
    assert model(torch.randn(1, 8, 6, 6)).shape == (1, 16, 3, 3)


def test_one_block_at_two_grids_without_grid_builds_each_instances_table():
    """One block class at two grids without `grid=`: each instance is handed its own grid
    down the constructor (it used to be refused by load(), though check accepted it)."""
    text = """
block coat(width) {
  attn: attention2d(2, width)
}

network n {
  input 8x6x6
  coat(8)
  pool: avgpool(2x2, stride=2, valid)
  coat(8)
}
"""
    model = through_everything(text)  # parameters == summary's, outputs == the IR's flat forward
    keys = model.state_dict()
    assert keys["coat.attn.rel_pos.relative_position_bias_table"].shape == (121, 2)
    assert keys["coat_2.attn.rel_pos.relative_position_bias_table"].shape == (25, 2)


@pytest.mark.parametrize("call, code, text", [
    ("attention2d(3)", "E213", "use `heads=2` or `heads=4`"),
    ("attention2d(2, grid=4x4)", "E214", "write `grid=5x6`"),
    ("attention2d(0)", "E112", "at least 1"),
    ("attention2d(2, 0)", "E112", "at least 1"),
])
def test_bad_attention2d_is_located(call, code, text):
    spec = f"network n {{\n  input 8x5x6\n  {call}\n}}\n"
    result = analyze_text(spec)
    assert not result.ok
    (diagnostic,) = [d for d in result.diagnostics if d.code.id == code]
    assert text in diagnostic.message + (diagnostic.help or "")
    assert diagnostic.primary_span.line == 3


@pytest.mark.parametrize("before, text", [("flatten", "flat"), ("to_tokens", "to_grid")])
def test_attention2d_needs_a_grid(before, text):
    result = analyze_text(f"network n {{\n  input 8x4x4\n  {before}\n  attention2d(2)\n}}\n")
    (diagnostic,) = [d for d in result.diagnostics if d.code.id == "E204"]
    assert text in diagnostic.message + (diagnostic.help or "") and diagnostic.primary_span.line == 4


def test_attention2d_exports_to_onnx_and_computes_the_same(tmp_path):
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    from inception_dsl.cli import main
    from inception_dsl.runtime.module import load

    spec, out = tmp_path / "a.incp", tmp_path / "a.onnx"
    spec.write_text(_spec(), encoding="utf-8")
    assert main(["export", str(spec), "--onnx", str(out), "--seed", "0"]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    x = torch.randn(1, 8, 5, 6)
    (onnx_out,) = ReferenceEvaluator(model).run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = load(spec, seed=0).eval()(x).numpy()
    np.testing.assert_allclose(onnx_out, expected, rtol=1e-4, atol=1e-5)


def test_the_generated_class_refuses_an_input_grid_its_table_was_not_built_for():
    model = inception_dsl.loads(_spec())
    attention = type(model.attn)(8, 2, out=12, grid=(3, 3))
    assert attention(torch.randn(1, 8, 3, 3)).shape == (1, 12, 3, 3)
    with pytest.raises(ValueError, match="built for a 3x3 grid, the input is 5x6"):
        attention(torch.randn(1, 8, 5, 6))
