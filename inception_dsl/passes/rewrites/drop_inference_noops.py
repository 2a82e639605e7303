"""Ops that are the identity at inference: dropout, drop_path, `identity`, a scale by 1."""

from __future__ import annotations

from inception_dsl.ir import Graph, Op
from inception_dsl.ops.activations import is_identity
from inception_dsl.passes.rewrites.graph_edits import bypass
from inception_dsl.passes.rewrites.weight_recipes import Recipes

__all__ = ["drop_inference_noops"]


def _is_noop(op, attrs: dict) -> bool:
    return (op in (Op.DROPOUT, Op.DROP_PATH, Op.IDENTITY)
            or (op is Op.ACT and is_identity(attrs["kind"]))
            or (op is Op.SCALE and attrs.get("value") == 1.0))


def drop_inference_noops(graph: Graph, recipes: Recipes) -> Graph:
    """Remove every no-op node, its readers reading its input directly (no tensor changes)."""
    for node in list(graph.nodes()):
        if _is_noop(node.op, node.attrs):
            bypass(graph, node.id)
    return graph
