"""`optimize()`: an inference-only module from a spec or from a module inception-dsl built,
with the unoptimized model's weights (docs/optimize.md). Builds on runtime/module.py
(fresh weights as `load` makes them) and runtime/graph_module.py (the optimized module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from inception_dsl import api
from inception_dsl.ir import Graph
from inception_dsl.passes.rewrites.pipeline import RULES
from inception_dsl.runtime.graph_module import GraphModule, optimize_graph_module, without_counters
from inception_dsl.runtime.module import build_module

__all__ = ["optimize"]


def optimize(model_or_spec: nn.Module | str | Path, state_dict: Mapping[str, torch.Tensor] | None = None, *,
             channels_last: bool = True, rules: tuple = RULES, **analyze_options: Any) -> GraphModule:
    """An inference-only module computing what the unoptimized model computes in eval mode.

    `model_or_spec` is a module built by inception-dsl (it carries its IR graph) or a spec
    path (analyze_options: network, params, input_shape). `state_dict` holds the
    UNoptimized model's tensors under IR keys (default: the model's own; for a spec, a
    freshly initialised unoptimized model's). The module takes ordinary NCHW input."""
    graph, default_weights = _source(model_or_spec, analyze_options)
    weights = state_dict if state_dict is not None else default_weights()
    return optimize_graph_module(graph, weights, channels_last=channels_last, rules=rules)


def _source(model_or_spec, analyze_options):
    if isinstance(model_or_spec, nn.Module):
        graph = getattr(model_or_spec, "ir_graph", None)
        if not isinstance(graph, Graph):
            raise TypeError("optimize() needs the spec of this module: call optimize(spec_path, model.state_dict()) "
                            "(a module built by torch_graph keeps its IR graph; others may not)")
        if isinstance(model_or_spec, GraphModule):
            return graph, model_or_spec.ir_state_dict
        return graph, lambda: without_counters(model_or_spec.state_dict())
    result = api.analyze(model_or_spec, **analyze_options)
    graph = api.require(result)
    return graph, lambda: _fresh_weights(result)


def _fresh_weights(result: api.Result) -> dict[str, torch.Tensor]:
    """Initial weights as `inception_dsl.load` would make them (or, where the main
    backend cannot build this spec, as an unoptimized GraphModule does)."""
    try:
        return without_counters(build_module(result).state_dict())
    except Exception:  # noqa: BLE001 - a construct only the main backend rejects; the weights are the same
        return GraphModule(result.graph).ir_state_dict()
