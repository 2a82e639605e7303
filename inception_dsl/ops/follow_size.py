"""Layers whose output grid follows another tensor's size: `resize(to, mode=nearest,
align_corners=false)` (F.interpolate to the size of `to`, as torchvision's LR-ASPP
interpolates to the 1/8 map and to the input) and `pad_to(to)` (zero-pad, or crop where it
is larger, to the size of `to`, the odd pixel after: U-Net's skip, where 70 meets 71). `to`
names an earlier labelled statement of the sequence the layer stands in, or `input` (that
sequence's input), as `from` does; the node reads it as its second input. `check` gives the
exact grid (the target's); the generated module reads the size in forward, so it follows
the input at any size."""

from __future__ import annotations

from inception_dsl.core import codes, syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.literals import py_literal
from inception_dsl.core.signatures import REQUIRED, LayerSig, boolean, choice
from inception_dsl.core.values import EvalError, Symbol, describe
from inception_dsl.ir import BOOL, TEXT, Op, OpKind, one_of
from inception_dsl.ops.base import LayerDef, coerced, register, spatial
from inception_dsl.ops.upsample import MODES

__all__ = ["RESIZE", "PAD_TO"]


def _target_shape(what: str):
    def shape(graph, node, shapes, sink):
        if len(shapes) < 2:  # a lone probe (LayerDef.lower): the channels are kept, the grid is the
            return shapes[0]  # target's (the words' `grid` says it is unknown to the standalone source)
        x, target = shapes
        if not spatial(node, x, sink, what) or not spatial(node, target, sink, f"the size {what} follows"):
            return None
        return (x[0], target[1], target[2])
    return shape


def _interpolate(x: str, size: str, attrs) -> str:
    align = f", align_corners={py_literal(attrs['align_corners'])}" if attrs["mode"] != "nearest" else ""
    return f"F.interpolate({x}, size={size}, mode={py_literal(attrs['mode'])}{align})"


def _resize_label(node, members) -> str:
    a = node.attrs
    return f"Resize to {a['to']} ({a['mode']}{', align corners' if a['align_corners'] else ''})"


RESIZE = OpKind(
    "resize", {"to": TEXT, "mode": one_of(*MODES), "align_corners": BOOL}, arity=(2, 2),
    doc="F.interpolate of the first input to the size of the second (the label `to`, or `input`); align_corners "
        "only with bilinear",
    shape=_target_shape("resize"), label=_resize_label, fresh=True, fill="#dcebf7",
    forward=lambda emitter, node, ins, out: [f"{out} = {_interpolate(ins[0], f'{ins[1]}.shape[-2:]', node.attrs)}"],
    describe=lambda a: f"resize to {a['to']} {a['mode']}", follows=lambda a: f"takes the size of `{a['to']}`",
)


def _pad_to_forward(emitter, node, ins, out) -> list[str]:
    x, target = ins
    return [f"{out}_h = {target}.shape[-2] - {x}.shape[-2]", f"{out}_w = {target}.shape[-1] - {x}.shape[-1]",
            f"{out} = F.pad({x}, (int({out}_w / 2), {out}_w - int({out}_w / 2), "
            f"int({out}_h / 2), {out}_h - int({out}_h / 2)))"]


PAD_TO = OpKind(
    "pad_to", {"to": TEXT}, arity=(2, 2),
    doc="zero-pads (or crops, where larger) the first input to the size of the second (the label `to`): half "
        "before, the odd pixel after",
    shape=_target_shape("pad_to"), label=lambda node, members: f"Pad to {node.attrs['to']}", fresh=True,
    forward=_pad_to_forward, fill="#eeeeee", describe=lambda a: f"pad to {a['to']}",
    follows=lambda a: f"takes the size of `{a['to']}`",
)

HELPERS = '''
class Resize(nn.Module):
    """F.interpolate to the size of a second tensor (`resize(to=...)`)."""

    def __init__(self, mode: str = "nearest", align_corners: Optional[bool] = None):
        super().__init__()
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=target.shape[-2:], mode=self.mode, align_corners=self.align_corners)


class PadTo(nn.Module):
    """Zero-pads (or crops, where larger) to the size of a second tensor (`pad_to(...)`): half
    before, the odd pixel after."""

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        dh, dw = target.shape[-2] - x.shape[-2], target.shape[-1] - x.shape[-1]
        return F.pad(x, (int(dw / 2), dw - int(dw / 2), int(dh / 2), dh - int(dh / 2)))
'''
register_helper("Resize", HELPERS)


# -- the layer words --------------------------------------------------------------------
def label_argument(bound, name: str, sink: DiagnosticSink) -> str:
    """A label (a bare name): the tensor whose size the layer follows."""
    value = bound[name]
    if isinstance(value, Symbol):
        return value.name
    sink.emit(codes.BAD_ARG_TYPE, f"`{name}` names a labelled statement (or `input`), not {describe(value)}",
              bound.span(name), "expected a label", help=f"write the label of an earlier statement: `{name}=skip`")
    raise EvalError()


_RESIZE_ARGS = {"to": label_argument, "mode": lambda b, n, s: choice(b, n, s, MODES, "resize mode"),
                "align_corners": boolean}
_PAD_ARGS = {"to": label_argument}


def _resize_elaborate(b, bound):
    attrs = coerced(_RESIZE_ARGS, bound, b.sink)
    if attrs["align_corners"] and attrs["mode"] == "nearest":
        b.sink.emit(codes.BAD_ARG_TYPE, "`align_corners` applies to bilinear resizing only (PyTorch refuses it for "
                    "nearest)", bound.span("align_corners"), "with mode=nearest",
                    help="write `mode=bilinear, align_corners=true`, or drop `align_corners`")
        raise EvalError()
    target = b.tensor(attrs["to"], bound.span("to"))
    if target is None or not b.unique():
        return None
    return b.add("", Op.RESIZE, attrs, (target,))


def _pad_elaborate(b, bound):
    attrs = coerced(_PAD_ARGS, bound, b.sink)
    target = b.tensor(attrs["to"], bound.span("to"))
    if target is None or not b.unique():
        return None
    return b.add("", Op.PAD_TO, attrs, (target,))


def _resize_source(args, in_ch):
    mode, align = args.get("mode", literal=args.literal), args.get("align_corners")
    if mode.symbolic:
        parts = [f"mode={mode.src}", f"align_corners=None if {mode.src} == 'nearest' else {align.src}"]
    else:
        parts = [f"mode={mode.src}"] + ([f"align_corners={align.src}"] if mode.value != "nearest" else [])
    args.helpers.add("Resize")
    return args.code(f"Resize({', '.join(parts)})", in_ch)


def _pad_source(args, in_ch):
    args.helpers.add("Resize")  # one helper source holds Resize and PadTo
    return args.code("PadTo()", in_ch)


def _follows(call, env, grid, names, helpers):
    """The grid these words leave is the target's: not known from the input's (None)."""
    return None


syntax.LABEL_ARGUMENTS.update({"resize": "to", "pad_to": "to"})
register(
    LayerDef(LayerSig("resize", ("to",), {"to": REQUIRED, "mode": Symbol("nearest"), "align_corners": False},
                      summary="resizes to the grid of a labelled tensor (F.interpolate)",
                      example="resize(to=input, mode=bilinear)"),
             elaborate=_resize_elaborate, source=_resize_source, args=_RESIZE_ARGS, grid=_follows,
             doc="`to`: an earlier label of this sequence, or `input`; `mode`: `nearest`, `bilinear`; "
                 "`align_corners` with `bilinear` only (E105); the grid follows the target at any input size"),
    LayerDef(LayerSig("pad_to", ("to",), {"to": REQUIRED},
                      summary="zero-pads (or crops) to the grid of a labelled tensor", example="pad_to(input)"),
             elaborate=_pad_elaborate, source=_pad_source, args=_PAD_ARGS, grid=_follows,
             doc="`to`: an earlier label of this sequence, or `input`; half before, the odd pixel after "
                 "(U-Net's skip: F.pad by the size difference); a larger input is cropped the same way"),
)
