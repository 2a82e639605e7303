"""EfficientFormer's and LeViT's attention (ops/attention.py with `key_dim`): per-head key and
value widths, attention biases over the grid, LeViT's subsampling attention, LinearNorm
projections and the activation before the projection, through every consumer
(tests/op_checks.py) against timm's own modules with converted random weights; ONNX export;
the standalone source; the errors."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch
from timm.models import efficientformer, levit
from torch import nn

from inception_dsl import analyze_text
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.python.source import to_python
from inception_dsl.backends.summary import to_summary
from inception_dsl.core.shapes import Tokens
from inception_dsl.runtime.interop import convert_state_dict

from .op_checks import exports_to_onnx_alike, through_everything
from .test_zoo_modern import randomize_all

EFFICIENTFORMER = """
network n {
  input 16x8x8
  embed: conv(32, 2x2, stride=2, valid, linear)
  to_tokens
  block: residual(act=identity) {
    norm: layernorm
    token_mixer: attention(2, key_dim=8, attn_ratio=4, attn_bias=true)
  }
  pool: avg_tokens
  head: linear(10)
}
"""

LEVIT = """
network n {
  input 16x8x8
  embed: conv(32, 2x2, stride=2, valid, linear)
  to_tokens
  block: residual(act=identity) {
    attn: attention(2, key_dim=8, attn_ratio=2, attn_bias=true, bn=true, act=hardswish)
  }
  down: attention(4, key_dim=8, attn_ratio=4, attn_bias=true, stride=2, grid=4x4, out=48, bn=true, act=hardswish)
  pool: avg_tokens
  head: linear(10)
}
"""


class _Reference(nn.Module):
    """timm's attention modules in the network above."""

    def __init__(self, levit_like: bool):
        super().__init__()
        self.embed = nn.Conv2d(16, 32, 2, stride=2)
        self.levit_like = levit_like
        if levit_like:
            self.attn = levit.Attention(32, key_dim=8, num_heads=2, attn_ratio=2, resolution=4, act_layer=nn.Hardswish)
            self.down = levit.AttentionDownsample(32, 48, key_dim=8, num_heads=4, attn_ratio=4, stride=2, resolution=4,
                                                  act_layer=nn.Hardswish)
        else:
            self.norm = nn.LayerNorm(32)
            self.attn = efficientformer.Attention(32, key_dim=8, num_heads=2, attn_ratio=4, resolution=4)
        self.head = nn.Linear(48 if levit_like else 32, 10)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        if self.levit_like:
            x = self.down(x + self.attn(x))
        else:
            x = x + self.attn(self.norm(x))
        return self.head(x.mean(1))


def _through_timm(text: str, levit_like: bool) -> nn.Module:
    reference = _Reference(levit_like).eval()
    generator = torch.Generator().manual_seed(5)
    randomize_all(reference, generator)
    with torch.no_grad():  # random BatchNorm statistics
        for module in reference.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)

    def timm_output(model, x):  # our random weights carried into timm's modules through the converter
        theirs = reference.state_dict()
        key_of = {tensor.data_ptr(): key for key, tensor in theirs.items()}
        converted = convert_state_dict(model=model, reference=reference, input_size=8)
        assert converted.keys() == model.state_dict().keys()
        for key, tensor in model.state_dict().items():
            their_key = key_of[converted[key].data_ptr()]
            theirs[their_key].copy_(tensor.reshape(theirs[their_key].shape))
        for module in reference.modules():  # timm caches the gathered biases in eval
            if hasattr(module, "attention_bias_cache"):
                module.attention_bias_cache = {}
        return reference(x)

    model = through_everything(text, timm_output, labels=("Multi-head attention (2 heads, keys 8",))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    return model


def test_efficientformers_attention_equals_timms():
    model = _through_timm(EFFICIENTFORMER, levit_like=False)
    assert model.state_dict()["block.token_mixer.attention_biases"].shape == (2, 16)
    assert "block.token_mixer.attention_bias_idxs" not in model.state_dict()  # derived from the grid, as LeViT's


def test_levits_attention_and_subsampling_attention_equal_timms():
    _through_timm(LEVIT, levit_like=True)
    graph = analyze_text(LEVIT).graph
    assert graph.node("down").shape == Tokens(48, 4, (2, 2))


def test_the_macs_count_both_products_with_their_widths():
    """The subsampling attention: kv on the 16 tokens, q on the 4 subsampled ones, the two
    products (4 x 16 per head, of key and value widths) and the projection to 48."""
    graph = analyze_text(LEVIT).graph
    n, q, heads = 16, 4, 4
    kv, qp = n * 32 * heads * (8 + 32), q * 32 * heads * 8
    products = q * n * heads * (8 + 32)
    proj = q * heads * 32 * 48
    assert graph.node("down").op.macs(graph.node("down"), graph.node(graph.inputs("down")[0]).shape) == kv + qp + products + proj
    assert "values 32, 48, biases, stride 2, BatchNorm, Hardswish before proj" in to_dot(graph)


def test_the_standalone_source_builds_grid_attention():
    source = to_python(analyze_text(LEVIT))
    assert ("GridAttention(self.block.out_channels, 4, key_dim=8, attn_ratio=4.0, attn_bias=True, stride=2, "
            "out=48, bn=True, act=nn.Hardswish(), grid=(4, 4))") in source


def test_levit_exports_to_onnx_and_computes_the_same(tmp_path):
    exports_to_onnx_alike(LEVIT, tmp_path, (16, 8, 8))


@pytest.mark.parametrize("call, code, text, line", [
    ("attention(2, attn_bias=true)", "E112", "needs `key_dim`", 5),
    ("attention(2, key_dim=8, stride=2)", "E112", "needs the grid", 5),
    ("attention(2, key_dim=8, attn_bias=true, grid=3x3)", "E212", "built for a 3x3 grid", 5),
    ("attention(2, key_dim=8, attn_ratio=0.01)", "E112", "at least 1", 5),
])
def test_bad_attention_options_are_located(call, code, text, line):
    spec = f"network n {{\n  input 16x8x8\n  conv(32, 2x2, stride=2, valid, linear)\n  to_tokens\n  {call}\n}}\n"
    result = analyze_text(spec)
    assert not result.ok
    (diagnostic,) = [d for d in result.diagnostics if d.code.id == code]
    assert text in diagnostic.message + (diagnostic.help or "")
    assert diagnostic.primary_span.line == line


def test_biases_on_tokens_after_a_class_token_are_refused():
    spec = ("network n {\n  input 16x8x8\n  conv(32, 2x2, stride=2, valid, linear)\n  to_tokens\n  class_token\n"
            "  attention(2, key_dim=8, attn_bias=true)\n}\n")
    (diagnostic,) = analyze_text(spec).diagnostics
    assert diagnostic.code.id == "E212" and "prepended" in diagnostic.message


def test_tokens_shapes_serialise_with_their_grid_and_prefix(tmp_path):
    """`check --format json` (stage dims and outputs), `summary --format json` and the IR's
    JSON keep a tokens shape's grid and prepended tokens, which a list would lose."""
    from inception_dsl.cli import main

    spec = tmp_path / "n.incp"
    spec.write_text(EFFICIENTFORMER.replace("  to_tokens\n", "  to_tokens\n  class_token\n")
                    .replace("attn_bias=true", "qk_norm=true"), encoding="utf-8")
    tokens = {"tokens": 17, "channels": 32, "grid": [4, 4], "prefix": 1}
    for argv, pick in [
        (["check", str(spec), "--format", "json"], lambda d: {s["name"]: s["dims"] for s in d["stages"]}["block"]),
        (["summary", str(spec), "--format", "json"], lambda d: {r["name"]: r["shape"] for r in d["rows"]}["block"]),
        (["check", str(spec), "--emit", "ir", "--format", "json"],
         lambda d: {n["id"]: n["shape"] for n in d["nodes"]}["block.token_mixer"]),
    ]:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(argv) == 0
        assert pick(json.loads(buffer.getvalue())) == tokens, argv


def test_hover_shows_the_options_and_the_instances_shapes_and_counts():
    from inception_dsl.lsp.analysis import Analyzer
    from inception_dsl.lsp.hover import hover_text

    analysis = Analyzer().analyze("h.incp", LEVIT)
    shown, _ = hover_text(analysis.program, analysis.module, LEVIT.index("attention(4") + 1, analysis.graphs)
    assert "key_dim" in shown and "attn_bias" in shown and "stride" in shown
    assert "16x32 tokens" in shown and "4x48 tokens" in shown  # its input and output
