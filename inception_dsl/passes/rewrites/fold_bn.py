"""Fold an eval-mode BatchNorm into the convolution (or transposed convolution, or linear
layer on tokens: LeViT's LinearNorm) before it.

BN(conv(x)) = conv(x) * s + t with s = gamma / sqrt(var + eps), t = beta - mean * s, so
the conv's weight becomes W * s (per output channel) and its bias b * s + t. A conv's
(and a linear layer's) output channels are its weight's rows; a transposed conv's are dim 1 within each group
(recipe ScaleTransposed)."""

from __future__ import annotations

from inception_dsl.ir import Graph, Op
from inception_dsl.passes.rewrites.graph_edits import bypass, scales_of_weighted
from inception_dsl.passes.rewrites.weight_recipes import Add, Recipes, ScaleRows, ScaleTransposed, pop_bn

__all__ = ["fold_bn"]


def fold_bn(graph: Graph, recipes: Recipes) -> Graph:
    """Every BN whose input is a CONV (or CONV_TRANSPOSE, LINEAR) read by nothing else disappears
    into it, and it gains a bias. Other BNs (after a pool, or after a conv with other
    readers) stay."""
    for node, conv in scales_of_weighted(graph, Op.BN):
        _fold(conv, node.id, node.attrs["eps"], recipes)
        bypass(graph, node.id)
    return graph


def _fold(conv_node, bn: str, eps: float, recipes: Recipes) -> None:
    conv, attrs = conv_node.id, conv_node.attrs
    scale, shift = pop_bn(recipes, bn, eps)
    if conv_node.op.weight_scale == "rows":
        recipes[f"{conv}.weight"] = ScaleRows(recipes[f"{conv}.weight"], scale)
    else:
        recipes[f"{conv}.weight"] = ScaleTransposed(recipes[f"{conv}.weight"], scale, attrs["groups"])
    if attrs["bias"]:
        recipes[f"{conv}.bias"] = Add(ScaleRows(recipes[f"{conv}.bias"], scale), shift)
    else:
        recipes[f"{conv}.bias"] = shift
        attrs["bias"] = True
