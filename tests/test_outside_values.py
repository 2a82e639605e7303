"""Values from outside a spec (issue 26, rows 13 and 15): a name or string is limited the
same from every source (-p, --params-file, a sweep grid, a mapping in the API), and YAML
scalars are read by the YAML 1.2 core schema (no base 60, no yes/no booleans)."""

from __future__ import annotations

import math

import pytest

from inception_dsl import api
from inception_dsl.cli import main
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.values import MAX_NAME, MAX_STRING
from inception_dsl.language.yaml_file import parse_yaml, scalar_value
from inception_dsl.study.sweep import Grid, run_sweep

SPEC = """network n(tag = "x", act = relu, width = 8, flag = false) {
  input 3x8x8
  conv(width, 3x3)
}
"""
LONG = "a" * 5000


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "n.incp"
    path.write_text(SPEC)
    return str(path)


def _yaml(tmp_path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name, value", [("tag", f'"{LONG}"'), ("act", LONG), ("tag", LONG)])
def test_long_values_are_refused_from_every_cli_source(spec, tmp_path, capsys, name, value):
    assert main(["check", spec, "-p", f"{name}={value}"]) == 1
    assert "error[E105]" in capsys.readouterr().err
    assert main(["check", spec, "--params-file", _yaml(tmp_path, f"{name}: {value}\n")]) == 1
    err = capsys.readouterr().err
    assert "error[E105]" in err and "p.yaml:1:" in err  # located in the file
    assert main(["compile", spec, "-o", str(tmp_path / "out.py"), "--params-file", str(tmp_path / "p.yaml")]) == 1
    assert not (tmp_path / "out.py").exists()
    capsys.readouterr()


@pytest.mark.parametrize("value", [LONG, "b" * (MAX_NAME + 1)])
def test_long_values_are_refused_from_the_api_and_a_grid(spec, tmp_path, value):
    from inception_dsl.core.values import Symbol

    for given in ([value] if len(value) > MAX_STRING else []) + [Symbol(value)]:
        result = api.analyze(spec, params={"act": given})
        assert not result.ok and result.diagnostics[0].code.id == "E105", result.diagnostics
    row = run_sweep(spec, Grid({"act": [Symbol(value)]})).rows[0]
    assert row["error_code"] == "E105"
    assert main(["sweep", spec, "--grid", _yaml(tmp_path, f"act: [{value}]\n")]) == 1


def test_the_limits_themselves_are_accepted(spec):
    from inception_dsl.core.values import Symbol

    assert api.analyze(spec, params={"act": Symbol("r" * MAX_NAME), "tag": "s" * MAX_STRING}).ok


# row 15 and its family: a YAML 1.1 reading is never taken
CORE_SCALARS = [
    ("1:20", "1:20"), ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Yes", "Yes"),
    ("017", 17), ("0o17", 15), ("0x1F", 31), ("0b11", "0b11"), ("1_000", "1_000"), ("+5", 5), ("-3", -3),
    ("true", True), ("False", False), ("TRUE", True), ("null", None), ("~", None), ("1.5", 1.5), ("1e3", 1000.0),
    (".5", 0.5), ("5.", 5.0), (".inf", math.inf), ("-.inf", -math.inf), ("2001-12-14", "2001-12-14"),
    ("190:20:30.15", "190:20:30.15"), ('"12"', "12"), ("'true'", "true"), ("1e", "1e"), (".", "."),
]


@pytest.mark.parametrize("text, expected", CORE_SCALARS)
def test_scalars_read_by_the_yaml_12_core_schema(text, expected):
    sink = DiagnosticSink()
    document = parse_yaml(f"v: {text}\n", "v.yaml", sink)
    assert document is not None, sink.sorted()
    value = scalar_value(document.root.value[0][1])
    assert value == expected and type(value) is type(expected)


def test_nan_reads_as_nan():
    document = parse_yaml("v: .nan\n", "v.yaml", DiagnosticSink())
    assert math.isnan(scalar_value(document.root.value[0][1]))


@pytest.mark.parametrize("text, where, message", [
    ("width: 1:20\n", "1:8", "`width` is not a name"),
    ("flag: yes\n", "1:7", "`flag` takes a boolean, not the name `yes`"),
    ("flag: off\n", "1:7", "`flag` takes a boolean, not the name `off`"),
    ("width: !!int 1:20\n", "1:8", "`1:20` is not written as YAML 1.2 writes a `!!int`"),
    ("flag: !!bool yes\n", "1:7", "`yes` is not written as YAML 1.2 writes a `!!bool`"),
])
def test_yaml_11_readings_are_refused_where_they_stand(spec, tmp_path, capsys, text, where, message):
    assert main(["check", spec, "--params-file", _yaml(tmp_path, text)]) == 1
    err = capsys.readouterr().err
    assert f"p.yaml:{where}" in err and message in err, err


def test_a_leading_zero_is_decimal(spec, tmp_path, capsys):
    assert main(["check", spec, "--params-file", _yaml(tmp_path, "width: 017\n")]) == 0
    assert "17x" in capsys.readouterr().out  # 17 channels, not 15 (YAML 1.1 octal)
