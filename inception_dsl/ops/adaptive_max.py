"""Max pooling to a fixed grid: the IR op `adaptive_maxpool` (nn.AdaptiveMaxPool2d) and
the layer words `global_maxpool` (to 1x1, the head pooling of timm's `global_pool="max"`)
and `adaptive_maxpool(size)`, the max counterparts of ops/pool.py's average ones."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import PAIR, Op, OpKind
from inception_dsl.core.signatures import REQUIRED, LayerSig, pair
from inception_dsl.ops.base import LayerDef, coerced, pair_text, register, spatial
from inception_dsl.ops.pool import adaptive_grid

__all__ = ["ADAPTIVE_MAXPOOL"]


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "max pooling"):
        return None
    return (shape[0], *node.attrs["size"])


def _label(node, members) -> str:
    size = tuple(node.attrs["size"])
    return "Global Max Pooling" if size == (1, 1) else f"Adaptive Max Pooling ({pair_text(size)})"


def _forward(emitter, node, ins, out) -> list[str]:
    size = tuple(node.attrs["size"])
    if size == (1, 1):
        return [f"{out} = {ins[0]}.amax((2, 3), keepdim=True)"]
    return [f"{out} = F.adaptive_max_pool2d({ins[0]}, {py_literal(size)})"]


ADAPTIVE_MAXPOOL = OpKind(
    "adaptive_maxpool", {"size": PAIR}, doc="max pooling to a fixed grid; global max pooling is size (1, 1)",
    shape=_shape, label=_label, forward=_forward, fresh=True, fill="#dcebf7",
)


_ARGS = {"size": lambda b, n, s: pair(b, n, s, "the output size")}


def _elaborate(b, bound):
    return b.add("", Op.ADAPTIVE_MAXPOOL, coerced(_ARGS, bound, b.sink)) if b.unique() else None


def _source(args, in_ch):
    size = args.get("size")
    return args.code(f"nn.AdaptiveMaxPool2d({size.src})", in_ch)


register(
    LayerDef(LayerSig("global_maxpool", summary="maximum over the whole grid, keeping Cx1x1"),
             elaborate=lambda b, bound: b.add("", Op.ADAPTIVE_MAXPOOL, {"size": (1, 1)}) if b.unique() else None,
             source=lambda args, in_ch: args.code("nn.AdaptiveMaxPool2d(1)", in_ch), head="pool"),
    LayerDef(LayerSig("adaptive_maxpool", ("size",), {"size": REQUIRED}, summary="max pooling to a fixed grid size",
                      example="adaptive_maxpool(4x4)"),
             elaborate=_elaborate, source=_source, grid=adaptive_grid, head="pool", args=_ARGS,
             doc="`size`: `4x4`, `(2, 3)`; like the average pools, a head pooling for timm's API"),
)
