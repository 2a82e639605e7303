"""`diff`: two elaborated networks compared statement by statement (CLI, API, render --diff)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import inception_dsl
from inception_dsl.cli import main
from inception_dsl.core.diagnostics import CompileError

from tests.conftest import ROOT

PAPER, IMPL = "specs/inception_resnet_v2_paper.incp", "specs/inception_resnet_v2.incp"


def _line(spec: str, text: str) -> int:
    """The line of `text` in specs/<spec> (so the test follows edits of the spec)."""
    lines = (ROOT / "specs" / spec).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def paper_vs_impl():
    return inception_dsl.diff(str(ROOT / PAPER), str(ROOT / IMPL))


def test_paper_vs_implementation_names_the_stem_repeats_and_extra_convs(paper_vs_impl):
    by_name = {s.name_a or s.name_b: s for s in paper_vs_impl.stages}
    assert by_name["stem"].status == "removed" and by_name["stem"].kind_a == "stem_v4"
    assert by_name["mixed_5b"].status == "added" and by_name["conv2d_1a"].status == "added"
    repeats = {s.kind_a: (s.repeat_a, s.repeat_b) for s in paper_vs_impl.stages if s.status == "changed"}
    assert repeats["block35"] == (5, 10) and repeats["block17"] == (10, 20) and repeats["block8"] == (5, 9)
    extra = by_name["conv2d_7b"]
    assert extra.status == "added" and extra.layer_b == "1x1 conv 1536" and extra.where_b.endswith(f"inception_resnet_v2.incp:{_line('inception_resnet_v2.incp', 'conv2d_7b:')}")
    assert by_name["block8"].status == "added"  # the last, unscaled Block8
    projection = next(l for l in by_name["inception_resnet_a"].layers if l.path == "conv2d")
    assert projection.status == "changed" and projection.changes == ["width 384 -> 320"]
    assert projection.where_a.endswith("inception_resnet.incp:90") and projection.where_b.endswith("inception_resnet.incp:90")
    assert (paper_vs_impl.a.params, paper_vs_impl.b.params) == (32_433_928, 55_843_464)
    assert not paper_vs_impl.same


def test_cli_text_and_json(capsys):
    assert main(["diff", PAPER, IMPL, "--color", "never"]) == 1
    text = capsys.readouterr().out
    assert "- stem" in text and "stem_v4" in text and "5 -> 10" in text and "+ conv2d_7b" in text
    assert "1x1 conv 1536" in text and "\033[" not in text
    assert "params 32,433,928 -> 55,843,464 (+23,409,536)" in text
    assert main(["diff", PAPER, IMPL, "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["same"] is False and document["b"]["params"] == 55_843_464
    assert any(s["name"] == "conv2d_7b" and s["status"] == "added" for s in document["stages"])


def test_colour_only_when_asked_or_on_a_terminal(capsys):
    assert main(["diff", PAPER, IMPL, "--color", "always"]) == 1
    assert "\033[31m- stem" in capsys.readouterr().out
    assert main(["diff", PAPER, IMPL]) == 1  # captured stdout is no terminal
    assert "\033[" not in capsys.readouterr().out


def test_a_spec_against_itself_is_empty_with_exit_0(capsys):
    assert main(["diff", "specs/v4.incp", "specs/v4.incp"]) == 0
    out = capsys.readouterr().out
    assert "no structural differences" in out and "~" not in out
    assert inception_dsl.diff("specs/v4.incp").same


def test_two_parameter_sets_of_one_file(capsys):
    assert main(["diff", "specs/v4.incp", "--param-a", "num_classes=10", "--param-b", "num_classes=12"]) == 1
    out = capsys.readouterr().out
    assert "width 10 -> 12" in out and f"specs/v4.incp:{_line('v4.incp', 'last_linear:')} (both)" in out
    result = inception_dsl.diff("specs/v4.incp", params_a={"num_classes": 10}, params_b={"num_classes": 12})
    changed = [s for s in result.stages if s.status != "same"]
    assert len(changed) == 1 and changed[0].kind_a == "linear"
    # `inception_a x4` at positions 6-9 of the `features` sequence is one statement, not four
    repeats = {s.name: s.repeat_a for s in result.stages}
    assert repeats["features.6"] == 4 and repeats["features.10"] == 1 and "features.7" not in repeats


def test_errors_exit_2_with_the_diagnostics(tmp_path, capsys):
    bad = tmp_path / "bad.incp"
    bad.write_text("network n {\n  input 3x8x8\n  conv(8, 3x3, stride=0)\n}\n")
    assert main(["diff", "specs/v4.incp", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.incp:3:" in err and "error[" in err
    with pytest.raises(CompileError):
        inception_dsl.diff("specs/v4.incp", str(bad))


def test_alignment_pairs_renamed_statements_by_block_and_position(tmp_path):
    a = tmp_path / "a.incp"
    b = tmp_path / "b.incp"
    a.write_text("network n {\n  input 3x16x16\n  one: conv(8, 3x3)\n  two: conv(8, 1x1)\n  pool: maxpool(3x3, stride=2)\n}\n")
    b.write_text("network n {\n  input 3x16x16\n  one: conv(8, 3x3)\n  extra: conv(8, 3x3)\n  two: conv(16, 1x1, stride=2)\n"
                 "  pool: maxpool(3x3, stride=2)\n}\n")
    result = inception_dsl.diff(str(a), str(b))
    statuses = [(s.name, s.status) for s in result.stages]
    assert statuses == [("one", "same"), ("extra", "added"), ("two", "changed"), ("pool", "changed")]
    two = result.stages[2]
    assert sorted(two.layers[0].changes) == ["stride 1x1 -> 2x2", "width 8 -> 16"]
    assert two.where_a.endswith("a.incp:4") and two.where_b.endswith("b.incp:5")


def test_render_diff_draws_both_sides_coloured(tmp_path):
    out = tmp_path / "diff.dot"
    assert main(["render", PAPER, "--diff", IMPL, "-o", str(out)]) == 0
    dot = out.read_text()
    assert dot.count("subgraph cluster_") >= 2 and "A: " in dot and "B: " in dot
    assert '#f4b6b0' in dot and '#b9e4b4' in dot and '#fbe38e' in dot  # removed, added, changed
    assert main(["render", PAPER, "--diff", IMPL, "--block", "block35", "-o", str(tmp_path / "x.dot")]) == 2


def test_render_heat_macs_colours_by_share():
    from inception_dsl.backends.diagram.compare import heat_colour

    assert heat_colour(0.0) == "#ffffff" and heat_colour(1.0) == "#ff4114"


def test_diff_and_render_diff_do_not_import_torch(tmp_path):
    code = ("import sys; from inception_dsl.cli import main; "
            f"rc = main(['diff', {PAPER!r}, {IMPL!r}]); "
            f"rc2 = main(['render', {PAPER!r}, '--diff', {IMPL!r}, '--heat', 'macs', '-o', {str(tmp_path / 'd.dot')!r}]); "
            "assert 'torch' not in sys.modules; print(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_nested_blocks_added_removed_and_swapped(tmp_path):
    blocks = "block u(c) {\n  conv(c, 1x1)\n}\n\nblock v(c) {\n  conv(c, 1x1)\n}\n\n"
    a = tmp_path / "a.incp"
    b = tmp_path / "b.incp"
    a.write_text(blocks + "block pair {\n  first: u(c=8)\n  second: u(c=8)\n}\n\n"
                 "network n {\n  input 3x8x8\n  stage: pair\n}\n")
    b.write_text(blocks + "block pair {\n  first: v(c=8)\n  third: u(c=8)\n}\n\n"
                 "network n {\n  input 3x8x8\n  stage: pair\n}\n")
    (stage,) = inception_dsl.diff(str(a), str(b)).stages
    blocks_seen = {(l.path, l.status): l for l in stage.layers if (l.a or l.b or "").startswith("block")}
    assert blocks_seen[("first", "changed")].changes == ["block u -> v"]
    assert blocks_seen[("second", "removed")].where_a.endswith("a.incp:11")
    assert blocks_seen[("third", "added")].where_b.endswith("b.incp:11")
