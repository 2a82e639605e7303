"""Transposed convolution: the IR op and layer word `conv_transpose(out, kernel, stride=1,
pad=0, output_padding=0, groups=1, dilation=1, bias=true)`, a plain nn.ConvTranspose2d
(no BatchNorm, no activation: write `bn` / `relu` after it). Its output size is
PyTorch's: (n - 1)·stride - 2·pad + dilation·(kernel - 1) + output_padding + 1.

Its weight is (in_channels, out_channels / groups, kh, kw); an eval BatchNorm right after
it folds into it (passes/rewrites/fold_bn.py, recipe `ScaleTransposed`)."""

from __future__ import annotations

import math

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import BOOL, PAIR, POSITIVE, Attr, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import REQUIRED, Bound, LayerSig, boolean, pair, positive_int
from inception_dsl.core.values import EvalError, Symbol
from inception_dsl.ops.base import LayerDef, call_module, coerced, pair_text, register, shape_error, size, spatial

__all__ = ["CONV_TRANSPOSE", "transposed_out"]

NON_NEGATIVE_PAIR = Attr("(int, int), each >= 0", lambda v: isinstance(v, tuple) and len(v) == 2 and all(
    isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v), ",")


def transposed_out(hw, kernel, stride, padding, output_padding, dilation) -> tuple[int, int]:
    """nn.ConvTranspose2d's output size per axis."""
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1
                 for n, k, s, p, o, d in zip(hw, kernel, stride, padding, output_padding, dilation))  # type: ignore


# -- the IR op ------------------------------------------------------------------------
def _window(attrs, hw):
    return transposed_out(hw, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["output_padding"],
                          attrs["dilation"])


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "a transposed conv"):
        return None
    a = node.attrs
    channels, h, w = shape
    if channels % a["groups"] or a["out_channels"] % a["groups"]:
        shape_error(sink, node, codes.BAD_GROUPS,
                    f"conv_transpose groups={a['groups']} must divide both its {channels} input and "
                    f"{a['out_channels']} output channels", f"groups={a['groups']}",
                    help=_groups_help(channels, a["out_channels"]))
        return None
    out = _window(a, (h, w))
    if min(out) < 1:
        shape_error(sink, node, codes.SIZE_TOO_SMALL,
                    f"conv_transpose output size would be {out[0]}x{out[1]} from the {h}x{w} input: "
                    f"its padding {pair_text(a['padding'])} crops more than the kernel adds",
                    f"input is {h}x{w}", help=_crop_help(a, (h, w)))
        return None
    return (a["out_channels"], *out)


def _groups_help(channels: int, out: int) -> str:
    common = math.gcd(channels, out)
    return f"use groups={common} (it divides both), or groups=1" if common > 1 else "use groups=1"


def _crop_help(attrs, hw) -> str:
    """The largest padding that still leaves one row and column."""
    uncropped = transposed_out(hw, attrs["kernel"], attrs["stride"], (0, 0), attrs["output_padding"], attrs["dilation"])
    limit = tuple((n - 1) // 2 for n in uncropped)
    return f"lower `pad` to at most {_pair_source(limit)} here, or use a larger kernel or stride"


def _pair_source(values) -> str:
    """`2` for (2, 2), `(1, 2)` otherwise: the spec's own spelling."""
    return str(values[0]) if values[0] == values[1] else f"({values[0]}, {values[1]})"


def _params(node, in_channels) -> int:
    a = node.attrs
    kh, kw = a["kernel"]
    return (in_channels or 0) * (a["out_channels"] // a["groups"]) * kh * kw + (a["out_channels"] if a["bias"] else 0)


def _macs(node, in_shape) -> int:
    """Every input position meets the whole kernel (as FlopCounterMode counts a
    transposed conv: the input's grid, not the output's)."""
    kh, kw = node.attrs["kernel"]
    return size(in_shape) * (node.attrs["out_channels"] // node.attrs["groups"]) * kh * kw


def _label(node, members) -> str:
    """`2x2 Transposed Conv (64 stride 2)`, U-Net's up-convolution."""
    a = node.attrs
    (kh, kw), details = a["kernel"], [str(a["out_channels"])]
    for name, value, default in (("stride", a["stride"], (1, 1)), ("pad", a["padding"], (0, 0)),
                                 ("output padding", a["output_padding"], (0, 0)), ("dilation", a["dilation"], (1, 1))):
        if tuple(value) != default:
            details.append(f"{name} {pair_text(value)}")
    if a["groups"] != 1:
        details.append(f"groups {a['groups']}")
    return f"{kh}x{kw} Transposed Conv ({' '.join(details)})"


def _module(node, in_channels: int) -> str:
    a = node.attrs
    return (f"nn.ConvTranspose2d({py_literal(in_channels)}, {py_literal(a['out_channels'])}, "
            f"{py_literal(tuple(a['kernel']))}, stride={py_literal(tuple(a['stride']))}, "
            f"padding={py_literal(tuple(a['padding']))}, output_padding={py_literal(tuple(a['output_padding']))}, "
            f"groups={py_literal(a['groups'])}, bias={py_literal(a['bias'])}, dilation={py_literal(tuple(a['dilation']))})")


CONV_TRANSPOSE = OpKind(
    "conv_transpose",
    {"out_channels": POSITIVE, "kernel": PAIR, "stride": PAIR, "padding": NON_NEGATIVE_PAIR,
     "output_padding": NON_NEGATIVE_PAIR, "dilation": PAIR, "groups": POSITIVE, "bias": BOOL},
    doc="nn.ConvTranspose2d; padding (h, w) crops both sides, output_padding adds to the bottom/right",
    shape=_shape, params=_params, macs=_macs, label=_label, module=_module, forward=call_module,
    fresh=True, weights=lambda node: ("weight", "bias") if node.attrs["bias"] else ("weight",),
    weight_scale="transposed",
)


# -- the layer word -------------------------------------------------------------------
def _padding(bound: Bound, sink, name: str, what: str) -> tuple[int, int]:
    if isinstance(bound[name], Symbol) and bound[name].name in ("same", "valid"):
        sink.emit(codes.BAD_ARG_TYPE, f"conv_transpose takes {what} as a number or (h, w), not `{bound[name].name}`",
                  bound.span(name), f"`{bound[name].name}`",
                  help="`pad=0` is no cropping; with stride s, `kernel=s` or an odd kernel k with `pad=(k-1)//2` and "
                       "`output_padding=s-1` gives exactly s times the input")
        raise EvalError()
    return pair(bound, name, sink, what, minimum=0)


_ARGS = {"out": lambda b, n, s: positive_int(b, n, s, "output channels"),
         "kernel": lambda b, n, s: pair(b, n, s, "the kernel size"),
         "stride": lambda b, n, s: pair(b, n, s, "the stride"),
         "dilation": lambda b, n, s: pair(b, n, s, "the dilation"),
         "pad": lambda b, n, s: _padding(b, s, n, "the padding"),
         "output_padding": lambda b, n, s: _padding(b, s, n, "output_padding"),
         "groups": lambda b, n, s: positive_int(b, n, s, "groups"),
         "bias": boolean}


def _arguments(bound: Bound, sink) -> dict:
    v = coerced(_ARGS, bound, sink)
    stride, dilation, output_padding = v["stride"], v["dilation"], v["output_padding"]
    for axis in (0, 1):
        if output_padding[axis] >= stride[axis] and output_padding[axis] >= dilation[axis]:
            limit = max(stride[axis], dilation[axis]) - 1
            sink.emit(codes.BAD_ARG_TYPE,
                      f"output_padding {_pair_source(output_padding)} must be smaller than the stride "
                      f"{_pair_source(stride)} or the dilation {_pair_source(dilation)} (PyTorch refuses it)",
                      bound.span("output_padding"), "not below the stride or the dilation",
                      help=f"use output_padding={limit} at most" if limit > 0 else
                      "drop output_padding: with stride 1 and dilation 1 it must be 0")
            raise EvalError()
    return {"out_channels": v["out"], "kernel": v["kernel"], "stride": stride, "padding": v["pad"],
            "output_padding": output_padding, "dilation": dilation, "groups": v["groups"], "bias": v["bias"]}


def _elaborate(b, bound):
    attrs = _arguments(bound, b.sink)
    return b.add("", Op.CONV_TRANSPOSE, attrs) if b.unique() else None


def _source(args, in_ch):
    out = args.get("out")
    parts = [str(in_ch), out.src, args.get("kernel").src]
    options = [("stride", "stride", (1, 1)), ("pad", "padding", (0, 0)), ("output_padding", "output_padding", (0, 0)),
               ("groups", "groups", 1), ("bias", "bias", True), ("dilation", "dilation", (1, 1))]
    for name, keyword, default in options:
        arg = args.get(name)
        if not arg.is_(default):
            parts.append(f"{keyword}={arg.src}")
    return args.code(f"nn.ConvTranspose2d({', '.join(parts)})", out.src if out.symbolic else out.value)


register(LayerDef(
    LayerSig("conv_transpose", ("out", "kernel"),
             {"out": REQUIRED, "kernel": REQUIRED, "stride": 1, "pad": 0, "output_padding": 0, "groups": 1,
              "dilation": 1, "bias": True},
             summary="transposed convolution (nn.ConvTranspose2d), no BatchNorm or activation",
             example="conv_transpose(64, 2x2, stride=2)"),
    elaborate=_elaborate, source=_source, keeps_channels=False, args=_ARGS,
    doc="`pad`, `output_padding`: a number or `(h, w)`; output `(n−1)·stride − 2·pad + dilation·(k−1) + "
        "output_padding + 1`; `output_padding` below the stride or the dilation (E105); groups divide both channel "
        "counts (E207)",
))
