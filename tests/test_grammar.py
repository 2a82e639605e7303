"""The grammar never merges two statements written on separate lines.

Newlines are insignificant, so the only way two lines could read as one statement is a
token that both continues a statement and starts one. `{` after a bare name was such a
token (`relu` then `{ ... }` read as the sequence labelled `relu`); it is now E008. The
property test writes random statements one per line and checks that the parser sees
exactly that many statements, each on its own line, or E008 exactly where a bare name
meets a `{`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inception_dsl import analyze_text
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.fmt import fmt
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile


def _parse(text: str):
    sink = DiagnosticSink()
    module = parse(SourceFile("spec.incp", text), sink)
    return module, sink


def _codes(text: str) -> list[tuple[str, int]]:
    result = analyze_text(text, "spec.incp")
    return [(d.code.id, d.primary_span.line) for d in result.diagnostics]


DENSE = """network dense {
  input 16x8x8
  concat {
    identity
    { bn; relu; conv(8, 3x3) }
  }
}
"""


def test_a_bare_name_before_a_brace_on_the_next_line_is_located_E008():
    assert _codes(DENSE) == [("E008", 4)]
    result = analyze_text(DENSE, "spec.incp")
    (diagnostic,) = result.diagnostics
    assert "identity: { ... }" in diagnostic.help and "identity;" in diagnostic.help


def test_a_bare_name_before_a_brace_on_the_same_line_is_E008():
    text = "network n {\n  input 3x8x8\n  stem { conv(8, 3x3) }\n}\n"
    assert _codes(text) == [("E008", 3)]


def test_the_relu_before_a_sequence_is_not_silently_dropped():
    text = "network n {\n  input 3x8x8\n  conv(8, 3x3)\n  relu\n  # a comment between\n  { conv(8, 1x1) }\n}\n"
    assert _codes(text) == [("E008", 4)]


def test_a_semicolon_or_a_colon_says_which_was_meant():
    two = "network n {\n  input 16x8x8\n  concat {\n    identity;\n    { bn; relu; conv(8, 3x3) }\n  }\n}\n"
    result = analyze_text(two, "spec.incp")
    assert result.ok and result.graph.node("output").shape == (24, 8, 8)
    labelled = "network n {\n  input 3x8x8\n  stem: { conv(8, 3x3) }\n}\n"
    result = analyze_text(labelled, "spec.incp")
    assert result.ok and "stem.0.conv" in result.graph  # a sequence member is named by its position


def test_a_label_like_a_repetition_on_the_next_line_starts_a_statement():
    # issue 27: `x1: conv(...)` after `a: identity` read as `identity x1` and then E001 at `:`
    text = "block b {\n  a: identity\n  x1: conv(8, 1x1)\n  x2 : conv(8, 1x1) from a\n}\n" \
           "network n {\n  input 3x8x8\n  b x2\n}\n"
    result = analyze_text(text, "spec.incp")
    assert result.ok, [d.message for d in result.diagnostics]
    assert "b.0.x1.conv" in result.graph and "b.1.x2.conv" in result.graph
    assert fmt(text) == text.replace("x2 :", "x2:").replace("}\nnetwork", "}\n\nnetwork")  # no `;` needed


def test_fmt_keeps_the_separator_that_keeps_two_statements_apart():
    two = "network n {\n  input 16x8x8\n  concat {\n    identity;\n    { bn; relu; conv(8, 3x3) }\n  }\n}\n"
    out = fmt(two)
    assert "identity;" in out and "identity:" not in out
    assert analyze_text(out, "spec.incp").ok


def test_an_even_pool_window_suggests_valid():
    text = "network n {\n  input 3x32x32\n  maxpool(2x2, stride=2)\n}\n"
    (diagnostic,) = analyze_text(text, "spec.incp").diagnostics
    assert diagnostic.code.id == "E105"
    assert "`maxpool(2x2, stride=2, valid)`" in diagnostic.help


# -- the property ---------------------------------------------------------------------
BARE = st.sampled_from(["relu", "flatten", "identity", "blk", "global_avgpool"])
CALLS = st.sampled_from(["conv(8, 3x3)", "maxpool(3x3, stride=2, valid)", "blk(k=2)", "linear(10)", "act(relu)"])
SUFFIXES = st.sampled_from(["", " x2", " from a0", " when flag", " from a0 when flag", " x3 when flag", " x n",
                            " x (2 * n) when not flag", " when n > 1 and flag", " when a if n >= 2 else b",
                            " x (n if flag else 1) from a0"])


@st.composite
def statement(draw) -> tuple[str, bool]:
    """(one line of text, whether it is a bare unlabelled name)."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(BARE), True
    if kind == 1:
        return draw(CALLS) + draw(SUFFIXES), False
    if kind == 2:
        label = draw(st.sampled_from(["a", "x"])) + str(draw(st.integers(0, 9)))  # `x1:` is a label, not `x1`
        return f"{label}: {draw(st.one_of(BARE, CALLS))}{draw(SUFFIXES)}", False
    if kind == 3:
        return "{ relu; conv(4, 1x1) }" + draw(SUFFIXES), False
    if kind == 4:
        keyword = draw(st.sampled_from(["concat", "reduction", "sum", "product", "split(2)", "split(in_channels - 4, 4)"]))
        return keyword + " { conv(4, 1x1); relu }" + draw(SUFFIXES), False
    return "residual(scale=0.2) { conv(4, 1x1) } shortcut { relu }" + draw(SUFFIXES), False


SEPARATORS = st.sampled_from(["\n", "\n\n", "\n  # note { x2\n", "  # c\n", "\n\t"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(statement(), SEPARATORS), min_size=1, max_size=8))
def test_statements_on_separate_lines_never_merge(items):
    lines, offsets, text = [], [], "block b {\n"
    for (line, bare), separator in items:
        offsets.append((text.count("\n") + 1, bare, line.startswith("{")))
        text += "  " + line + separator
        lines.append(line)
    text += "\n}\n"
    module, sink = _parse(text)
    expected_errors = [
        offsets[i][0] for i in range(len(offsets) - 1) if offsets[i][1] and offsets[i + 1][2]
    ]
    if expected_errors:
        assert module is None
        assert [(d.code.id, d.primary_span.line) for d in sink.diagnostics] == [("E008", n) for n in expected_errors]
        return
    assert module is not None, [str(d.message) for d in sink.diagnostics]
    (block,) = module.definitions
    statements = [s for s in block.body if isinstance(s, syntax.Labeled)]
    assert len(statements) == len(lines)
    assert [s.span.line for s in statements] == [line for line, _, _ in offsets]
