"""Fold a layer scale (y = x * gamma, one value per channel) into an adjacent convolution.

After the conv, when the conv's output is read by nothing else: (W x + b) * gamma =
(W * gamma per output channel) x + b * gamma; the conv's weight and bias rows are scaled
(a BN between them was folded into the conv first, so conv -> BN -> layer scale folds too).

Before the conv, when the scaled tensor is read by nothing else: W (x * gamma) is W with
each input channel's columns scaled by its gamma (within each group), exact because the conv
pads with zeros and zero * gamma is zero. A layer scale with an activation (or a BN that
does not follow a conv) between it and the conv stays: neither commutes with a per-channel
scale. Sweeps repeat until nothing folds (two scales in a row both fold)."""

from __future__ import annotations

from inception_dsl.ir import Graph, Op
from inception_dsl.passes.rewrites.graph_edits import bypass, can_redirect, sole_user
from inception_dsl.passes.rewrites.weight_recipes import Recipes, ScaleRows, ScaleTransposed

__all__ = ["fold_layer_scale"]


def fold_layer_scale(graph: Graph, recipes: Recipes) -> Graph:
    """Every spatial LAYER_SCALE whose input is a CONV read only by it, or whose only
    reader is a CONV, is folded into that CONV's weights (the output side first)."""
    while any([_fold(graph, node.id, recipes) for node in list(graph.nodes())
               if node.op is Op.LAYER_SCALE and node.shape is not None and len(node.shape) == 3]):
        pass
    return graph


def _fold(graph: Graph, node_id: str, recipes: Recipes) -> bool:
    (source,) = graph.inputs(node_id)
    if not can_redirect(graph, node_id, source):
        return False
    gamma, conv = f"{node_id}.gamma", graph.node(source)
    if conv.op is Op.CONV and sole_user(graph, conv.id) == node_id:
        scale = recipes.pop(gamma)
        recipes[f"{conv.id}.weight"] = ScaleRows(recipes[f"{conv.id}.weight"], scale)
        if conv.attrs["bias"]:
            recipes[f"{conv.id}.bias"] = ScaleRows(recipes[f"{conv.id}.bias"], scale)
        return bypass(graph, node_id)
    reader = sole_user(graph, node_id)
    if reader is not None and graph.node(reader).op is Op.CONV:
        groups = graph.node(reader).attrs["groups"]
        recipes[f"{reader}.weight"] = ScaleTransposed(recipes[f"{reader}.weight"], recipes.pop(gamma), groups)
        return bypass(graph, node_id)
    return False
