"""Generative tests: random valid specs (tests/spec_strategies.py) are accepted by the
checker with the shape the generator tracked, and the compiled module produces exactly
the shape the checker inferred; random invalid ones (a concat whose branches disagree, a
residual that changes channels) are refused at the line of the offending statement."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_dsl import analyze_text

from .spec_strategies import GeneratedSpec, valid_specs

CHECK_ONLY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WITH_TORCH = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def analyzed(spec: GeneratedSpec):
    result = analyze_text(spec.text, path="generated.incp")
    assert result.ok, spec.text + "\n" + "\n".join(d.message for d in result.diagnostics)
    return result


@CHECK_ONLY
@given(spec=valid_specs())
def test_generated_specs_are_accepted_with_the_expected_shape(spec):
    result = analyzed(spec)
    assert result.graph.node("output").shape == spec.shape, spec.text


@pytest.mark.slow
@WITH_TORCH
@given(spec=valid_specs(max_statements=3), seed=st.integers(0, 2**16))
def test_compiled_module_gives_the_inferred_shape(spec, seed):
    from inception_dsl import loads

    result = analyzed(spec)
    model = loads(spec.text, path="generated.incp", seed=seed).eval()
    c, h, w = result.graph.input_node.shape
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = model(torch.randn(2, c, h, w, generator=generator))
    assert tuple(out.shape) == (2, *result.graph.node("output").shape), spec.text
    assert torch.isfinite(out).all()


@pytest.mark.slow
def test_the_generator_covers_the_language():
    """Over a fixed set of examples, every construct the generator knows shows up."""
    seen: set[str] = set()

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(spec=valid_specs())
    def collect(spec):
        seen.update(spec.features)

    collect()
    assert {"concat", "reduction", "residual", "factorized", "stride", "valid", "block", "repeat", "sum", "product",
            "broadcast", "split", "shuffle", "upsample"} <= seen


# -- invalid specs: the diagnostic points at the statement that is wrong ---------------
def inject(spec: GeneratedSpec, statement: list[str]) -> tuple[str, int]:
    """Insert `statement` just before the network's closing brace; the line it starts on."""
    lines = spec.text.rstrip("\n").split("\n")
    line = len(lines)  # the closing `}` is the last line; the statement takes its place
    lines[-1:-1] = ["  " + s for s in statement]
    return "\n".join(lines) + "\n", line


@CHECK_ONLY
@given(spec=valid_specs(max_statements=3), channels=st.integers(1, 8))
def test_concat_with_disagreeing_branches_is_reported_at_the_concat(spec, channels):
    if min(spec.shape[1:]) < 3:
        return
    text, line = inject(spec, ["concat {", f"  conv({channels}, 3x3)", f"  conv({channels}, 3x3, stride=2, valid)", "}"])
    result = analyze_text(text, path="generated.incp")
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E201", line)], text


@CHECK_ONLY
@given(spec=valid_specs(max_statements=3), extra=st.integers(1, 8))
def test_residual_that_changes_channels_is_reported_at_the_residual(spec, extra):
    text, line = inject(spec, ["residual(scale=0.1) {", f"  conv({spec.shape[0] + extra}, 1x1)", "}"])
    result = analyze_text(text, path="generated.incp")
    diagnostics = [(d.code.id, d.primary_span.line) for d in result.diagnostics]
    assert diagnostics == [("E202", line)], text
    (diagnostic,) = result.diagnostics
    secondary = [label for label in diagnostic.labels if not label.primary]
    assert secondary and secondary[0].span.line == line + 1  # the branch's last layer


@pytest.mark.parametrize("seed", range(3))
def test_unknown_block_in_a_generated_spec_is_reported_at_its_line(seed):
    text, line = inject(GeneratedSpec("network generated {\n  input 3x8x8\n}\n", (3, 8, 8), set()),
                        [f"unit{seed}_missing"])
    result = analyze_text(text, path="generated.incp")
    assert [(d.code.id, d.primary_span.line) for d in result.diagnostics] == [("E102", line)]
