"""Small graph surgery shared by the optimizing passes (torch-free)."""

from __future__ import annotations

import copy

from inception_dsl.ir import Graph, Node

__all__ = ["copy_graph", "can_redirect", "redirect_uses", "bypass", "sole_user"]


def copy_graph(graph: Graph) -> Graph:
    """A copy the passes may rewrite: new networkx graph, new Node objects, same spans."""
    clone = copy.copy(graph)
    clone._g = graph.nx.copy()
    for node_id in clone._g.nodes:
        old: Node = clone._g.nodes[node_id]["node"]
        clone._g.nodes[node_id]["node"] = Node(old.id, old.op, dict(old.attrs), old.span, old.origin, old.stage, old.shape)
    clone.stages = [copy.copy(stage) for stage in graph.stages]
    clone.outputs = list(graph.outputs)
    clone.repeats = dict(graph.repeats)
    clone.groups = {name: copy.copy(stage) for name, stage in graph.groups.items()}
    return clone


def can_redirect(graph: Graph, old: str, new: str) -> bool:
    """False when some reader of `old` already reads `new` (e.g. `ADD(x, identity(x))`):
    the DiGraph holds one edge per pair, so redirecting would lose an input."""
    return not any(graph.nx.has_edge(new, user) for user in graph.users(old))


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
