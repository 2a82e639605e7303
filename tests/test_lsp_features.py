"""The language server's feature modules in process: the parse cache, code actions
read from help texts, noqa, labels, symbols and folding, positions in UTF-16."""

from __future__ import annotations

from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.caches.parsed_files import ParseCache
from inception_dsl.language.program import load_program
from inception_dsl.lsp.actions import fixes
from inception_dsl.lsp.analysis import Analyzer
from inception_dsl.lsp.completion import context_at
from inception_dsl.lsp.positions import Lines

from .conftest import SPECS


def _apply(text: str, fix) -> str:
    for edit in sorted(fix.edits, key=lambda e: e.start, reverse=True):
        text = text[:edit.start] + edit.text + text[edit.end:]
    return text


def test_parse_cache_parses_each_text_once_and_replays_its_errors():
    cache = ParseCache()
    for _ in range(3):
        load_program(SPECS / "v4.incp", DiagnosticSink(), cache=cache)
    assert (cache.misses, cache.hits) == (2, 4)  # the spec and its import, parsed once each
    for _ in range(2):
        sink = DiagnosticSink()
        program = load_program("bad.incp", sink, text="network n { input 3x8x8\n conv(8, 3x3) ) }", cache=cache)
        assert [d.code.id for d in sink.diagnostics] == ["E001"] and program.main_module is None


def test_analyzer_reuses_the_analysis_of_unchanged_text(tmp_path):
    analyzer = Analyzer()
    text = (SPECS / "v4.incp").read_text()
    path = str(SPECS / "v4.incp")
    first = analyzer.analyze(path, text)
    assert analyzer.analyze(path, text) is first and analyzer.runs == 1
    second = analyzer.analyze(path, text.replace("dropout = 0.2", "dropout = 0.3"))  # (x2 would drop the tap features.21)
    assert analyzer.runs == 2 and second is not first and second.diagnostics == []


def test_lint_findings_respect_noqa_and_the_fix_adds_it(tmp_path):
    spec = tmp_path / "s.incp"
    text = "block unused { relu }\nnetwork n {\n  input 3x8x8\n  conv(8, 3x3, bias=true)  # noqa: W106\n}\n"
    analysis = Analyzer().analyze(str(spec), text)
    assert [d.code.id for d in analysis.diagnostics] == ["W110"]  # the unused block; the bias (W106) is suppressed
    noqa = next(f for f in fixes(analysis.diagnostics, analysis.program) if "noqa" in f.title)
    fixed = _apply(text, noqa)
    assert fixed.startswith("block unused { relu }  # noqa: W110\n")
    assert Analyzer().analyze(str(spec), fixed).diagnostics == []
    (tmp_path / "pyproject.toml").write_text('[tool.inception-dsl]\nignore = ["W110"]\n')
    assert [d.code.id for d in Analyzer().analyze(str(spec), text.replace("  # noqa: W106", "")).diagnostics] == ["W106"]


def test_insert_flatten_and_spelling_fixes(tmp_path):
    text = "network n {\n  input 3x8x8\n  head: linear(10)\n}\n"
    analysis = Analyzer().analyze(str(tmp_path / "a.incp"), text)
    fixed = _apply(text, next(f for f in fixes(analysis.diagnostics, analysis.program) if "flatten" in f.title))
    assert fixed == "network n {\n  input 3x8x8\n  flatten\n  head: linear(10)\n}\n"
    assert Analyzer().analyze(str(tmp_path / "a.incp"), fixed).diagnostics == []
    text = "network n {\n  input 3x8x8\n  conv(8, 3x3, strde=2)\n}\n"
    analysis = Analyzer().analyze(str(tmp_path / "b.incp"), text)
    fixed = _apply(text, next(f for f in fixes(analysis.diagnostics, analysis.program) if "strde" in f.title))
    assert "conv(8, 3x3, stride=2)" in fixed


def test_colon_fix_makes_a_label():
    text = "network n {\n  input 3x8x8\n  stem conv(8, 3x3)\n}\n"
    analysis = Analyzer().analyze("c.incp", text)
    fixed = _apply(text, next(f for f in fixes(analysis.diagnostics, analysis.program) if "colon" in f.title))
    assert "stem: conv(8, 3x3)" in fixed and Analyzer().analyze("c.incp", fixed).diagnostics == []


def test_a_name_before_a_brace_offers_both_readings():
    text = "network n {\n  input 16x8x8\n  concat {\n    identity\n    { bn; conv(8, 3x3) }\n  }\n}\n"
    analysis = Analyzer().analyze("d.incp", text)
    found = fixes(analysis.diagnostics, analysis.program)
    assert len(found) == 2
    label, statement = (_apply(text, fix) for fix in found)
    assert "identity:\n" in label and "identity;\n" in statement
    assert Analyzer().analyze("d.incp", statement).diagnostics == []


def test_completion_offers_the_input_shape_names_and_rename_refuses_operators():
    from inception_dsl.lsp.completion import complete
    from inception_dsl.lsp.navigation import RenameError, check_new_name

    text = "block b(w = 8) {\n  conv("
    labels = {item.label for item in complete(text, len(text), {})}
    assert {"w", "in_channels", "in_height", "in_width"} <= labels
    try:
        check_new_name("block", "and")
    except RenameError as error:
        assert "operator" in str(error)
    else:
        raise AssertionError("renaming a block to `and` must be refused")
    check_new_name("label", "and")  # labels may be expression words


def test_positions_count_utf16_units():
    text = "# 𝟘é\nconv"
    lines = Lines(text)
    assert lines.position(text.index("é")).character == 4  # 𝟘 is two UTF-16 units
    assert lines.offset(lines.position(text.index("é"))) == text.index("é")
    assert Lines(text, "utf-32").position(text.index("é")).character == 3


def test_completion_context_reads_the_text_being_typed():
    text = "block b(w = 8, h) {\n  a: conv(w)\n  conv(8, 3x3, stride=2, "
    ctx = context_at(text, len(text))
    assert (ctx.kind, ctx.callee, ctx.scope_params, ctx.written) == ("argument", "conv", ("w", "h"), ("stride",))
    ctx = context_at(text + "\n  relu from ", len(text) + 13)
    assert ctx.kind == "from" and ctx.labels == ("a",)


def test_completion_after_from_offers_the_labels_and_input():
    from inception_dsl.lsp.completion import complete

    text = "block b {\n  a: conv(8, 1x1)\n  relu from "
    assert [item.label for item in complete(text, len(text), {})] == ["a", "input"]


LABELS = """\
block b(w = 8) {
  stem: conv(w, 3x3)
  side: { conv(4, 1x1) } from stem
  relu from stem
}

network n {
  input 3x16x16
  main: b
  aux: conv(2, 1x1) from main
  output main, aux
}
"""


def test_labels_go_to_their_definition_and_rename_within_their_body():
    from inception_dsl.lsp import navigation

    analysis = Analyzer().analyze("labels.incp", LABELS)
    module, program = analysis.module, analysis.program
    use = LABELS.index("from stem") + 6
    target = navigation.definition(program, "labels.incp", module, use)
    assert (target.start, target.text()) == (LABELS.index("stem:"), "stem")
    kind, name, _, body = navigation.symbol_at(module, LABELS.index("output main") + 8)
    assert (kind, name) == ("label", "main")
    spans = navigation.rename_spans(kind, name, body, None, {}, {})
    assert sorted(s.start for s in spans) == [LABELS.index("main:"), LABELS.index("from main") + 5, LABELS.index("output main") + 7]
    assert navigation.definition(program, "labels.incp", module, LABELS.index("output main, aux") + 14).text() == "aux"


def test_symbols_and_folding_follow_the_definitions():
    from inception_dsl.lsp.symbols import document_symbols, folding_ranges

    analysis = Analyzer().analyze("labels.incp", LABELS)
    lines = Lines(LABELS)
    found = document_symbols(analysis.module, lines)
    assert [(s.name, [c.name for c in s.children]) for s in found] == [("b", ["stem", "side"]), ("n", ["main", "aux"])]
    assert found[0].detail == "b(w=8)" and found[1].range.start.line == 6
    assert [(f.start_line, f.end_line) for f in folding_ranges(analysis.module, lines)] == [(0, 4), (6, 11)]


def test_an_import_path_with_a_lone_surrogate_is_a_located_error():
    text = 'import "blocks/\ud800.incp"\nnetwork n { input 3x8x8 }\n'
    (found,) = Analyzer().analyze("s.incp", text).diagnostics
    assert found.code.id == "E003" and "lone surrogate" in found.message and found.primary_span.line == 1


def test_hover_shows_the_files_act_as_convs_default_and_act_completes_with_activations():
    """issue 27: hover said `act=none` for conv (its default is the file's `act`), and
    completion after `act=` offered conv's flags instead of activation names."""
    from inception_dsl.lsp.completion import complete
    from inception_dsl.lsp.hover import hover_text

    text = "set act = silu\nnetwork n {\n  input 3x8x8\n  conv(8, 3x3)\n}\n"
    analysis = Analyzer().analyze("h.incp", text)
    shown, _ = hover_text(analysis.program, analysis.module, text.index("conv(") + 1, analysis.graphs)
    assert "act=silu" in shown and "act=none" not in shown and "bias=false" in shown
    assert "`bias`, `act`: from this file's settings" in shown
    typed = "block b {\n  conv(8, 1x1, act="
    labels = [item.label for item in complete(typed, len(typed), {})]
    assert labels[:3] == ["relu", "relu6", "gelu"] and "identity" in labels and "valid" not in labels
    typed = "block b {\n  residual(scale=0.2, act="
    assert "leaky_relu" in [item.label for item in complete(typed, len(typed), {})]
