"""Memoized elaboration (language/caches/block_templates.py) is invisible: with the memo on and off, every
spec of the repository and every generated spec gives the same graph, node for node (ids,
ops, attributes, edges in order, spans, origins, stages, statements, roles, shapes) and
the same graph tables and diagnostics; and the memo is really used (hits on the specs
that repeat blocks), also across variants of one loaded program."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from inception_dsl import api
from inception_dsl.language.caches import block_templates
from inception_dsl.core.diagnostics import DiagnosticSink, to_dict
from inception_dsl.core.limits import Limits
from inception_dsl.language.program import load_program

from .conftest import ROOT

LIMITS = Limits(max_nodes=20_000)


def _span(span):
    return None if span is None else (span.path, span.start, span.end)


def snapshot(path, text=None, params=None, limits=LIMITS, program=None):
    """Everything elaboration and the analyses produce, as plain data (the graph is kept
    even after errors, as check shape-checks it)."""
    sink = DiagnosticSink()
    if program is None:
        program = load_program(path, sink, text=text, limits=limits)
    graph = api.build_graph(program, sink, params=params, limits=limits, after_errors=True) \
        if not sink.has_errors else None
    diagnostics = [to_dict(d) for d in sink.sorted()]
    if graph is None:
        return None, diagnostics
    nodes = [(n.id, n.op.value, n.attrs, _span(n.span), [(s.block, _span(s.span)) for s in n.origin], n.stage,
              n.shape, n.statement, n.role, graph.inputs(n.id)) for n in graph.nodes()]
    tables = (graph.name, graph.params, [(s.name, s.kind, s.output, _span(s.span), s.aux) for s in graph.stages],
              graph.outputs, [(k, v.block, _span(v.span)) for k, v in graph.blocks.items()],
              list(graph.block_inputs.items()), list(graph.repeats.items()), list(graph.groups),
              list(graph.statements.items()), graph.insertion_order())
    return (nodes, tables), diagnostics


def assert_invisible(path, text=None, params=None):
    with block_templates.disabled():
        expected = snapshot(path, text, params)
    assert snapshot(path, text, params) == expected


SPECS = sorted(p for folder in ("specs", "tests/cases") for p in (ROOT / folder).rglob("*.incp"))


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_every_spec_elaborates_the_same_with_and_without_the_memo(path: Path):
    assert_invisible(str(path))


def test_the_memo_clones_repeated_blocks_and_is_shared_across_variants():
    sink = DiagnosticSink()
    program = load_program(str(ROOT / "specs/examples/inception_v4_scaled.incp"), sink, limits=LIMITS)
    first = snapshot(None, params={"width": 50}, program=program)
    templates = program.memo[LIMITS]
    # every A/B/C instance after the first of each; at width 50 the first B reads Reduction-A's
    # unscaled 832 channels, the others 512: a key of its own
    assert templates.hits == 3 + 5 + 2
    hits = templates.hits
    assert snapshot(None, params={"width": 50, "num_classes": 7}, program=program)[0][0][:-3] == first[0][0][:-3]
    assert templates.hits == hits + 17  # every block instance of the variant, the first ones too
    with block_templates.disabled():
        assert snapshot(None, params={"width": 50, "num_classes": 7}, program=load_program(
            program.main.path, DiagnosticSink(), limits=LIMITS)) == snapshot(
            None, params={"width": 50, "num_classes": 7}, program=program)


def test_the_switch_turns_the_memo_off():
    sink = DiagnosticSink()
    program = load_program(str(ROOT / "specs/v4.incp"), sink, limits=LIMITS)
    with block_templates.disabled():
        snapshot(None, program=program)
    assert not program.memo
    snapshot(None, program=program)
    assert program.memo[LIMITS].hits > 0


# -- generated specs: blocks called many times with few distinct arguments, nested blocks,
# blocks reading in_channels, repetitions, `when`, residuals and concats; many of them
# have errors (shapes that do not fit, duplicate labels), whose diagnostics must agree too
_LAYERS = ["conv({w}, 1x1)", "conv({w}, 3x3)", "conv({w}, 1x3)", "conv(in_channels, 1x1)", "relu",
           "maxpool(3x3, stride=2, valid)", "avgpool(3x3, count_include_pad=false)", "conv({w}, 3x3, stride=2)",
           "conv({w}, 1x1, linear)", "bn"]


# mostly unlabelled or labelled uniquely; now and then two statements share a label (E111)
_labels = st.one_of(st.just(""), st.just(""), st.integers(0, 10**6).map(lambda n: f"l{n}: "), st.just("dup: "))


@st.composite
def _body(draw, depth: int, callees: list[str]) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["layer", "layer", "concat", "residual", "call", "when"] if depth < 2
                                    else ["layer", "call"]))
        label = draw(_labels)
        width = draw(st.sampled_from(["w", "w * 2", "4", "w // 2 + 1"]))
        if kind == "layer":
            lines.append(label + draw(st.sampled_from(_LAYERS)).format(w=width))
        elif kind == "call" and callees:
            repeat = draw(st.sampled_from(["", "", " x2", " x n"]))
            lines.append(f"{label}{draw(st.sampled_from(callees))}(w={width}){repeat}")
        elif kind == "when":
            lines.append(f"{label}conv({width}, 1x1) when flag")
        elif kind == "concat":
            branches = ["{ " + "; ".join(draw(_body(depth + 1, callees))) + " }" for _ in range(draw(st.integers(1, 2)))]
            lines.append(f"{label}concat {{\n" + "\n".join(branches) + "\n}")
        elif kind == "residual":
            head = draw(st.sampled_from(["residual", "residual(scale=0.2)"]))
            lines.append(f"{label}{head} {{\n" + "\n".join(draw(_body(depth + 1, callees))) + "\n}")
        else:
            lines.append(label + "relu")
    return lines


@st.composite
def memo_specs(draw) -> str:
    blocks, parts = [], []
    for index in range(draw(st.integers(1, 3))):
        name = f"unit{index}"
        body = "\n".join(draw(_body(0, list(blocks))))
        parts.append(f"block {name}(w = 4, n = 2, flag = true) {{\n{body}\n}}")
        blocks.append(name)
    c, size = draw(st.integers(1, 8)), draw(st.integers(5, 12))
    calls = []
    for _ in range(draw(st.integers(2, 6))):
        args = draw(st.sampled_from(["", "w=4", "w=4", "w=3, flag=false", "n=1"]))
        label = draw(_labels)
        repeat = draw(st.sampled_from(["", "", " x3"]))
        calls.append(f"  {label}{draw(st.sampled_from(blocks))}({args}){repeat}")
    parts.append(f"network generated {{\n  input {c}x{size}x{size}\n" + "\n".join(calls) + "\n}")
    return "\n\n".join(parts) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=memo_specs())
def test_generated_specs_elaborate_the_same_with_and_without_the_memo(text: str):
    assert_invisible("gen.incp", text)


def _hits(text: str) -> int:
    sink = DiagnosticSink()
    program = load_program("gen.incp", sink, text=text, limits=LIMITS)
    snapshot(None, program=program)
    return sum(t.hits for t in program.memo.values())


@pytest.mark.slow
def test_generated_specs_use_the_memo():
    """The generator above is not vacuous: it writes specs that hit the memo."""
    find(memo_specs(), lambda text: _hits(text) > 2, settings=settings(max_examples=200, deadline=None))
