"""passes/rewrites/fold_inner_bn.py: the BatchNorms inside `attention(..., bn=true)` (LeViT's
LinearNorm projections, with and without a subsampling stride) fold into their linears, and
the optimized module computes what the unoptimized one computes in eval mode, with random
BatchNorm statistics."""

from __future__ import annotations

import torch

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph
from inception_dsl.passes.rewrites.weight_recipes import Param
from inception_dsl.runtime.graph_module import optimize_graph_module

from .test_op_attention import LEVIT
from .test_optimize_passes import randomized


def test_linear_norms_inside_attention_fold_exactly():
    result = analyze_text(LEVIT, "levit.incp")
    assert result.ok, [d.message for d in result.diagnostics]
    torch.manual_seed(0)
    model = randomized(inception_dsl.loads(LEVIT)).eval()
    assert model.get_submodule("block.attn.proj.bn").running_var.std() > 0.1  # not PyTorch's 1s
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        expected = model(x)
        for channels_last in (False, True):
            optimized = optimize_graph_module(result.graph, model.state_dict(), channels_last=channels_last)
            torch.testing.assert_close(optimized(x), expected, rtol=1e-5, atol=1e-5)
    assert not [key for key in optimized.state_dict() if ".bn." in key]


def test_the_pass_alone_rewrites_attrs_and_recipes():
    graph = analyze_text(LEVIT, "levit.incp").graph
    folded, recipes = optimize_graph(graph, ("fold_inner_bn",))
    for node_id, projections in (("block.attn", ("qkv", "proj")), ("down", ("kv", "q", "proj"))):
        node = folded.node(node_id)
        assert (node.attrs["bn"], node.attrs["qkv_bias"], node.attrs["proj_bias"]) == (False, True, True)
        assert graph.node(node_id).attrs["bn"] is True  # the input graph is left as it was
        for name in projections:
            assert f"{node_id}.{name}.linear.weight" not in recipes and f"{node_id}.{name}.bn.weight" not in recipes
            assert not isinstance(recipes[f"{node_id}.{name}.weight"], Param)
            assert f"{node_id}.{name}.bias" in recipes
    assert folded.node("block.attn").op.weights(folded.node("block.attn")) == (
        "qkv.weight", "qkv.bias", "attention_biases", "proj.weight", "proj.bias")


def test_attention_without_norms_is_left_alone():
    text = LEVIT.replace(", bn=true", "")
    graph = analyze_text(text, "levit.incp").graph
    folded, recipes = optimize_graph(graph, ("fold_inner_bn",))
    assert folded.node("down").attrs == graph.node("down").attrs
    assert all(isinstance(recipe, Param) for recipe in recipes.values())
