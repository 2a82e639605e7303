"""passes/rewrites/fold_layer_scale.py: a layer scale folds into the conv before it (also through
a BN folded into that conv) or into the conv after it (grouped, depthwise, strided,
asymmetrically padded), and the optimized module computes what the unoptimized one does;
where folding would not be exact it stays (tests/cases/ir/passes/layer_scale.ir.golden
pins the rewrite)."""

from __future__ import annotations

import pytest
import torch

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.ir import Op
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph
from inception_dsl.runtime.graph_module import GraphModule, optimize_graph_module

from .test_optimize_passes import randomized

FOLDS = {
    "after a conv and its BN": "conv(6, 3x3, act=identity); layer_scale(0.5); relu",
    "after a linear conv": "conv(6, 3x3, stride=2, linear); layer_scale(-2.0)",
    "before a grouped conv": "relu; layer_scale(0.5); conv(6, 3x3, groups=2, bn=false)",
    "before a depthwise strided conv": "relu; layer_scale(0.5); conv(4, 3x3, stride=2, groups=4, linear)",
    "before an asymmetrically padded conv": "relu; layer_scale(3.0); conv(4, 2x2, act=identity)",
    "two in a row": "conv(4, 1x1, linear); layer_scale(0.5); layer_scale(2.0); relu; layer_scale(0.1); conv(3, 1x1)",
    "a convnext tail": "conv(4, 1x1, linear); layer_scale(0.5); drop_path(0.2)",
}
KEPT = {
    "an activation on both sides": "relu; layer_scale(0.5); relu",
    "after a conv read twice": "c: conv(4, 1x1, linear); concat { layer_scale(0.5); identity }",
    "before a BN": "relu; layer_scale(0.5); bn; conv(4, 1x1)",
    "on features": "global_avgpool; flatten; layer_scale(0.5); linear(3)",
}


def _check(body: str) -> list[str]:
    """The ops the optimizer leaves; asserts the optimized module equals `load()` in eval,
    with random gammas, BN statistics and weights, in both memory formats."""
    text = f"network n {{ input 4x7x7; conv(4, 1x1); {body} }}"
    result = analyze_text(text)
    assert result.ok, [d.message for d in result.diagnostics]
    torch.manual_seed(0)
    model = randomized(inception_dsl.loads(text)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("gamma"):
                parameter.uniform_(-2, 2)
    x = torch.randn(2, 4, 7, 7)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(GraphModule(result.graph, state_dict=model.state_dict()).eval()(x), expected)
        for channels_last in (False, True):
            optimized = optimize_graph_module(result.graph, model.state_dict(), channels_last=channels_last)
            torch.testing.assert_close(optimized(x), expected, rtol=1e-5, atol=1e-5)
    return [node.op.value for node in optimize_graph(result.graph)[0].nodes()]


@pytest.mark.parametrize("body", FOLDS.values(), ids=FOLDS.keys())
def test_a_layer_scale_next_to_a_conv_folds_exactly(body):
    ops = _check(body)
    assert "layer_scale" not in ops and "bn" not in ops


@pytest.mark.parametrize("body", KEPT.values(), ids=KEPT.keys())
def test_a_layer_scale_stays_where_folding_would_not_be_exact(body):
    assert "layer_scale" in _check(body)


def test_the_pass_alone_folds_only_adjacent_scales_and_records_the_recipes():
    graph = analyze_text("network n { input 4x5x5; c: conv(4, 1x1, linear); a: layer_scale(0.5); r: relu; "
                         "b: layer_scale(0.5); d: conv(8, 3x3, groups=2, linear) }").graph
    optimized, recipes = optimize_graph(graph, ("fold_layer_scale",))
    assert [n.op for n in optimized.nodes() if n.op is Op.LAYER_SCALE] == []
    assert "a.gamma" not in recipes and "b.gamma" not in recipes
    assert repr(recipes["c.bias"]) == "ScaleRows(tensor=Param(key='c.bias'), vector=Param(key='a.gamma'))"
    assert repr(recipes["d.weight"]) == "ScaleTransposed(tensor=Param(key='d.weight'), vector=Param(key='b.gamma'), groups=2)"
