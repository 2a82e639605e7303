"""The lint rules (one spec that triggers each, one that does not), suppression by
`# noqa` and by pyproject.toml, exit codes, and the shipped specs being lint-clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inception_dsl.cli import main
from inception_dsl.lint.config import ConfigError, LintConfig, find_config, load_config
from inception_dsl.lint.linter import lint_spec
from inception_dsl.lint.rules import RULES

from .conftest import ROOT, SPECS


def net(body: str, blocks: str = "", size: str = "3x8x8") -> str:
    return f"{blocks}\nnetwork n {{\n  input {size}\n{textwrap.indent(textwrap.dedent(body), '  ')}}}\n"


def findings(text: str, config: LintConfig = LintConfig()) -> list[str]:
    diagnostics = lint_spec("t.incp", config, text=text)
    assert not [d for d in diagnostics if d.level.value == "error"], diagnostics
    return [d.code.id for d in diagnostics]


WIDE = "conv(1100, 1x1)\n"
CASES = {
    "W101": [
        (net(WIDE + "residual { conv(1100, 1x1, linear) }\n", size="3x2x2"),
         net(WIDE + "residual(scale=0.2) { conv(1100, 1x1, linear) }\n", size="3x2x2")),
        (net("conv(64, 1x1)\nresidual(scale=0.5) { conv(64, 1x1, linear) }\n"),
         net("conv(64, 1x1)\nresidual { conv(64, 1x1, linear) }\n")),
    ],
    "W102": [
        (net("conv(8, 1x1)\nresidual(scale=0.2) { conv(8, 1x1, linear) }\nbn\n"),
         net("conv(8, 1x1)\nresidual(scale=0.2) { conv(8, 1x1, linear) }\nconv(8, 1x1)\n")),
        (net("conv(8, 1x1)\nsum { identity; conv(8, 1x1, linear) }\nrelu\nbn\n"),
         net("conv(8, 1x1)\nproduct { identity; conv(8, 1x1, linear) }\nbn\n")),
    ],
    "W103": [
        (net("maxpool(3x3, stride=2, valid)\n"), net("maxpool(3x3, stride=2, valid)\n", size="3x9x9")),
        (net("conv(8, 3x3, stride=2, valid)\n"), net("conv(8, 1x1, stride=2)\n")),
    ],
    "W104": [(net("conv(8, 1x7)\nconv(8, 5x1)\n"), net("conv(8, 1x7)\nconv(8, 7x1)\n"))],
    "W106": [(net("conv(8, 3x3, bias=true)\n"), net("conv(8, 3x3)\n"))],
    "W107": [(net("conv(8, 3x3)\nrelu\n"), net("conv(8, 3x3, linear)\nrelu\n"))],
    "W108": [(net("concat { conv(8, 1x1) }\n"), net("concat { conv(8, 1x1); conv(4, 1x1) }\n")),
             (net("product { conv(8, 1x1) }\n"), net("product { identity; conv(3, 1x1) }\n")),
             (net("split(1) { relu }\n", size="3x8x8"), net("split(1, 2) { relu; identity }\n", size="3x8x8"))],
    "W109": [
        (net("conv(16, 1x1)\nreduction { conv(4, 3x3, stride=2, valid); conv(4, 3x3, stride=2, valid) }\n", size="3x9x9"),
         net("conv(16, 1x1)\nreduction { conv(16, 3x3, stride=2, valid); maxpool(3x3, stride=2, valid) }\n", size="3x9x9")),
    ],
    "W110": [(net("used\n", "block used { conv(8, 1x1) }\nblock spare { conv(8, 1x1) }"),
              net("used\n", "block used { conv(8, 1x1) }"))],
    "W111": [(net("b(k=4)\n", "block b(k) { conv(8, 1x1) }"), net("b(k=4)\n", "block b(k) { conv(k, 1x1) }")),
             (net("b(k=1)\n", "block b(k) { split(2, 1) { relu; relu } }"),
              net("b(k=1)\n", "block b(k) { split(in_channels - k, k) { relu; relu } }"))],
    "W112": [
        (net("b(k=4)\n", "block b(k) { k: conv(k, 1x1) }"), net("b(k=4)\n", "block b(k) { proj: conv(k, 1x1) }")),
        (net("b: conv(8, 1x1)\nb\n", "block b { conv(8, 1x1) }"), net("b: b\n", "block b { conv(8, 1x1) }")),
    ],
}


@pytest.mark.parametrize("code,bad,good", [(c, b, g) for c, pairs in CASES.items() for b, g in pairs])
def test_rule_triggers_on_bad_and_not_on_good(code, bad, good):
    assert code in findings(bad)
    assert code not in findings(good)


def test_every_default_rule_has_a_case():
    assert {r.code.id for r in RULES if r.default} == set(CASES)


def test_unfactorized_conv_is_a_hint_off_by_default():
    bad = net("conv(8, 5x5)\n")
    assert "W105" not in findings(bad)
    selected = LintConfig(extend_select=("W105",))
    assert "W105" in findings(bad, selected)
    assert "W105" not in findings(net("conv(8, 3x3)\nconv(8, 1x5)\nconv(8, 5x1)\n"), selected)


def test_noqa_suppresses_the_named_code_on_its_line_only():
    assert findings(net("conv(8, 3x3, bias=true)  # noqa: W106 - reason\n")) == []
    assert findings(net("conv(8, 3x3, bias=true)  # noqa\n")) == []
    assert findings(net("conv(8, 3x3, bias=true)  # noqa: W107\n")) == ["W106"]
    assert findings(net("conv(8, 3x3, bias=true)  # noqa: typo\n")) == ["W106"]
    assert findings(net("conv(8, 3x3, bias=true)\n# noqa: W106\n")) == ["W106"]


def test_noqa_accepts_slugs_and_ignores_hashes_in_strings():
    assert findings(net("conv(8, 3x3, bias=true)  # noqa: bias-with-bn\n")) == []


def write_project(tmp_path, table: str, body: str = "conv(8, 3x3, bias=true)\nrelu\n"):
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.inception-dsl]\n{table}\n")
    spec = tmp_path / "models" / "m.incp"
    spec.parent.mkdir()
    spec.write_text(net(body))
    return spec


def test_pyproject_ignore_select_and_severity(tmp_path):
    spec = write_project(tmp_path, 'ignore = ["W106"]\nseverity = { double-activation = "error" }')
    config = load_config(find_config(spec))
    diagnostics = lint_spec(spec, config)
    assert [(d.code.id, d.level.value) for d in diagnostics] == [("W107", "error")]
    assert lint_spec(spec, LintConfig(select=("W106",)))[0].code.id == "W106"


def test_severity_error_makes_lint_exit_1(tmp_path, capsys):
    spec = write_project(tmp_path, 'severity = { W107 = "error" }')
    assert main(["lint", str(spec)]) == 1
    assert "error[W107]" in capsys.readouterr().out


@pytest.mark.parametrize("table", ['select = ["W999"]', 'colour = "red"', 'severity = { W101 = "fatal" }', "select = ["])
def test_bad_configuration_exits_2(tmp_path, capsys, table):
    spec = write_project(tmp_path, table)
    assert main(["lint", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml" in err and "Traceback" not in err


def test_bad_config_raises_config_error(tmp_path):
    spec = write_project(tmp_path, 'ignore = "W101"')
    with pytest.raises(ConfigError):
        load_config(find_config(spec))


def test_exit_codes_warnings_pass_unless_error_on_warning(tmp_path, capsys):
    spec = tmp_path / "w.incp"
    spec.write_text(net("conv(8, 3x3, bias=true)\n"))
    assert main(["lint", str(spec)]) == 0
    assert main(["lint", "--error-on-warning", str(spec)]) == 1
    assert main(["lint", "--ignore", "W106", "--error-on-warning", str(spec)]) == 0
    assert main(["lint", "--select", "W999", str(spec)]) == 2
    out = capsys.readouterr().out
    assert f"{spec}:4:3" in out and "warning[W106]" in out


def test_lint_of_a_spec_with_errors_prints_the_errors_and_exits_1(tmp_path, capsys):
    spec = tmp_path / "e.incp"
    spec.write_text(net("conv(8, 3x3, bias=true)\nbogus\n"))
    assert main(["lint", "--format", "concise", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "error[E102]" in out and "W106" not in out


def test_output_file_is_written(tmp_path):
    spec = tmp_path / "w.incp"
    spec.write_text(net("conv(8, 3x3, bias=true)\n"))
    report = tmp_path / "out" / "report.txt"
    assert main(["lint", "--format", "concise", "-o", str(report), str(spec)]) == 0
    assert "W106" in report.read_text()


def test_shipped_specs_are_lint_clean(capsys):
    assert main(["lint", "--error-on-warning", "--format", "concise", str(SPECS)]) == 0, capsys.readouterr().out


def test_lint_does_not_import_torch():
    code = ("import sys; from inception_dsl.cli import main; rc = main(['lint', 'specs/v4.incp']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_lint_report_golden(golden, capsys, monkeypatch):
    """The full text report for a spec that trips every rule, reviewed as a golden file."""
    cases = ROOT / "tests" / "cases" / "lint"
    monkeypatch.chdir(cases)
    assert main(["lint", "--extend-select", "W105", "all_rules.incp"]) == 0
    out = capsys.readouterr().out
    assert {f"W1{n:02d}" for n in range(1, 13)} <= set(re.findall(r"W1\d\d", out))
    golden(cases / "all_rules.lint.golden", out)


def test_json_report_is_one_document_for_several_specs(tmp_path, capsys):
    for name in ("a", "b"):
        (tmp_path / f"{name}.incp").write_text(net("conv(8, 3x3, bias=true)\n"))
    assert main(["lint", "--format", "json", str(tmp_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(Path(d["path"]).name, d["code"]) for d in document] == [("a.incp", "W106"), ("b.incp", "W106")]


def test_a_directory_without_specs_is_a_usage_error(tmp_path, capsys):
    assert main(["lint", str(tmp_path)]) == 2
    assert main(["fmt", str(tmp_path)]) == 2


def test_every_rule_is_documented_under_its_code_and_slug():
    doc = (ROOT / "docs" / "lint.md").read_text()
    headings = set(re.findall(r"^### (W1\d\d) ([a-z-]+)", doc, re.M))
    assert headings == {(r.code.id, r.code.slug) for r in RULES}
