"""Each optimizing pass on a tiny network: it changes what it should and nothing else,
and (applied alone) the optimized module computes what the unoptimized one does."""

from __future__ import annotations

import pytest
import torch

from inception_dsl import api
from inception_dsl.ir import Op
from inception_dsl.passes.rewrites.pipeline import RULES, optimize, rule_names
from inception_dsl.passes.rewrites.weight_recipes import BnScale, Concat, MulConst, Param, ScaleRows, Zeros

TINY = """
network tiny {
  input 3x16x16
  conv(8, 3x3)
  mixed: concat {
    conv(4, 1x1)
    { conv(6, 1x1); conv(4, 3x3) }
    { conv(2, 1x1, dilation=2); conv(4, 1x1, linear); bn; relu6; identity; conv(4, 2x2, pad=(0, 1, 0, 1), bn=false) }
    { avgpool(3x3, count_include_pad=false); conv(4, 1x1) }
  }
  mid: residual(scale=0.2) { conv(8, 1x1); conv(16, 1x1, linear) }
  maxpool(3x3)
  lone_bn: bn
  aux: { global_avgpool; flatten; linear(3) } from mid
  global_avgpool
  flatten
  dropout(0.5)
  head: linear(10)
  output head, aux
}
"""


@pytest.fixture(scope="module")
def graph():
    result = api.analyze_text(TINY, "tiny.incp")
    assert result.ok, [d.message for d in result.diagnostics]
    return result.graph


def _ops(graph) -> dict[str, Op]:
    return {node.id: node.op for node in graph.nodes()}


def test_fold_bn_removes_exactly_the_bns_that_follow_a_conv(graph):
    optimized, recipes = optimize(graph, ("fold_bn",))
    before, after = _ops(graph), _ops(optimized)
    folded = {i for i, op in before.items() if op is Op.BN and graph.node(graph.inputs(i)[0]).op is Op.CONV}
    assert folded and set(before) - set(after) == folded
    assert after["lone_bn"] is Op.BN  # after a pool: nothing to fold into
    assert optimized.node("mixed.branch0.conv").attrs["bias"] is True
    weight = recipes["mixed.branch0.conv.weight"]
    assert weight == ScaleRows(Param("mixed.branch0.conv.weight"),
                               BnScale(Param("mixed.branch0.bn.weight"), Param("mixed.branch0.bn.running_var"), 1e-5))
    assert not any(key.startswith("mixed.branch0.bn.") for key in recipes)


def test_fold_bn_keeps_the_bias_of_a_linear_conv(graph):
    _, recipes = optimize(graph, ("fold_bn",))
    linear_conv = "mixed.branch2.1"  # conv(4, 1x1, linear) followed by a separate bn
    assert Param(f"{linear_conv}.bias") in _leaves(recipes[f"{linear_conv}.bias"])


def test_the_original_graph_is_left_alone(graph):
    before = _ops(graph)
    optimize(graph)
    assert _ops(graph) == before


def test_fuse_sibling_convs_fuses_same_geometry_readers_of_one_tensor(graph):
    optimized, recipes = optimize(graph, ("fuse_sibling_convs",))
    fused = optimized.node("mixed.fused")
    assert fused.op is Op.CONV and fused.attrs["out_channels"] == 4 + 6 and fused.shape == (10, 16, 16)
    assert optimized.node("mixed.branch0.conv").op is Op.SLICE
    assert optimized.node("mixed.branch0.conv").attrs == {"start": 0, "stop": 4}
    assert optimized.node("mixed.branch1.0.conv").attrs == {"start": 4, "stop": 10}
    # another dilation, and the conv after the pool, read something else or differently: untouched
    assert optimized.node("mixed.branch2.0.conv").op is Op.CONV
    assert optimized.node("mixed.branch3.1.conv").op is Op.CONV
    assert recipes["mixed.fused.weight"] == Concat((Param("mixed.branch0.conv.weight"),
                                                    Param("mixed.branch1.0.conv.weight")))
    assert "mixed.branch0.conv.weight" not in recipes


def test_fusion_moves_a_shared_activation_above_the_split():
    result = api.analyze_text("network n { input 3x8x8\n concat { conv(4, 1x1, bn=false, bias=false); conv(2, 1x1, bn=false) } }")
    optimized, recipes = optimize(result.graph, ("fuse_sibling_convs",))
    act = optimized.node("fused.act")
    assert act.op is Op.ACT and optimized.inputs("fused.act") == ["fused"]
    assert [n.op for n in optimized.nodes()].count(Op.ACT) == 1
    assert recipes["fused.bias"] == Concat((Zeros(4), Param("branch1.bias")))


def test_fold_residual_scale_multiplies_the_up_projection(graph):
    optimized, recipes = optimize(graph, ("fold_bn", "fold_residual_scale"))
    assert "mid.scale" in graph and "mid.scale" not in optimized
    assert isinstance(recipes["mid.conv1.weight"], MulConst) and recipes["mid.conv1.weight"].value == 0.2
    assert recipes["mid.conv1.bias"] == MulConst(Param("mid.conv1.bias"), 0.2)
    assert optimized.inputs("mid.add") == ["mixed.cat", "mid.conv1"]


def test_drop_inference_noops_removes_dropout_and_identity_only(graph):
    optimized, _ = optimize(graph, ("drop_inference_noops",))
    removed = set(_ops(graph)) - set(_ops(optimized))
    assert {graph.node(i).op for i in removed} == {Op.DROPOUT, Op.IDENTITY}
    assert len(removed) == 2


def test_drop_aux_heads_removes_the_head_and_only_it(graph):
    optimized, recipes = optimize(graph, ("drop_aux_heads",))
    removed = set(_ops(graph)) - set(_ops(optimized))
    assert removed and all(i.startswith("aux") or i == "output.aux" for i in removed)
    assert optimized.outputs == ["output"]
    assert not any(key.startswith("aux") for key in recipes)


def test_unknown_rule_is_refused(graph):
    with pytest.raises(ValueError, match="unknown optimization rules"):
        optimize(graph, ("fold_everything",))


@pytest.mark.parametrize("rules", [(rule,) for rule in RULES] + [RULES], ids=lambda r: "+".join(rule_names(r)))
@pytest.mark.parametrize("channels_last", [False, True])
def test_each_pass_preserves_the_eval_output(graph, rules, channels_last):
    from inception_dsl.runtime.graph_module import GraphModule
    from inception_dsl.runtime.optimized_module import optimize as optimize_module

    torch.manual_seed(0)
    reference = randomized(GraphModule(graph)).eval()
    optimized = optimize_module(reference, rules=rules, channels_last=channels_last)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected, actual = reference(x), optimized(x)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def randomized(module: torch.nn.Module) -> torch.nn.Module:
    """BatchNorm with non-trivial statistics, so that folding is really exercised."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):  # 1d too: LeViT's LinearNorm
                layer.running_mean.uniform_(-1, 1)
                layer.running_var.uniform_(0.5, 2)
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-1, 1)
    return module


def _leaves(expr):
    if isinstance(expr, Param):
        return [expr]
    out = []
    for name in getattr(expr, "__dataclass_fields__", {}):
        child = getattr(expr, name)
        for item in child if isinstance(child, tuple) else (child,):
            if hasattr(item, "__dataclass_fields__"):
                out += _leaves(item)
    return out


def test_graph_nodes_stay_topological_after_rewrites(graph):
    """The optimizer appends fused producers after their readers; Graph.nodes() must still
    put every node after its inputs (and keep insertion order where that is topological)."""
    assert [n.id for n in graph.nodes()] == graph.insertion_order()
    optimized, _ = optimize(graph)
    assert [n.id for n in optimized.nodes()] != optimized.insertion_order()  # the slow path is exercised
    seen: set[str] = set()
    for node in optimized.nodes():
        assert all(source in seen for source in optimized.inputs(node.id)), node.id
        seen.add(node.id)
    assert seen == set(optimized.insertion_order())
