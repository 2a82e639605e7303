"""MetaFormer pieces (Yu et al. 2022, "MetaFormer Is Actually What You Need for Vision"
and "MetaFormer Baselines for Vision"): the IR ops and layer words `pool_mixer(size=3)`,
PoolFormer's token mixer `avgpool(x) - x` (stride 1, `size // 2` padding, the padding left
out of the average, as timm's `Pooling`), and `star_relu(scale=1.0, bias=0.0)`, StarReLU
`s * relu(x)^2 + b` with a learned scalar `scale` and `bias` (timm's StarReLU). timm's
`Scale` layer is `layer_scale(init)`; its separable-conv mixer is a block of convs
(specs/blocks/metaformer.incp)."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import FLOAT, POSITIVE, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import LayerSig, number, positive_int
from inception_dsl.core.values import EvalError
from inception_dsl.ops.base import LayerDef, register, spatial

__all__ = ["POOL_MIXER", "STAR_RELU"]


# -- pool_mixer -------------------------------------------------------------------------
def _pool_shape(graph, node, shapes, sink):
    (shape,) = shapes
    return shape if spatial(node, shape, sink, "pool_mixer") else None


def _pool_forward(emitter, node, ins, out) -> list[str]:
    size = node.attrs["size"]
    return [f"{out} = F.avg_pool2d({ins[0]}, {size}, 1, {size // 2}, False, False) - {ins[0]}"]


POOL_MIXER = OpKind(
    "pool_mixer", {"size": POSITIVE}, doc="PoolFormer's token mixer: avg_pool(x, size, stride 1, same) - x",
    shape=_pool_shape, label=lambda node, members: f"{node.attrs['size']}x{node.attrs['size']} AvgPool - x",
    forward=_pool_forward, fresh=True, fill="#dcebf7",
)

register_helper("PoolMixer", '''
class PoolMixer(nn.Module):
    """PoolFormer's token mixer: the average over a `size`x`size` window minus the input
    (timm's Pooling; the padding is left out of the average)."""

    def __init__(self, size: int = 3):
        super().__init__()
        self.pool = nn.AvgPool2d(size, stride=1, padding=size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x
''')


def _size(bound, name, sink) -> int:
    size = positive_int(bound, name, sink, "the pooling size")
    if size % 2 == 0:
        sink.emit(codes.BAD_ARG_TYPE, f"pool_mixer needs an odd size to keep the grid, got {size}",
                  bound.span(name), "an even window", help=f"use {size - 1} or {size + 1}")
        raise EvalError()
    return size


def _pool_elaborate(b, bound):
    size = _size(bound, "size", b.sink)
    return b.add("", Op.POOL_MIXER, {"size": size}) if b.unique() else None


def _pool_source(args, in_ch):
    size = args.get("size", _size)
    args.helpers.add("PoolMixer")
    return args.code("PoolMixer()" if size.is_(3) else f"PoolMixer({size.src})", in_ch)


# -- star_relu ---------------------------------------------------------------------------
def _star_module(node, in_channels) -> str:
    scale, bias = (py_literal(float(node.attrs[k])) for k in ("scale", "bias"))
    return (f'nn.ParameterDict({{"scale": nn.Parameter(torch.full((1,), {scale})), '
            f'"bias": nn.Parameter(torch.full((1,), {bias}))}})')


def _star_forward(emitter, node, ins, out) -> list[str]:
    m = f"self.{emitter.attr_of[node.id]}"
    return [f'{out} = {m}["scale"] * F.relu({ins[0]}) ** 2 + {m}["bias"]']


STAR_RELU = OpKind(
    "star_relu", {"scale": FLOAT, "bias": FLOAT}, doc="s * relu(x)^2 + b, learned scalars `scale` and `bias`",
    params=lambda node, in_channels: 2, label=lambda node, members: "StarReLU", module=_star_module,
    forward=_star_forward, fresh=True, weights=lambda node: ("scale", "bias"),
)

register_helper("StarReLU", '''
class StarReLU(nn.Module):
    """StarReLU, s * relu(x)^2 + b, with a learned scalar `scale` and `bias` (timm's)."""

    def __init__(self, scale: float = 1.0, bias: float = 0.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((1,), float(scale)))
        self.bias = nn.Parameter(torch.full((1,), float(bias)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.relu(x) ** 2 + self.bias
''')


def _value(bound, name, sink) -> float:
    return number(bound, name, sink, -1e6, 1e6, f"StarReLU's initial {name}")


def _star_elaborate(b, bound):
    attrs = {"scale": _value(bound, "scale", b.sink), "bias": _value(bound, "bias", b.sink)}
    return b.add("", Op.STAR_RELU, attrs) if b.unique() else None


def _star_source(args, in_ch):
    scale, bias = args.get("scale", _value), args.get("bias", _value)
    parts = ([] if scale.is_(1.0) else [f"scale={scale.src}"]) + ([] if bias.is_(0.0) else [f"bias={bias.src}"])
    args.helpers.add("StarReLU")
    return args.code(f"StarReLU({', '.join(parts)})", in_ch)


register(
    LayerDef(LayerSig("pool_mixer", ("size",), {"size": 3}, summary="PoolFormer's token mixer: avgpool(x) - x",
                      example="pool_mixer(3)"),
             elaborate=_pool_elaborate, source=_pool_source,
             doc="over an odd `size`×`size` window at stride 1, the padding left out of the average (timm's "
                 "`Pooling`)"),
    LayerDef(LayerSig("star_relu", (), {"scale": 1.0, "bias": 0.0}, summary="StarReLU: s * relu(x)^2 + b, learned",
                      example="star_relu"),
             elaborate=_star_elaborate, source=_star_source,
             doc="timm's `StarReLU`; timm's `Scale` layer is `layer_scale(init)`"),
)
