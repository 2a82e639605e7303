"""Tokens and attention (inception_dsl/ops/tokens.py, token_params.py, attention.py): small
vision transformers through every consumer (tests/op_checks.py) against timm's own
VisionTransformer with converted random weights, the words between grids and tokens, the
position embedding's resampling, the tokens shape in check/summary/IR, and the errors."""

from __future__ import annotations

import pytest
import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.diagram.drawing import View
from inception_dsl.backends.python.source import to_python
from inception_dsl.backends.summary import to_summary
from inception_dsl.ir import dump
from inception_dsl.core.shapes import Tokens
from inception_dsl.runtime.interop import convert_state_dict

from .op_checks import exports_to_onnx_alike, through_everything
from .test_zoo_modern import randomize_all

BLOCK = """
block encoder(heads, qk_norm = false) {
  residual(act=identity) {
    norm1: layernorm(eps=1e-6)
    attn: attention(heads, qk_norm=qk_norm)
  }
  residual(act=identity) {
    norm2: layernorm(eps=1e-6)
    mlp: {
      fc1: linear(4 * in_channels)
      gelu
      fc2: linear(in_channels)
    }
  }
}
"""

VIT = BLOCK + """
network vit(num_classes = 10) {
  input 3x32x32
  patch_embed: {
    proj: conv(48, 8x8, stride=8, valid, linear)
    to_tokens
  }
  cls_token: class_token
  pos_embed: pos_embed
  blocks: encoder(3) x2
  norm: layernorm(eps=1e-6)
  pool: token(0)
  head: linear(num_classes)
}
"""

# register tokens, q/k norm, average pooling after the prepended tokens and the norm on the pooled
# features (timm's `fc_norm`, its `norm` then being the identity)
VIT_AVG = (VIT.replace("  pos_embed: pos_embed", "  reg_token: class_token(2)\n  pos_embed: pos_embed")
           .replace("encoder(3) x2\n  norm: layernorm(eps=1e-6)\n  pool: token(0)",
                    "encoder(4, qk_norm=true) x2\n  pool: avg_tokens\n  fc_norm: layernorm(eps=1e-6)"))

TIMM = {
    VIT: dict(),
    VIT_AVG: dict(num_heads=4, reg_tokens=2, qk_norm=True, global_pool="avg"),
}


def _timm(text: str) -> VisionTransformer:
    kwargs = dict(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, num_classes=10)
    return VisionTransformer(**(kwargs | TIMM[text])).eval()


@pytest.mark.parametrize("text", [VIT, VIT_AVG], ids=["class_token", "avg_registers_qk_norm"])
def test_a_small_vit_equals_timms(text):
    """Converted from timm's VisionTransformer (random weights, and random values in its class,
    register and position tokens), through every consumer."""
    reference = _timm(text)
    randomize_all(reference, torch.Generator().manual_seed(3))

    def timm_output(model, x):  # our random weights carried into timm's model, backwards through the converter
        theirs = reference.state_dict()
        key_of = {tensor.data_ptr(): key for key, tensor in theirs.items()}
        converted = convert_state_dict(model=model, reference=reference, input_size=32)
        assert converted.keys() == model.state_dict().keys()
        for key, tensor in model.state_dict().items():
            their_key = key_of[converted[key].data_ptr()]
            theirs[their_key].copy_(tensor.reshape(theirs[their_key].shape))
        return reference(x)

    model = through_everything(text, timm_output, labels=("Class token", "To tokens", "Position embedding"))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())


def test_the_diagram_shows_heads_and_widths():
    dot = to_dot(analyze_text(VIT_AVG).graph, View(scope="blocks.0"))
    assert "Multi-head attention (4 heads x 12, 48)" in dot and "19x48 tokens" in dot


def test_the_tokens_shape_in_check_summary_and_the_ir():
    graph = analyze_text(VIT_AVG).graph
    assert graph.node("patch_embed.1").shape == Tokens(48, 16, (4, 4))
    assert graph.node("reg_token").shape == Tokens(48, 19, (4, 4), prefix=3)
    assert graph.node("pool").shape == (48,)
    assert "%reg_token = class_token(%cls_token) {count=2} : 19x48 tokens" in dump(graph)
    # attention: the projections (4*N*C*C) and the two products (2*N*N*C) per block
    linear_macs = 16 * 48 * 3 * 8 * 8 + 10 * 48 + 2 * 19 * (48 * 48 * 4 + 2 * 48 * 192)
    assert to_summary(graph).macs == linear_macs + 2 * 2 * 19 * 19 * 48


def test_to_grid_puts_tokens_back_where_they_came_from():
    text = """
network n {
  input 6x3x5
  to_tokens
  mix: linear(4)
  to_grid
  out: conv(2, 3x3)
}
"""
    def reference(model, x):  # a linear layer on every position is a 1x1 conv
        state = model.state_dict()
        return model.out(torch.einsum("bchw,oc->bohw", x, state["mix.weight"]) + state["mix.bias"].view(1, -1, 1, 1))

    through_everything(text, reference)
    graph = analyze_text(text).graph
    assert graph.node("mix").shape == Tokens(4, 15, (3, 5)) and graph.node("to_grid2").shape == (4, 3, 5)


def test_to_grid_with_a_size_and_its_source():
    text = "network n {\n  input 4x2x6\n  to_tokens\n  to_grid(3x4)\n  flatten\n  fc: linear(2)\n}\n"
    model = through_everything(text)
    assert analyze_text(text).graph.node("to_grid1").shape == (4, 3, 4)
    assert "ToGrid((3, 4))" in to_python(analyze_text(text))
    x = torch.randn(1, 4, 2, 6)
    with torch.no_grad():
        expected = model.fc(x.flatten(2).transpose(1, 2).transpose(1, 2).reshape(1, 4, 3, 4).flatten(1))
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_a_position_embedding_resampled_for_another_grid_equals_timms():
    text = """
network n {
  input 8x3x4
  to_tokens
  cls: class_token
  pos: pos_embed(grid=2x2, resample=true)
  pool: avg_tokens(skip=0)
}
"""
    model = through_everything(text)
    weight = model.state_dict()["pos.weight"]
    assert weight.shape == (1, 5, 8)  # built for 2x2 and the class token
    x = torch.randn(2, 8, 3, 4)
    tokens = torch.cat([model.state_dict()["cls.token"].expand(2, -1, -1), x.flatten(2).transpose(1, 2)], 1)
    resampled = resample_abs_pos_embed(weight, new_size=[3, 4], old_size=[2, 2], num_prefix_tokens=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), (tokens + resampled).mean(1), rtol=0, atol=1e-6)


def test_the_standalone_source_names_timms_parameters():
    source = to_python(analyze_text(VIT))
    assert "Attention(in_channels, heads, qk_norm=qk_norm)" in source
    assert "PosEmbed(17, 48)" in source and "ClassToken(48)" in source and "TokenPool(0)" in source
    keys = inception_dsl.loads(VIT).state_dict()
    assert {"blocks.0.residual0.attn.qkv.weight", "blocks.0.residual0.attn.proj.bias", "cls_token.token",
            "pos_embed.weight"} <= set(keys)


@pytest.mark.parametrize("call, code, text", [
    ("attention(0)", "E112", "at least 1"),
    ("attention(3, attn_drop=2.0)", "E112", "dropout probability"),
    ("token(17)", "E212", "out of range for 17x48 tokens"),
    ("avg_tokens(skip=17)", "E212", "leaves no token"),
    ("to_grid(3x3)", "E212", "prepended"),
    ("flatten", "E204", "`avg_tokens`"),
    ("maxpool(2x2, stride=2, valid)", "E204", "put them back on a grid first with `to_grid`"),
    ("groupnorm(4)", "E204", "got 17x48 tokens"),
])
def test_bad_token_layers_are_located(call, code, text):
    spec = f"network n {{\n  input 3x32x32\n  conv(48, 8x8, stride=8, valid, linear)\n  to_tokens\n  class_token\n  {call}\n}}\n"
    result = analyze_text(spec)
    assert not result.ok
    (diagnostic,) = [d for d in result.diagnostics if d.code.id == code]
    assert text in diagnostic.message + (diagnostic.help or "")
    assert diagnostic.primary_span.line == 6


def test_every_token_word_of_the_ir_fixture_runs_through_everything():
    """tests/cases/ir/elaborate/tokens.incp: every token word and option in one network."""
    from .conftest import CASES

    through_everything((CASES / "ir" / "elaborate" / "tokens.incp").read_text(encoding="utf-8"))


def test_a_vit_exports_to_onnx_and_computes_the_same(tmp_path):
    """`inception-dsl export --onnx` of the small ViT (attention through
    scaled_dot_product_attention), run by onnx's reference evaluator."""
    exports_to_onnx_alike(VIT, tmp_path, (3, 32, 32))
