"""infer_shapes(graph, sink): annotate every node with its output shape (C, H, W), or
(F,) once flattened, by its op's shape rule (inception_dsl/ops/), using PyTorch's size
arithmetic; the rules emit E2xx diagnostics where shapes do not fit. A node whose input
shape is unknown (after an error) stays None, so one mistake is reported once, not at
every layer downstream."""

from __future__ import annotations

from inception_dsl.ir import Graph
from inception_dsl.core.diagnostics import DiagnosticSink

__all__ = ["infer_shapes"]


def infer_shapes(graph: Graph, sink: DiagnosticSink, nodes=None) -> None:
    """Every node's shape, in topological order (or only `nodes`, whose inputs are already shaped).
    A node that elaboration already shaped without a diagnostic (`graph.settled`, language/caches/block_templates.py)
    keeps its shape: its rule would compute the same from the same inputs."""
    settled = graph.settled
    for node in graph.nodes() if nodes is None else nodes:
        if node.id in settled:
            continue
        inputs = [graph.node(i) for i in graph.inputs(node.id)]
        if any(i.shape is None for i in inputs):
            node.shape = None
            continue
        node.shape = node.op.shape(graph, node, [i.shape for i in inputs], sink)
