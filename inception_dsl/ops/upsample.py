"""Upsampling by an integer factor: the IR op and layer word `upsample(scale, mode=nearest,
align_corners=false)`, nn.Upsample / F.interpolate with `scale_factor` (an integer, or
HxW per axis), so the output is exactly (C, H*sh, W*sw). `mode` is `nearest` or
`bilinear`; `align_corners` applies to `bilinear` only (PyTorch refuses it for nearest)."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import BOOL, PAIR, Op, OpKind, one_of
from inception_dsl.core import codes
from inception_dsl.core.signatures import REQUIRED, LayerSig, boolean, choice, pair
from inception_dsl.core.values import EvalError, Symbol
from inception_dsl.ops.base import LayerDef, coerced, register, spatial

__all__ = ["UPSAMPLE", "MODES"]

MODES = ("nearest", "bilinear")


def _window(attrs, hw):
    return hw[0] * attrs["scale"][0], hw[1] * attrs["scale"][1]


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "upsample"):
        return None
    return (shape[0], *_window(node.attrs, shape[1:]))


def _label(node, members) -> str:
    a = node.attrs
    details = a["mode"] + (", align corners" if a["align_corners"] else "")
    sh, sw = a["scale"]
    return f"Upsample {f'x{sh}' if sh == sw else f'{sh}x{sw}'} ({details})"


def _scale_factor(scale) -> str:
    """As nn.Upsample passes it on: one float, or a float per axis."""
    return py_literal(float(scale[0])) if scale[0] == scale[1] else py_literal(tuple(float(s) for s in scale))


def _forward(emitter, node, ins, out) -> list[str]:
    a = node.attrs
    align = f", align_corners={py_literal(a['align_corners'])}" if a["mode"] != "nearest" else ""
    return [f"{out} = F.interpolate({ins[0]}, scale_factor={_scale_factor(a['scale'])}, mode={py_literal(a['mode'])}{align})"]


UPSAMPLE = OpKind(
    "upsample", {"scale": PAIR, "mode": one_of(*MODES), "align_corners": BOOL},
    doc="F.interpolate by an integer scale_factor per axis; align_corners only with bilinear",
    shape=_shape, label=_label, forward=_forward, fresh=True, fill="#dcebf7",
)


# -- the layer word -------------------------------------------------------------------
_ARGS = {"scale": lambda b, n, s: pair(b, n, s, "the upsampling scale"),
         "mode": lambda b, n, s: choice(b, n, s, MODES, "upsampling mode"),
         "align_corners": boolean}


def _arguments(bound, sink) -> dict:
    attrs = coerced(_ARGS, bound, sink)
    if attrs["align_corners"] and attrs["mode"] == "nearest":
        sink.emit(codes.BAD_ARG_TYPE, "`align_corners` applies to bilinear upsampling only (PyTorch refuses it for nearest)",
                  bound.span("align_corners"), "with mode=nearest",
                  help="write `mode=bilinear, align_corners=true`, or drop `align_corners`")
        raise EvalError()
    return attrs


def _elaborate(b, bound):
    attrs = _arguments(bound, b.sink)
    return b.add("", Op.UPSAMPLE, attrs) if b.unique() else None


def _source(args, in_ch):
    scale, align = args.get("scale"), args.get("align_corners")
    mode = args.get("mode", literal=args.literal)
    parts = [f"scale_factor={scale.src if scale.symbolic else _scale_factor(scale.value)}", f"mode={mode.src}"]
    if mode.symbolic:
        parts.append(f"align_corners=None if {mode.src} == 'nearest' else {align.src}")
    elif mode.value != "nearest":
        parts.append(f"align_corners={align.src}")
    return args.code(f"nn.Upsample({', '.join(parts)})", in_ch)


register(LayerDef(
    LayerSig("upsample", ("scale",), {"scale": REQUIRED, "mode": Symbol("nearest"), "align_corners": False},
             summary="upsampling by an integer factor (nn.Upsample)", example="upsample(2, mode=bilinear)"),
    elaborate=_elaborate, source=_source, args=_ARGS,
    doc="`scale`: `2`, `2x3`, `(1, 2)`; `mode`: `nearest`, `bilinear`; CxHxW → C×(H·sh)×(W·sw) exactly; "
        "`align_corners` with `bilinear` only (E105)",
))
