"""Ops that are the identity at inference: dropout, drop_path, `identity`, a scale by 1."""

from __future__ import annotations

from inception_dsl.ir import Graph
from inception_dsl.passes.rewrites.graph_edits import bypass
from inception_dsl.passes.rewrites.weight_recipes import Recipes

__all__ = ["drop_inference_noops"]


def _is_noop(op, attrs: dict) -> bool:
    """The op's `inference_noop` trait (ops/base.py)."""
    return op.inference_noop(attrs) if callable(op.inference_noop) else bool(op.inference_noop)


def drop_inference_noops(graph: Graph, recipes: Recipes) -> Graph:
    """Remove every no-op node, its readers reading its input directly (no tensor changes)."""
    for node in list(graph.nodes()):
        if _is_noop(node.op, node.attrs):
            bypass(graph, node.id)
    return graph
