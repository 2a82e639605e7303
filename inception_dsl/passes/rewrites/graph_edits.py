"""Small graph surgery shared by the optimizing passes (torch-free)."""

from __future__ import annotations

from typing import Iterator

from inception_dsl.ir import Graph, Node, OpKind

__all__ = ["can_redirect", "redirect_uses", "bypass", "sole_user", "scales_of_weighted"]


def can_redirect(graph: Graph, old: str, new: str) -> bool:
    """False when some reader of `old` already reads `new` (e.g. `ADD(x, identity(x))`):
    the DiGraph holds one edge per pair, so redirecting would lose an input."""
    return not any(graph.has_edge(new, user) for user in graph.users(old))


def redirect_uses(graph: Graph, old: str, new: str) -> None:
    """Every reader of `old` reads `new` instead (edge order kept); stages follow."""
    for user in graph.users(old):
        graph.replace_input(user, old, new)
    for stage in graph.stages:
        if stage.output == old:
            stage.output = new


def bypass(graph: Graph, node_id: str) -> bool:
    """Remove a one-input node, its readers reading its input instead (when possible)."""
    (source,) = graph.inputs(node_id)
    if not can_redirect(graph, node_id, source):
        return False
    redirect_uses(graph, node_id, source)
    graph.remove(node_id)
    return True


def sole_user(graph: Graph, node_id: str) -> str | None:
    users = graph.users(node_id)
    return users[0] if len(users) == 1 else None


def scales_of_weighted(graph: Graph, kind: OpKind) -> Iterator[tuple[Node, Node]]:
    """(node, producer) for every `kind` node whose one input is an op with weights that a
    per-output-channel factor folds into (`weight_scale`), read by that node alone: what
    fold_bn and fold_residual_scale fold. The graph is walked over a copy of its node list,
    so the caller may bypass `node`."""
    for node in list(graph.nodes()):
        if node.op is not kind:
            continue
        (source,) = graph.inputs(node.id)
        producer = graph.node(source)
        if producer.op.weight_scale is not None and sole_user(graph, producer.id) == node.id:
            yield node, producer
