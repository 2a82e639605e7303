"""Normalization: the IR op `bn` (nn.BatchNorm2d over the input channels) and the layer
word `bn(eps=, momentum=)`, whose defaults are the file's `bn_eps` / `bn_momentum`."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import FLOAT, Op, OpKind
from inception_dsl.core.signatures import EPS_RANGE, MOMENTUM_RANGE, LayerSig, number
from inception_dsl.ops.base import LayerDef, coerced, call_module, register, spatial_same

__all__ = ["BN"]

BN = OpKind(
    "bn", {"eps": FLOAT, "momentum": FLOAT}, doc="BatchNorm2d over the input channels",
    shape=spatial_same("BatchNorm2d"),
    params=lambda node, in_channels: 2 * (in_channels or 0),
    label=lambda node, members: "BatchNorm",
    module=lambda node, in_channels: (f"nn.BatchNorm2d({py_literal(in_channels)}, eps={py_literal(node.attrs['eps'])}, "
                                      f"momentum={py_literal(node.attrs['momentum'])})"),
    forward=call_module, fresh=True,
    weights=lambda node: ("weight", "bias", "running_mean", "running_var"),
)


def _settle(values, settings, call) -> None:
    if values["eps"][0] is None:
        values["eps"] = (settings["bn_eps"], call.span)
    if values["momentum"][0] is None:
        values["momentum"] = (settings["bn_momentum"], call.span)


_ARGS = {"eps": lambda b, n, s: number(b, n, s, *EPS_RANGE, "eps"),
         "momentum": lambda b, n, s: number(b, n, s, *MOMENTUM_RANGE, "momentum")}


def _elaborate(b, bound):
    if not b.unique():
        return None
    return b.add("", Op.BN, coerced(_ARGS, bound, b.sink))


def _source(args, in_ch):
    eps, momentum = args.get("eps"), args.get("momentum")
    return args.code(f"nn.BatchNorm2d({in_ch}, eps={eps.src}, momentum={momentum.src})", in_ch)


register(LayerDef(LayerSig("bn", (), {"eps": None, "momentum": None}, summary="BatchNorm2d", settle=_settle),
                  elaborate=_elaborate, source=_source, args=_ARGS, doc="`eps`, `momentum`: the file's settings unless written"))
