"""Every resource limit is reachable from the command line and stops work early with a
located diagnostic (exit 1), never a traceback, a hang or an exhausted stack."""

from __future__ import annotations

import argparse
import time

import pytest

from inception_dsl import analyze_text
from inception_dsl.cli import main
from inception_dsl.commands.limit_options import LIMIT_OPTIONS, parse_bytes, parse_count
from inception_dsl.core.limits import DEFAULT_LIMITS

POINTWISE = "block pointwise { conv(8, 1x1) }\n"


def run_check(tmp_path, capsys, text: str, *options: str, name: str = "spec.incp") -> tuple[int, str]:
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    code = main(["check", "-q", str(spec), *options])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


def test_every_limit_has_an_option_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    for option, _, _ in LIMIT_OPTIONS.values():
        assert option in out


@pytest.mark.parametrize("text, expected", [("4096", 4096), ("50M", 50_000_000), ("8GiB", 8 * 2**30),
                                            ("1.5KiB", 1536), ("2_000", 2000), ("3 kb", 3000)])
def test_amounts_with_units(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "-5", "0", "ten", "5 parsecs", "1e9"])
def test_bad_amounts_are_usage_errors(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_count(text)


def test_bad_limit_on_the_command_line_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(tmp_path / "x.incp"), "--max-nodes", "lots"])
    assert exit_info.value.code == 2


def test_repetition_count(tmp_path, capsys):
    text = POINTWISE + "network n {\n  input 3x8x8\n  pointwise x20\n}\n"
    assert run_check(tmp_path, capsys, text)[0] == 0
    code, err = run_check(tmp_path, capsys, text, "--max-repeat", "10")
    assert code == 1
    assert "spec.incp:4:13" in err and "error[E108]" in err and "between 1 and 10, got 20" in err


def test_bracket_nesting(tmp_path, capsys):
    body = "{ " * 10 + "conv(8, 1x1)" + " }" * 10
    text = f"network n {{\n  input 3x8x8\n  {body}\n}}\n"
    assert run_check(tmp_path, capsys, text)[0] == 0
    code, err = run_check(tmp_path, capsys, text, "--max-nesting", "8")
    assert code == 1 and "error[E115]" in err and "brackets nest 12 deep, over the limit of 8" in err
    assert "spec.incp:3:" in err


def test_import_depth(tmp_path, capsys):
    for level in range(4):
        (tmp_path / f"level{level}.incp").write_text(
            f'import "level{level + 1}.incp"\n' if level < 3 else POINTWISE, encoding="utf-8")
    text = 'import "level0.incp"\nnetwork n {\n  input 3x8x8\n  pointwise\n}\n'
    assert run_check(tmp_path, capsys, text)[0] == 0
    code, err = run_check(tmp_path, capsys, text, "--max-import-depth", "2")
    assert code == 1 and "error[E007]" in err and "level1.incp:1:1" in err
    assert "--max-import-depth" in err


def test_call_depth(tmp_path, capsys):
    blocks = "".join(f"block b{i} {{ b{i + 1} }}\n" for i in range(10)) + "block b10 { conv(8, 1x1) }\n"
    text = blocks + "network n {\n  input 3x8x8\n  b0\n}\n"
    assert run_check(tmp_path, capsys, text)[0] == 0
    code, err = run_check(tmp_path, capsys, text, "--max-call-depth", "5")
    assert code == 1 and "error[E115]" in err and "spec.incp:5:12" in err
    assert "blocks nest more than 5 calls deep: b0 -> b1 -> b2 -> b3 -> b4 -> b5" in err and "--max-call-depth" in err


def test_recursion_is_caught_without_reaching_the_call_depth(tmp_path, capsys):
    text = "block a { conv(8, 1x1); a }\nnetwork n {\n  input 3x8x8\n  a\n}\n"
    code, err = run_check(tmp_path, capsys, text)
    assert code == 1 and "error[E107]" in err and "spec.incp:1:25" in err


def test_node_count_stops_an_exponential_spec_quickly(tmp_path, capsys):
    text = ("block a { conv(1, 1x1) x10000 }\nblock b { a x10000 }\n"
            "network n {\n  input 1x4x4\n  b x10000\n}\n")
    start = time.perf_counter()
    code, err = run_check(tmp_path, capsys, text, "--max-nodes", "5000")
    assert time.perf_counter() - start < 10
    assert code == 1 and "error[E115]" in err and "more than 5000 operations" in err and "--max-nodes" in err


def test_parameter_budget_gives_the_estimate(tmp_path, capsys):
    text = "network n {\n  input 3x8x8\n  conv(1024, 3x3)\n  conv(1024, 3x3)\n}\n"
    code, err = run_check(tmp_path, capsys, text, "--max-params", "1M")
    assert code == 1 and "error[E208]" in err and "9,468,928 parameters, over the budget of 1,000,000" in err
    assert "spec.incp:1:1" in err


def test_activation_memory_budget_gives_the_estimate(tmp_path, capsys):
    text = "network n {\n  input 3x2048x2048\n  conv(64, 3x3)\n}\n"
    assert run_check(tmp_path, capsys, text)[0] == 0
    code, err = run_check(tmp_path, capsys, text, "--max-activation-memory", "512MiB")
    assert code == 1 and "error[E209]" in err
    assert "about 4.0 GiB per sample (float32), over the budget of 512.0 MiB" in err


def test_file_size(tmp_path, capsys):
    text = POINTWISE + "network n {\n  input 3x8x8\n  pointwise\n}\n" + "# padding\n" * 100
    assert run_check(tmp_path, capsys, text)[0] == 0
    code, err = run_check(tmp_path, capsys, text, "--max-file-bytes", "1KiB")
    assert code == 1 and "error[E005]" in err and "over the limit of 1024" in err and "spec.incp:1:1" in err


@pytest.mark.parametrize("expression", [
    "(" * 10_000 + "8" + ")" * 10_000,
    "-" * 10_000 + "8",
    "+".join(["1"] * 10_000),
    "8" + " * 1" * 10_000,
])
def test_deep_expressions_do_not_exhaust_the_stack(expression):
    result = analyze_text(f"network n {{\n  input 3x8x8\n  conv({expression}, 1x1)\n}}\n")
    assert not result.ok
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.id == "E115" and diagnostic.primary_span.line == 3


def test_moderately_deep_expressions_still_work():
    result = analyze_text("network n {\n  input 3x8x8\n  conv(" + "+".join(["1"] * 100) + ", 1x1)\n}\n")
    assert result.ok and result.graph.node("output").shape == (100, 8, 8)


def test_defaults_fit_every_shipped_spec():
    from .conftest import SPECS

    for spec in sorted(SPECS.glob("*.incp")):
        from inception_dsl import analyze

        result = analyze(spec, limits=DEFAULT_LIMITS)
        assert result.ok, (spec, result.diagnostics)
