"""Pixel shuffle (sub-pixel convolution's rearrangement): the IR op and layer word
`pixel_shuffle(upscale)`, nn.PixelShuffle / F.pixel_shuffle. Channels C*r*r at HxW
become C channels at (H*r)x(W*r); the channels must divide by r*r (E207). No parameters."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import POSITIVE, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import REQUIRED, LayerSig, positive_int
from inception_dsl.ops.base import LayerDef, coerced, register, shape_error, spatial

__all__ = ["PIXEL_SHUFFLE"]


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "pixel_shuffle"):
        return None
    r = node.attrs["upscale"]
    channels, h, w = shape
    if channels % (r * r):
        shape_error(sink, node, codes.BAD_GROUPS,
                    f"pixel_shuffle({r}) needs input channels divisible by {r * r}, got {channels}",
                    f"{channels} channels do not make {r}x{r} sub-pixels",
                    help=f"give the layer before it a multiple of {r * r} channels")
        return None
    return (channels // (r * r), h * r, w * r)


PIXEL_SHUFFLE = OpKind(
    "pixel_shuffle", {"upscale": POSITIVE}, doc="F.pixel_shuffle: C*r*r channels at HxW to C at (H*r)x(W*r)",
    shape=_shape, label=lambda node, members: f"Pixel Shuffle (x{node.attrs['upscale']})",
    call=lambda x, attrs: f"F.pixel_shuffle({x}, {py_literal(attrs['upscale'])})",
    describe=lambda attrs: f"pixel shuffle x{attrs['upscale']}", fill="#dcebf7",
)

_ARGS = {"upscale": lambda b, n, s: positive_int(b, n, s, "the upscale factor")}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    return b.add("", Op.PIXEL_SHUFFLE, attrs) if b.unique() else None


def _source(args, in_ch):
    upscale = args.get("upscale")
    out = in_ch // upscale.value ** 2 if isinstance(in_ch, int) and not upscale.symbolic else \
        f"({in_ch}) // ({upscale.src}) ** 2"
    return args.code(f"nn.PixelShuffle({upscale.src})", out)


register(LayerDef(
    LayerSig("pixel_shuffle", ("upscale",), {"upscale": REQUIRED},
             summary="sub-pixel upsampling: C*r*r channels to C, the grid r times larger (nn.PixelShuffle)",
             example="pixel_shuffle(2)"),
    elaborate=_elaborate, source=_source, keeps_channels=False, args=_ARGS,
    doc="channels must divide by `upscale`² (E207)",
))
