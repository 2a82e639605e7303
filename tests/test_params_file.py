"""Network parameters from YAML files: `--params-file` on every command that takes `-p`,
`load()`/`analyze()` with `params=` a path or a list, merge order, and every mistake in a
file located in that file (exit 1, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inception_dsl import api
from inception_dsl.cli import main

from .conftest import ROOT

V4 = str(ROOT / "specs" / "v4.incp")
V4_10 = ROOT / "docs" / "examples" / "v4_10_classes.yaml"
TWO_NETWORKS = """\
block unit(c = 8) { conv(c, 3x3) }
network small(width = 8, head = 10, scale = 0.5, act = relu, bn = true) {
  input 3x16x16
  unit(width)
  global_avgpool
  flatten
  linear(head)
}
network large(width = 16) {
  input 3x32x32
  unit(width) x2
}
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "internal error" not in captured.err, captured.err
    return code, captured.out, captured.err


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return str(path)


@pytest.fixture
def spec(tmp_path) -> str:
    return write(tmp_path, "two.incp", TWO_NETWORKS)


def test_summary_of_v4_with_ten_classes(capsys):
    code, out, _ = run(capsys, "summary", V4, "--params-file", str(V4_10))
    assert code == 0
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert "41,158,186" in total


def test_compile_and_load_build_the_network_the_file_describes(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    import inception_dsl

    out = tmp_path / "v4.py"
    code, stdout, _ = run(capsys, "compile", V4, "--params-file", str(V4_10), "-o", str(out))
    assert code == 0 and "41,158,186 parameters" in stdout
    namespace: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102 - our own generated file
    with torch.device("meta"):
        compiled = namespace["InceptionV4"]()
        loaded = inception_dsl.load(V4, params=str(V4_10))
        from_list = inception_dsl.load(V4, params=[str(V4_10), {"num_classes": 7}])
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(compiled) == count(loaded) == 41_158_186
    assert compiled.last_linear.out_features == loaded.last_linear.out_features == 10
    assert from_list.last_linear.out_features == 7  # the mapping after the file wins
    assert [k for k in compiled.state_dict()] == [k for k in loaded.state_dict()]


def test_files_merge_in_order_and_p_wins(tmp_path, spec, capsys):
    first = write(tmp_path, "a.yaml", "width: 4\nhead: 3\n")
    second = write(tmp_path, "b.yaml", "head: 5\nscale: 1\n")
    result = api.analyze(spec, params=[first, second])
    assert result.ok and (result.graph.params["width"], result.graph.params["head"]) == (4, 5)
    assert result.graph.params["scale"] == 1  # an integer where the default is a number
    code, out, _ = run(capsys, "check", spec, "--params-file", first, "--params-file", second, "-p", "head=9",
                       "--format", "json")
    assert code == 0 and json.loads(out)["outputs"]["output"] == [9]


def test_network_and_input_from_the_file_and_the_command_line_wins(tmp_path, spec, capsys):
    chosen = write(tmp_path, "large.yaml", "network: large\ninput: [3, 64, 64]\nwidth: 24\n")
    result = api.analyze(spec, params=chosen)
    assert result.ok and result.graph.name == "large"
    assert result.graph.input_node.shape == (3, 64, 64) and result.graph.params["width"] == 24
    code, out, _ = run(capsys, "check", spec, "--params-file", chosen, "--input", "3x8x8", "--format", "json")
    assert code == 0 and json.loads(out)["input"] == [3, 8, 8] and json.loads(out)["network"] == "large"
    text_input = write(tmp_path, "small.yaml", "input: 3x20x20\n")
    assert api.analyze(spec, params=text_input).graph.input_node.shape == (3, 20, 20)
    # --network on the command line wins over the file's: `width` is checked against `small`
    code, _, err = run(capsys, "check", spec, "--params-file", chosen, "--network", "small")
    assert code == 0, err


def test_every_command_taking_p_takes_params_file(tmp_path, spec, capsys):
    params = write(tmp_path, "p.yaml", "widht: 4\n")
    write(tmp_path, "w.pth", b"")  # convert analyzes the spec before it reads the weights
    commands = [["check"], ["summary"], ["render", "-o", str(tmp_path / "x.dot")],
                ["compile", "-o", str(tmp_path / "x.py")], ["export", "--onnx", str(tmp_path / "x.onnx")],
                ["convert", "--from", "timm:inception_v4", "--weights", str(tmp_path / "w.pth"),
                 "-o", str(tmp_path / "c.pth")], ["lint"]]
    for command in commands:
        code, out, err = run(capsys, command[0], spec, *command[1:], "--params-file", params)
        assert code == 1, (command, out, err)
        err += out  # lint writes its findings to stdout
        assert f"{params}:1:1" in err and "error[E103]" in err and "did you mean `width`?" in err, command
    assert not list(tmp_path.glob("x.*")) and not (tmp_path / "c.pth").exists()


def test_lint_with_a_params_file_lints_the_network_it_names(tmp_path, spec, capsys):
    params = write(tmp_path, "p.yaml", "network: large\nwidth: 12\n")
    code, out, err = run(capsys, "lint", spec, "--params-file", params)
    assert code == 0, out + err


@pytest.mark.parametrize("text, where, code, message", [
    ("num_clases: 10\n", "1:1", "E103", "did you mean `num_classes`?"),
    ("num_classes: ten\n", "1:14", "E105", "`num_classes` takes an integer, not the name `ten`"),
    ("num_classes: 10.5\n", "1:14", "E105", "takes an integer, not the number `10.5`"),
    ("num_classes: true\n", "1:14", "E105", "takes an integer, not the boolean `true`"),
    ("dropout: relu\n", "1:10", "E105", "`dropout` takes a number, not the name `relu`"),
    ('dropout: "0.5"\n', "1:10", "E105", "`dropout` is not a name"),
    ('num_classes: "x\\" + __import__(\'os\')"\n', "1:14", "E105", "`num_classes` is not a name"),
    ("num_classes: [10, 20]\n", "1:14", "E105", "must be a plain scalar, not a list"),
    ("num_classes: {a: 1}\n", "1:14", "E105", "must be a plain scalar, not a mapping"),
    ("num_classes:\n", "1:13", "E105", "`num_classes` has no value"),
    ("dropout: .nan\n", "1:10", "E105", "is not a finite number"),
    ("num_classes: 10000000000000\n", "1:14", "E105", "is larger than"),
    ("num_classes: 1\nnum_classes: 2\n", "2:1", "E106", "`num_classes` is given twice"),
    ("- num_classes\n", "1:1", "E105", "a parameter file must be a mapping, not a list"),
    ("network: inception_v5\n", "1:10", "E109", "did you mean `inception_v4`?"),
    ("input: 3x299\n", "1:8", "E112", "`input` must be channels x height x width"),
    ("input: [3, 0, 299]\n", "1:8", "E112", "`input` must be channels x height x width"),
    ("num_classes: [10\n", "2:1", "E001", "is not valid YAML"),
    ("? [a, b]\n: 1\n", "1:3", "E105", "a key must be a name"),
])
def test_mistakes_are_located_in_the_file(tmp_path, capsys, text, where, code, message):
    params = write(tmp_path, "p.yaml", text)
    status, _, err = run(capsys, "check", V4, "--params-file", params)
    assert status == 1
    assert f"{params}:{where}" in err and f"error[{code}]" in err and message in err, err


def test_mistakes_from_load_raise_compile_error_with_the_location(tmp_path):
    from inception_dsl import CompileError

    params = write(tmp_path, "p.yaml", "dropout: 0.1\nnum_clases: 10\n")
    with pytest.raises(CompileError) as info:
        api.require(api.analyze(V4, params=params))
    assert info.value.diagnostics[0].primary_span.location() == f"{params}:2:1"
    with pytest.raises(TypeError, match="params must be"):
        api.analyze(V4, params=42)


def test_params_file_in_help_of_every_spec_command(capsys):
    for command in ("check", "summary", "render", "compile", "export", "convert", "lint"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--params-file" in capsys.readouterr().out, command


def test_summary_yaml_is_the_json_document(capsys):
    code, as_yaml, _ = run(capsys, "summary", V4, "--depth", "1", "--format", "yaml")
    assert code == 0
    code, as_json, _ = run(capsys, "summary", V4, "--depth", "1", "--format", "json")
    assert yaml.safe_load(as_yaml) == json.loads(as_json)
    assert "input: [3, 299, 299]" in as_yaml


def test_yaml_examples_in_the_docs_are_the_shipped_files():
    """Every ```yaml block of the pages that document parameter files is one of
    docs/examples/*.yaml, verbatim (the `sh run` examples beside them run those files); the
    grid example reads cleanly."""
    import re

    from inception_dsl.core.diagnostics import DiagnosticSink
    from inception_dsl.language.params_file import load_grid

    shipped = {p.read_text(encoding="utf-8"): p for p in (ROOT / "docs" / "examples").glob("*.yaml")}
    pages = [ROOT / "docs" / name for name in ("cli.md", "language.md", "tutorial.md")]
    blocks = [block for doc in pages
              for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)]
    assert len(blocks) >= 3
    for block in blocks:
        assert block in shipped, block
    sink = DiagnosticSink()
    grid = load_grid(ROOT / "docs" / "examples" / "v4_grid.yaml", sink)
    assert grid is not None and not sink.diagnostics and grid.axes["num_classes"] == (10, 100, 1000)
