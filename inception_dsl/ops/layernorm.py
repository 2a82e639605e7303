"""Layer normalization: the IR op `layernorm` and the layer word `layernorm(eps=1e-5)`.

On a CxHxW tensor it normalizes over the channels at each position, with a weight and a
bias per channel (timm's LayerNorm2d, torchvision ConvNeXt's LayerNorm2d: permute to
channels-last, F.layer_norm, permute back); on a flat tensor it is nn.LayerNorm(features).
On tokens it is nn.LayerNorm over each token's channels. Parameters `weight` and `bias`,
shape (C,), in every case; `layernorm(bias=false)` has the weight alone (timm's
LayerNorm2dNoBias and LayerNormNoBias, MetaFormer's norms)."""

from __future__ import annotations

from dataclasses import replace

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import BOOL, FLOAT, Op, OpKind
from inception_dsl.core.signatures import EPS_RANGE, LayerSig, boolean, number
from inception_dsl.ops.base import LayerDef, coerced, register

__all__ = ["LAYERNORM", "LAYERNORM2D"]


def _module(node, in_channels) -> str:
    bias = "" if node.attrs.get("bias", True) else ", bias=False"
    return f"nn.LayerNorm({py_literal(in_channels)}, eps={py_literal(node.attrs['eps'])}{bias})"


def _forward(emitter, node, ins, out) -> list[str]:
    m = f"self.{emitter.attr_of[node.id]}"
    if len(node.shape) != 3:
        return [f"{out} = {m}({ins[0]})"]
    return [f"{out} = F.layer_norm({ins[0]}.permute(0, 2, 3, 1), {m}.normalized_shape, {m}.weight, {m}.bias, "
            f"{m}.eps).permute(0, 3, 1, 2)"]


LAYERNORM = OpKind(
    "layernorm", {"eps": FLOAT, "bias": replace(BOOL, optional=True)},
    doc="LayerNorm over the channels at each position (CxHxW), over the features (flat) or over each token's "
        "channels; `bias=false` (written only then): a weight alone, as timm's LayerNorm2dNoBias",
    params=lambda node, in_channels: (2 if node.attrs.get("bias", True) else 1) * (in_channels or 0),
    label=lambda node, members: "LayerNorm",
    module=_module, forward=_forward, fresh=True,
    weights=lambda node: ("weight", "bias") if node.attrs.get("bias", True) else ("weight",),
)

LAYERNORM2D = '''
def _layer_norm_2d(x: torch.Tensor, shape: list[int], weight: Optional[torch.Tensor], bias: Optional[torch.Tensor],
                   eps: float) -> torch.Tensor:
    """F.layer_norm over the channels of an NCHW tensor (channels-last and back, as timm's
    LayerNorm2d), over the last axis otherwise; a leaf for torch.fx, which cannot trace the
    branch on x.dim()."""
    if x.dim() == 4:
        return F.layer_norm(x.permute(0, 2, 3, 1), shape, weight, bias, eps).permute(0, 3, 1, 2)
    return F.layer_norm(x, shape, weight, bias, eps)


torch.fx.wrap("_layer_norm_2d")


class LayerNorm2d(nn.LayerNorm):
    """nn.LayerNorm over the channels at each position of an NCHW tensor (timm's and
    torchvision's LayerNorm2d: channels-last, F.layer_norm, back); over the last axis of
    any other tensor (flat features, tokens), nn.LayerNorm itself. Parameters `weight`,
    `bias` of shape (C,)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _layer_norm_2d(x, self.normalized_shape, self.weight, self.bias, self.eps)
'''
register_helper("LayerNorm2d", LAYERNORM2D)


def _eps(bound, name, sink) -> float:
    return number(bound, name, sink, *EPS_RANGE, "eps")


_ARGS = {"eps": _eps, "bias": boolean}


def _elaborate(b, bound):
    if not b.unique():
        return None
    attrs = coerced(_ARGS, bound, b.sink)
    if attrs["bias"]:
        del attrs["bias"]  # written only when false: the IR of every earlier layernorm is unchanged
    return b.add("", Op.LAYERNORM, attrs)


def _source(args, in_ch):
    eps, bias = args.get("eps"), args.get("bias")
    args.helpers.add("LayerNorm2d")
    extra = ("" if eps.is_(1e-5) else f", eps={eps.src}") + ("" if bias.is_(True) else f", bias={bias.src}")
    return args.code(f"LayerNorm2d({in_ch}{extra})", in_ch)


register(LayerDef(LayerSig("layernorm", (), {"eps": 1e-5, "bias": True},
                           summary="LayerNorm over channels (CxHxW, tokens) or features (flat)",
                           example="layernorm(eps=1e-6)"),
                  elaborate=_elaborate, source=_source, args=_ARGS,
                  doc="on CxHxW over the channels at each position (ConvNeXt's LayerNorm2d), on a flat tensor over "
                      "the features, on tokens over each token's channels (`nn.LayerNorm`); a weight and a bias per "
                      "channel (`bias=false`: the weight alone, timm's LayerNorm2dNoBias)"))
