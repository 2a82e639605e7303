"""The inference optimizer: the rewriting passes, in order (sqlglot's RULES style).

    graph, recipes = optimize(graph)

returns a rewritten copy of a shape-checked graph and, for every tensor of the new
graph, the recipe that computes it from the original state_dict. The result computes
the same function as the input *in eval mode*: BatchNorm uses its running statistics,
dropout is off, auxiliary heads are gone. Torch-free; runtime/graph_module.py builds it."""

from __future__ import annotations

from inception_dsl.ir import Graph, verify
from inception_dsl.passes.drop_aux_heads import drop_aux_heads
from inception_dsl.passes.drop_inference_noops import drop_inference_noops
from inception_dsl.passes.fold_bn import fold_bn
from inception_dsl.passes.fold_residual_scale import fold_residual_scale
from inception_dsl.passes.fuse_sibling_convs import fuse_sibling_convs
from inception_dsl.passes.rewrite import copy_graph
from inception_dsl.passes.weight_recipes import Recipes, initial_recipes

__all__ = ["optimize", "RULES"]

# Order matters: folding BN first leaves each conv directly before its scale, and the
# siblings fused last carry the folded biases.
RULES = ("drop_aux_heads", "drop_inference_noops", "fold_bn", "fold_residual_scale", "fuse_sibling_convs")


def optimize(graph: Graph, rules: tuple[str, ...] = RULES) -> tuple[Graph, Recipes]:
    """Apply `rules` (names from RULES, in RULES order) to a copy of `graph`."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown optimization rules: {sorted(unknown)}; known: {', '.join(RULES)}")
    graph = copy_graph(graph)
    recipes = initial_recipes(graph)
    if "drop_aux_heads" in rules:
        drop_aux_heads(graph)
        recipes = {k: v for k, v in recipes.items() if k.rsplit(".", 1)[0] in graph}
    if "drop_inference_noops" in rules:
        drop_inference_noops(graph)
    if "fold_bn" in rules:
        fold_bn(graph, recipes)
    if "fold_residual_scale" in rules:
        fold_residual_scale(graph, recipes)
    if "fuse_sibling_convs" in rules:
        fuse_sibling_convs(graph, recipes)
    problems = verify(graph)
    assert not problems, f"internal error: the optimizer produced a malformed graph: {problems}"
    return graph, recipes
