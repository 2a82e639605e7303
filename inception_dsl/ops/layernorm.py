"""Layer normalization: the IR op `layernorm` and the layer word `layernorm(eps=1e-5)`.

On a CxHxW tensor it normalizes over the channels at each position, with a weight and a
bias per channel (timm's LayerNorm2d, torchvision ConvNeXt's LayerNorm2d: permute to
channels-last, F.layer_norm, permute back); on a flat tensor it is nn.LayerNorm(features).
Parameters `weight` and `bias`, shape (C,), in both cases."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import FLOAT, Op, OpKind
from inception_dsl.core.signatures import EPS_RANGE, LayerSig, number
from inception_dsl.ops.base import LayerDef, coerced, register

__all__ = ["LAYERNORM", "LAYERNORM2D"]


def _module(node, in_channels) -> str:
    return f"nn.LayerNorm({py_literal(in_channels)}, eps={py_literal(node.attrs['eps'])})"


def _forward(emitter, node, ins, out) -> list[str]:
    m = f"self.{emitter.attr_of[node.id]}"
    if len(node.shape) != 3:
        return [f"{out} = {m}({ins[0]})"]
    return [f"{out} = F.layer_norm({ins[0]}.permute(0, 2, 3, 1), {m}.normalized_shape, {m}.weight, {m}.bias, "
            f"{m}.eps).permute(0, 3, 1, 2)"]


LAYERNORM = OpKind(
    "layernorm", {"eps": FLOAT}, doc="LayerNorm over the channels at each position (CxHxW) or over the features (flat)",
    params=lambda node, in_channels: 2 * (in_channels or 0),
    label=lambda node, members: "LayerNorm",
    module=_module, forward=_forward, fresh=True,
    weights=lambda node: ("weight", "bias"),
)

LAYERNORM2D = '''
class LayerNorm2d(nn.LayerNorm):
    """nn.LayerNorm over the channels at each position of an NCHW tensor (timm's and
    torchvision's LayerNorm2d: channels-last, F.layer_norm, back); over the features of
    a flat (N, C) tensor, nn.LayerNorm itself. Parameters `weight`, `bias` of shape (C,)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
'''
register_helper("LayerNorm2d", LAYERNORM2D)


def _eps(bound, name, sink) -> float:
    return number(bound, name, sink, *EPS_RANGE, "eps")


_ARGS = {"eps": _eps}


def _elaborate(b, bound):
    if not b.unique():
        return None
    return b.add("", Op.LAYERNORM, coerced(_ARGS, bound, b.sink))


def _source(args, in_ch):
    eps = args.get("eps")
    args.helpers.add("LayerNorm2d")
    return args.code(f"LayerNorm2d({in_ch}" + (f", eps={eps.src})" if not eps.is_(1e-5) else ")"), in_ch)


register(LayerDef(LayerSig("layernorm", (), {"eps": 1e-5}, summary="LayerNorm over channels (CxHxW) or features (flat)",
                           example="layernorm(eps=1e-6)"),
                  elaborate=_elaborate, source=_source, args=_ARGS,
                  doc="on CxHxW over the channels at each position (ConvNeXt's LayerNorm2d), on a flat tensor over "
                      "the features (`nn.LayerNorm`); a weight and a bias per channel"))
