"""The classifier's operations: `flatten`, `dropout` and `linear` (nn.Linear), each an IR
op and a layer word of the same name."""

from __future__ import annotations

from inception_dsl.core.python_exprs import mul_channels
from inception_dsl.core.literals import py_literal
from inception_dsl.ir import BOOL, FLOAT, POSITIVE, Op, OpKind, fmt_shape
from inception_dsl.core import codes
from inception_dsl.core.signatures import REQUIRED, LayerSig, boolean, number, positive_int
from inception_dsl.core.shapes import Tokens, is_tokens
from inception_dsl.ops.base import LayerDef, call_module, coerced, dims_text, register, shape_error, size

__all__ = ["FLATTEN", "DROPOUT", "LINEAR"]

def _flatten_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if is_tokens(shape):
        shape_error(sink, node, codes.NOT_SPATIAL, f"flatten needs a CxHxW input, got {fmt_shape(shape)}",
                    "input is a sequence of tokens", help="take one token with `token(0)`, or average them with "
                    "`avg_tokens`")
        return None
    return (size(shape),)


FLATTEN = OpKind(
    "flatten", {}, doc="(C, H, W) -> (C*H*W,)",
    shape=_flatten_shape,
    label=lambda node, members: "Flatten",
    forward=lambda emitter, node, ins, out: [f"{out} = torch.flatten({ins[0]}, 1)"], alias=True,
)

DROPOUT = OpKind(
    "dropout", {"p": FLOAT}, doc="dropout with probability p (training only)",
    label=lambda node, members: f"Dropout (keep {1 - node.attrs['p']:g})",
    forward=lambda emitter, node, ins, out: [
        f"{out} = F.dropout({ins[0]}, {py_literal(float(node.attrs['p']))}, self.training)"],
    alias=lambda emitter, node: emitter.inference_only,  # in training it makes a new tensor
    inference_noop=True, describe=lambda attrs: f"dropout {dims_text(attrs['p'])}",
)


def _linear_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if is_tokens(shape):  # nn.Linear on every token's channels
        return Tokens(node.attrs["out_features"], shape[1], shape.grid, shape.prefix, shape.batch)
    if len(shape) != 1:
        shape_error(sink, node, codes.NOT_FLAT, f"a linear layer needs a flat input, got {fmt_shape(shape)}",
                    f"input is {fmt_shape(shape)}", help="insert `flatten` before it")
        return None
    return (node.attrs["out_features"],)


LINEAR = OpKind(
    "linear", {"out_features": POSITIVE, "bias": BOOL}, doc="nn.Linear on a flat input, or on every token's channels",
    shape=_linear_shape,
    params=lambda node, in_channels: (node.attrs["out_features"] * (in_channels or 0)
                                      + (node.attrs["out_features"] if node.attrs["bias"] else 0)),
    macs=lambda node, in_shape: size(in_shape) * node.attrs["out_features"],
    label=lambda node, members: f"Linear ({node.attrs['out_features']})",
    module=lambda node, in_channels: (f"nn.Linear({py_literal(in_channels)}, {py_literal(node.attrs['out_features'])}, "
                                      f"bias={py_literal(node.attrs['bias'])})"),
    forward=call_module, fresh=True, describe=lambda attrs: f"linear {attrs['out_features']}",
    weights=lambda node: ("weight", "bias") if node.attrs["bias"] else ("weight",),
    weight_scale="rows",  # a BatchNorm on its tokens (LeViT's LinearNorm) folds into its rows
)


# -- the layer words --------------------------------------------------------------------
def _flatten_source(args, in_ch):
    area = args.ctx.flat_area(args.call)
    if area is None:  # instances on different grids: each instance's own (SourceArgs.per_instance)
        area = args.per_instance("area", lambda shape: shape[1] * shape[2] if len(shape) == 3 else 1)
        note = "x each instance's grid positions, from shape inference"
    elif isinstance(area, str) and area.startswith("_unreached("):
        note = "not in the network for the parameters it was compiled with"
    elif isinstance(area, str):
        note = "x the grid positions of the adaptive pooling"
    else:
        note = f"x {area} grid positions: a size from shape inference, not written in the spec" if area != 1 else ""
    return args.code("nn.Flatten(1)", mul_channels(in_ch, area), note)


_DROPOUT_ARGS = {"p": lambda b, n, s: number(b, n, s, 0.0, 1.0, "the dropout probability")}
_LINEAR_ARGS = {"out": lambda b, n, s: positive_int(b, n, s, "output features"), "bias": boolean}


def _dropout_elaborate(b, bound):
    if not b.unique():
        return None
    return b.add("", Op.DROPOUT, coerced(_DROPOUT_ARGS, bound, b.sink))


def _linear_elaborate(b, bound):
    if not b.unique():
        return None
    v = coerced(_LINEAR_ARGS, bound, b.sink)
    return b.add("", Op.LINEAR, {"out_features": v["out"], "bias": v["bias"]})


def _linear_source(args, in_ch):
    out, bias = args.get("out"), args.get("bias")
    extra = "" if bias.is_(True) else f", bias={bias.src}"
    return args.code(f"nn.Linear({in_ch}, {out.src}{extra})", out.src if out.symbolic else out.value)


register(
    LayerDef(LayerSig("dropout", ("p",), {"p": 0.5}, summary="dropout with probability p"),
             elaborate=_dropout_elaborate,
             source=lambda args, in_ch: args.code(f"nn.Dropout({args.get('p').src})", in_ch),
             head="dropout", args=_DROPOUT_ARGS),
    LayerDef(LayerSig("flatten", summary="(C, H, W) -> (C*H*W)"),
             elaborate=lambda b, bound: b.add("", Op.FLATTEN, {}) if b.unique() else None,
             source=_flatten_source, keeps_channels=False, head="flatten"),
    LayerDef(LayerSig("linear", ("out",), {"out": REQUIRED, "bias": True}, summary="fully connected layer",
                      example="linear(1000)"),
             elaborate=_linear_elaborate, source=_linear_source, keeps_channels=False, head="classifier",
             args=_LINEAR_ARGS,
             doc="needs a flat input (E205)"),
)
