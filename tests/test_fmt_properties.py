"""Property tests for fmt: for generated ASTs, parse(fmt(ast)) == ast and fmt is
idempotent on its own output; for generated comments, none is lost."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.fmt import fmt, format_module
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile

NAMES = st.sampled_from(["a", "b", "k", "conv", "width", "mixed_5b", "branch0", "relu", "true", "_x1",
                         "x1", "x42", "x0"])  # names that read like a repetition `x4` (issue 13, family 9)
SIZES = st.integers(min_value=1, max_value=9)

atoms = st.one_of(
    st.builds(syntax.Num, st.integers(min_value=0, max_value=10**6)),
    st.builds(syntax.Num, st.sampled_from([0.5, 0.17, 1e-05, 2.0, 1.5e10, 0.001])),
    st.builds(syntax.Dims, st.lists(SIZES, min_size=2, max_size=3).map(tuple)),
    st.builds(syntax.Str, st.text(alphabet="abc xyz./_-", max_size=8)),
    st.builds(syntax.Name, NAMES),
)
expressions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(syntax.BinOp, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner, inner),
        st.builds(syntax.BinOp, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "and", "or"]), inner, inner),
        st.builds(syntax.Neg, inner),
        st.builds(syntax.Not, inner),
        st.builds(syntax.IfElse, inner, inner, inner),
        st.builds(syntax.Tuple, st.lists(inner, min_size=1, max_size=3).map(tuple)),
    ),
    max_leaves=6,
)
args = st.lists(st.builds(syntax.Arg, st.one_of(st.none(), NAMES), expressions), max_size=3).map(tuple)
calls = st.one_of(
    st.builds(syntax.Call, NAMES, args, st.just(True)),
    st.builds(syntax.Call, NAMES, st.just(()), st.just(False)),
)


def labeled(ops):
    return st.builds(
        syntax.Labeled,
        st.one_of(st.none(), NAMES),
        ops,
        st.one_of(st.none(), SIZES.map(syntax.Num), st.builds(syntax.Name, NAMES), expressions),
        st.one_of(st.none(), NAMES),
        st.one_of(st.none(), expressions),
    )


def _ops(inner):
    body = st.lists(inner, max_size=3).map(tuple)
    return st.one_of(
        calls,
        st.builds(syntax.Seq, body),
        st.builds(syntax.Concat, body, st.booleans()),
        st.builds(syntax.Residual, args, body, st.one_of(st.none(), body)),
    )


statements = st.recursive(labeled(calls), lambda inner: labeled(_ops(inner)), max_leaves=8)
others = st.one_of(
    st.builds(syntax.InputStmt, st.lists(SIZES, min_size=2, max_size=4).map(tuple)),
    st.builds(syntax.OutputStmt, st.lists(NAMES, min_size=1, max_size=3).map(tuple)),
)
bodies = st.lists(st.one_of(statements, statements, others), max_size=5).map(tuple)
params = st.lists(st.builds(syntax.Param, NAMES, st.one_of(st.none(), expressions)), max_size=3).map(tuple)
definitions = st.builds(syntax.BlockDef, st.sampled_from(["block", "network"]), NAMES, params, bodies)
items = st.one_of(
    definitions,
    st.builds(syntax.Import, st.text(alphabet="abc/._", min_size=1, max_size=10)),
    st.builds(syntax.Setting, NAMES, expressions),
)
modules = st.builds(syntax.Module, st.lists(items, max_size=4).map(tuple))


def parsed(text: str) -> syntax.Module:
    sink = DiagnosticSink()
    module = parse(SourceFile("gen.incp", text), sink)
    assert module is not None, (text, [d.message for d in sink.diagnostics])
    return module


PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(modules)
def test_formatted_ast_parses_back_to_itself(module):
    text = format_module(module)
    assert parsed(text) == module, text


@PROFILE
@given(modules)
def test_fmt_is_idempotent_on_generated_specs(module):
    text = format_module(module)
    once = fmt(text)
    assert once == text
    assert fmt(once) == once


@PROFILE
@given(modules, st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.text(alphabet="abc #", max_size=6)),
                         max_size=4))
def test_comments_survive_anywhere_between_tokens(module, inserts):
    """Put comments at line ends of the formatted text: fmt keeps every one, keeps the
    AST, and is idempotent."""
    lines = format_module(module).splitlines()
    if not lines:
        return
    for position, text in inserts:
        index = position % len(lines)
        lines[index] += f"  # c{position} {text}"
    source = "\n".join(lines) + "\n"
    once = fmt(source)
    assert parsed(once) == parsed(source)
    assert fmt(once) == once
    for position, text in inserts:
        assert f"# c{position} {text}".rstrip() in once


@PROFILE
@given(modules, st.lists(st.integers(min_value=0, max_value=10**6), max_size=4), st.booleans())
def test_own_line_comments_and_blank_lines_survive(module, positions, blank):
    """Insert comment lines (and maybe blank lines) between the formatted lines."""
    lines = format_module(module).splitlines()
    for position in positions:
        index = position % (len(lines) + 1)
        lines[index:index] = [f"# own{position}"] + ([""] if blank else [])
    source = "\n".join(lines) + "\n"
    once = fmt(source)
    assert parsed(once) == parsed(source)
    assert fmt(once) == once, (source, once)
    for position in positions:
        assert f"# own{position}" in once
    assert "\n\n\n" not in once and not once.startswith("\n")
