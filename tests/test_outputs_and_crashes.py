"""Families 7 and 8 of issue 13: output paths (never an input, symlinks written through,
`-o -` is stdout for text and refused for binary, one JSON document per run) and bad
input that used to raise (empty residuals and branches, huge numbers, bad option values,
checkpoints that are not state_dicts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from inception_dsl.cli import main

SPEC = "network n {\n  input 3x8x8\n  conv(8, 1x1)\n}\n"
UGLY = "network n {\n input 3x8x8\n      conv(8, 1x1)\n}\n"

# (command line with IN for the spec and OUT for the output path); every command that writes a file
WRITERS = [
    ["compile", "IN", "-o", "OUT"],
    ["compile", "IN", "--optimize", "-o", "OUT"],
    ["lint", "IN", "--output", "OUT"],
    ["render", "IN", "-o", "OUT"],
    ["export", "IN", "--onnx", "OUT"],
]


def _argv(template, spec, out):
    return [str(spec) if a == "IN" else str(out) if a == "OUT" else a for a in template]


@pytest.mark.parametrize("template", WRITERS, ids=lambda t: " ".join(t[:2] if t[2].startswith("--o") else t[:1]))
def test_an_output_path_that_is_an_input_is_refused(tmp_path, capsys, template):
    spec = tmp_path / "a.dot" if template[0] == "render" else tmp_path / "a.incp"
    spec.write_text(SPEC, encoding="utf-8")
    (tmp_path / "b.incp").write_text("block pw { conv(8, 1x1) }\n", encoding="utf-8")
    main_spec = tmp_path / "main.incp"
    main_spec.write_text('import "b.incp"\n' + SPEC.replace("conv(8, 1x1)", "pw"), encoding="utf-8")
    link = tmp_path / "link.dot"
    link.symlink_to(spec)
    for target_spec, out in [(spec, spec), (spec, link), (main_spec, tmp_path / "b.incp")]:
        if template[0] == "render" and target_spec is main_spec:
            out = tmp_path / "b.dot"
            (tmp_path / "b.dot").symlink_to(tmp_path / "b.incp")
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        code = main(_argv(template, target_spec, out))
        err = capsys.readouterr().err
        assert code == 2 and "is the input" in err, (template, out, err)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_fmt_through_a_symlink_formats_the_target_in_place(tmp_path, capsys):
    target = tmp_path / "real.incp"
    target.write_text(UGLY, encoding="utf-8")
    link = tmp_path / "link.incp"
    link.symlink_to(target)
    assert main(["fmt", str(link)]) == 0, capsys.readouterr().err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text(encoding="utf-8") != UGLY
    assert main(["fmt", "--check", str(target)]) == 0


def test_dash_is_stdout_for_text_outputs_and_refused_for_binary(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "a.incp"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["compile", str(spec), "-o", "-"]) == 0
    out = capsys.readouterr().out
    compile(out, "<stdout>", "exec")
    assert "class N(" in out
    assert main(["lint", str(spec), "--output", "-"]) == 0
    assert "no findings" in capsys.readouterr().out
    for argv in (["export", str(spec), "--onnx", "-"], ["render", str(spec), "-o", "-"]):
        assert main(argv) == 2
        assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_render_writes_build_network_svg_by_default_and_says_so(tmp_path, capsys, monkeypatch):
    """issue 27: render printed nothing on success and had no default output (compile has both)."""
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "a.incp"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["render", str(spec)]) == 0
    assert capsys.readouterr().out == f"wrote {Path('build') / 'n.svg'}\n"
    assert (tmp_path / "build" / "n.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert main(["render", str(spec), "-o", "n.dot"]) == 0
    assert capsys.readouterr().out == "wrote n.dot\n" and (tmp_path / "n.dot").exists()


def test_check_json_over_several_specs_is_one_document(tmp_path, capsys):
    paths = []
    for index in range(3):
        path = tmp_path / f"s{index}.incp"
        path.write_text("network n {\n  input 3x8x8\n  conv(0, 1x1)\n  nosuch\n}\n", encoding="utf-8")
        paths.append(str(path))
    assert main(["check", "--format", "json", *paths]) == 1
    captured = capsys.readouterr()
    diagnostics = json.loads(captured.err)
    assert {d["path"] for d in diagnostics} == set(paths) and len(diagnostics) == 6


# -- family 8: crashes ----------------------------------------------------------------
@pytest.mark.parametrize("body", ["residual { }", "residual { conv(3) when false }", "concat { conv(8); {}; {} }",
                                  "residual { {} }", "residual(scale=0.5) { } shortcut { }", "concat { {}; {} }",
                                  "x: residual { } when true", "residual { concat { {}; {} }; conv(3, 1x1) }"])
def test_empty_residuals_and_branches_check_and_build_the_same_network(body, tmp_path):
    from inception_dsl.api import analyze
    from inception_dsl.passes.analyses.budget import total_params
    from inception_dsl.runtime.module import load

    path = tmp_path / "e.incp"
    path.write_text(f"network n {{\n  input 3x8x8\n  {body}\n}}\n", encoding="utf-8")
    result = analyze(path)
    assert result.ok, result.diagnostics
    model = load(path, seed=0).eval()
    y = model(torch.randn(2, 3, 8, 8))
    assert tuple(y.shape[1:]) == result.graph.node("output").shape
    assert sum(p.numel() for p in model.parameters()) == total_params(result.graph)


@pytest.mark.parametrize("literal", ["9" * 5000, "1e999", "99999999999999 * 99999999999999", "1 / 0.0000000000001",
                                     "3x" + "9" * 5000, "(" + "9" * 400 + ", 3)"])
def test_huge_numbers_are_a_located_limit_error(literal, tmp_path, capsys):
    path = tmp_path / "h.incp"
    path.write_text(f"network n {{\n  input 3x8x8\n  conv({literal})\n}}\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "h.incp:3:" in err and "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("argv", [["--seed", "99999999999999999999999"], ["--seed", "-1"], ["--opset", "999"],
                                  ["--opset", "1"], ["--opset", "x"]])
def test_export_option_values_out_of_range_are_usage_errors(argv, tmp_path, capsys):
    spec = tmp_path / "a.incp"
    spec.write_text(SPEC, encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["export", str(spec), "--onnx", str(tmp_path / "a.onnx"), *argv])
    assert info.value.code == 2
    assert not (tmp_path / "a.onnx").exists()


def test_weights_that_are_not_a_state_dict(tmp_path, capsys):
    from inception_dsl.runtime.module import load

    spec = tmp_path / "a.incp"
    spec.write_text(SPEC, encoding="utf-8")
    for value in ([torch.zeros(1)], {"a": 1}, {1: torch.zeros(1)}, torch.zeros(3)):
        torch.save(value, tmp_path / "w.pth")
        with pytest.raises(ValueError, match="not a state_dict"):
            load(spec, weights=tmp_path / "w.pth")
    code = main(["convert", str(spec), "--from", "timm:inception_v4", "--weights", "/dev/zero", "-o",
                 str(tmp_path / "o.pth")])
    assert code == 2 and "not a regular file" in capsys.readouterr().err


def test_a_missing_spec_is_e003_with_exit_status_1_as_docs_cli_says(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.incp")]) == 1
    assert "E003" in capsys.readouterr().err
    text = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "missing, not\na regular file" in text
