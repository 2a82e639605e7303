"""`hardtanh(min=-1.0, max=1.0)` (inception_dsl/ops/hardtanh.py): an activation added as
one record. Its every place (act=, act(kind), set act, residual) is covered by
tests/test_activation_places.py; here: torch's nn.Hardtanh through every consumer, in
place after a conv, and min >= max refused at check (torch refuses it at load)."""

from __future__ import annotations

import pytest
from torch import nn

from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.runtime.graph_module import GraphModule

from .op_checks import through_everything


@pytest.mark.parametrize("args, low, high", [("", -1.0, 1.0), ("(min=-0.5, max=2)", -0.5, 2.0), ("(0, 6)", 0.0, 6.0)])
def test_equals_torch_hardtanh(args, low, high):
    text = f"network n {{\n  input 4x3x3\n  h: hardtanh{args}\n}}\n"
    through_everything(text, lambda model, x: nn.Hardtanh(low, high)(x), labels=("Hardtanh",))


def test_after_a_conv_it_writes_in_place_and_the_source_keeps_its_bounds():
    text = "network n {\n  input 4x3x3\n  conv(8, 3x3)\n  hardtanh(min=0, max=6)\n  conv(4, 1x1, act=hardtanh)\n}\n"
    through_everything(text)
    result = analyze_text(text)
    assert "nn.Hardtanh(min_val=0.0, max_val=6.0)" in to_python(result)
    assert "F.hardtanh(" in GraphModule(result.graph).code and "inplace=True" in GraphModule(result.graph).code


def test_min_not_below_max_is_refused_at_check():
    result = analyze_text("network n {\n  input 4x3x3\n  hardtanh(min=2, max=1)\n}\n")
    assert not result.ok
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.id == "E105" and diagnostic.primary_span.line == 3
    assert "max (1) must be above min (2)" in diagnostic.message
