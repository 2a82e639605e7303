"""Expressions: `in_channels` / `in_height` / `in_width` in block bodies, repetition
counts from expressions (`x n`, `x (2 * n)`), comparisons, `and`/`or`/`not` and
`a if c else b` in `when` and in arguments. The checker and the generated source must
agree: every case is checked, then built by `load()` from the generated standalone
source, and the module's parameter count and output shape must be the checker's."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.language.fmt import fmt
from inception_dsl.passes.analyses.budget import total_params
from inception_dsl.runtime.module import loads

DENSE = """
block dense_layer(growth = 4) {
  concat {
    identity;
    { bn; relu; conv(2 * growth, 1x1); conv(growth, 3x3, bn=false, bias=false, act=identity) }
  }
}

block transition {
  bn
  conv(in_channels // 2, 1x1, bn=false, bias=false)
  avgpool(2x2, stride=2, valid)
}

block dense_block(n, growth = 4) {
  dense_layer(growth) x n
}

block depthwise {
  conv(in_channels, 3x3, groups=in_channels) when in_height >= 16 and in_width >= 16
  relu
}

network dense(layers = 3) {
  input 8x16x16
  dense_block(layers)
  transition
  dense_block(layers - 1, growth=2) x (layers // 2 + 1)
  dw: depthwise
  head: conv(in_channels, 1x1)
}
"""

INVERTED = """
set act = relu6

block body(out, stride, t) {
  conv(in_channels * t, 1x1) when t != 1
  conv(in_channels * t, 3x3, stride=stride, groups=in_channels * t)
  conv(out, 1x1, act=identity)
}

block inverted(out, stride = 1, t = 6) {
  residual(act=identity) { body(out, stride, t) } when stride == 1 and in_channels == out  # noqa: W101
  body(out, stride, t) when not (stride == 1 and in_channels == out)
}

network mobile(width = 8, deep = true) {
  input 3x16x16
  conv(width, 3x3, stride=2)
  inverted(width, t=1)
  inverted(2 * width, 2)
  inverted(2 * width) x (3 if deep else 1)
  conv(4 if width > 16 or not deep else 6, 1x1)
}
"""


def _checked(text: str, **params):
    result = analyze_text(text, "spec.incp", params=params)
    assert result.ok, [d.message for d in result.diagnostics]
    return result


def _module_agrees(text: str, **params) -> torch.nn.Module:
    """The module built from the generated source has the checker's parameters and output shape."""
    result = _checked(text, **params)
    module = loads(text, **params).eval()
    assert sum(p.numel() for p in module.parameters()) == total_params(result.graph)
    shape = result.graph.input_node.shape
    with torch.no_grad():
        out = module(torch.randn(1, *shape))
    assert tuple(out.shape[1:]) == result.graph.node(result.graph.outputs[0]).shape
    return module


def test_in_channels_is_the_width_a_block_receives():
    result = _checked(DENSE)
    shapes = {s.name: result.graph.node(s.output).shape for s in result.graph.stages}
    assert shapes["dense_block"] == (8 + 3 * 4, 16, 16)
    assert shapes["transition"] == (10, 8, 8)  # in_channels // 2 of 20
    assert "dw.conv0.conv" not in result.graph  # in_height is 8 there: `when` is false
    assert shapes["head"][0] == 8  # in a network body, in_channels is the network's input width


def test_a_block_that_reads_the_grid_size_at_two_grids_is_refused_by_check():
    text = DENSE.replace("  dw: depthwise\n", "  dw: depthwise\n  maxpool(2x2, stride=2, valid)\n  depthwise\n")
    result = analyze_text(text, "spec.incp")
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E301", 31)]
    assert "two grid sizes (8x8, then 4x4)" in result.diagnostics[0].message


@pytest.mark.parametrize("layers", [2, 3, 4])
def test_repeat_counts_from_expressions_build_what_check_says(layers):
    result = _checked(DENSE, layers=layers)
    repeats = [s.name for s in result.graph.stages if s.name.startswith("dense_block_2.")]
    assert len(repeats) == layers // 2 + 1
    _module_agrees(DENSE, layers=layers)


@pytest.mark.parametrize("width,deep", [(8, True), (8, False), (32, True)])
def test_conditions_with_comparisons_and_boolean_operators(width, deep):
    result = _checked(INVERTED, width=width, deep=deep)
    graph = result.graph
    residuals = [n for n in graph.nodes() if n.op.name == "ADD"]
    # the t=1 block keeps the width (a residual); the strided one does not; the repeated ones do
    assert len(residuals) == 1 + (3 if deep else 1)
    assert graph.node(graph.outputs[0]).shape[0] == (4 if width > 16 or not deep else 6)
    _module_agrees(INVERTED, width=width, deep=deep)


def test_the_generated_source_is_symbolic_in_the_expressions():
    source = to_python(_checked(INVERTED))
    assert "use_residual0 = (stride == 1) and (in_channels == out)" in source
    assert "not ((stride == 1) and (in_channels == out))" in source
    assert "groups=in_channels * t" in source
    assert "_repeat(3 if deep else 1," in source
    dense = to_python(_checked(DENSE))
    assert "_repeat(n, in_channels" in dense and "in_channels // 2" in dense


@pytest.mark.parametrize("condition,expected", [
    ("1 < 2 and not 2 <= 1", True), ("1 == 1.0", True), ("act == relu", True), ("act != relu6", True),
    ("false or 3 >= 3", True), ("(1 if k > 2 else 0) == 1", True), ("k % 2 == 1 and k // 2 == 1", True),
    ("not k > 2 or false", False), ("true and false", False),
])
def test_conditions_evaluate_as_python_would(condition, expected):
    text = f"block b(k = 3, act = relu) {{\n  relu\n  conv(4) when {condition}\n}}\nnetwork n {{\n  input 3x4x4\n  b\n}}\n"
    result = _checked(text)
    assert ("b.conv1.conv" in result.graph) == expected
    source = to_python(result)
    module = loads(text)
    assert (getattr(module.b, "conv1") is not None) == expected, source


@pytest.mark.parametrize("text,code,line", [
    ("block b(n) {\n  conv(4) x n\n}\nnetwork m {\n  input 3x8x8\n  b(2.5)\n}\n", "E108", 2),
    ("block b(n) {\n  conv(4) x (n - 1)\n}\nnetwork m {\n  input 3x8x8\n  b(1)\n}\n", "E108", 2),
    ("network m(flag = 2) {\n  input 3x8x8\n  conv(4) when flag and true\n}\n", "E105", 3),
    ("network m(t = 2) {\n  input 3x8x8\n  conv(4) when tt != 1\n}\n", "E101", 3),
    ("network m(t = 2) {\n  input 3x8x8\n  conv(4) when t < relu\n}\n", "E101", 3),
    ("block not {\n  relu\n}\nnetwork m {\n  input 3x8x8\n  relu\n}\n", "E009", 1),
    ("block b(if) {\n  relu\n}\nnetwork m {\n  input 3x8x8\n  b(3)\n}\n", "E009", 1),
    ("network m {\n  input 3x8x8\n  and\n}\n", "E009", 3),
])
def test_mistakes_in_expressions_are_located(text, code, line):
    result = analyze_text(text, "spec.incp")
    assert not result.ok
    first = result.diagnostics[0]
    assert (first.code.id, first.primary_span.line) == (code, line), [d.message for d in result.diagnostics]


def test_a_repetition_on_the_next_line_is_an_error_not_a_continuation():
    for line in ("x(2)", "x n", "x4"):
        text = f"network m(n = 2) {{\n  input 3x8x8\n  relu\n  {line}\n}}\n"
        result = analyze_text(text, "spec.incp")
        assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E001", 4)], line


def test_x_and_in_channels_stay_usable_as_names():
    """`x` is a name unless a count follows it; a parameter `in_channels` shadows the built-in."""
    text = ("block x(in_channels = 4) {\n  conv(in_channels, 1x1)\n}\n"
            "network m {\n  input 3x8x8\n  relu\n  x: x\n  x\n  y: x(in_channels=6) x2\n}\n")
    result = _checked(text)
    shapes = {s.name: result.graph.node(s.output).shape for s in result.graph.stages}
    assert shapes["x"] == (4, 8, 8) and shapes["x_2"] == (4, 8, 8) and shapes["y.1"] == (6, 8, 8)
    _module_agrees(text)


def test_xn_without_a_space_suggests_the_repetition():
    text = "block b(n = 2) {\n  conv(4) xn\n}\nnetwork m {\n  input 3x8x8\n  b\n}\n"
    (diagnostic,) = analyze_text(text, "spec.incp").diagnostics
    assert diagnostic.code.id == "E102" and "x n" in diagnostic.help


def test_fmt_keeps_the_meaning_of_expressions():
    for text in (DENSE, INVERTED):
        out = fmt(text)
        assert fmt(out) == out
        assert "x (layers // 2 + 1)" in out or "x (3 if deep else 1)" in out
        assert total_params(_checked(out).graph) == total_params(_checked(text).graph)


# -- the checker and the generated code evaluate every expression alike -------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from inception_dsl.core.python_exprs import py_expr  # noqa: E402
from inception_dsl.backends.python.prelude import prelude  # noqa: E402
from inception_dsl.core import syntax  # noqa: E402
from inception_dsl.core.diagnostics import DiagnosticSink  # noqa: E402
from inception_dsl.core.values import EvalError, Symbol, evaluate  # noqa: E402

_ENV = {"a": 6, "b": -4, "c": 2.5, "f": True, "g": False, "s": Symbol("relu")}
_leaves = st.one_of(
    st.builds(syntax.Name, st.sampled_from(sorted(_ENV) + ["relu", "true", "false"])),
    st.builds(syntax.Num, st.integers(-3, 9)),
    st.builds(syntax.Num, st.sampled_from([0.5, 2.0])),
)
_expressions = st.recursive(_leaves, lambda inner: st.one_of(
    st.builds(syntax.BinOp, st.sampled_from(["+", "-", "*", "/", "//", "%", *syntax.COMPARISONS, "and", "or"]), inner, inner),
    st.builds(syntax.Neg, inner), st.builds(syntax.Not, inner), st.builds(syntax.IfElse, inner, inner, inner),
), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_expressions)
def test_checker_and_generated_code_agree_on_every_expression(expr):
    try:
        expected = evaluate(expr, _ENV, DiagnosticSink())
    except EvalError:
        return  # refused by the checker: never reaches code generation
    helpers: set[str] = set()
    source = py_expr(expr, {name: name for name in _ENV}, helpers)
    namespace: dict = {}
    exec(prelude(helpers), namespace)  # noqa: S102 - the generated helpers (_div), no spec text
    values = {k: (v.name if isinstance(v, Symbol) else v) for k, v in _ENV.items()}
    actual = eval(source, namespace, values)  # noqa: S307 - generated from a generated AST
    expected = expected.name if isinstance(expected, Symbol) else expected
    assert actual == expected and type(actual) is type(expected), source


def test_a_parameter_used_only_as_a_repetition_count_is_used():
    from inception_dsl.lint.linter import lint_spec

    text = "block b(n) {\n  conv(4) x n\n}\nnetwork m(k) {\n  input 3x8x8\n  b(2)\n}\n"
    # W111 for the network's unused `k` shows the rule runs; `n` counts as used
    assert [(d.code.id, d.primary_span.line) for d in lint_spec("spec.incp", text=text, params={"k": 1})] == [("W111", 4)]


FLAT_BLOCKS = """\
block mlp(ratio = 2) {
  linear(in_channels * ratio)
  relu
  linear(in_channels)
}

block gated(out) {
  residual { a: conv(out) } shortcut { proj: conv(out) when in_channels != out }
}

network n(gate = false) {
  input 3x8x8
  conv(4, 3x3)
  flatten
  mlp
  gated(48) when gate
}
"""


def test_a_block_on_flat_features_reads_their_count_as_in_channels():
    result = analyze_text(FLAT_BLOCKS, "flat.incp")
    assert result.ok, result.diagnostics
    assert result.graph.output_nodes()[0].shape == (256,)
    model = loads(FLAT_BLOCKS, path="flat.incp").eval()
    assert sum(p.numel() for p in model.parameters()) == total_params(result.graph) == 263_028
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 256)


def test_a_block_reading_in_channels_on_flat_features_is_never_dropped_silently():
    # it used to vanish from the graph with no diagnostic (and `check` passed with `?` shapes)
    result = analyze_text(FLAT_BLOCKS, "flat.incp", params={"gate": True})
    assert not result.ok
    # the residual's body and its shortcut conv, both on line 8
    assert {(d.code.id, d.primary_span.line) for d in result.diagnostics} == {("E204", 8)}
    assert len(result.diagnostics) == 2


def test_a_division_inside_a_sum_keeps_its_parentheses_in_generated_code():
    # found by the property test above: `a - (a / a + a)` was written `a - _div(a, a) + a`
    from inception_dsl.core import syntax

    expr = syntax.BinOp("-", syntax.Name("a"), syntax.BinOp("+", syntax.BinOp("/", syntax.Name("a"), syntax.Name("a")), syntax.Name("a")))
    helpers: set[str] = set()
    assert py_expr(expr, {"a": "a"}, helpers) == "a - (_div(a, a) + a)"
