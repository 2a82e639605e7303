"""Fold a constant scale into the convolution (or linear layer) that produces its input.

Inception-ResNet scales each residual branch (x + 0.17 * up(branch)); when the
branch ends in a conv read by nothing else, (W x + b) * s = (s W) x + s b."""

from __future__ import annotations

from inception_dsl.ir import Graph, Op
from inception_dsl.passes.rewrites.graph_edits import bypass, scales_of_weighted
from inception_dsl.passes.rewrites.weight_recipes import MulConst, Recipes

__all__ = ["fold_residual_scale"]


def fold_residual_scale(graph: Graph, recipes: Recipes) -> Graph:
    """Every SCALE whose input is a CONV (or CONV_TRANSPOSE, LINEAR) read only by it is folded into it."""
    for node, conv in scales_of_weighted(graph, Op.SCALE):
        value = float(node.attrs["value"])
        recipes[f"{conv.id}.weight"] = MulConst(recipes[f"{conv.id}.weight"], value)
        if conv.attrs["bias"]:
            recipes[f"{conv.id}.bias"] = MulConst(recipes[f"{conv.id}.bias"], value)
        bypass(graph, node.id)
    return graph
