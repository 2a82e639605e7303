"""Convolution: the IR op `conv` (nn.Conv2d) and the layer word `conv(out, kernel, ...)`,
the paper's traditional layer: a convolution, BatchNorm (`bn=true`, the default) and an
activation (the file's `act` setting unless written). `linear` (the flag) is a plain
convolution with a bias and no activation."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import BOOL, PADDING, PAIR, POSITIVE, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import PAD_FLAGS, REQUIRED, LayerSig, boolean, is_tf_same, pair, padding, positive_int
from inception_dsl.core.shapes import conv2d_out
from inception_dsl.core.values import ListValue, Symbol
from inception_dsl.ops.mixed_conv import elaborate_mixed, kernel_list
from inception_dsl.ops.activations import ACTIVATIONS, act_attrs, activation, is_identity
from inception_dsl.ops.base import (LayerDef, coerced, dims_text, pair_text, padding_words, register, shape_error, size, spatial,
                                    stride_words, symmetric)

__all__ = ["CONV", "too_small"]


# -- the IR op ------------------------------------------------------------------------
def too_small(sink, node, hw, out, what: str) -> None:
    kernel = "x".join(map(str, node.attrs["kernel"]))
    shape_error(sink, node, codes.SIZE_TOO_SMALL,
                f"{what} output size would be {out[0]}x{out[1]}: its {kernel} window does not fit the {hw[0]}x{hw[1]} input",
                f"input is {hw[0]}x{hw[1]}", help="pad the input (`pad=same`), or use a smaller kernel or stride")


def _window(attrs, hw):
    return conv2d_out(hw, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"])


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "a conv"):
        return None
    a = node.attrs
    channels, h, w = shape
    if channels % a["groups"] or a["out_channels"] % a["groups"]:
        shape_error(sink, node, codes.BAD_GROUPS,
                    f"conv groups={a['groups']} must divide both its {channels} input and {a['out_channels']} output channels",
                    f"groups={a['groups']}")
        return None
    out = _window(a, (h, w))
    if min(out) < 1:
        too_small(sink, node, (h, w), out, "conv")
        return None
    return (a["out_channels"], *out)


def _params(node, in_channels) -> int:
    a = node.attrs
    kh, kw = a["kernel"]
    return a["out_channels"] * (in_channels // a["groups"]) * kh * kw + (a["out_channels"] if a["bias"] else 0)


def _macs(node, in_shape) -> int:
    kh, kw = node.attrs["kernel"]
    return size(node.shape) * (in_shape[0] // node.attrs["groups"]) * kh * kw


def _label(node, members) -> str:
    """`1x7 Conv (192)`, `3x3 Conv (256 stride 2 V)`; the BN and activation of the layer
    (`members`) are part of the box."""
    a = node.attrs
    acts = [m.attrs["kind"] for m in members if m.op is Op.ACT]
    act = acts[0] if acts else "identity"
    bn = any(m.op is Op.BN for m in members)
    (kh, kw), details = a["kernel"], [str(a["out_channels"])]
    if a["stride"] != (1, 1):
        details.append(f"stride {pair_text(a['stride'])}")
    details.extend(padding_words(a["kernel"], a["padding"], a["dilation"]))
    if a["dilation"] != (1, 1):
        details.append(f"dilation {pair_text(a['dilation'])}")
    if a["groups"] != 1:
        details.append(f"groups {a['groups']}")
    if not bn and act == "identity":
        details.append("Linear")
    label = f"{kh}x{kw} Conv ({' '.join(details)})"
    return label + (f"\n+ {ACTIVATIONS[act].label}" if act not in ("relu", "identity") else "")


def _module(node, in_channels: int) -> str:
    a = node.attrs
    pad = symmetric(a["padding"]) or (0, 0)
    args = (in_channels, a["out_channels"], tuple(a["kernel"]), tuple(a["stride"]), pad, tuple(a["dilation"]),
            a["groups"], a["bias"])
    return f"nn.Conv2d({', '.join(py_literal(v) for v in args)})"


def _forward(emitter, node, ins, out) -> list[str]:
    lines, x = emitter.pad(node, ins[0], "0.0")
    return lines + [f"{out} = self.{emitter.attr_of[node.id]}({x})"]


CONV = OpKind(
    "conv",
    {"out_channels": POSITIVE, "kernel": PAIR, "stride": PAIR, "padding": PADDING, "dilation": PAIR,
     "groups": POSITIVE, "bias": BOOL},
    doc="nn.Conv2d; padding (top, bottom, left, right), asymmetric padding applied by F.pad",
    shape=_shape, params=_params, macs=_macs, label=_label, module=_module, forward=_forward, sliding=True,
    fresh=True, weights=lambda node: ("weight", "bias") if node.attrs["bias"] else ("weight",), weight_scale="rows",
    describe=lambda a: " ".join([f"{dims_text(a['kernel'])} conv {a['out_channels']}", *stride_words(a["stride"])]
                                + ([] if a.get("batchnorm") else ["no BN"])),
)


# -- the layer word -------------------------------------------------------------------
def _settle(values, settings, call) -> None:
    if values["act"][0] is None:
        values["act"] = (settings["act"], call.span)
    if values["bias"][0] is None:
        values["bias"] = (settings["conv_bias"] if values["bn"][0] else True, call.span)


_ARGS = {"out": lambda b, n, s: positive_int(b, n, s, "output channels"),
         "kernel": lambda b, n, s: kernel_list(b, n, s) if isinstance(b[n], ListValue) else pair(b, n, s, "the kernel size"),
         "stride": lambda b, n, s: pair(b, n, s, "the stride"),
         "dilation": lambda b, n, s: pair(b, n, s, "the dilation"),
         "groups": lambda b, n, s: positive_int(b, n, s, "groups"),
         "bias": boolean, "bn": boolean, "act": activation}


def _elaborate(b, bound):
    v = coerced(_ARGS, bound, b.sink)
    bn, act = v["bn"], v["act"]
    if isinstance(v["kernel"], ListValue):  # one kernel per channel group (ops/mixed_conv.py)
        y = elaborate_mixed(b, bound, v, "conv" if bn else "") if b.unique("conv" if bn else "") else None
        return _norm_act(b, y, bn, act) if y is not None else None
    dynamic = is_tf_same(bound) and v["stride"] != (1, 1)  # at stride 1 TF's SAME is `same` at every size
    attrs = {"out_channels": v["out"], "kernel": v["kernel"], "stride": v["stride"],
             "padding": (0, 0, 0, 0) if dynamic else padding(bound, b.sink, v["kernel"], v["dilation"]),
             "dilation": v["dilation"], "groups": v["groups"], "bias": v["bias"]}
    if not b.unique("conv" if bn else ""):
        return None
    if dynamic:
        b.add("pad", Op.PAD_SAME, {"kernel": v["kernel"], "stride": v["stride"], "dilation": v["dilation"], "fill": "zero"})
    return _norm_act(b, b.add("conv" if bn else "", Op.CONV, attrs), bn, act)


def _norm_act(b, y, bn: bool, act):
    if bn:
        y = b.add("bn", Op.BN, {"eps": b.settings["bn_eps"], "momentum": b.settings["bn_momentum"]})
    if not is_identity(act):
        y = b.add("act", Op.ACT, act_attrs(act))
    return y


def _is_same(bound) -> bool:
    return isinstance(bound["pad"], Symbol) and bound["pad"].name in ("same", "tf_same")


def _source(args, in_ch):
    """`ConvBnAct(...)` with BN, `nn.Conv2d(...)` without (or `ConvAct` when it pads
    asymmetrically or has an activation); both when a parameter decides `bn`. With
    `tf_same` at a stride, `ConvBnActSame` / `ConvSame` (the padding computed in forward)."""
    bound = args.bound
    out, kernel, dilation, stride, groups = (args.get(name) for name in ("out", "kernel", "dilation", "stride", "groups"))
    dynamic = is_tf_same(bound) and not stride.is_((1, 1)) and not args.is_symbolic("pad")
    mixed = isinstance(kernel.value, ListValue)
    # a block parameter may bind a kernel list in one call and one kernel in another: the class is chosen when built
    listable = kernel.symbolic and kernel.src.isidentifier() and not dynamic and not args.is_symbolic("pad")
    pad = args.value((0, 0, 0, 0)) if dynamic else _pad_arg(args, kernel, dilation) if not (mixed or listable) else \
        args.text(args.expr("pad") if args.is_symbolic("pad") else args.literal(bound["pad"]))
    bias, bn = args.get("bias"), args.get("bn")
    if bn.symbolic and bound.span("bias") == args.call.span:
        # an unwritten bias follows bn (the conv's settle): the file's conv_bias with BN, else a bias
        bias = args.value(True) if args.ctx.settings["conv_bias"] else args.text(f"not {_paren(bn.src)}")
    act = args.get("act", literal=lambda kind: args.literal(Symbol(kind)))
    options = [("stride", stride, (1, 1)), ("padding", pad, (0, 0, 0, 0)), ("dilation", dilation, (1, 1)),
               ("groups", groups, 1)]
    common = [str(in_ch), out.src, kernel.src] + [f"{k}={v.src}" for k, v, default in options if not v.is_(default)]
    settings = args.ctx.settings
    bn_parts = common + ([f"bias={bias.src}"] if not bias.is_(False) else [])
    bn_parts += [f"eps={py_literal(settings['bn_eps'])}"] if settings["bn_eps"] != 1e-5 else []
    bn_parts += [f"momentum={py_literal(settings['bn_momentum'])}"] if settings["bn_momentum"] != 0.1 else []
    bn_parts += [f"act={act.src}"] if not act.is_("relu") else []
    bn_class, plain_class = ("ConvBnActSame", "ConvSame") if dynamic else ("ConvBnActMixed", "MixedConv") if mixed \
        else ("ConvBnAct", "ConvAct")
    if listable:
        args.helpers.update({"ConvBnActMixed", "MixedConv", "ConvBnAct", "ConvAct"})
        chosen = f"isinstance({kernel.src}, list)"
        bn_class, plain_class = (f"(ConvBnActMixed if {chosen} else ConvBnAct)", f"(MixedConv if {chosen} else ConvAct)")
    if args.is_symbolic("pad"):  # a parameter may say `tf_same`: the class is chosen when the module is built
        args.helpers.update({"ConvBnActSame", "ConvSame"})
        chosen = f"{_paren(args.expr('pad'))} == 'tf_same'"
        bn_class, plain_class = (f"(ConvBnActSame if {chosen} else ConvBnAct)", f"(ConvSame if {chosen} else ConvAct)")
    with_bn = f"{bn_class}({', '.join(bn_parts)})"
    plain_parts = common + ([f"bias={bias.src}"] if not bias.is_(True) else [])
    if act.is_("identity") and not pad.symbolic and not dynamic and not mixed and not listable and symmetric(pad.value):
        without_bn, plain_helpers = f"nn.Conv2d({', '.join(plain_parts)})", set()
    else:
        act_part = [f"act={act.src}"] if not act.is_("identity") else []
        without_bn, plain_helpers = f"{plain_class}({', '.join(plain_parts + act_part)})", {plain_class}
    channels = out.value if not out.symbolic else out.src
    if bn.is_(True):
        args.helpers.add(bn_class.strip("(").split()[0])
        return args.code(with_bn, channels)
    if bn.is_(False):
        args.helpers.update(h.strip("(").split()[0] for h in plain_helpers)
        return args.code(without_bn, channels)
    args.helpers.update({bn_class.strip("(").split()[0], plain_class.strip("(").split()[0]})
    return args.code(f"{with_bn} if {bn.src} else {without_bn}", channels)


def _pad_arg(args, kernel, dilation):
    """The padding written (a value), or the source that computes it when a parameter decides it."""
    bound = args.bound
    if args.is_symbolic("pad") or (_is_same(bound) and (kernel.symbolic or dilation.symbolic)):
        args.helpers.add("_padding")
        pad_src = args.expr("pad") if args.is_symbolic("pad") else args.literal(bound["pad"])
        return args.text(f"_padding({pad_src}, {kernel.src}, {dilation.src})")
    return args.value(padding(bound, args.sink, kernel.value or (1, 1), dilation.value or (1, 1)))


def _paren(src: str) -> str:
    return src if src.isidentifier() else f"({src})"


register(LayerDef(
    LayerSig("conv", ("out", "kernel"),
             {"out": REQUIRED, "kernel": (1, 1), "stride": 1, "pad": Symbol("same"), "dilation": 1, "groups": 1,
              "bias": None, "bn": True, "act": None},
             {**PAD_FLAGS, "linear": {"bn": False, "act": Symbol("identity"), "bias": True}},
             "the paper's traditional layer: convolution, BatchNorm, activation", "conv(64, 3x3)", _settle,
             lists=("kernel",)),
    elaborate=_elaborate, source=_source, keeps_channels=False, args=_ARGS,
    doc="Conv2d → BatchNorm → activation; `kernel`: `3x3`, `1x7`, `7x1`, an integer, or `(1, n)`. `bias` defaults to "
        "the file's `conv_bias` with BN and `true` without; `act` to the file's `act`. Flags: `valid`, `same`, and "
        "`linear` (no BN, no activation, with bias: the residual up-projection); `tf_same`: TensorFlow's SAME, "
        "computed from the input size (timm's Conv2dSame); a kernel list `[3x3, 5x5, 7x7]` is one kernel per "
        "channel group (MixNet's mixed conv, ops/mixed_conv.py)",
))
