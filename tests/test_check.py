"""`check` end to end: the v4 stage shapes, exit codes, and no torch import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from inception_dsl import analyze, analyze_text
from inception_dsl.cli import main
from inception_dsl.passes.analyses.budget import total_params

from .conftest import ROOT, SPECS


def stage_shapes(graph):
    return {s.name: graph.node(s.output).shape for s in graph.stages}


def test_v4_stage_shapes_match_the_paper():
    result = analyze(SPECS / "v4.incp")
    assert result.ok, result.diagnostics
    shapes = stage_shapes(result.graph)
    assert shapes["features.5"] == (384, 35, 35)  # the stem's last concat
    assert shapes["features.10"] == (1024, 17, 17)  # Reduction-A
    assert shapes["features.18"] == (1536, 8, 8)  # Reduction-B
    assert result.graph.node("output").shape == (1000,)
    assert total_params(result.graph) == 42_679_816


def test_check_cli_prints_stages_and_exits_0(capsys):
    assert main(["check", str(SPECS / "v4.incp")]) == 0
    out = capsys.readouterr().out
    assert "384x35x35" in out and "1024x17x17" in out and "1536x8x8" in out
    assert "output: 1000" in out


def test_check_cli_reports_errors_with_location_and_exits_1(tmp_path, capsys):
    spec = tmp_path / "bad.incp"
    spec.write_text("network n {\n  input 3x35x35\n  concat {\n    conv(8, 3x3, stride=2)\n    maxpool(3x3, stride=2, valid)\n  }\n}\n")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:3:3" in err and "error[E201]" in err and "18x18" in err and "17x17" in err


def test_check_missing_file_exits_1_without_traceback(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.incp")]) == 1
    err = capsys.readouterr().err
    assert "E003" in err and "Traceback" not in err


def test_check_usage_error_exits_2():
    with pytest.raises(SystemExit) as exit_info:
        main(["check"])
    assert exit_info.value.code == 2


def test_check_does_not_import_torch():
    code = (
        "import sys; from inception_dsl.cli import main; rc = main(['check', 'specs/v4.incp', '-q']); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_check_imports_only_what_it_needs():
    """`check` (the command run most often) starts without torch, networkx, the
    optimizer's rewrites, the Python backend or the other commands' modules."""
    heavy = ("torch", "networkx", "inception_dsl.passes.rewrites", "inception_dsl.backends.python",
             "inception_dsl.runtime", "inception_dsl.commands.render", "inception_dsl.commands.compile")
    code = (
        "import sys; from inception_dsl.cli import main; rc = main(['check', 'specs/v4.incp', '-q']); "
        f"found = sorted(m for m in sys.modules if m.startswith({heavy!r})); "
        "assert not found, found; sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_input_override_changes_shapes():
    result = analyze(SPECS / "v4.incp", input_shape=(3, 331, 331))
    assert result.ok
    assert stage_shapes(result.graph)["features.5"] == (384, 39, 39)


def test_network_parameter_override():
    result = analyze(SPECS / "v4.incp", params={"num_classes": 10})
    assert result.graph.node("output").shape == (10,)


def test_several_errors_are_collected():
    text = "network n {\n  input 3x8x8\n  conv(0, 1x1)\n  conv(8, 1x1, act=relux)\n  bogus\n}\n"
    result = analyze_text(text)
    assert {d.code.id for d in result.diagnostics} == {"E112", "E105", "E102"}


def test_keyword_used_as_a_block_name_gets_one_error_with_help():
    text = "block reduction {\n  concat { conv(8, 1x1) }\n}\nnetwork n {\n  input 3x8x8\n  reduction\n}\n"
    result = analyze_text(text, "kw.incp")
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E001", 7)]
    assert "`reduction` is a keyword" in result.diagnostics[0].help


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    from inception_dsl.commands.common import write_atomic

    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.txt", "x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
        (tmp_path / "old.txt").write_text("y")
        os.chmod(tmp_path / "old.txt", 0o640)
        write_atomic(tmp_path / "old.txt", "z")
        assert (tmp_path / "old.txt").stat().st_mode & 0o777 == 0o640
        assert (tmp_path / "old.txt").read_text() == "z"
    finally:
        os.umask(umask)


def test_a_concat_mismatch_through_a_nested_concat_is_located():
    """The fix search re-runs the odd branch's shape rules; a nested concat in that branch
    reads the graph (hypothesis found the internal error in test_memo's generated specs)."""
    text = ("block unit0(w = 4) {\nconcat {\n{ conv(w, 1x1) }\n"
            "{ relu; conv(w, 1x1); concat {\n{ maxpool(3x3, stride=2, valid) }\n} }\n}\n}\n\n"
            "network generated {\n  input 1x5x5\n  unit0()\n}\n")
    result = analyze_text(text, "nested.incp")
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E201", 2)]
