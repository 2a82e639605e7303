"""Family 6 of issue 13: hostile files and imports. Only regular files are read (never a
device, FIFO, directory or terminal, directly or through a symlink), the size limit holds
while reading, imports stay inside the project root, and diagnostics never echo control
characters, bidi overrides or raw bytes."""

from __future__ import annotations

import os
import signal
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inception_dsl.cli import main
from inception_dsl.core.diagnostics import render_full
from inception_dsl.core.limits import Limits

SPEC = "network n {\n  input 3x8x8\n  conv(8, 1x1)\n}\n"
COMMANDS = [["check"], ["lint"], ["fmt", "--check"], ["summary"], ["render", "-o", "out.svg"], ["compile", "-o", "o.py"]]


@pytest.fixture(autouse=True)
def _no_hang():
    """A read that blocks (a FIFO, a terminal) fails the test instead of hanging it."""
    def expire(*_):
        raise TimeoutError("a command blocked on a hostile file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _hostile_paths(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo.incp"
    os.mkfifo(fifo)
    directory = tmp_path / "dir.incp"
    directory.mkdir()
    paths = {"zero": Path("/dev/zero"), "urandom": Path("/dev/urandom"), "fifo": fifo, "directory": directory,
             "null": Path("/dev/null")}
    for name, target in list(paths.items()):
        link = tmp_path / f"link-{name}.incp"
        link.symlink_to(target)
        paths[f"link to {name}"] = link
    return paths


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_devices_fifos_and_directories_are_refused_without_reading(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    for name, path in _hostile_paths(tmp_path).items():
        code = main(command + [str(path)])
        err = "".join(capsys.readouterr())  # lint reports on stdout
        if name.endswith("null"):  # an empty character device: still not a file
            assert code in (1, 2) and "not a regular file" in err, err
            continue
        assert code in (1, 2), (name, err)
        assert "Traceback" not in err and ("not a regular file" in err or "no .incp files" in err), (name, err)


def test_proc_environ_is_never_echoed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INCEPTION_SECRET_TOKEN", "s3cr3t-value")
    assert main(["check", "/proc/self/environ"]) == 1
    err = capsys.readouterr().err
    assert "s3cr3t-value" not in err and "E109" in err  # read as the empty file its size says it is


def test_a_file_larger_than_the_limit_is_refused(tmp_path, capsys):
    path = tmp_path / "big.incp"
    path.write_text(SPEC + "# padding\n" * 100, encoding="utf-8")
    assert main(["check", str(path), "--max-file-bytes", "200"]) == 1
    assert "E005" in capsys.readouterr().err


def test_a_utf8_bom_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.incp"
    path.write_bytes(b"\xef\xbb\xbf" + SPEC.encode())
    assert main(["check", str(path)]) == 0, capsys.readouterr().err


# -- the import policy ------------------------------------------------------------------
def _project(tmp_path: Path, imports: list[str]) -> Path:
    project = tmp_path / "project"
    (project / "blocks").mkdir(parents=True, exist_ok=True)
    (project / "blocks" / "ok.incp").write_text("block ok { conv(8, 1x1) }\n", encoding="utf-8")
    (tmp_path / "outside.incp").write_text("block outside { conv(8, 1x1) }\n", encoding="utf-8")
    spec = project / "main.incp"
    spec.write_text("".join(f'import "{i}"\n' for i in imports) + SPEC, encoding="utf-8")
    return spec


REFUSED = ["/etc/hostname", "/proc/self/environ", "/dev/zero", "../outside.incp", "blocks/../../outside.incp",
           "./../outside.incp", "~/x.incp", "blocks/escape.incp"]


@pytest.mark.parametrize("path", REFUSED)
def test_imports_that_leave_the_project_root_are_refused_with_a_located_error(tmp_path, capsys, path):
    spec = _project(tmp_path, ["blocks/ok.incp", path])
    (spec.parent / "blocks" / "escape.incp").symlink_to(tmp_path / "outside.incp")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[E010]" in err and "main.incp:2:1" in err, err
    assert err.count("error[") == 1


def test_imports_inside_the_root_and_a_wider_root_given_by_flag(tmp_path, capsys):
    spec = _project(tmp_path, ["blocks/ok.incp", "./blocks/../blocks/ok.incp"])
    assert main(["check", str(spec)]) == 0, capsys.readouterr().err
    spec = _project(tmp_path, ["../outside.incp"])
    assert main(["check", str(spec), "--import-root", str(tmp_path)]) == 0, capsys.readouterr().err
    from inception_dsl.api import analyze

    assert analyze(spec, limits=Limits(import_root=str(tmp_path))).ok
    assert not analyze(spec).ok


def test_an_import_of_a_fifo_inside_the_root_is_refused(tmp_path, capsys):
    spec = _project(tmp_path, ["blocks/pipe.incp"])
    os.mkfifo(spec.parent / "blocks" / "pipe.incp")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "E003" in err and "a pipe, not a regular file" in err


# -- excerpts never drive the terminal ----------------------------------------------
_NEVER_SHOWN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(min_codepoint=1, max_codepoint=0x10FFFF, blacklist_characters="\n\r"), min_size=1,
               max_size=20))
def test_diagnostics_never_print_controls_or_format_characters(junk):
    from inception_dsl.api import analyze_text

    result = analyze_text(f"network n {{\n  input 3x8x8\n  conv(8, 1x1) ] {junk}\n}}\n")
    assert result.diagnostics
    for diagnostic in result.diagnostics:
        text = render_full(diagnostic)
        bad = [c for c in text if c != "\n" and unicodedata.category(c) in _NEVER_SHOWN]
        assert not bad, (junk, text)


@pytest.mark.parametrize("char", ["\u202e", "\u009b", "\x1b", "\x07", "\u2066", "\u200f", "\u2028", "\x85"])
def test_bidi_overrides_and_c1_controls_are_escaped(char, tmp_path, capsys):
    path = tmp_path / "s.incp"
    path.write_text(f"network n {{\n  input 3x8x8\n  conv(8, 1x1) x{char}y ]\n}}\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert char not in err


# -- [tool.inception-dsl] values that are not what they should be (family 8) ----------
@pytest.mark.parametrize("toml", ["tool = 5", "[tool]\ninception-dsl = 3", '[tool.inception-dsl]\nseverity = "x"',
                                  "[tool.inception-dsl]\nseverity = [1, 2]", '[tool.inception-dsl]\nignore = [""]',
                                  '[tool.inception-dsl]\nselect = ["  "]', "[tool.inception-dsl]\nignore = 3",
                                  '[tool.inception-dsl]\nseverity = { W101 = 3 }', "not toml ["])
def test_bad_config_values_are_reported_not_raised(tmp_path, capsys, toml):
    (tmp_path / "pyproject.toml").write_text(toml + "\n", encoding="utf-8")
    spec = tmp_path / "a.incp"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["lint", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml" in err and "Traceback" not in err and "bug" not in err
