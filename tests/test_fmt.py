"""fmt: the canonical layout, comments kept, idempotence, and that formatting every
real spec changes neither its AST nor its graph; the fmt command's modes."""

from __future__ import annotations

import shutil

import pytest

from inception_dsl import analyze
from inception_dsl.cli import main
from inception_dsl.core.diagnostics import CompileError, DiagnosticSink
from inception_dsl.language.fmt import fmt
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile

from .conftest import SPECS

ALL_SPECS = sorted(SPECS.rglob("*.incp"))


def ast_of(text: str):
    sink = DiagnosticSink()
    module = parse(SourceFile("t.incp", text), sink)
    assert module is not None, sink.diagnostics
    return module


def comments(text: str) -> list[str]:
    return [line[line.index("#"):].strip() for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda p: str(p.relative_to(SPECS)))
def test_real_specs_format_idempotently_to_the_same_ast(spec):
    text = spec.read_text()
    once = fmt(text, str(spec))
    assert fmt(once, str(spec)) == once
    assert ast_of(once) == ast_of(text)
    assert comments(once) == comments(text)


def graph_signature(graph):
    return [(n.id, n.op, n.attrs, n.shape) for n in graph.nodes()]


def test_formatted_specs_elaborate_to_the_same_graphs(tmp_path):
    copy = tmp_path / "specs"
    shutil.copytree(SPECS, copy)
    for spec in copy.rglob("*.incp"):
        spec.write_text(fmt(spec.read_text(), str(spec)))
    networks = [p for p in ALL_SPECS if p.parent == SPECS]
    assert networks
    for original in networks:
        before = analyze(original)
        after = analyze(copy / original.name)
        assert before.ok and after.ok, (before.diagnostics, after.diagnostics)
        assert graph_signature(before.graph) == graph_signature(after.graph), original.name


MESSY = """# header comment
import   "x.incp"
set bn_eps=0.001 # eps


block b( k , n=2*(k+1) ) {
conv(k,1x1) ; conv( n , 3x3 , stride = 2 , valid )   # trailing
concat {
    { conv(8,1x1); conv(8,3x3) }
    named: {conv(4,1x1)
    conv(4,1x1)}
    # a comment before a branch
    maxpool(3x3)
  }
}
network n(c = 10) {
  input 3x32x32
  b(k=4)
  flatten; { linear(c) }
  # closing comment
}
# trailing file comment
"""

EXPECTED = """# header comment
import "x.incp"
set bn_eps = 0.001  # eps

block b(k, n = 2 * (k + 1)) {
  conv(k, 1x1)
  conv(n, 3x3, stride=2, valid)  # trailing
  concat {
    { conv(8, 1x1); conv(8, 3x3) }
    named: { conv(4, 1x1); conv(4, 1x1) }
    # a comment before a branch
    maxpool(3x3)
  }
}

network n(c = 10) {
  input 3x32x32
  b(k=4)
  flatten;
  {
    linear(c)
  }
  # closing comment
}
# trailing file comment
"""


def test_canonical_layout():
    assert fmt(MESSY) == EXPECTED
    assert fmt(EXPECTED) == EXPECTED
    assert ast_of(EXPECTED) == ast_of(MESSY)


def test_a_comment_inside_a_branch_keeps_it_on_several_lines():
    text = "block b {\n  concat {\n    { conv(8, 1x1)  # why\n      conv(8, 3x3) }\n    conv(4, 1x1)\n  }\n}\n"
    assert fmt(text) == "block b {\n  concat {\n    {\n      conv(8, 1x1)  # why\n      conv(8, 3x3)\n    }\n    conv(4, 1x1)\n  }\n}\n"


def test_a_long_branch_is_split_and_blank_lines_collapse_to_one():
    long_branch = "; ".join(f"conv({100 + i}, 3x3)" for i in range(8))
    text = f"block b {{\n  concat {{\n    {{ {long_branch} }}\n    conv(4, 1x1)\n  }}\n\n\n\n  conv(2, 1x1)\n}}\n"
    out = fmt(text)
    assert "    {\n      conv(100, 3x3)\n" in out and "  }\n\n  conv(2, 1x1)\n}\n" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_trailing_comments_of_a_run_are_aligned():
    text = "network n {\n  input 3x8x8\n  a: conv(8, 1x1) # one\n  b\n  longer_name: conv(8, 3x3) # two\n}\n"
    assert fmt(text).splitlines()[2:5] == [
        "  a: conv(8, 1x1)            # one",
        "  b",
        "  longer_name: conv(8, 3x3)  # two",
    ]


def test_residual_with_shortcut_and_suffixes():
    text = "block r(s) { residual(scale=s, act=identity) { conv(8,1x1) } shortcut { conv(8,1x1, linear) } x2 from a when s % 2 }"
    assert fmt(text) == (
        "block r(s) {\n  residual(scale=s, act=identity) {\n    conv(8, 1x1)\n  } shortcut {\n"
        "    conv(8, 1x1, linear)\n  } x2 from a when s % 2\n}\n"
    )


@pytest.mark.parametrize("shortcut_line", ["  shortcut: conv(8, 1x1)", "  shortcut: conv(8, 1x1) when true"])
def test_a_statement_labelled_shortcut_after_a_residual_stays_a_statement(shortcut_line):
    # `shortcut` opens a residual's shortcut only before `{`: fmt puts the labelled statement
    # that followed `;` on its own line, where it once read as a broken shortcut clause (E001)
    text = f"network n {{\n  input 8x8x8\n  residual {{ conv(8, 3x3) }}; {shortcut_line.strip()}\n}}\n"
    once = fmt(text)
    assert "\n" + shortcut_line + "\n" in once
    assert ast_of(once) == ast_of(text)
    stmts = ast_of(once).items[0].body
    assert [s.label for s in stmts[1:]] == [None, "shortcut"] and stmts[1].op.shortcut is None


def test_fmt_refuses_text_that_does_not_parse():
    with pytest.raises(CompileError) as error:
        fmt("block b { conv(8, }", "bad.incp")
    assert error.value.diagnostics[0].code.id == "E001"


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "m.incp"
    path.write_text(MESSY)
    return path


def test_check_reports_and_exits_1_without_writing(messy, capsys):
    assert main(["fmt", "--check", str(messy)]) == 1
    assert messy.read_text() == MESSY
    assert f"would reformat {messy}" in capsys.readouterr().err


def test_diff_prints_a_unified_diff_without_writing(messy, capsys):
    assert main(["fmt", "--diff", str(messy)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- a/{messy}\n+++ b/{messy}\n") and "+set bn_eps = 0.001  # eps" in out
    assert messy.read_text() == MESSY


def test_fmt_rewrites_in_place_then_check_passes(messy):
    assert main(["fmt", str(messy.parent)]) == 0
    assert messy.read_text() == EXPECTED
    assert main(["fmt", "--check", str(messy)]) == 0
    assert [p.name for p in messy.parent.iterdir()] == ["m.incp"]  # no temporary file left


def test_fmt_of_a_broken_file_exits_1_and_leaves_it_alone(tmp_path, capsys):
    path = tmp_path / "bad.incp"
    path.write_text("block b { conv(8, }\n")
    assert main(["fmt", str(path)]) == 1
    assert path.read_text() == "block b { conv(8, }\n"
    err = capsys.readouterr().err
    assert "error[E001]" in err and "Traceback" not in err


def test_fmt_of_a_missing_file_exits_1(tmp_path, capsys):
    assert main(["fmt", str(tmp_path / "nope.incp")]) == 1
    assert "E003" in capsys.readouterr().err


def test_fmt_does_not_import_torch():
    import subprocess
    import sys

    from .conftest import ROOT

    code = ("import sys; from inception_dsl.cli import main; rc = main(['fmt', '--check', 'specs/v4.incp']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_long_parameter_list_wraps_under_its_parenthesis():
    params = ", ".join(f"parameter_{i} = {i * 1000}" for i in range(12))
    out = fmt(f"network n({params}) {{  # note\n  input 3x8x8\n}}\n")
    lines = out.splitlines()
    assert lines[0].startswith("network n(parameter_0 = 0, ") and lines[1].startswith(" " * 10 + "parameter_")
    assert lines[2].endswith(") {  # note") and max(len(line.split("#")[0].rstrip()) for line in lines) <= 100
    assert fmt(out) == out and ast_of(out) == ast_of(f"network n({params}) {{ input 3x8x8 }}")


def test_fmt_formats_standard_input_to_standard_output(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == EXPECTED
    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    assert main(["fmt", "--check", "-"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("block b { conv(8, }\n"))
    assert main(["fmt", "--stdin-filename", "models/x.incp", "-"]) == 1
    assert "models/x.incp:1:" in capsys.readouterr().err


def test_shipped_specs_are_in_the_canonical_layout(capsys):
    assert main(["fmt", "--check", str(SPECS)]) == 0, capsys.readouterr().err
