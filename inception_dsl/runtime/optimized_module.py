"""`optimize()`: an inference-only module from a spec or from a module inception-dsl built,
with the unoptimized model's weights (docs/optimize.md). Builds on runtime/module.py
(fresh weights as `load` makes them) and runtime/graph_module.py (the optimized module)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from inception_dsl import api
from inception_dsl.ir import Graph
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.params_file import ParamsArg
from inception_dsl.passes.rewrites.pipeline import RULES
from inception_dsl.runtime.graph_module import GraphModule, ir_shapes, optimize_graph_module, without_counters
from inception_dsl.runtime.module import BUILD_METADATA, GRAPH_ATTRIBUTE, build_module, network_params
from inception_dsl.runtime.weights import WeightsError, compare

__all__ = ["optimize"]


def optimize(model_or_spec: nn.Module | str | Path, state_dict: Mapping[str, torch.Tensor] | None = None, *,
             channels_last: bool = True, rules: tuple = RULES, network: str | None = None, params: ParamsArg = None,
             input_shape: tuple[int, ...] | None = None, limits: Limits = DEFAULT_LIMITS,
             **kwargs: Any) -> GraphModule:
    """An inference-only module computing what the unoptimized model computes in eval mode.

    `model_or_spec` is a module inception-dsl built (`load()`, `optimize()`: it carries its
    checked IR graph, also through pickling) or a spec path, with the network, its
    parameters (`params=` or keywords, as `load()` takes them) and input shape. `state_dict`
    holds the UNoptimized model's tensors under IR keys (default: the model's own; for a
    spec, a freshly initialised unoptimized model's). A state_dict of a load() module
    records the network, parameters and input size it was built with, which a spec path then
    builds unless any of them is given. The module takes ordinary NCHW input."""
    if isinstance(model_or_spec, nn.Module):
        if network is not None or params is not None or input_shape is not None or kwargs:
            raise TypeError("optimize(model) builds the network the model was built as; network, params and "
                            "input_shape are for a spec path")
        graph, default_weights = _of_module(model_or_spec)
        where = "the model"
    else:
        if network is None and params is None and input_shape is None and not kwargs:
            network, params, input_shape = _recorded(state_dict)
        result = api.analyze(model_or_spec, network=network, params=network_params(params, kwargs),
                             input_shape=input_shape, limits=limits)
        graph = api.require(result)
        default_weights = lambda: _fresh_weights(result)  # noqa: E731
        where = f"{model_or_spec} with {_given(params, kwargs)}"
    weights = state_dict if state_dict is not None else default_weights()
    if state_dict is not None:
        _fits(graph, without_counters(state_dict), where)
    return optimize_graph_module(graph, weights, channels_last=channels_last, rules=rules)


def _of_module(model: nn.Module):
    if isinstance(model, GraphModule):
        return model.ir_graph, model.ir_state_dict
    graph = getattr(model, GRAPH_ATTRIBUTE, None)
    compiled = getattr(type(model), "compiled_from", None)
    if not isinstance(graph, Graph) and isinstance(compiled, tuple) and len(compiled) == 2:
        names = [name for name in inspect.signature(type(model).__init__).parameters if name != "self"]
        arguments = "".join(f", {name}=..." for name in names)
        raise TypeError(f"optimize(model) needs the checked network, which a {type(model).__name__} built from a "
                        f"compiled file does not carry (modules from load() and optimize() do): call "
                        f"optimize(\"path/to/{compiled[0]}\", model.state_dict(), network={compiled[1]!r}{arguments}) "
                        f"with the network parameters the model was built with (docs/optimize.md)")
    if not isinstance(graph, Graph):
        raise TypeError(f"optimize() takes a module built by inception_dsl.load() or optimize(), not a "
                        f"{type(model).__name__}; for another module with our layout (a compiled file's, a "
                        f"converted one) call optimize(spec_path, model.state_dict(), **network_parameters)")
    return graph, lambda: without_counters(model.state_dict())


def _recorded(state_dict) -> tuple[str | None, dict | None, tuple | None]:
    """The network, parameters and input size a load() module's state_dict records
    (runtime/module.py `build_record`), or Nones."""
    record = getattr(state_dict, "_metadata", {}).get("", {}).get(BUILD_METADATA) if state_dict is not None else None
    if not isinstance(record, Mapping):
        return None, None, None
    shape = record.get("input_shape")
    return record.get("network"), dict(record.get("params") or {}), tuple(shape) if shape else None


def _given(params, kwargs) -> str:
    values = {**(params if isinstance(params, Mapping) else {}), **kwargs}
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) if values else "its default parameters"


def _fits(graph: Graph, state_dict: Mapping[str, torch.Tensor], where: str) -> None:
    """A WeightsError naming the tensors whose shapes differ from the network's, with a
    hint at the parameters (the usual cause: load(..., num_classes=10), optimize(spec, ...)).
    Missing tensors are MissingWeightError's (runtime/recipes.py); extra ones are not read."""
    mismatch = compare(ir_shapes(graph), state_dict, graph.blocks)
    mismatch.missing.clear()
    mismatch.unexpected.clear()
    if mismatch:
        raise WeightsError(mismatch, f"the network is built from {where}: pass the network parameters the model "
                                     f"was built with (as load() takes them), or call optimize(model) on the module")


def _fresh_weights(result: api.Result) -> dict[str, torch.Tensor]:
    """Initial weights as `inception_dsl.load` would make them (or, where the main
    backend cannot build this spec, as an unoptimized GraphModule does)."""
    try:
        return without_counters(build_module(result).state_dict())
    except Exception:  # noqa: BLE001 - a construct only the main backend rejects; the weights are the same
        return GraphModule(result.graph).ir_state_dict()
