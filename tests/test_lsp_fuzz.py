"""Mutation fuzzing of the language server's features, in process: for mutated specs
(tests/fuzzing.py), the analysis and every feature at many cursor positions answer
(possibly with nothing) and never raise. CI runs a bounded, deterministic set; the long
profile is `pytest -m fuzz tests/test_lsp_fuzz.py`."""

from __future__ import annotations

import os
import random

import pytest

from inception_dsl.lsp import completion, hints, hover, navigation
from inception_dsl.lsp.actions import fixes
from inception_dsl.lsp.analysis import Analyzer
from inception_dsl.lsp.lsp_diagnostics import to_lsp
from inception_dsl.lsp.positions import Lines
from inception_dsl.lsp.symbols import document_symbols, folding_ranges, format_edits

from .conftest import SPECS
from .fuzzing import mutate

CASES = 24
LONG_CASES = 1000
OFFSETS = 12
SPECS_TEXT = {p.name: p.read_text() for p in sorted(SPECS.glob("*.incp"))}


def _exercise(analyzer: Analyzer, path: str, text: str, seed: int) -> None:
    analysis = analyzer.analyze(path, text)
    lines = Lines(text)
    [to_lsp(d) for d in analysis.diagnostics]
    fixes(analysis.diagnostics, analysis.program)
    format_edits(text, path)
    rng = random.Random(seed)
    offsets = [rng.randrange(len(text) + 1) for _ in range(OFFSETS)]
    for offset in offsets:
        lines.offset(lines.position(offset))
        completion.complete(text, offset, analysis.program.definitions)
    module = analysis.module
    if module is None:
        return
    document_symbols(module, lines)
    folding_ranges(module, lines)
    hints.inlay_hints(module, analysis.graphs, lines, 0, len(text))
    for offset in offsets:
        hover.hover_text(analysis.program, module, offset, analysis.graphs)
        navigation.definition(analysis.program, path, module, offset)
        found = navigation.symbol_at(module, offset)
        if found is not None and found[0] == "label":
            navigation.rename_spans(found[0], found[1], found[3], None, {}, {})


def _run(cases: int, base: int) -> None:
    analyzer = Analyzer()
    names = sorted(SPECS_TEXT)
    for case in range(cases):
        seed = base + case
        name = names[seed % len(names)]
        text, applied = mutate(SPECS_TEXT[name], seed)
        try:
            _exercise(analyzer, str(SPECS / name), text, seed)
        except Exception as error:  # the report names the case to replay
            raise AssertionError(f"seed {seed} on {name} ({', '.join(applied)}): {type(error).__name__}: {error}") from error


def test_features_survive_mutated_specs():
    _run(CASES, 1000)


@pytest.mark.fuzz
def test_features_survive_mutated_specs_long():
    _run(LONG_CASES, int(os.environ.get("INCEPTION_DSL_FUZZ_SEED", "20000")))
