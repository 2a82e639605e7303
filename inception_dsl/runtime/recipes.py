"""Evaluate weight recipes (passes/rewrites/weight_recipes.py) against a state_dict."""

from __future__ import annotations

from typing import Mapping

import torch

from inception_dsl.passes.rewrites.weight_recipes import (Add, BnScale, BnShift, Concat, Expr, MulConst, Param, Recipes, ScaleRows,
                                                 ScaleTransposed, Zeros)

__all__ = ["evaluate_recipes", "MissingWeightError"]


class MissingWeightError(KeyError):
    """The state_dict lacks a tensor that the optimized graph needs."""


def evaluate_recipes(recipes: Recipes, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The optimized state_dict, computed in float64 and cast back to each source dtype
    (folding in float32 would add its own rounding error to every folded conv)."""
    missing = sorted({key for recipe in recipes.values() for key in _params(recipe)} - set(state_dict))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise MissingWeightError(f"the state_dict has no {shown}")
    cache: dict[Expr, torch.Tensor] = {}  # a BN's scale feeds both its conv's weight and bias
    with torch.no_grad():
        return {key: _evaluate(recipe, state_dict, cache).to(_dtype(recipe, state_dict))
                for key, recipe in recipes.items()}


def _evaluate(expr: Expr, sd: Mapping[str, torch.Tensor], cache: dict[Expr, torch.Tensor]) -> torch.Tensor:
    if isinstance(expr, (BnScale, BnShift)):
        if expr not in cache:
            cache[expr] = _compute(expr, sd, cache)
        return cache[expr]
    return _compute(expr, sd, cache)


def _compute(expr: Expr, sd: Mapping[str, torch.Tensor], cache: dict[Expr, torch.Tensor]) -> torch.Tensor:
    def _evaluate_(child: Expr) -> torch.Tensor:
        return _evaluate(child, sd, cache)

    if isinstance(expr, Param):
        return sd[expr.key].detach().to(torch.float64)
    if isinstance(expr, Zeros):
        return torch.zeros(expr.length, dtype=torch.float64)
    if isinstance(expr, BnScale):
        return _evaluate_(expr.gamma) / torch.sqrt(_evaluate_(expr.var) + expr.eps)
    if isinstance(expr, BnShift):
        return _evaluate_(expr.beta) - _evaluate_(expr.mean) * _evaluate_(expr.scale)
    if isinstance(expr, ScaleRows):
        tensor = _evaluate_(expr.tensor)
        vector = _evaluate_(expr.vector)
        return tensor * vector.reshape((-1,) + (1,) * (tensor.dim() - 1))
    if isinstance(expr, ScaleTransposed):
        tensor = _evaluate_(expr.tensor)
        rows, per_group, *kernel = tensor.shape
        grouped = tensor.reshape(expr.groups, rows // expr.groups, per_group, *kernel)
        vector = _evaluate_(expr.vector).reshape(expr.groups, 1, per_group, *([1] * len(kernel)))
        return (grouped * vector).reshape(tensor.shape)
    if isinstance(expr, Add):
        return _evaluate_(expr.left) + _evaluate_(expr.right)
    if isinstance(expr, MulConst):
        return _evaluate_(expr.tensor) * expr.value
    if isinstance(expr, Concat):
        return torch.cat([_evaluate_(part) for part in expr.parts], 0)
    raise TypeError(f"unknown recipe {expr!r}")


def _params(expr: Expr) -> list[str]:
    if isinstance(expr, Param):
        return [expr.key]
    children = [getattr(expr, name) for name in getattr(expr, "__dataclass_fields__", {})]
    keys: list[str] = []
    for child in children:
        for item in child if isinstance(child, tuple) else (child,):
            if isinstance(item, Expr):
                keys += _params(item)
    return keys


def _dtype(expr: Expr, sd: Mapping[str, torch.Tensor]) -> torch.dtype:
    keys = _params(expr)
    return sd[keys[0]].dtype if keys else torch.float32
