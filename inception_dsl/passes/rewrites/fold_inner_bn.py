"""Fold the BatchNorms inside an op into the linear layers before them (LeViT's LinearNorm
projections of `attention(..., bn=true)`): in eval mode BN(W x) = (W·s) x + t, with s and t
as in fold_bn.py. The op says which pairs it holds and what it becomes (`inner_norms`)."""

from __future__ import annotations

from inception_dsl.ir import Graph
from inception_dsl.passes.rewrites.weight_recipes import Recipes, ScaleRows, pop_bn

__all__ = ["fold_inner_bn"]


def fold_inner_bn(graph: Graph, recipes: Recipes) -> Graph:
    """Every op with LinearNorm pairs (`inner_norms`) gets biased linears in their place."""
    for node in graph.nodes():
        found = node.op.inner_norms(node.attrs) if node.op.inner_norms else None
        if not found:
            continue
        pairs, folded = found
        for linear, bn, fused, eps in pairs:
            scale, shift = pop_bn(recipes, f"{node.id}.{bn}", eps)
            recipes[f"{node.id}.{fused}.weight"] = ScaleRows(recipes.pop(f"{node.id}.{linear}.weight"), scale)
            recipes[f"{node.id}.{fused}.bias"] = shift
        node.attrs.clear()
        node.attrs.update(folded)
    return graph
