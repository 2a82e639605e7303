"""budget(graph, sink, limits): refuse a network whose parameters or activation memory
exceed the limits, before anything is allocated. Needs shapes (infer_shapes first)."""

from __future__ import annotations

import math

from inception_dsl.core import codes
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.ir import Graph, Op, param_count
from inception_dsl.core.limits import Limits

__all__ = ["budget", "total_params", "activation_elements", "human_bytes"]


def total_params(graph: Graph) -> int:
    total = 0
    weighted = {kind for kind in Op if "params" in vars(kind)}  # the others keep OpKind's default: none
    for node in graph.nodes():
        if node.op in weighted:
            inputs = graph.inputs(node.id)
            shape = graph.node(inputs[0]).shape if inputs else None
            total += param_count(node, shape[0] if shape else None)
    return total


def activation_elements(graph: Graph) -> int:
    """Elements of every node's output, for one sample (a training upper bound)."""
    total = 0
    for node in graph.nodes():
        shape = node.shape
        if shape is not None:
            total += math.prod(shape) * getattr(shape, "batch", 1)  # folded tokens: that many sequences
    return total


def human_bytes(count: int) -> str:
    """`1.5 GiB`, `12.0 KiB`, `512 bytes`: binary units, one decimal."""
    if count < 1024:
        return f"{count} bytes"
    if count >= 1024**5:  # beyond what a float divides safely, and beyond any machine
        return f"over 1,000 TiB (~10^{len(str(count)) - 1} bytes)"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        count /= 1024
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}"
    raise AssertionError("unreachable")


def budget(graph: Graph, sink: DiagnosticSink, limits: Limits) -> None:
    params = total_params(graph)
    if params > limits.max_params:
        sink.emit(codes.PARAM_BUDGET,
                  f"the network has {params:,} parameters, over the budget of {limits.max_params:,}",
                  graph.span, "this network", help="raise the budget with --max-params, or make the network smaller")
    memory = activation_elements(graph) * 4
    if memory > limits.max_activation_bytes:
        sink.emit(codes.MEMORY_BUDGET,
                  f"activations need about {human_bytes(memory)} per sample (float32), over the budget of "
                  f"{human_bytes(limits.max_activation_bytes)}",
                  graph.span, "this network", help="raise the budget with --max-activation-memory, or use a smaller input")
