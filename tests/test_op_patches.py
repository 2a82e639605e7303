"""`to_patches(size)` and `from_patches(size)` (inception_dsl/ops/patches.py): MobileViT's
unfold and fold in timm's order (checked around our attention inside timm's own
MobileVitBlock), through every consumer; the folded tokens shape counts each sequence
(values, MACs), layers that need one sequence per image refuse it, and a grid that does
not divide into the patches is located (E212)."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python

from .op_checks import through_everything

TRANSFORMER = """network n {{
  input {c}x{h}x{w}
  to_patches({p})
  attention(heads=2)
  from_patches({p})
}}
"""


@pytest.mark.parametrize("c, h, w, p", [(8, 8, 12, "2x2"), (4, 4, 8, "2x4")])
def test_attention_across_patches_equals_timms_mobilevit_unfold_and_fold(c, h, w, p):
    """timm's MobileVitBlock with its convs and norm taken out and our attention as its
    transformer: its unfold, our attention, its fold."""
    mobilevit = pytest.importorskip("timm.models.mobilevit")
    ph, pw = (int(v) for v in p.split("x"))

    def timm_block(model, x):
        block = mobilevit.MobileVitBlock(c, c, transformer_dim=c, transformer_depth=1, patch_size=(ph, pw),
                                         num_heads=2, no_fusion=True)
        block.conv_kxk = block.conv_1x1 = block.conv_proj = block.norm = torch.nn.Identity()
        block.transformer = torch.nn.Sequential(model.attention1)
        return block.eval()(x)

    text = TRANSFORMER.format(c=c, h=h, w=w, p=p)
    through_everything(text, timm_block, labels=(f"To patches {p if ph != pw else ph}",
                                                 f"From patches {p if ph != pw else ph}"))
    graph = analyze_text(text).graph
    tokens = graph.node("attention1").shape
    assert (tokens.batch, tokens[1], tokens.grid) == (ph * pw, (h // ph) * (w // pw), (h // ph, w // pw))


def test_fold_undoes_unfold_exactly_and_layers_per_token_keep_the_fold():
    text = ("network n {\n  input 5x4x6\n  to_patches(2x2)\n  linear(7)\n  layernorm\n  gelu\n"
            "  from_patches(2x2)\n}\n")
    model = through_everything(text)
    assert analyze_text(text).graph.node("output").shape == (7, 4, 6)
    identity = through_everything("network n {\n  input 5x4x6\n  to_patches(2x2)\n  from_patches(2x2)\n}\n")
    x = torch.randn(2, 5, 4, 6)
    assert torch.equal(identity(x), x) and model(x).shape == (2, 7, 4, 6)


def test_a_block_at_several_square_grids_folds_each_by_its_token_count():
    text = ("block mvit(dim) {\n  to_patches(2x2)\n  attention(heads=2)\n  from_patches(2x2)\n"
            "  conv(dim, 3x3, stride=2)\n}\n"
            "network n {\n  input 4x16x16\n  a: mvit(4)\n  b: mvit(4)\n}\n")
    assert "FromPatches((2, 2))" in to_python(analyze_text(text))
    through_everything(text)


@pytest.mark.parametrize("body, line, message", [
    ("  to_patches(2x2)\n", 3, "needs a grid that divides into 2x2 patches, got 4x6x5"),
    ("  to_patches(2x2)\n  from_patches(3x3)\n", 4, "from_patches(3) needs the 9 sequences"),
    ("  to_patches(2x2)\n  avg_tokens\n", 4, "avg_tokens needs one sequence of tokens per image"),
    ("  to_patches(2x2)\n  to_grid\n", 4, "to_grid needs one sequence of tokens per image"),
    ("  to_tokens\n  from_patches(2x2)\n", 4, "from_patches(2) needs the 4 sequences"),
])
def test_tokens_it_cannot_use_are_located(body, line, message):
    size = "4x6x5" if "2x2)\n" == body[-5:] and body.count("\n") == 1 else "4x6x6"
    result = analyze_text(f"network n {{\n  input {size}\n{body}}}\n")
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E212", line)]
    assert message in result.diagnostics[0].message
