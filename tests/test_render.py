"""`render` and backends/diagram/dot.py: DOT goldens, SVG content read back as XML, tooltips,
escaping of hostile strings, missing Graphviz, errors that write nothing, no torch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from inception_dsl import analyze, analyze_text
from inception_dsl.backends.diagram.dot import quote, to_dot
from inception_dsl.backends.diagram.drawing import View
from inception_dsl.cli import main

from .conftest import CASES, ROOT

RENDER_CASES = CASES / "render"
SMALL = "tests/cases/render/small.incp"
V4 = "specs/v4.incp"
SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    """Spec paths stay relative, so tooltips (and goldens) hold no absolute paths."""
    monkeypatch.chdir(ROOT)


def render(tmp_path: Path, *args: str, name: str = "out.dot") -> tuple[int, Path]:
    out = tmp_path / name
    return main(["render", *args, "-o", str(out)]), out


def svg_texts(path: Path) -> tuple[list[str], list[str]]:
    """(text lines drawn, tooltips) of an SVG written by Graphviz."""
    root = ET.parse(path).getroot()
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    tooltips = [a.get(XLINK_TITLE) for a in root.iter(f"{SVG}a") if a.get(XLINK_TITLE)]
    return texts, tooltips


# -- DOT goldens and determinism ----------------------------------------------------
@pytest.mark.parametrize("args, golden_name", [
    ((SMALL,), "small.dot.golden"),
    ((SMALL, "--depth", "1"), "small.depth1.dot.golden"),
    ((V4, "--block", "inception_a"), "inception_a.dot.golden"),
])
def test_dot_output_matches_golden(tmp_path, golden, args, golden_name):
    status, out = render(tmp_path, *args)
    assert status == 0
    golden(RENDER_CASES / golden_name, out.read_text(encoding="utf-8"))


def test_dot_is_byte_identical_across_runs(tmp_path):
    first = render(tmp_path, V4, "--expand", "all", name="a.dot")[1].read_bytes()
    second = render(tmp_path, V4, "--expand", "all", name="b.dot")[1].read_bytes()
    assert first == second


def test_default_view_is_one_box_per_stage_with_repeats_folded():
    graph = analyze(V4).graph
    source = to_dot(graph)
    assert "inception_a x4\\n384x35x35" in source
    assert "inception_b x7\\n1024x17x17" in source and "inception_c x3\\n1536x8x8" in source
    assert "5: mixed_5a\\n384x35x35" in source  # a member of the sequence `features`, by position
    assert 'label="1024x17x17"' in source  # edges carry the tensor shape
    assert "Filter concat" not in source and source.count("subgraph cluster_") == 1  # `features`
    unfolded = to_dot(graph, View(fold=False))
    assert all(f'"{6 + i}: inception_a\\n384x35x35"' in unfolded for i in range(4)) and " x4" not in unfolded


NESTED = """
block unit(width) { concat { conv(width, 1x1); { conv(4, 1x1); conv(width, 3x3) } } }
network nested {
  input 3x16x16
  stage1: { conv(8, 3x3); unit(4) x5; conv(8, 1x1) x2 }
  stage2: { unit(8); unit(8) x3 } x2
  global_avgpool
}
"""


def test_repetitions_fold_at_any_depth_and_compound_statements_are_clusters():
    result = analyze_text(NESTED, "nested.incp")
    assert result.ok, result.diagnostics
    source = to_dot(result.graph)
    assert 'label="stage1"' in source and 'label="stage2 x2"' in source  # clusters
    assert '"unit x5\\n8x16x16"' in source and '"unit x3\\n16x16x16"' in source  # positions 1-5, 1-3
    assert '"1x1 Conv (8) x2\\n8x16x16"' in source  # a stage: a member of `stage1`
    assert source.count("subgraph cluster_") == 2
    unfolded = to_dot(result.graph, View(fold=False))
    assert " x5" not in unfolded and unfolded.count('label="stage2.') == 2


def test_expand_opens_only_the_named_block_as_a_cluster():
    graph = analyze(V4).graph
    source = to_dot(graph, View(expand=frozenset({"reduction_a"})))
    assert source.count("subgraph cluster_") == 2  # `features` and the opened block
    assert 'label="10: reduction_a"' in source and "3x3 Conv (384 stride 2 V)" in source
    assert "inception_b x7\\n1024x17x17" in source  # still folded and closed
    everything = to_dot(graph, View(expand=frozenset({"all"})))
    assert everything.count("subgraph cluster_") == 9  # features; mixed_3a/4a/5a, a, reduction_a, b, reduction_b, c
    assert "7x1 Conv (320)" in everything and "1x3 Conv (256)" in everything


def test_depth_opens_outer_blocks_and_keeps_inner_ones_closed(tmp_path):
    graph = analyze(SMALL).graph
    depth1 = to_dot(graph, View(depth=1))
    assert '"inner: unit\\n24x16x16"' in depth1 and '"shrink\\n40x7x7"' in depth1
    by_name = to_dot(graph, View(expand=frozenset({"tower", "inner"})))
    assert "3x3 Avg Pooling" in by_name and '"shrink\\n40x7x7"' in by_name and '"unit x3\\n24x16x16"' in by_name
    depth2 = to_dot(graph, View(depth=2))
    assert '"inner: unit\\n24x16x16"' not in depth2 and "3x3 Conv (16 stride 2 V)" in depth2


# -- SVG read back --------------------------------------------------------------------
def test_svg_shows_stage_names_and_shapes(tmp_path):
    status, out = render(tmp_path, V4, name="v4.svg")
    assert status == 0
    texts, tooltips = svg_texts(out)
    for expected in ("3: mixed_3a", "inception_a x4", "10: reduction_a", "inception_b x7", "18: reduction_b",
                     "inception_c x3", "384x35x35", "1024x17x17", "1536x8x8", "Linear (1000)"):
        assert expected in texts, expected
    line = next(i for i, text in enumerate((ROOT / "specs/v4.incp").read_text().splitlines(), 1) if "inception_a x4" in text)
    assert f"specs/v4.incp:{line}\nfeatures.6" in tooltips  # picture -> call site in the source


def _node_positions(path: Path) -> dict[str, tuple[float, float]]:
    """Tooltip's module path -> (x, y) of the node's first text line (SVG y grows downward)."""
    positions = {}
    for anchor in ET.parse(path).getroot().iter(f"{SVG}a"):
        text = anchor.find(f"{SVG}text")
        if text is not None and anchor.get(XLINK_TITLE):
            positions[anchor.get(XLINK_TITLE).split("\n")[1]] = (float(text.get("x")), float(text.get("y")))
    return positions


def test_block_layout_is_the_papers_branches_left_to_right_concat_at_the_bottom(tmp_path):
    status, out = render(tmp_path, V4, "--block", "inception_a", name="a.svg")
    assert status == 0
    at = _node_positions(out)
    firsts = ["features.6.branch0", "features.6.branch1.0", "features.6.branch2.0", "features.6.branch3.0"]
    xs = [at[name][0] for name in firsts]
    assert xs == sorted(xs) and len(set(xs)) == 4  # spec order, side by side
    concat_y = at["features.6.cat"][1]
    input_y = at["features.5.cat"][1]
    assert input_y < min(y for _, y in at.values() if y != input_y)  # input on top
    assert concat_y == max(y for _, y in at.values())  # filter concat at the bottom


def test_block_svg_looks_like_the_paper_and_points_at_the_definition(tmp_path):
    status, out = render(tmp_path, V4, "--block", "reduction_b", name="rb.svg")
    assert status == 0
    texts, tooltips = svg_texts(out)
    for expected in ("1x7 Conv (256)", "7x1 Conv (320)", "3x3 Conv (320 stride 2 V)", "3x3 MaxPool (stride 2 V)",
                     "Filter concat", "1024x17x17"):
        assert expected in texts, expected
    line = next(i for i, text in enumerate((ROOT / "specs/blocks/inception_v4.incp").read_text().splitlines(), 1)
                if "conv(320, 7x1)" in text)
    assert any(t.startswith(f"specs/blocks/inception_v4.incp:{line}\n") for t in tooltips)


def test_residual_block_shows_shortcut_scale_and_relu(tmp_path):
    graph = analyze(SMALL).graph
    source = to_dot(graph, View(scope="res.0"))
    assert '"x0.17"' in source and '"+"' in source and '"ReLU"' in source and "1x1 Conv (40 Linear)" in source
    assert source.count("Filter concat") == 1


def test_block_not_used_by_a_network_is_drawn_with_its_arguments(tmp_path):
    status, out = render(tmp_path, "specs/blocks/inception_v4.incp", "--block", "reduction_a",
                         "--arg", "k=192", "--arg", "l=224", "--arg", "m=256", "--arg", "n=384", "--input", "384x35x35")
    assert status == 0
    source = out.read_text()
    assert "3x3 Conv (384 stride 2 V)" in source and "1x1 Conv (192)" in source and "384x35x35" in source


def test_block_drawn_with_arguments_from_a_spec_whose_settings_name_its_network_labels(tmp_path):
    # `set classifier` names a label of the spec's own network, not of the block view's
    status, out = render(tmp_path, "specs/mobilenet_v3_large.incp", "--block", "bneck", "--arg", "out=40",
                         "--arg", "kernel=5", "--arg", "exp=72", "--arg", "se=true", "--arg", "nl=relu",
                         "--arg", "stride=2", "--input", "24x56x56")
    assert status == 0
    drawing = out.read_text()
    assert "72x28x28" in drawing and "72x1x1" in drawing  # the stride-2 depthwise conv and the SE gate


def test_block_no_network_calls_gets_the_first_input_that_fits(tmp_path):
    status, out = render(tmp_path, "specs/blocks/inception_v4.incp", "--block", "inception_b")
    assert status == 0 and '"Input\\n3x35x35"' in out.read_text()
    spec = tmp_path / "res.incp"
    spec.write_text("block r { residual { conv(384, 1x1, linear) } }\n")  # needs 384 input channels
    status, out = render(tmp_path, str(spec), "--block", "r")
    assert status == 0 and '"Input\\n384x35x35"' in out.read_text()


def test_block_with_missing_arguments_reports_and_writes_nothing(tmp_path, capsys):
    status, out = render(tmp_path, "specs/blocks/inception_v4.incp", "--block", "reduction_a")
    assert status == 1 and not out.exists()
    err = capsys.readouterr().err
    assert "needs its `k` argument" in err and "--arg NAME=VALUE" in err


@pytest.mark.parametrize("bad", ["k=1)", "k=a b", "k", "=3"])
def test_block_arguments_must_be_plain_values(tmp_path, capsys, bad):
    status, out = render(tmp_path, "specs/blocks/inception_v4.incp", "--block", "reduction_a", "--arg", bad)
    assert status == 2 and not out.exists()
    assert "--arg expects NAME=VALUE" in capsys.readouterr().err


def test_unknown_block_is_a_usage_error_with_a_suggestion(tmp_path, capsys):
    status, _ = render(tmp_path, V4, "--block", "inception_q")
    assert status == 2 and "did you mean `inception_" in capsys.readouterr().err


# -- escaping -------------------------------------------------------------------------
def test_quote_escapes_dot_metacharacters():
    assert quote('a"b') == '"a\\"b"'
    assert quote("a\\b") == '"a\\\\b"'
    assert quote("a\nb") == '"a\\nb"'
    assert quote("<b>x</b> &amp;") == '"<b>x</b> &amp;amp;"'  # quoted, so never an HTML-like label
    assert quote("a\x00b\rc") == '"a b c"'


HOSTILE = 'we"ird\\ <b>name&amp;</b> \\N \\G "\\\\'


def test_hostile_title_is_drawn_literally(tmp_path):
    source = to_dot(analyze(SMALL).graph, title=HOSTILE + "\nsecond line")
    path = tmp_path / "t.svg"
    path.write_bytes(subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True).stdout)
    texts, _ = svg_texts(path)
    assert HOSTILE in texts and "second line" in texts


def test_hostile_file_names_survive_into_svg_tooltips(tmp_path):
    hostile = tmp_path / HOSTILE.replace("/", "_")
    hostile.write_text("network n {\n  input 3x16x16\n  conv(8, 3x3)\n}\n")
    status, out = render(tmp_path, str(hostile), name="h.svg")
    assert status == 0
    _, tooltips = svg_texts(out)
    assert f"{hostile}:3\nconv0" in tooltips


# -- failures: no Graphviz, bad specs, bad output names ------------------------------
def _run_without_dot(tmp_path, output: Path) -> subprocess.CompletedProcess:
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": str(empty)}
    return subprocess.run([sys.executable, "-m", "inception_dsl", "render", V4, "-o", str(output)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_without_graphviz_svg_exits_2_with_install_hint_and_dot_still_works(tmp_path):
    assert shutil.which("dot"), "Graphviz must be installed for the render tests"
    svg = _run_without_dot(tmp_path, tmp_path / "x.svg")
    assert svg.returncode == 2 and not (tmp_path / "x.svg").exists()
    assert len(svg.stderr.strip().splitlines()) == 1 and "install Graphviz" in svg.stderr
    dot = _run_without_dot(tmp_path, tmp_path / "x.dot")
    assert dot.returncode == 0 and (tmp_path / "x.dot").read_text().startswith("digraph")


def test_spec_with_errors_exits_1_and_leaves_the_old_output_alone(tmp_path, capsys):
    spec = tmp_path / "bad.incp"
    spec.write_text("network n {\n  input 3x35x35\n  concat {\n    conv(8, 3x3, stride=2)\n    maxpool(3x3, stride=2, valid)\n  }\n}\n")
    out = tmp_path / "old.svg"
    out.write_text("previous drawing")
    assert main(["render", str(spec), "-o", str(out)]) == 1
    assert "error[E201]" in capsys.readouterr().err
    assert out.read_text() == "previous drawing"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_expand_name_is_a_usage_error(tmp_path, capsys):
    status, out = render(tmp_path, V4, "--expand", "inception_bb")
    assert status == 2 and not out.exists() and "did you mean `inception_b`" in capsys.readouterr().err
    assert render(tmp_path, V4, "--expand", "mixed_3a", "features.13")[0] == 0  # block, instance
    assert render(tmp_path, SMALL, "--expand", "tower", "inner")[0] == 0  # a block inside a block


def test_unknown_output_format_is_a_usage_error(tmp_path, capsys):
    status, out = render(tmp_path, V4, name="out.jpeg")
    assert status == 2 and not out.exists() and "cannot tell the format" in capsys.readouterr().err


def test_render_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom inception_dsl.cli import main\n"
            f"assert main(['render', {V4!r}, '--expand', 'all', '-o', {str(tmp_path / 'x.svg')!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'render imported torch'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
