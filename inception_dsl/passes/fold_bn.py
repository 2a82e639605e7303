"""Fold an eval-mode BatchNorm into the convolution before it.

BN(conv(x)) = conv(x) * s + t with s = gamma / sqrt(var + eps), t = beta - mean * s, so
the conv's weight becomes W * s (per output channel) and its bias b * s + t."""

from __future__ import annotations

from inception_dsl.ir import Graph, Op
from inception_dsl.passes.rewrite import bypass, sole_user
from inception_dsl.passes.weight_recipes import Add, BnScale, BnShift, Recipes, ScaleRows

__all__ = ["fold_bn"]


def fold_bn(graph: Graph, recipes: Recipes) -> Graph:
    """Every BN whose input is a CONV read by nothing else disappears into that CONV,
    which gains a bias. Other BNs (after a pool, or after a conv with other readers) stay."""
    for node in list(graph.nodes()):
        if node.op is not Op.BN:
            continue
        (source,) = graph.inputs(node.id)
        conv = graph.node(source)
        if conv.op is not Op.CONV or sole_user(graph, conv.id) != node.id:
            continue
        _fold(conv.id, conv.attrs, node.id, node.attrs["eps"], recipes)
        bypass(graph, node.id)
    return graph


def _fold(conv: str, attrs: dict, bn: str, eps: float, recipes: Recipes) -> None:
    scale = BnScale(recipes.pop(f"{bn}.weight"), recipes.pop(f"{bn}.running_var"), eps)
    shift = BnShift(recipes.pop(f"{bn}.bias"), recipes.pop(f"{bn}.running_mean"), scale)
    recipes[f"{conv}.weight"] = ScaleRows(recipes[f"{conv}.weight"], scale)
    if attrs["bias"]:
        recipes[f"{conv}.bias"] = Add(ScaleRows(recipes[f"{conv}.bias"], scale), shift)
    else:
        recipes[f"{conv}.bias"] = shift
        attrs["bias"] = True
