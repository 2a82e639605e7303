"""The caches in front of elaboration: a large file's parsed tree kept on disk by the hash
of its text (language/caches/large_file_parses.py), and `api.analyze` reusing the program of a spec whose
files did not change (language/caches/programs.ProgramCache), with the templates on it."""

from __future__ import annotations

import pytest

from inception_dsl import api
from inception_dsl.language.caches import large_file_parses
from inception_dsl.language import parse as parse_module
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.parse import parse
from inception_dsl.language.caches.programs import ProgramCache
from inception_dsl.core.source import SourceFile

SPEC = "block cell(w = 4) {\n  conv(w, 3x3)\n}\n\nnetwork n {\n  input 3x8x8\n  cell x2\n  cell(w=6)\n}\n"
LARGE = SPEC + "# " + "padding " * (large_file_parses.MIN_BYTES // 8) + "\n"


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("INCEPTION_DSL_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "inception-dsl"


def _no_parser():
    raise AssertionError("parsed again")


def test_a_large_file_is_parsed_once_and_read_back_with_its_spans_on_the_new_text(cache_home, monkeypatch):
    first = parse(SourceFile("a.incp", LARGE), DiagnosticSink())
    assert len(list(cache_home.glob("ast-*"))) == 1
    parse(SourceFile("a.incp", LARGE), DiagnosticSink())  # the parser tables are loaded by now
    monkeypatch.setattr(parse_module, "parser", _no_parser)
    again_source = SourceFile("b.incp", LARGE)
    again = parse(again_source, DiagnosticSink())
    assert again == first
    assert again.definitions[0].span.source is again_source and again.definitions[0].span.path == "b.incp"


def test_small_files_tampered_files_and_files_with_diagnostics_are_parsed(cache_home, monkeypatch):
    parse(SourceFile("a.incp", SPEC), DiagnosticSink())
    assert not list(cache_home.glob("ast-*"))  # small: not kept
    broken = LARGE.replace("conv(w, 3x3)", "conv(w, 3x3")
    sink = DiagnosticSink()
    assert parse(SourceFile("a.incp", broken), sink) is None and sink.has_errors
    assert not list(cache_home.glob("ast-*"))  # a parse with diagnostics: not kept
    good = parse(SourceFile("a.incp", LARGE), DiagnosticSink())
    (stored,) = cache_home.glob("ast-*")
    data = bytearray(stored.read_bytes())
    data[-5] ^= 0xFF
    stored.write_bytes(bytes(data))
    calls = []
    real = parse_module.parser
    monkeypatch.setattr(parse_module, "parser", lambda: calls.append(1) or real())
    assert parse(SourceFile("a.incp", LARGE), DiagnosticSink()) == good
    assert calls  # the forged tree was refused, the text parsed


def test_analyze_reuses_the_program_of_unchanged_files_and_sees_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "PROGRAMS", ProgramCache())
    spec = tmp_path / "net.incp"
    spec.write_text(SPEC)
    first = api.analyze(spec)
    second = api.analyze(spec, params={})
    assert first.ok and second.program is first.program and api.PROGRAMS.hits == 1
    spec.write_text(SPEC.replace("cell(w=6)", "cell(w=7)"))
    third = api.analyze(spec)
    assert third.program is not first.program and third.graph.node("output").shape == (7, 8, 8)
    spec.write_text(SPEC.replace("cell(w=6)", "cell(w=)"))
    assert not api.analyze(spec).ok and api.analyze(spec).diagnostics[0].code.id == "E001"
