"""Hostile YAML given as a parameter file: no code runs, every refusal is a located
diagnostic with exit code 1, and time and memory stay bounded."""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest

from inception_dsl.cli import main
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.yaml_file import MAX_YAML_NODES, read_yaml

from .conftest import ROOT

V4 = str(ROOT / "specs" / "v4.incp")
# a whole `check` of Inception-v4 with the file, on a loaded shared machine; expanding the
# billion laughs (10^9 strings) or hanging on the FIFO would take far longer
BOUND_S = 10.0


def laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def check(tmp_path, capsys, content: str | bytes, *options: str, name: str = "p.yaml") -> tuple[str, float]:
    """Run `check` on v4 with the file; return stderr and the seconds it took."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    start = time.perf_counter()
    code = main(["check", "-q", V4, "--params-file", str(path), *options])
    took = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return err, took


@pytest.mark.parametrize("content, where, code, message", [
    ('num_classes: !!python/object/apply:os.system ["touch PWNED"]\n', "1:14", "E105",
     "the YAML tag `!!python/object/apply:os.system` is not allowed"),
    ("num_classes: !!python/name:os.system\n", "1:14", "E105", "`!!python/name:os.system` is not allowed"),
    ("x: !!binary aGVsbG8=\n", "1:4", "E105", "`!!binary` is not allowed"),
    ("x: !!timestamp 2024-01-01\n", "1:4", "E105", "`!!timestamp` is not allowed"),
    ("x: 2024-01-01\n", "1:4", "E105", "`x` is not a name"),  # YAML 1.2: a plain date is a string
    ("x: !!set {a, b}\n", "1:4", "E105", "`!!set` is not allowed"),
    ("x: !custom 1\n", "1:4", "E105", "`!custom` is not allowed"),
    ("base: &b {num_classes: 1}\n<<: *b\n", "2:1", "E105", "`!!merge` is not allowed"),
    ("x: &a [1, *a]\n", "1:11", "E115", "the alias `*a` refers to a node that contains it"),
    ("x: *nowhere\n", "1:4", "E001", "found undefined alias"),
    (b"num_classes: 10\ndropout: \xff\xfe\n", "2:10", "E006", "is not UTF-8 text (byte 25 is 0xff)"),
    (b"\xef\xbb\xbfnum_clases: 10\r\n", "1:1", "E103", "did you mean `num_classes`?"),  # BOM, CRLF
    (b"\xef\xbb\xbfx: 1\ny: \xc3\n", "2:4", "E006", "byte 11 is 0xc3"),
    ("num_classes: 10\x01\n", "1:16", "E006", "contains the character U+0001"),
    ("num_classes: [10\n", "2:1", "E001", "is not valid YAML"),
    ("a: 1\n---\nb: 2\n", "2:1", "E001", "expected a single document"),
])
def test_hostile_content_is_refused_where_it_stands(tmp_path, capsys, monkeypatch, content, where, code, message):
    monkeypatch.chdir(tmp_path)  # a tag that ran `touch PWNED` would leave the file here
    err, _ = check(tmp_path, capsys, content)
    assert f"p.yaml:{where}" in err and f"error[{code}]" in err and message in err, err
    assert not (tmp_path / "PWNED").exists()


def test_billion_laughs_is_refused_quickly_in_little_memory(tmp_path, capsys):
    err, took = check(tmp_path, capsys, laughs())
    assert "error[E115]" in err and f"expands to more than {MAX_YAML_NODES} values" in err
    assert "p.yaml:5:" in err  # the first alias that passes the bound: 9**4 * ... > 10,000 at level 4
    assert took < BOUND_S
    (tmp_path / "bomb.yaml").write_text(laughs(), encoding="utf-8")
    tracemalloc.start()
    try:
        assert read_yaml(tmp_path / "bomb.yaml", DiagnosticSink()) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak


def test_aliases_within_the_bound_are_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(laughs(levels=2) + "num_classes: 10\n", encoding="utf-8")  # 9 + 81 + 729 values
    assert read_yaml(path, DiagnosticSink()) is not None


def test_deep_nesting_stops_at_the_limit_not_the_stack(tmp_path, capsys):
    depth = 20_000
    err, took = check(tmp_path, capsys, "x: " + "[" * depth + "]" * depth + "\n")
    assert "p.yaml:1:" in err and "error[E115]" in err and "nests deeper than the limit of 64" in err
    assert took < BOUND_S
    err, _ = check(tmp_path, capsys, "x: " + "[" * 10 + "]" * 10 + "\n", "--max-nesting", "5")
    assert "limit of 5" in err
    err, _ = check(tmp_path, capsys, "".join(f"{' ' * 2 * i}k{i}:\n" for i in range(100)) + " " * 200 + "v: 1\n")
    assert "nests deeper" in err


def test_many_values_stop_at_the_node_bound(tmp_path, capsys):
    err, took = check(tmp_path, capsys, "x: [" + ", ".join(["1"] * 15_000) + "]\n")
    assert "error[E115]" in err and took < BOUND_S


def test_size_limit_is_a_flag(tmp_path, capsys):
    content = "num_classes: 10\n" + "# padding\n" * 10_000  # ~100 KB, over the 64 KiB default
    err, _ = check(tmp_path, capsys, content)
    assert "error[E005]" in err and "p.yaml:1:1" in err and "--max-yaml-bytes" in err
    path = tmp_path / "p.yaml"
    assert main(["check", "-q", V4, "--params-file", str(path), "--max-yaml-bytes", "1MiB"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("target, message", [
    ("/dev/zero", "a character device, not a regular file"),
    (".", "a directory, not a regular file"),
    ("missing.yaml", "cannot find"),
    ("fifo", "a pipe, not a regular file"),
])
def test_only_regular_files_are_read(tmp_path, capsys, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    if target == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this platform")
        os.mkfifo(tmp_path / "fifo")  # nobody writes to it: opening it for reading must not hang
    start = time.perf_counter()
    code = main(["check", "-q", V4, "--params-file", target])
    err = capsys.readouterr().err
    assert code == 1 and time.perf_counter() - start < BOUND_S
    assert f"{target}:1:1" in err and "error[E00" in err and message in err, err
