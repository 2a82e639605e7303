"""Layers that follow another tensor's size (inception_dsl/ops/follow_size.py):
`resize(to=LABEL)` and `pad_to(LABEL)` through every consumer, against F.interpolate and
F.pad; the grid follows the target at other input sizes too (loaded, flat and optimized
modules); a target that is not reachable from here is a located E113 with help."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.language.fmt import fmt
from inception_dsl.runtime.graph_module import GraphModule, optimize_graph_module

from .op_checks import through_everything

NET = """network n {{
  input 3x{size}x{size}
  low: conv(8, 3x3, stride=2)
  conv(16, 3x3, stride=2)
  up: resize(to=low{options})
  conv(8, 1x1, linear)
  full: resize(input, mode=bilinear)
}}
"""


@pytest.mark.parametrize("options, mode, align", [("", "nearest", None), (", mode=bilinear", "bilinear", False),
                                                  (", mode=bilinear, align_corners=true", "bilinear", True)])
def test_resize_to_a_label_and_to_the_input_equals_f_interpolate(options, mode, align):
    def reference(model, x):
        low = model.low(x)
        up = F.interpolate(model.conv1(low), size=low.shape[-2:], mode=mode, align_corners=align)
        return F.interpolate(model.conv3(up), size=x.shape[-2:], mode="bilinear", align_corners=False)

    text = NET.format(size=33, options=options)
    model = through_everything(text, reference, labels=(f"Resize to low ({mode}",))
    assert analyze_text(text).graph.node("up").shape == (16, 17, 17)  # 9x9 to low's 17x17, not 18x18
    graph = analyze_text(text).graph
    flat, optimized = GraphModule(graph, state_dict=model.state_dict()).eval(), optimize_graph_module(graph, model.state_dict())
    for size in (32, 35):  # the grids follow the input
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            expected = reference(model, x)
            assert expected.shape[-2:] == (size, size)
            for module in (model, flat, optimized):
                torch.testing.assert_close(module(x), expected, rtol=1e-4, atol=1e-4)


def test_pad_to_pads_the_odd_pixel_after_and_crops_a_larger_input():
    text = ("network n {\n  input 3x17x17\n  skip: conv(4, 3x3)\n  maxpool(2x2, stride=2, valid)\n"
            "  up: conv_transpose(4, 2x2, stride=2)\n  pad_to(skip)\n  big: conv_transpose(4, 3x3, stride=2)\n"
            "  pad_to(skip)\n}\n")

    def reference(model, x):
        skip = model.skip(x)
        up = model.up(F.max_pool2d(skip, 2, 2))
        padded = F.pad(up, (0, 1, 0, 1))  # 16 -> 17: the odd pixel after
        big = model.big(padded)  # 35
        return big[:, :, 9:26, 9:26]  # cropped to 17, 9 before and 9 after

    model = through_everything(text, reference, labels=("Pad to skip",))
    graph = analyze_text(text).graph
    assert graph.node("pad_to3").shape == (4, 17, 17) and graph.node("big").shape == (4, 35, 35)


def test_the_standalone_module_reads_the_label_in_forward_and_fmt_keeps_it():
    text = NET.format(size=16, options=", mode=bilinear")
    source = to_python(analyze_text(text))
    assert "x = self.up(x, low)" in source and "self.full(x, inputs)" in source
    assert fmt(text, "n.incp") == text


@pytest.mark.parametrize("body, message, line", [
    ("  up: resize(to=later)\n  later: conv(4, 3x3)\n", "`resize` follows `later`, which is computed after this", 3),
    ("  concat { a: conv(4, 3x3); conv(4, 3x3) }\n  resize(to=a)\n", "no earlier statement of this sequence", 4),
    ("  a: conv(4, 3x3)\n  { conv(4, 3x3); pad_to(a) }\n", "`pad_to` follows `a`: no earlier statement", 4),
    ("  a: conv(4, 3x3) when false\n  resize(to=a)\n", "switched off by its `when`", 4),
    ("  resize(to=3)\n", "names a labelled statement", 3),
    ("  resize(to=input, align_corners=true)\n", "bilinear resizing only", 3),
])
def test_a_target_not_reachable_from_here_is_located(body, message, line):
    result = analyze_text("network n {\n  input 3x8x8\n" + body + "}\n")
    assert not result.ok
    diagnostic = result.diagnostics[0]
    assert message in diagnostic.message, diagnostic.message
    assert diagnostic.primary_span.line == line
    assert diagnostic.help or diagnostic.notes


def test_check_says_which_sizes_follow_a_tensor_and_hover_reads_every_word(capsys, tmp_path):
    from inception_dsl.cli import main
    from inception_dsl.lsp.analysis import Analyzer
    from inception_dsl.lsp.hover import hover_text

    text = ("network n {\n  input 3x17x17\n  low: conv(8, 3x3, stride=2, tf_same)\n  conv(8, 3x3, stride=2)\n"
            "  resize(to=low, mode=bilinear)\n  pad_to(input)\n  channels(0, 4)\n}\n")
    (tmp_path / "n.incp").write_text(text, encoding="utf-8")
    assert main(["check", str(tmp_path / "n.incp")]) == 0
    out = capsys.readouterr().out
    assert "resize2    resize    8x9x9" in out and "pad_to3    pad_to    8x17x17" in out
    assert ("sizes that follow a tensor at run time: `low` pads from its input's size (TF same); `resize2` takes "
            "the size of `low`; `pad_to3` takes the size of `input`") in out
    analysis = Analyzer().analyze("n.incp", text)
    for word in ("tf_same", "resize(", "low, mode", "pad_to(", "input)", "channels("):
        shown, _ = hover_text(analysis.program, analysis.module, text.index(word) + 1, analysis.graphs)
        assert shown is None or isinstance(shown, str)
    shown, _ = hover_text(analysis.program, analysis.module, text.index("resize(") + 1, analysis.graphs)
    assert "resize" in shown and "8x9x9" in shown
