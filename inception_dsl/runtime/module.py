"""Spec -> torch.nn.Module: analyze (shape and budget errors raise CompileError before
anything is allocated), generate the Python source (python_source.py), execute that
source in a private module registered with `linecache` and `sys.modules` (so that
tracebacks, `inspect`, TorchScript and torch.compile can read it, as torch.fx does),
and instantiate the network class. Spec text itself is never evaluated.

Initialization: the scheme the spec names (`set init = "torchvision.resnet"`, the
reference's own; PyTorch's defaults when it names none), or `init=` to choose another:
`"torch"` keeps PyTorch's defaults, `"tf"` follows TF-slim's Inception arg scope
(docs/backend.md). The generated network class applies it in its own __init__
(backends/python/init_source.py), so the standalone file starts where load() does. `seed` makes them reproducible without touching the
caller's global RNG state."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from inception_dsl import api
from inception_dsl.core.diagnostics import CompileError
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.metadata import INIT_SCHEMES
from inception_dsl.language.params_file import ParamsArg, sources_of
from inception_dsl.runtime.checkpoint import read_checkpoint
from inception_dsl.runtime.generated import execute
from inception_dsl.runtime.graph_module import optimize_graph_module
from inception_dsl.runtime.weights import load_weights
from inception_dsl.core.python_exprs import CodegenError
from inception_dsl.backends.python.source import network_class_name, to_python

__all__ = ["load", "loads", "build_module", "INITS", "GRAPH_ATTRIBUTE", "BUILD_METADATA", "build_record"]

INITS = INIT_SCHEMES
GRAPH_ATTRIBUTE = "_inception_dsl_graph"  # the checked IR graph on a load() module (no label starts with _)
BUILD_METADATA = "inception_dsl"  # the key of build_record in a load() state_dict's root _metadata


_OWN_DEFAULTS: dict[str, Any] = {"network": None, "init": None, "seed": None, "input_shape": None,
                                 "limits": DEFAULT_LIMITS, "optimize": False, "weights": None,
                                 "pretrained": None, "source": None, "features_only": False, "out_indices": None}


def load(spec: str | Path, /, *, params: ParamsArg = None, network: str | None = None,
         init: str | None = None, seed: int | None = None, input_shape: tuple[int, ...] | None = None,
         limits: Limits = DEFAULT_LIMITS, optimize: bool = False,
         weights: Mapping[str, Any] | str | Path | None = None, pretrained: str | Path | None = None,
         source: str | None = None, features_only: bool = False, out_indices: Any = None,
         **kwargs: Any) -> nn.Module:
    """Build the network of a spec file. Network parameters come in `params` (a dict:
    `load("v4.incp", params={"num_classes": 10})`, the path of a YAML parameter file,
    `params="cifar.yaml"`, or a list of files and dicts merged in order, docs/language.md)
    or, for names that are not keywords of
    load() itself, as keyword arguments (`load("v4.incp", num_classes=10)`). A network
    parameter named like one of load()'s keywords (`seed`, `weights`, ...) can only be
    given through `params`: passing the keyword when the network has such a parameter is
    a TypeError saying so. `weights` (a state_dict or a .pth path) is loaded strictly,
    with one WeightsError that groups every missing, unexpected or mis-shaped key by block
    instance. `optimize=True` returns the inference-only optimized module instead
    (runtime/graph_module.py, docs/optimize.md). `pretrained`: "timm:NAME" /
    "torchvision:NAME" (the library downloads them) or a .pth/.safetensors file, whose layout
    is ours or that of `source` (runtime/timm_api.py). `features_only=True` returns the
    feature maps at the network's feature taps (`out_indices` selects), as timm does."""
    own = dict(network=network, init=init, seed=seed, input_shape=input_shape, limits=limits, optimize=optimize,
               weights=weights, pretrained=pretrained, source=source, features_only=features_only,
               out_indices=out_indices)
    values = network_params(params, kwargs)
    result = api.analyze(spec, network=network, params=values, input_shape=input_shape, limits=limits)
    _refuse_shadowed(result, own, values)
    model = _finish(result, build_module(result, init=init, seed=seed), weights, optimize)
    return _timm_options(model, pretrained, source, features_only, out_indices)


def loads(text: str, /, *, path: str = "<string>", params: ParamsArg = None,
          network: str | None = None, init: str | None = None, seed: int | None = None,
          input_shape: tuple[int, ...] | None = None, limits: Limits = DEFAULT_LIMITS, optimize: bool = False,
          weights: Mapping[str, Any] | str | Path | None = None, pretrained: str | Path | None = None,
          source: str | None = None, features_only: bool = False, out_indices: Any = None,
          **kwargs: Any) -> nn.Module:
    """Like `load`, from spec text; `path` names it in diagnostics and anchors imports."""
    own = dict(network=network, init=init, seed=seed, input_shape=input_shape, limits=limits, optimize=optimize,
               weights=weights, path=path, pretrained=pretrained, source=source, features_only=features_only,
               out_indices=out_indices)
    values = network_params(params, kwargs)
    result = api.analyze(path, text=text, network=network, params=values, input_shape=input_shape, limits=limits)
    _refuse_shadowed(result, own, values)
    model = _finish(result, build_module(result, init=init, seed=seed), weights, optimize)
    return _timm_options(model, pretrained, source, features_only, out_indices)


def _timm_options(model: nn.Module, pretrained, source, features_only: bool, out_indices) -> nn.Module:
    if pretrained is None and not features_only:
        return model
    from inception_dsl.runtime.timm_api import features_only as feature_net, load_pretrained

    if pretrained is not None:
        load_pretrained(model, pretrained, source)
    if not features_only:
        return model
    cfg = getattr(model, "pretrained_cfg", {})
    model = feature_net(model, out_indices)
    model.pretrained_cfg = model.default_cfg = cfg
    return model


def network_params(params: ParamsArg, kwargs: Mapping[str, Any]) -> dict[str, Any] | list:
    """`params` and the other keyword arguments as one dict of network parameters, or,
    when `params` names YAML parameter files (a path or a list of paths and dicts), as the
    list of sources api.analyze merges in order, the keyword arguments last."""
    if params is not None and not isinstance(params, Mapping):
        return [*sources_of(params), dict(kwargs)]  # TypeError for anything else
    values = dict(params or {})
    for name in values:
        if type(name) is not str:
            raise TypeError(f"network parameter names are strings, not {type(name).__name__}")
    both = sorted(set(values) & set(kwargs))
    if both:
        raise TypeError(f"network parameter {both[0]!r} is given twice: in params= and as a keyword argument")
    values.update(kwargs)
    return values


def _refuse_shadowed(result: api.Result, own: Mapping[str, Any], values: Mapping[str, Any] | list) -> None:
    """A keyword of load() that is also a parameter of the network, passed as a keyword
    and not through params=, is ambiguous: refuse it rather than guess."""
    if isinstance(values, list):  # sources: the names given in mappings count (YAML files' do not)
        values = {name: value for source in values if isinstance(source, Mapping) for name, value in source.items()}
    if result.program.main is None:
        return
    definition = next((d for d in result.program.networks() if result.graph is None or d.name == result.graph.name), None)
    declared = {p.name for p in definition.params} if definition is not None else set()
    for name, value in own.items():
        default = "<string>" if name == "path" else _OWN_DEFAULTS[name]
        if name in declared and name not in values and value is not default and value != default:
            raise TypeError(f"`{name}` is a keyword of load() and also a parameter of network `{definition.name}`: "
                            f"load() took {name}={value!r} for itself; pass the network's `{name}` as "
                            f"params={{{name!r}: ...}}")


def _finish(result: api.Result, model: nn.Module, weights, optimize: bool) -> nn.Module:
    if weights is not None:
        if isinstance(weights, (str, Path)):
            weights = read_checkpoint(weights)
        load_weights(model, weights, scopes=result.graph.blocks)
    if not optimize:
        return model
    return optimize_graph_module(result.graph, model.state_dict())


def build_module(result: api.Result, *, init: str | None = None, seed: int | None = None) -> nn.Module:
    """The nn.Module of an analysis result; CompileError if the result has errors. `init`
    None is the spec's `set init` (PyTorch's defaults if it sets none): the generated
    network class initializes itself by it (backends/python/init_source.py), as the
    standalone file of `compile` does."""
    if init is not None and init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    api.require(result)
    source = generate(result, init=init)
    network_class = execute(source, result.graph.name)[network_class_name(result)]
    if seed is None:
        return _construct(network_class, result.graph)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _construct(network_class, result.graph)


def generate(result: api.Result, init: str | None = None) -> str:
    """to_python, with a construct the backend cannot write reported as a diagnostic."""
    try:
        return to_python(result, init=init)
    except CodegenError as error:
        raise CompileError([error.diagnostic()]) from None


def _construct(network_class: type, graph) -> nn.Module:
    model = network_class()
    setattr(model, GRAPH_ATTRIBUTE, graph)  # what optimize(model) builds from; travels in pickles
    model.register_state_dict_post_hook(_record_build)
    return model


def _record_build(module: nn.Module, state_dict, prefix: str, local_metadata: dict) -> None:
    """A state_dict of a load() module says which network, parameters and input size made
    it (plain values in its `_metadata`, kept by torch.save and weights_only loading), so
    `optimize(spec, model.state_dict())` builds that network (runtime/optimized_module.py)."""
    graph = getattr(module, GRAPH_ATTRIBUTE, None)
    record = build_record(graph) if graph is not None else None
    if record is not None:
        local_metadata[BUILD_METADATA] = record


def build_record(graph) -> dict[str, Any] | None:
    """{"network", "params", "input_shape"} of a graph, or None where a parameter value is
    not a plain number, string or boolean (or a tuple of them)."""
    def plain(value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, tuple) and all(isinstance(v, (bool, int, float, str)) for v in value):
            return list(value)
        raise TypeError

    try:
        params = {name: plain(value) for name, value in graph.params.items()}
    except TypeError:
        return None
    return {"network": graph.name, "params": params, "input_shape": list(graph.input_node.shape)}
