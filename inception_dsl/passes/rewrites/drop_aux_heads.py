"""Inference computes no auxiliary outputs: drop them and everything only they read."""

from __future__ import annotations

from inception_dsl.ir import Graph, Op
from inception_dsl.passes.rewrites.weight_recipes import Recipes, owner

__all__ = ["drop_aux_heads"]


def drop_aux_heads(graph: Graph, recipes: Recipes) -> Graph:
    """Remove OUTPUT nodes marked `aux` and the nodes no remaining output depends on
    (and the recipes of their tensors)."""
    graph.outputs = [o for o in graph.outputs if not graph.node(o).attrs.get("aux")]
    for node in list(graph.nodes()):
        if node.op is Op.OUTPUT and node.id not in graph.outputs:
            graph.remove(node.id)
    live = set(graph.outputs)
    for output in graph.outputs:
        live |= graph.ancestors(output)
    for node_id in [n.id for n in graph.nodes() if n.id not in live]:
        graph.remove(node_id)
    graph.stages = [s for s in graph.stages if s.output in live]
    for key in [k for k in recipes if owner(k, graph) is None]:
        del recipes[key]
    return graph
