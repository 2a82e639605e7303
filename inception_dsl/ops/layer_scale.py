"""A learned per-channel scale: the IR op `layer_scale` and the layer word
`layer_scale(init=1e-6)`: y = x * gamma, one value per channel (timm's LayerScale2d,
ConvNeXt's layer scale), parameter `gamma` of shape (C,) initialised to `init`; on a
CxHxW tensor and on a flat one. passes/rewrites/fold_layer_scale.py folds it into a conv before it."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import FLOAT, Op, OpKind
from inception_dsl.core.signatures import LayerSig, number
from inception_dsl.ops.base import LayerDef, coerced, register

__all__ = ["LAYER_SCALE", "INIT_RANGE"]

INIT_RANGE = (-1e6, 1e6)


def _module(node, in_channels) -> str:
    """A container of the one parameter (the flat forward multiplies by it)."""
    init = py_literal(float(node.attrs["init"]))
    return f'nn.ParameterDict({{"gamma": nn.Parameter(torch.full(({py_literal(in_channels)},), {init}))}})'


def _forward(emitter, node, ins, out) -> list[str]:
    gamma = f'self.{emitter.attr_of[node.id]}["gamma"]'
    return [f"{out} = {ins[0]} * " + (f"{gamma}.view(1, -1, 1, 1)" if len(node.shape) == 3 else gamma)]


def _label(node, members) -> str:
    return "LayerScale"


LAYER_SCALE = OpKind(
    "layer_scale", {"init": FLOAT}, doc="y = x * gamma, a learned value per channel (`gamma`, shape (C,))",
    params=lambda node, in_channels: in_channels or 0,
    label=_label, module=_module, forward=_forward, fresh=True,
    weights=lambda node: ("gamma",),
)

register_helper("_layer_scale", '''
def _layer_scale(x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """x * gamma per channel of an NCHW or a flat (N, C) tensor; a leaf for torch.fx,
    which cannot trace a branch on x.dim()."""
    return x * (gamma.view(1, -1, 1, 1) if x.dim() == 4 else gamma)


torch.fx.wrap("_layer_scale")
''')

register_helper("LayerScale", '''
class LayerScale(nn.Module):
    """y = x * gamma, one learned value per channel (timm's LayerScale2d on NCHW, its
    LayerScale on flat (N, C) tensors); `gamma` of shape (C,) starts at `init`."""

    def __init__(self, channels: int, init: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _layer_scale(x, self.gamma)
''', needs=("_layer_scale",))


def _init(bound, name, sink) -> float:
    return number(bound, name, sink, *INIT_RANGE, "the layer scale's initial value")


_ARGS = {"init": _init}


def _elaborate(b, bound):
    if not b.unique():
        return None
    return b.add("", Op.LAYER_SCALE, coerced(_ARGS, bound, b.sink))


def _source(args, in_ch):
    init = args.get("init")
    args.helpers.add("LayerScale")
    return args.code(f"LayerScale({in_ch}, init={init.src})", in_ch)


register(LayerDef(LayerSig("layer_scale", ("init",), {"init": 1e-6}, summary="a learned scale per channel",
                           example="layer_scale(1e-6)"),
                  elaborate=_elaborate, source=_source, args=_ARGS,
                  doc="`y = x · γ`, one learned `γ` per channel starting at `init` (ConvNeXt's layer scale; "
                      "parameter `gamma`)"))
