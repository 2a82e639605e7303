"""Normalization: the IR op `bn` and the layer word `bn(eps=, momentum=)`, whose defaults
are the file's `bn_eps` / `bn_momentum`: nn.BatchNorm2d over the channels of a CxHxW
input; on tokens and on flat features nn.BatchNorm1d over the channels (tokens: over every
token of the batch, timm's LeViT `LinearNorm`, `NormLinear`). The same tensors in every
case (`weight`, `bias`, `running_mean`, `running_var`)."""

from __future__ import annotations

from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.literals import py_literal
from inception_dsl.core.python_exprs import CodegenError
from inception_dsl.core.shapes import is_tokens
from inception_dsl.core.signatures import EPS_RANGE, MOMENTUM_RANGE, LayerSig, number
from inception_dsl.ir import FLOAT, Op, OpKind
from inception_dsl.ops.base import LayerDef, call_module, coerced, register

__all__ = ["BN"]


def _class(shape) -> str:
    return "nn.BatchNorm2d" if shape is None or len(shape) == 3 and not is_tokens(shape) else "nn.BatchNorm1d"


def _module(node, in_channels) -> str:
    return (f"{_class(node.shape)}({py_literal(in_channels)}, eps={py_literal(node.attrs['eps'])}, "
            f"momentum={py_literal(node.attrs['momentum'])})")


def _forward(emitter, node, ins, out) -> list[str]:
    if is_tokens(node.shape):  # BatchNorm1d over (batch * tokens, channels)
        return [f"{out} = self.{emitter.attr_of[node.id]}({ins[0]}.flatten(0, 1)).view_as({ins[0]})"]
    return call_module(emitter, node, ins, out)


BN = OpKind(
    "bn", {"eps": FLOAT, "momentum": FLOAT},
    doc="BatchNorm2d over the input channels; BatchNorm1d on tokens (over every token) and on flat features",
    params=lambda node, in_channels: 2 * (in_channels or 0),
    label=lambda node, members: "BatchNorm",
    module=_module, forward=_forward, fresh=True,
    weights=lambda node: ("weight", "bias", "running_mean", "running_var"),
)

register_helper("TokenBatchNorm", '''
class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over the channels of (B, N, C) tokens, every token of the batch a sample
    (timm's LeViT LinearNorm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(0, 1)).view_as(x)
''')


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
    classes = {"TokenBatchNorm" if is_tokens(s) else _class(s) for s in args.ctx.in_shapes(args.call)} or {_class(None)}
    if len(classes) > 1:
        raise CodegenError(f"`bn` sees grids, tokens or flat features in different instances ({', '.join(sorted(classes))}), "
                           "so the generated class cannot know which BatchNorm to build", args.call.span)
    (cls,) = classes
    if cls == "TokenBatchNorm":
        args.helpers.add(cls)
    return args.code(f"{cls}({in_ch}, eps={eps.src}, momentum={momentum.src})", in_ch)


register(LayerDef(LayerSig("bn", (), {"eps": None, "momentum": None}, summary="BatchNorm2d (BatchNorm1d on tokens, "
                           "flat features)", settle=_settle),
                  elaborate=_elaborate, source=_source, args=_ARGS,
                  doc="`eps`, `momentum`: the file's settings unless written; on tokens over every token (timm's "
                      "LeViT `LinearNorm`), on flat features as nn.BatchNorm1d"))
