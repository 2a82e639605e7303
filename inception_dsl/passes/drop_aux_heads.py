"""Inference computes no auxiliary outputs: drop them and everything only they read."""

from __future__ import annotations

import networkx as nx

from inception_dsl.ir import Graph, Op

__all__ = ["drop_aux_heads"]


def drop_aux_heads(graph: Graph) -> Graph:
    """Remove OUTPUT nodes marked `aux` and the nodes no remaining output depends on."""
    graph.outputs = [o for o in graph.outputs if not graph.node(o).attrs.get("aux")]
    for node in list(graph.nodes()):
        if node.op is Op.OUTPUT and node.id not in graph.outputs:
            graph.remove(node.id)
    live = set(graph.outputs)
    for output in graph.outputs:
        live |= nx.ancestors(graph.nx, output)
    for node_id in [n for n in graph.nx.nodes if n not in live]:
        graph.remove(node_id)
    graph.stages = [s for s in graph.stages if s.output in live]
    return graph
