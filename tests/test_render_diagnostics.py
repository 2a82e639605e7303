"""render_full on awkward source text: tabs, spans over several lines, the end of the
file, non-ASCII and control characters, line numbers of different widths."""

from __future__ import annotations

from inception_dsl.core import codes
from inception_dsl.core.diagnostics import DiagnosticSink, Label, render_full
from inception_dsl.core.source import SourceFile, Span


def render(text: str, start: int, end: int, secondary: tuple[tuple[int, int, str], ...] = ()) -> list[str]:
    source = SourceFile("t.incp", text)
    labels = [Label(Span(source, a, b), message, False) for a, b, message in secondary]
    diagnostic = DiagnosticSink().emit(codes.SYNTAX, "msg", Span(source, start, end), "here", secondary=labels)
    return render_full(diagnostic).splitlines()


def caret_column(line: str) -> int:
    """Column (0-based) of the first marker character after the gutter `| `."""
    body = line.split("| ", 1)[1]
    return len(body) - len(body.lstrip(" "))


def test_tabs_are_expanded_and_the_marker_stays_under_its_token():
    text = "network n {\n\tconv(x)\n}\n"
    start = text.index("conv")
    lines = render(text, start, start + 4)
    assert lines[1] == " --> t.incp:2:2"
    assert lines[3] == "2 |     conv(x)"
    assert lines[4] == "  |     ^^^^ here"


def test_span_over_several_lines_underlines_the_first_line_to_its_end():
    text = "concat {\n  conv(8)\n}\n"
    lines = render(text, 0, len(text) - 1)
    assert lines[3] == "1 | concat {"
    assert lines[4] == "  | ^^^^^^^^ here"
    assert not any("conv(8)" in line for line in lines)


def test_span_at_end_of_file_without_newline():
    text = "network n {"
    lines = render(text, len(text), len(text))
    assert lines[1] == " --> t.incp:1:12"
    assert caret_column(lines[4]) == len(text) and lines[4].endswith("^ here")


def test_end_of_file_error_points_at_the_last_line_not_past_it():
    from inception_dsl.core.diagnostics import DiagnosticSink as Sink
    from inception_dsl.language.parse import parse

    source = SourceFile("t.incp", "network n {\n  input 3x8x8\n\n\n")
    sink = Sink()
    assert parse(source, sink) is None
    (diagnostic,) = sink.diagnostics
    assert diagnostic.code is codes.UNTERMINATED
    assert diagnostic.primary_span.line == 2


def test_non_ascii_text_keeps_the_marker_aligned():
    text = "# café\nconv(ñ, 量子)\n"
    start = text.index("量")
    lines = render(text, start, start + 2)
    assert lines[1] == " --> t.incp:2:9"  # columns count code points
    assert lines[3] == "2 | conv(ñ, 量子)"
    # the two wide characters take four terminal columns
    assert lines[4] == "  |         ^^^^ here"


def test_control_characters_are_shown_not_sent_to_the_terminal():
    text = "conv(\x1b[31m8)\n"
    lines = render(text, 5, 6)
    assert "\x1b" not in "\n".join(lines)
    assert lines[3] == "1 | conv(\u241b[31m8)"
    assert lines[4] == "  |      ^ here"


def test_line_numbers_of_different_widths_share_one_gutter():
    text = "\n" * 8 + "conv\n" + "x\n" * 3
    conv, x = text.index("conv"), text.rindex("x")
    lines = render(text, x, x + 1, secondary=((conv, conv + 4, "there"),))
    assert lines[1] == "  --> t.incp:12:1"
    assert lines[3] == " 9 | conv"
    assert lines[4] == "   | ---- there"
    assert lines[5] == "  ..."
    assert lines[6] == "12 | x"
    assert lines[7] == "   | ^ here"
