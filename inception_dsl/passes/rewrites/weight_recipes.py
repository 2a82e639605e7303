"""Weight recipes: how each tensor of an optimized graph is computed from the
original (unoptimized) state_dict.

The optimizing passes rewrite the graph without touching tensors (they must not
import torch); instead they compose small expressions, one per parameter of each
surviving or new node, keyed like a state_dict (`<node id>.weight`). The torch
backend evaluates them once, when it builds the optimized module
(runtime/recipes.py). A recipe is a tree of frozen dataclasses, so it prints
readably and compares by value in tests."""

from __future__ import annotations

from dataclasses import dataclass

from inception_dsl.ir import Graph, Node

__all__ = ["Expr", "Param", "Zeros", "BnScale", "BnShift", "ScaleRows", "ScaleTransposed", "Add", "MulConst", "Concat",
           "Recipes", "initial_recipes", "param_names", "owner", "pop_bn"]


class Expr:
    """A tensor expression over the original state_dict."""


@dataclass(frozen=True)
class Param(Expr):
    key: str  # a key of the original state_dict


@dataclass(frozen=True)
class Zeros(Expr):
    length: int  # a zero vector (the bias of a conv that had none)


@dataclass(frozen=True)
class BnScale(Expr):
    """gamma / sqrt(running_var + eps): BatchNorm's per-channel multiplier in eval."""

    gamma: Expr
    var: Expr
    eps: float


@dataclass(frozen=True)
class BnShift(Expr):
    """beta - running_mean * scale: BatchNorm's per-channel offset in eval."""

    beta: Expr
    mean: Expr
    scale: Expr


@dataclass(frozen=True)
class ScaleRows(Expr):
    """Multiply slice i along dim 0 of `tensor` by `vector[i]` (a per-output-channel scale)."""

    tensor: Expr
    vector: Expr


@dataclass(frozen=True)
class ScaleTransposed(Expr):
    """Multiply output channel o of a transposed conv's weight, laid out (in_channels,
    out_channels / groups, kh, kw), by `vector[o]`: group g's output channels are the
    dim-1 slices of its rows g * in / groups ... (g + 1) * in / groups. The same product
    scales a conv's weight (out_channels, in_channels / groups, kh, kw) per input channel
    (passes/rewrites/fold_layer_scale.py): input channel c of group g is dim-1 slice c - g * in / groups
    of that group's rows."""

    tensor: Expr
    vector: Expr
    groups: int


@dataclass(frozen=True)
class Add(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class MulConst(Expr):
    tensor: Expr
    value: float


@dataclass(frozen=True)
class Concat(Expr):
    """Concatenation along dim 0 (output channels)."""

    parts: tuple[Expr, ...]


Recipes = dict[str, Expr]  # optimized state_dict key -> how to compute it


def param_names(node: Node) -> tuple[str, ...]:
    """The state_dict entries a node owns (without the `<id>.` prefix), as the
    unoptimized backend names them (nn.Conv2d / BatchNorm2d / Linear)."""
    return node.op.weights(node)


def owner(key: str, graph: Graph) -> str | None:
    """The node owning a state_dict key (a weight's own name may have dots: `attn.qkv.weight`)."""
    node_id = key
    while "." in node_id:
        node_id = node_id.rpartition(".")[0]
        if node_id in graph:
            return node_id
    return None


def initial_recipes(graph: Graph) -> Recipes:
    """Before any pass, every tensor is read unchanged from the original state_dict."""
    return {f"{node.id}.{name}": Param(f"{node.id}.{name}")
            for node in graph.nodes() if node.op.has_weights for name in param_names(node)}


def pop_bn(recipes: Recipes, bn: str, eps: float) -> tuple[BnScale, BnShift]:
    """The eval-mode scale and shift of the BatchNorm `bn`, its four tensors taken out of
    `recipes` (the BN disappears into the layer before it)."""
    scale = BnScale(recipes.pop(f"{bn}.weight"), recipes.pop(f"{bn}.running_var"), eps)
    return scale, BnShift(recipes.pop(f"{bn}.bias"), recipes.pop(f"{bn}.running_mean"), scale)
