"""The inference optimizer: the rewriting passes, in order (sqlglot's RULES style).

    graph, recipes = optimize(graph)

returns a rewritten copy of a shape-checked graph and, for every tensor of the new
graph, the recipe that computes it from the original state_dict. The result computes
the same function as the input *in eval mode*: BatchNorm uses its running statistics,
dropout is off, auxiliary heads are gone. Torch-free; runtime/graph_module.py builds it.
Every rule is a function `rule(graph, recipes)` that rewrites both in place."""

from __future__ import annotations

from typing import Callable, Iterable, Union

from inception_dsl.ir import Graph, verify
from inception_dsl.passes.rewrites.drop_aux_heads import drop_aux_heads
from inception_dsl.passes.rewrites.drop_inference_noops import drop_inference_noops
from inception_dsl.passes.rewrites.fold_bn import fold_bn
from inception_dsl.passes.rewrites.fold_inner_bn import fold_inner_bn
from inception_dsl.passes.rewrites.fold_layer_scale import fold_layer_scale
from inception_dsl.passes.rewrites.fold_residual_scale import fold_residual_scale
from inception_dsl.passes.rewrites.fuse_sibling_convs import fuse_sibling_convs
from inception_dsl.passes.rewrites.weight_recipes import Recipes, initial_recipes

__all__ = ["optimize", "RULES", "rule_names"]

Rule = Callable[[Graph, Recipes], Graph]

# Order matters: folding BN first leaves each conv directly before its scale (a residual
# scale, a layer scale; dropping the drop paths first brings a layer scale next to what
# follows), and the siblings fused last carry the folded biases.
RULES: tuple[Rule, ...] = (drop_aux_heads, drop_inference_noops, fold_bn, fold_inner_bn, fold_residual_scale,
                           fold_layer_scale, fuse_sibling_convs)
_BY_NAME = {rule.__name__: rule for rule in RULES}


def rule_names(rules: Iterable[Union[Rule, str]] = RULES) -> tuple[str, ...]:
    return tuple(rule if isinstance(rule, str) else rule.__name__ for rule in rules)


def optimize(graph: Graph, rules: Iterable[Union[Rule, str]] = RULES) -> tuple[Graph, Recipes]:
    """Apply `rules` (functions of RULES, or their names) to a copy of `graph`, in RULES order."""
    names = set(rule_names(rules))
    unknown = names - set(_BY_NAME)
    if unknown:
        raise ValueError(f"unknown optimization rules: {sorted(unknown)}; known: {', '.join(_BY_NAME)}")
    graph = graph.copy()
    recipes = initial_recipes(graph)
    for rule in RULES:
        if rule.__name__ in names:
            rule(graph, recipes)
    verify(graph, "graph after optimization")
    return graph, recipes
