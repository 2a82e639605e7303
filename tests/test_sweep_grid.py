"""Sweep grids from YAML (`params_file.load_grid`): axes from lists, ranges and single
values, `where` filters, and located diagnostics for every malformed entry."""

from __future__ import annotations

import io

import pytest

from inception_dsl.commands.report import write_diagnostics
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.params_file import check_grid, load_grid
from inception_dsl.language.program import load_program
from inception_dsl.core.values import Symbol


def grid_of(tmp_path, text: str):
    path = tmp_path / "grid.yaml"
    path.write_text(text, encoding="utf-8")
    sink = DiagnosticSink()
    grid = load_grid(path, sink)
    out = io.StringIO()
    write_diagnostics(sink.sorted(), out, "text")
    return grid, out.getvalue(), str(path)


def test_axes_ranges_single_values_and_filters(tmp_path):
    grid, errors, path = grid_of(tmp_path, """\
# widths and depths of a scaled Inception-v4
network: inception_v4
input: 3x139x139
width: [0.5, 0.75, 1.0]
repeats: {range: [2, 8, 2]}
blocks: {range: [1, 4]}
act: [relu, gelu]
aux: false
where:
  - "repeats >= blocks"
  - width * repeats < 6
""")
    assert grid is not None, errors
    assert grid.axes == {"width": (0.5, 0.75, 1.0), "repeats": (2, 4, 6), "blocks": (1, 2, 3),
                         "act": (Symbol("relu"), Symbol("gelu")), "aux": (False,)}
    assert [w.value for w in grid.where] == ["repeats >= blocks", "width * repeats < 6"]
    assert grid.where[1].span.location() == f"{path}:11:5"
    assert grid.settings["repeats"][1].key.location() == f"{path}:5:1"
    assert grid.settings["width"][2].span.location() == f"{path}:4:20"
    assert grid.network.value == "inception_v4" and grid.input.value == (3, 139, 139)


def test_where_may_be_one_expression(tmp_path):
    grid, errors, _ = grid_of(tmp_path, "c: [1, 2]\nwhere: c > 1\n")
    assert grid is not None and [w.value for w in grid.where] == ["c > 1"], errors


@pytest.mark.parametrize("text, where, code, message", [
    ("c: []\n", "1:4", "E112", "`c` lists no values"),
    ("c: [1, [2, 3]]\n", "1:8", "E105", "`c` must be a plain scalar, not a list"),
    ("c: {range: [1, 10, 0]}\n", "1:20", "E112", "the step of `c`'s range is zero"),
    ("c: {range: [5, 1]}\n", "1:12", "E112", "the range of `c` gives no values"),
    ("c: {range: [0, 100000000]}\n", "1:12", "E115", "gives 100,000,000 values, over 10,000"),
    ("c: {range: [0.1, 0.5, 0.1]}\n", "1:4", "E112", "list float values explicitly"),
    ("c: {range: 5}\n", "1:4", "E112", "must be a list of values or `{range: [start, stop, step]}`"),
    ("c: {ragne: [1, 2]}\n", "1:4", "E112", "must be a list of values"),
    ("c: [1, 2]\nwhere: [c > 1, 3]\n", "2:16", "E105", "`where` must be an expression"),
    ("c: [1, .inf]\n", "1:8", "E105", "`c` is not a finite number"),
    ("c: [1]\nc: [2]\n", "2:1", "E106", "`c` is given twice"),
    ("[1, 2]\n", "1:1", "E105", "a grid file must be a mapping, not a list"),
    ("c: !!python/object/apply:os.system [echo]\n", "1:4", "E105", "is not allowed here"),
])
def test_mistakes_are_located(tmp_path, text, where, code, message):
    grid, errors, path = grid_of(tmp_path, text)
    assert grid is None
    assert f"{path}:{where}" in errors and f"error[{code}]" in errors and message in errors, errors


def test_axes_are_checked_against_the_network_in_the_grid_file(tmp_path):
    spec = tmp_path / "two.incp"
    spec.write_text("network a(width = 8, scale = 0.5) {\n  input 3x8x8\n  conv(width, 3x3)\n}\n"
                    "network b(depth = 2) {\n  input 3x8x8\n  conv(8, 3x3)\n}\n", encoding="utf-8")
    grid, errors, path = grid_of(tmp_path, "widht: [8, 16]\nscale: [0.5, 1, fast]\n")
    assert grid is not None, errors
    sink = DiagnosticSink()
    program = load_program(spec, sink)
    assert not check_grid(program, grid, sink)
    found = {(d.code.id, d.primary_span.location()) for d in sink.diagnostics}
    assert found == {("E103", f"{path}:1:1"), ("E105", f"{path}:2:17")}  # one unknown name, one bad value
    assert "did you mean `width`?" in sink.diagnostics[0].help
    sink = DiagnosticSink()
    grid, _, _ = grid_of(tmp_path, "network: b\ndepth: {range: [1, 4]}\n")
    assert check_grid(program, grid, sink) and not sink.diagnostics
    assert not check_grid(program, grid, sink, network="a")  # the command line's network wins
    grid, _, path = grid_of(tmp_path, "network: c\n")
    sink = DiagnosticSink()
    assert not check_grid(program, grid, sink)
    assert sink.diagnostics[0].primary_span.location() == f"{path}:1:10" and sink.diagnostics[0].code.id == "E109"


def test_sweep_grid_gives_the_rows_of_the_same_p_axes(tmp_path, capsys):
    import json

    from inception_dsl.cli import main

    spec = tmp_path / "tiny.incp"
    spec.write_text("network tiny(width = 8, k = 3) {\n  input 3x16x16\n  conv(width, k)\n  global_avgpool\n}\n",
                    encoding="utf-8")
    grid = tmp_path / "grid.yaml"
    grid.write_text("width: [4, 8, 16]\nk: {range: [1, 6, 2]}\nwhere: width * k >= 12\ninput: 3x8x8\n", encoding="utf-8")
    assert main(["sweep", str(spec), "--grid", str(grid), "--format", "json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["sweep", str(spec), "-p", "width=4,8,16", "-p", "k=range(1,6,2)", "--where", "width * k >= 12",
                 "--input", "3x8x8", "--format", "json"]) == 0
    from_p = json.loads(capsys.readouterr().out)
    assert from_file == from_p and len(from_file) == 7  # 9 points, (4, 1) and (8, 1) filtered out
    assert main(["sweep", str(spec), "--grid", str(grid), "-p", "width=6", "--format", "json"]) == 0
    assert {row["width"] for row in json.loads(capsys.readouterr().out)} == {6}  # -p wins over the file's axis
    grid.write_text("widht: [4, 8]\n", encoding="utf-8")
    assert main(["sweep", str(spec), "--grid", str(grid)]) == 1
    err = capsys.readouterr().err
    assert f"{grid}:1:1" in err and "error[E103]" in err and "did you mean `width`?" in err and "Traceback" not in err
