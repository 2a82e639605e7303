"""`--format sarif` for check and lint: the log has the shape SARIF 2.1.0 requires
(validated against a hand-written schema of the required fields) and points at the
right places."""

from __future__ import annotations

import json

from inception_dsl.cli import main
from inception_dsl.commands.report import FORMATS

from .conftest import SPECS

_REGION = {
    "type": "object",
    "required": ["startLine", "startColumn", "endLine", "endColumn"],
    "properties": {k: {"type": "integer", "minimum": 1} for k in ("startLine", "startColumn", "endLine", "endColumn")},
}
_LOCATION = {
    "type": "object",
    "required": ["physicalLocation"],
    "properties": {"physicalLocation": {
        "type": "object",
        "required": ["artifactLocation", "region"],
        "properties": {"artifactLocation": {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}}},
                       "region": _REGION},
    }},
}
SCHEMA = {
    "type": "object",
    "required": ["$schema", "version", "runs"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object",
                    "required": ["name", "informationUri", "rules"],
                    "properties": {"name": {"type": "string"}, "informationUri": {"type": "string"},
                                   "rules": {"type": "array", "items": {"type": "object", "required": ["id"],
                                                                        "properties": {"id": {"type": "string"}}}}},
                }}},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["ruleId", "level", "message", "locations"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
                        "locations": {"type": "array", "items": _LOCATION},
                    },
                }},
            },
        }},
    },
}

_TYPES = {"object": dict, "array": list, "string": str, "integer": int}


def validate(value, schema, path="$") -> list[str]:
    """The few JSON Schema keywords SCHEMA uses; returns the violations."""
    problems = []
    if "type" in schema and not (isinstance(value, _TYPES[schema["type"]]) and not isinstance(value, bool)):
        return [f"{path}: expected {schema['type']}"]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{path}: {value} < {schema['minimum']}")
    for key in schema.get("required", ()):
        if key not in value:
            problems.append(f"{path}: missing {key}")
    for key, sub in schema.get("properties", {}).items():
        if isinstance(value, dict) and key in value:
            problems += validate(value[key], sub, f"{path}.{key}")
    if "items" in schema:
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], f"{path}[{index}]")
    return problems


def test_validator_rejects_a_broken_log():
    assert validate({"version": "2.0", "runs": [{"tool": {}, "results": [{"level": "bad"}]}]}, SCHEMA)


def sarif_of(capsys, argv) -> tuple[int, dict]:
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_lint_sarif_has_the_required_shape_and_locations(tmp_path, capsys):
    spec = tmp_path / "w.incp"
    spec.write_text("network n {\n  input 3x8x8\n  conv(8, 3x3, bias=true)\n  relu\n}\n")
    code, log = sarif_of(capsys, ["lint", "--format", "sarif", str(spec)])
    assert code == 0
    assert validate(log, SCHEMA) == []
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["W106", "W107"]
    first = run["results"][0]
    assert (first["ruleId"], first["level"]) == ("W106", "warning")
    region = first["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"], region["endLine"], region["endColumn"]) == (3, 3, 3, 26)
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == spec.as_uri()


def test_check_sarif_is_one_log_for_several_specs(tmp_path, capsys):
    bad = tmp_path / "bad.incp"
    bad.write_text("network n {\n  input 3x35x35\n  concat {\n    conv(8, 3x3, stride=2)\n    maxpool(3x3, stride=2, valid)\n  }\n}\n")
    code, log = sarif_of(capsys, ["check", "--format", "sarif", str(SPECS / "v4.incp"), str(bad)])
    assert code == 1
    assert validate(log, SCHEMA) == []
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("E201", "error")]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert "relatedLocations" in results[0]


def test_clean_specs_give_an_empty_valid_log(capsys):
    code, log = sarif_of(capsys, ["lint", "--format", "sarif", str(SPECS / "v4.incp")])
    assert code == 0 and validate(log, SCHEMA) == [] and log["runs"][0]["results"] == []


def test_relative_paths_are_relative_uris(tmp_path, capsys, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.incp").write_text("network n {\n  input 3x8x8\n  conv(8, 5x5)\n}\n")
    monkeypatch.chdir(tmp_path)
    code, log = sarif_of(capsys, ["lint", "--format", "sarif", "--extend-select", "W105", "models/w.incp"])
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "models/w.incp", "uriBaseId": "%SRCROOT%"}


def test_sarif_is_a_listed_format():
    assert "sarif" in FORMATS
