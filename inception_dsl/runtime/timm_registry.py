"""The specs as timm models: `import inception_dsl.timm` registers every network of the
spec files in `specs/` under `incp_<network name>` with timm's `register_model`, and
`register_spec(path)` registers any spec file. timm's `create_model` then builds them with
its own keyword arguments: `num_classes`, `in_chans`, `drop_rate` (the network's
`drop_rate` or `dropout` parameter), `drop_path_rate` (a `drop_path_rate` parameter),
`features_only`, `out_indices`, `pretrained` (the weights of the spec's `set reference`,
fetched by timm or torchvision), and any other network parameter by name.

`specs/` is found next to the package in a source checkout (`pip install -e .`), or in
the directory the environment variable INCEPTION_DSL_SPECS names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from timm.models import register_model

from inception_dsl import api
from inception_dsl.runtime.module import load
from inception_dsl.runtime.timm_api import features_only as _features_only
from inception_dsl.runtime.timm_api import load_pretrained

__all__ = ["register_spec", "register_specs", "specs_dir", "REGISTERED", "PREFIX"]

PREFIX = "incp_"
SPECS_ENV = "INCEPTION_DSL_SPECS"
REGISTERED: dict[str, tuple[Path, str]] = {}  # timm model name -> (spec file, network)


def specs_dir() -> Path | None:
    """The directory of the shipped specs: $INCEPTION_DSL_SPECS, or `specs/` of the checkout."""
    configured = os.environ.get(SPECS_ENV)
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2] / "specs"
    return checkout if checkout.is_dir() else None


def register_spec(path: str | Path, *, name: str | None = None, network: str | None = None,
                  prefix: str = PREFIX) -> list[str]:
    """Register the networks of a spec file (or only `network`) as timm models named
    `prefix + network name` (or `name`, for one network); returns the names. A spec with
    errors raises CompileError."""
    path = Path(path).resolve()
    result = api.analyze(path, network=network)
    api.require(result)
    networks = [d.name for d in result.program.networks() if network is None or d.name == network]
    if name is not None and len(networks) != 1:
        raise ValueError(f"name={name!r} needs one network; {path.name} has {len(networks)} (pass network=)")
    names = []
    for net in networks:
        model_name = name or prefix + net
        register_model(_entrypoint(model_name, path, net))
        REGISTERED[model_name] = (path, net)
        names.append(model_name)
    return names


def register_specs(directory: str | Path | None = None) -> list[str]:
    """Register every network of every spec file directly in `directory` (default: specs_dir())."""
    directory = Path(directory) if directory is not None else specs_dir()
    if directory is None:
        return []
    return [n for spec in sorted(directory.glob("*.incp")) for n in register_spec(spec)]


def _entrypoint(model_name: str, path: Path, network: str):
    def create(pretrained: bool = False, pretrained_cfg: Any = None, pretrained_cfg_overlay: Any = None,
               cache_dir: Any = None, **kwargs: Any):
        return build(path, network, pretrained=pretrained, **kwargs)

    create.__name__ = create.__qualname__ = model_name
    create.__module__ = __name__
    create.__doc__ = f"Network `{network}` of {path.name}, built by inception-dsl."
    return create


def build(path: Path, network: str, *, pretrained: bool = False, num_classes: int | None = None,
          in_chans: int | None = None, drop_rate: float | None = None, drop_path_rate: float | None = None,
          features_only: bool = False, out_indices: Any = None, **kwargs: Any):
    """A network of a spec file, with timm's keyword arguments."""
    result = api.analyze(path, network=network)
    api.require(result)
    definition = next(d for d in result.program.networks() if d.name == network)
    declared = {p.name for p in definition.params}
    params = dict(kwargs)
    for given, candidates in ((num_classes, ("num_classes",)), (drop_rate, ("drop_rate", "dropout")),
                              (drop_path_rate, ("drop_path_rate",))):
        if given is None:
            continue
        target = next((c for c in candidates if c in declared), None)
        if target is None:
            if given:  # 0 / 0.0 asks for nothing the network lacks
                raise TypeError(f"network `{network}` has no parameter for {candidates[0]}={given!r} "
                                f"(its parameters: {', '.join(sorted(declared)) or 'none'})")
            continue
        params[target] = given
    unknown = sorted(set(params) - declared)
    if unknown:
        raise TypeError(f"network `{network}` has no parameter {unknown[0]!r} "
                        f"(its parameters: {', '.join(sorted(declared)) or 'none'})")
    shape = result.graph.input_node.shape
    input_shape = (in_chans, *shape[1:]) if in_chans is not None and in_chans != shape[0] else None
    model = load(path, network=network, params=params, input_shape=input_shape)
    if pretrained:
        reference = result.program.settings_for(definition.span).get("reference", "")
        if not reference:
            raise ValueError(f"network `{network}` names no pretrained weights (`set reference = \"timm:NAME\"`)")
        load_pretrained(model, reference)
    if features_only:
        cfg = model.pretrained_cfg
        model = _features_only(model, out_indices)
        model.pretrained_cfg = model.default_cfg = cfg
    return model


register_specs()
