"""Every generated class works for every constructor argument it accepts, or refuses it
when built: for each class of every shipped spec (and the codegen cases), a sample of
arguments (in_channels and the block's own parameters) either raises ValueError/TypeError
in __init__ or gives a module whose forward runs and produces `out_channels` channels.
(Block35(64) used to build and then fail in forward.)"""

from __future__ import annotations

import inspect
import itertools
import random
import sys

import pytest
import torch

from inception_dsl import analyze, load

from .conftest import CASES, SPECS

SPEC_FILES = sorted(SPECS.glob("*.incp")) + [CASES / "codegen" / n for n in ("tiny.incp", "features.incp", "symbolic.incp")]
SMALL_INPUT = {"googlenet.incp": (3, 64, 64), "resnet50.incp": (3, 64, 64),  # others: the smallest size check accepts
               "levit_128s.incp": (3, 224, 224),  # its attention biases are built for 14x14, 7x7, 4x4 (timm's resolution)
               "coatnet_0_rw_224.incp": (3, 224, 224)}  # its relative position tables fix its input size


def _input_shape(path):
    shape = SMALL_INPUT.get(path.name)
    if shape:
        return shape
    for size in (32, 64, 75, 107, 139):
        result = analyze(path, input_shape=(3, size, size))
        if result.ok:
            return (3, size, size)
    return None


def _seen_inputs(model, shape) -> dict[type, tuple[int, ...]]:
    """The input shape each generated class sees in the network (first instance)."""
    seen: dict[type, tuple[int, ...]] = {}
    module_name = type(model).__module__

    def record(module, args):
        if args:  # RelPosBias() takes no input
            seen.setdefault(type(module), tuple(args[0].shape[1:]))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules()
             if type(m).__module__ == module_name and m is not model]
    with torch.no_grad():
        model.eval()(torch.randn(1, *shape))
    for hook in hooks:
        hook.remove()
    return seen


def _samples(cls, channels: int, rng: random.Random, count: int = 4) -> list[dict]:
    """Constructor arguments: in_channels around the spec's, each parameter its default or a
    value of its type (ints small, so that the widths stay small)."""
    choices = []
    for name, param in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        if name == "in_channels":
            choices.append((name, [channels, max(1, channels // 2), channels + 8]))
            continue
        if name == "grids":  # what the network hands down (python/instances.py), not a spec parameter
            continue
        default = param.default
        kind = param.annotation if param.annotation is not inspect.Parameter.empty else type(default)
        kind = {"int": int, "float": float, "bool": bool, "str": str}.get(kind, kind) if isinstance(kind, str) else kind
        if kind is bool:
            values = [True, False]
        elif kind is float:
            values = [0.1, 1.0]
        elif kind is str:
            values = ["relu", "identity"]
        else:
            values = [8, 16, 24]
        if default is not inspect.Parameter.empty and default is not None:
            values = [default] + [v for v in values if v != default][:2]
        choices.append((name, values))
    combos = list(itertools.product(*[values for _, values in choices]))
    rng.shuffle(combos)
    return [dict(zip([n for n, _ in choices], combo)) for combo in combos[:count]]


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name == "v4.incp" else p for p in SPEC_FILES],
                         ids=lambda p: p.name)
def test_every_generated_class_runs_for_the_arguments_it_accepts(path):
    shape = _input_shape(path)
    assert shape is not None
    with torch.device("meta"):  # only the shapes each class sees: no weights needed
        model = load(path, input_shape=shape, seed=0)
        generated = sys.modules[type(model).__module__]
        seen = _seen_inputs(model, shape)
    assert seen, "no generated block classes were reached"
    rng = random.Random(path.name)
    accepted = 0
    blocks = {getattr(generated, name) for name in generated.__all__} - {type(model)}  # not the prelude's helpers
    for cls, shape in sorted(seen.items(), key=lambda item: item[0].__name__):
        if cls not in blocks:  # a helper class of the prelude (LayerNorm2d, ...) may see a flat input
            continue
        if len(inspect.signature(cls.forward).parameters) > 2:  # it also reads tensors `from` labels elsewhere
            continue  # (a U-Net's skip concat): the whole network runs it above
        tokens = len(shape) == 2  # (N, C): a sequence of tokens, channels last
        channels = shape[-1] if tokens else shape[0]
        for kwargs in _samples(cls, channels, rng):
            # on the meta device: shapes are checked as on the CPU (a mismatch raises), no arithmetic
            with torch.device("meta"):
                try:
                    module = cls(**kwargs)
                except (ValueError, TypeError):
                    continue  # refused when built: fine
                size = (shape[0], kwargs["in_channels"]) if tokens else (kwargs["in_channels"], *shape[1:])
                try:
                    out = module.eval()(torch.randn(1, *size))
                except ValueError as error:  # a table built for a grid (an argument) refuses another input grid
                    assert "is built for a" in str(error), (cls.__name__, kwargs, error)
                    continue
                accepted += 1
            out_channels = out.shape[-1] if out.dim() == 3 else out.shape[1]  # tokens (B, N, C) keep channels last
            assert out_channels == module.out_channels, (cls.__name__, kwargs)
    assert accepted > 0


def test_block35_refuses_an_input_width_it_cannot_add(tmp_path):
    model = load(SPECS / "inception_resnet_v2.incp", input_shape=(3, 75, 75))
    block35 = type(model.repeat[0])
    with pytest.raises(ValueError, match=r"Block35: the residual at blocks/inception_resnet.incp:\d+ would add 64 "
                                         r"channels \(shortcut\) to 320"):
        block35(64)
    assert block35(64, width=64)(torch.randn(1, 64, 9, 9)).shape == (1, 64, 9, 9)
