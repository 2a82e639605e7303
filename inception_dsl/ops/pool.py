"""Pooling: the IR ops `pool` (max or average over a window) and `adaptive_avgpool`, and
the layer words `maxpool`, `avgpool`, `global_avgpool`, `adaptive_avgpool`."""

from __future__ import annotations

from inception_dsl.core.python_exprs import mentions, py_expr
from inception_dsl.core.literals import py_literal
from inception_dsl.ir import BOOL, PADDING, PAIR, Op, OpKind, one_of
from inception_dsl.core import codes
from inception_dsl.core.signatures import PAD_FLAGS, REQUIRED, LayerSig, boolean, is_tf_same, pair, padding
from inception_dsl.core.shapes import pool2d_out
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.values import EvalError, Symbol, evaluate
from inception_dsl.ops.base import (LayerDef, coerced, dims_text, pair_text, padding_words, register, shape_error, spatial,
                                    stride_words, symmetric)
from inception_dsl.ops.conv import too_small

__all__ = ["POOL", "ADAPTIVE_AVGPOOL", "adaptive_grid"]


# -- the IR ops -----------------------------------------------------------------------
def _window(attrs, hw):
    return pool2d_out(hw, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["ceil_mode"])


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "pooling"):
        return None
    a = node.attrs
    top, bottom, left, right = a["padding"]
    kh, kw = a["kernel"]
    if top != bottom or left != right:
        shape_error(sink, node, codes.BAD_ARG_TYPE, "pooling takes symmetric padding only",
                    f"padding {a['padding']}", help=_padding_help(node))
        return None
    if top > kh // 2 or left > kw // 2:
        shape_error(sink, node, codes.BAD_ARG_TYPE,
                    f"pool padding ({top}, {left}) is more than half the {kh}x{kw} window (PyTorch refuses it)",
                    "padding too large", help="use `pad=valid`, or a larger window")
        return None
    channels, h, w = shape
    out = _window(a, (h, w))
    if min(out) < 1:
        too_small(sink, node, (h, w), out, f"{a['kind']} pool")
        return None
    return (channels, *out)


def _padding_help(node) -> str:
    """`same` on an even window pads one side only; the usual intent (VGG's
    `maxpool(2x2, stride=2)`) is no padding at all."""
    a = node.attrs
    window = "x".join(map(str, a["kernel"]))
    stride = a["stride"][0] if a["stride"][0] == a["stride"][1] else "({}, {})".format(*a["stride"])
    word = "maxpool" if a["kind"] == "max" else "avgpool"
    return (f"add `valid` for no padding (`{word}({window}, stride={stride}, valid)`, as VGG pools), "
            "or use an odd pool size with `pad=same`, or explicit (h, w) padding")


def _label(node, members) -> str:
    a = node.attrs
    kh, kw = a["kernel"]
    details = [f"stride {pair_text(a['stride'])}"] if a["stride"] != (1, 1) else []
    details += padding_words(a["kernel"], a["padding"])
    name = "MaxPool" if a["kind"] == "max" else "Avg Pooling"
    return f"{kh}x{kw} {name}" + (f" ({' '.join(details)})" if details else "")


def _forward(emitter, node, ins, out) -> list[str]:
    a = node.attrs
    if a["kind"] == "avg" and symmetric(a["padding"]) is None and not a["count_include_pad"]:
        raise NotImplementedError(f"{node.id}: asymmetric padding with count_include_pad=false")
    lines, x = emitter.pad(node, ins[0], "float('-inf')" if a["kind"] == "max" else "0.0")
    window = ", ".join(py_literal(v) for v in (tuple(a["kernel"]), tuple(a["stride"]), symmetric(a["padding"]) or (0, 0)))
    if a["kind"] == "max":
        call = f"F.max_pool2d({x}, {window}, 1, {py_literal(a['ceil_mode'])})"
    else:
        call = f"F.avg_pool2d({x}, {window}, {py_literal(a['ceil_mode'])}, {py_literal(a['count_include_pad'])})"
    return lines + [f"{out} = {call}"]


POOL = OpKind(
    "pool",
    {"kind": one_of("max", "avg"), "kernel": PAIR, "stride": PAIR, "padding": PADDING, "ceil_mode": BOOL,
     "count_include_pad": BOOL},
    doc="max or average pooling; padding symmetric (top == bottom, left == right)",
    shape=_shape, label=_label, forward=_forward, sliding=True, fresh=True, fill="#dcebf7",
    describe=lambda a: " ".join([f"{a['kind']}pool {dims_text(a['kernel'])}", *stride_words(a["stride"])]),
)


def _adaptive_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "average pooling"):
        return None
    return (shape[0], *node.attrs["size"])


def _adaptive_label(node, members) -> str:
    size = tuple(node.attrs["size"])
    return "Average Pooling" if size == (1, 1) else f"Adaptive Avg Pooling ({pair_text(size)})"


def _adaptive_forward(emitter, node, ins, out) -> list[str]:
    size = tuple(node.attrs["size"])
    if size == (1, 1):
        return [f"{out} = {ins[0]}.mean((2, 3), keepdim=True)"]
    return [f"{out} = F.adaptive_avg_pool2d({ins[0]}, {py_literal(size)})"]


ADAPTIVE_AVGPOOL = OpKind(
    "adaptive_avgpool", {"size": PAIR}, doc="average pooling to a fixed grid; global pooling is size (1, 1)",
    shape=_adaptive_shape, label=_adaptive_label, forward=_adaptive_forward, fresh=True, fill="#dcebf7",
    describe=lambda a: "global avgpool" if tuple(a["size"]) == (1, 1) else f"adaptive avgpool {dims_text(tuple(a['size']))}",
)


# -- the layer words --------------------------------------------------------------------
_ARGS = {"kernel": lambda b, n, s: pair(b, n, s, "the pool size"),
         "stride": lambda b, n, s: pair(b, n, s, "the stride"),
         "ceil_mode": boolean}
_AVG_ARGS = {**_ARGS, "count_include_pad": boolean}


def _elaborate(kind: str):
    def elaborate(b, bound):
        if not b.unique():
            return None
        v = coerced(_AVG_ARGS if kind == "avg" else _ARGS, bound, b.sink)
        dynamic = is_tf_same(bound) and v["stride"] != (1, 1)  # at stride 1 TF's SAME is `same`
        attrs = {"kind": kind, "kernel": v["kernel"], "stride": v["stride"],
                 "padding": (0, 0, 0, 0) if dynamic else padding(bound, b.sink, v["kernel"]),
                 "ceil_mode": v["ceil_mode"], "count_include_pad": v.get("count_include_pad", False)}
        if dynamic:  # timm's MaxPool2dSame pads -inf, AvgPool2dSame zeros (counted in the average)
            b.add("pad", Op.PAD_SAME, {"kernel": v["kernel"], "stride": v["stride"], "dilation": (1, 1),
                                       "fill": "-inf" if kind == "max" else "zero"})
        return b.add("", Op.POOL, attrs)
    return elaborate


def _source(module: str, avg: bool):
    def source(args, in_ch):
        bound, sink = args.bound, args.sink
        kernel, stride = args.get("kernel"), args.get("stride")
        same = isinstance(bound["pad"], Symbol) and bound["pad"].name in ("same", "tf_same")
        if is_tf_same(bound) and not stride.is_((1, 1)) and not args.is_symbolic("pad"):
            args.helpers.add(module[3:] + "Same")
            parts = [kernel.src, f"stride={stride.src}"] + _pool_options(args, avg)
            return args.code(f"{module[3:]}Same({', '.join(parts)})", in_ch)
        if args.is_symbolic("pad") or (kernel.symbolic and same):
            args.helpers.add("_pool_padding")
            pad_src = args.expr("pad") if args.is_symbolic("pad") else args.literal(bound["pad"])
            pad = args.text(f"_pool_padding({pad_src}, {kernel.src})")
        else:
            pad = args.value(padding(bound, sink, _ARGS["kernel"](bound, "kernel", sink)))
        parts = [kernel.src, f"stride={stride.src}"] + ([f"padding={pad.src}"] if not pad.is_((0, 0, 0, 0)) else [])
        return args.code(f"{module}({', '.join(parts + _pool_options(args, avg))})", in_ch)
    return source


def _pool_options(args, avg: bool) -> list[str]:
    parts = []
    ceil = args.get("ceil_mode")
    if not ceil.is_(False):
        parts.append(f"ceil_mode={ceil.src}")
    if avg:
        include = args.get("count_include_pad")
        if not include.is_(True):
            parts.append(f"count_include_pad={include.src}")
    return parts


def adaptive_grid(call, env, grid, names, helpers):
    """A fixed grid: (h, w), or an expression of its area when a block parameter sets it."""
    if not call.args or call.args[0].name:
        return None
    if mentions(call.args[0].value, names):
        helpers.add("_area")
        return f"_area({py_expr(call.args[0].value, names, helpers)})"
    try:
        size = evaluate(call.args[0].value, env, DiagnosticSink())
    except EvalError:
        return None
    size = (size, size) if isinstance(size, int) else size
    return tuple(size) if isinstance(size, tuple) and len(size) == 2 else None


_SIZE = {"size": lambda b, n, s: pair(b, n, s, "the output size")}


def _adaptive_elaborate(b, bound):
    return b.add("", Op.ADAPTIVE_AVGPOOL, coerced(_SIZE, bound, b.sink)) if b.unique() else None


def _adaptive_source(args, in_ch):
    size = args.get("size")
    return args.code(f"nn.AdaptiveAvgPool2d({size.src})", in_ch)


_WINDOW = {"kernel": REQUIRED, "stride": 1, "pad": Symbol("same"), "ceil_mode": False}
_POOL_FLAGS = {**PAD_FLAGS, "ceil": {"ceil_mode": True}}

register(
    LayerDef(LayerSig("maxpool", ("kernel",), _WINDOW, _POOL_FLAGS, "max pooling", "maxpool(3x3, stride=2, valid)"),
             elaborate=_elaborate("max"), source=_source("nn.MaxPool2d", False), args=_ARGS),
    LayerDef(LayerSig("avgpool", ("kernel",), {**_WINDOW, "count_include_pad": True}, _POOL_FLAGS, "average pooling",
                      "avgpool(3x3)"),
             elaborate=_elaborate("avg"), source=_source("nn.AvgPool2d", True), args=_AVG_ARGS),
    LayerDef(LayerSig("global_avgpool", summary="average over the whole grid, keeping Cx1x1"),
             elaborate=lambda b, bound: b.add("", Op.ADAPTIVE_AVGPOOL, {"size": (1, 1)}) if b.unique() else None,
             source=lambda args, in_ch: args.code("nn.AdaptiveAvgPool2d(1)", in_ch), head="pool"),
    LayerDef(LayerSig("adaptive_avgpool", ("size",), {"size": REQUIRED}, summary="average pooling to a fixed grid size",
                      example="adaptive_avgpool(4x4)"),
             elaborate=_adaptive_elaborate, source=_adaptive_source, grid=adaptive_grid, head="pool", args=_SIZE),
)
