"""Fuse sibling convolutions: convs that read the same tensor with the same kernel,
stride, padding and dilation (groups=1) become one conv with the output channels of all,
followed by a channel SLICE per original conv. Inception-A opens three branches with
1x1 convs of its input; one wide conv uses the machine better than three narrow ones.

When every sibling is followed by the same activation (and nothing else reads it), the
activation moves above the split too: one call instead of one per branch."""

from __future__ import annotations

from collections import defaultdict

from inception_dsl.ir import Graph, Node, Op, Role
from inception_dsl.passes.rewrites.graph_edits import redirect_uses, sole_user
from inception_dsl.passes.rewrites.weight_recipes import Concat, Recipes, Zeros

__all__ = ["fuse_sibling_convs"]

_GEOMETRY = ("kernel", "stride", "padding", "dilation")


def fuse_sibling_convs(graph: Graph, recipes: Recipes) -> Graph:
    """Fuse each group of two or more sibling convs (in graph order)."""
    for group in _sibling_groups(graph):
        fused = _fuse(graph, group, recipes)
        _hoist_activation(graph, fused)
    return graph


def _sibling_groups(graph: Graph) -> list[list[Node]]:
    groups: dict[tuple, list[Node]] = defaultdict(list)
    for node in graph.nodes():
        if node.op is Op.CONV and node.attrs["groups"] == 1:
            (source,) = graph.inputs(node.id)
            groups[(source,) + tuple(node.attrs[k] for k in _GEOMETRY)].append(node)
    return [group for group in groups.values() if len(group) > 1]


def _fused_id(graph: Graph, group: list[Node]) -> str:
    parts = [node.id.split(".") for node in group]
    common = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    base = ".".join(common + ["fused"])
    candidate, suffix = base, 1
    while candidate in graph:
        candidate, suffix = f"{base}{suffix}", suffix + 1
    return candidate


def _fuse(graph: Graph, group: list[Node], recipes: Recipes) -> str:
    first = group[0]
    (source,) = graph.inputs(first.id)
    widths = [node.attrs["out_channels"] for node in group]
    bias = any(node.attrs["bias"] for node in group)
    fused_id = _fused_id(graph, group)
    attrs = {**first.attrs, "out_channels": sum(widths), "bias": bias}
    shape = (sum(widths),) + first.shape[1:] if first.shape else None
    graph.add(Node(fused_id, Op.CONV, attrs, first.span, first.origin, first.stage, shape, first.statement,
                   Role.REWRITE), [source])
    recipes[f"{fused_id}.weight"] = Concat(tuple(recipes.pop(f"{n.id}.weight") for n in group))
    if bias:
        recipes[f"{fused_id}.bias"] = Concat(tuple(
            recipes.pop(f"{n.id}.bias") if n.attrs["bias"] else Zeros(n.attrs["out_channels"]) for n in group))
    start = 0
    for node, width in zip(group, widths):
        _replace_with_slice(graph, node, fused_id, start, start + width)
        start += width
    return fused_id


def _replace_with_slice(graph: Graph, conv: Node, fused_id: str, start: int, stop: int) -> None:
    """The slice keeps the conv's id: it is the same tensor, now cut from the fused one."""
    graph.replace_node(Node(conv.id, Op.SLICE, {"start": start, "stop": stop}, conv.span, conv.origin, conv.stage,
                            conv.shape, conv.statement, Role.REWRITE), [fused_id])


def _hoist_activation(graph: Graph, fused_id: str) -> None:
    slices = graph.users(fused_id)
    acts = [sole_user(graph, s) for s in slices]
    if any(a is None or graph.node(a).op is not Op.ACT for a in acts):
        return
    kinds = {tuple(sorted(graph.node(a).attrs.items())) for a in acts}  # the kind and its parameter
    if len(kinds) != 1:
        return
    fused = graph.node(fused_id)
    act_id = f"{fused_id}.act"
    graph.add(Node(act_id, Op.ACT, dict(kinds.pop()), fused.span, fused.origin, fused.stage, fused.shape,
                   fused.statement, Role.REWRITE), [fused_id])
    for slice_id, act in zip(slices, acts):
        graph.set_inputs(slice_id, [act_id])
        redirect_uses(graph, act, slice_id)
        graph.remove(act)
