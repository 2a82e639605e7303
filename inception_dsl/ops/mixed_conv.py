"""A conv with one kernel per channel group, written with a list argument:
`conv(out, [3x3, 5x5, 7x7], groups=out)` is MixNet's mixed depthwise conv (timm's
MixedConv2d): the input's channels split into one group per kernel (equal parts, the first
taking the remainder, timm's `_split_channels`), each group convolved with its kernel
(depthwise when `groups` is the channel count, else a full conv), the outputs concatenated,
then the layer's BatchNorm and activation. IR: a `slice` per group, a `conv` per group
(`<layer>.conv.0`, `.1`, ... as timm's `conv_dw.0`), a `concat`. The kernel list is checked
here: a list of the wrong length for the channels (more kernels than channels), a bad size in
it, groups that are neither 1 nor depthwise, or `tf_same` are E105, located."""

from __future__ import annotations

from inception_dsl.core import codes
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.signatures import is_tf_same, padding
from inception_dsl.core.values import EvalError, ListValue, describe
from inception_dsl.ir import Op

__all__ = ["kernel_list", "elaborate_mixed", "split_channels"]


def split_channels(channels: int, parts: int) -> list[int]:
    """timm's _split_channels: equal parts, the first takes the remainder."""
    sizes = [channels // parts] * parts
    sizes[0] += channels - sum(sizes)
    return sizes


def kernel_list(bound, name: str, sink) -> ListValue:
    """`[3x3, 5, (1, 7)]` -> ListValue of (h, w) pairs (E105 on anything else)."""
    value, kernels = bound[name], []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            kernels.append((item, item))
        elif isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, int) and v >= 1 for v in item):
            kernels.append(tuple(item))
        else:
            sink.emit(codes.BAD_ARG_TYPE, f"each kernel of the list must be a size like `3x3`, not {describe(item)}",
                      bound.span(name), "not a kernel size", help="e.g. `kernel=[3x3, 5x5, 7x7]`")
            raise EvalError()
    if not kernels:
        sink.emit(codes.BAD_ARG_TYPE, "a kernel list needs at least one kernel", bound.span(name), "empty list",
                  help="e.g. `kernel=[3x3, 5x5]`")
        raise EvalError()
    return ListValue(kernels)


def _refuse(b, bound, name: str, message: str, label: str, help: str) -> None:
    b.sink.emit(codes.BAD_ARG_TYPE, message, bound.span(name), label, help=help)
    raise EvalError()


def _plan(b, bound, v, channels: int):
    """(input parts, output parts, groups of each part), checked against the channels."""
    kernels, out, groups = v["kernel"], v["out"], v["groups"]
    n = len(kernels)
    if n > min(channels, out):
        _refuse(b, bound, "kernel", f"a list of {n} kernels splits the channels into {n} groups, but the conv has "
                f"{channels} input and {out} output channels", f"{n} kernels",
                f"give at most {min(channels, out)} kernels (one per group of channels)")
    if groups not in (1, channels) or (groups != 1 and channels != out):
        _refuse(b, bound, "groups" if bound.span("groups") != b.call.span else "kernel",
                f"a kernel list takes groups=1 or a depthwise conv (groups = {channels} = the output channels), "
                f"not groups={groups}", "groups", f"write `groups={channels}` (depthwise) or leave groups out")
    if is_tf_same(bound):
        _refuse(b, bound, "pad", "`tf_same` is not taken with a kernel list", "tf_same",
                help="use `same` (each group pads for its kernel)")
    ins, outs = split_channels(channels, n), split_channels(out, n)
    return ins, outs, [o if groups != 1 else 1 for o in outs]


def elaborate_mixed(b, bound, v, base: str):
    """The slices, per-group convs and concat of a mixed conv (v: the coerced arguments);
    returns the concat's id (the layer's BN and activation follow it)."""
    shape = b.in_shape()
    if shape is None or len(shape) != 3:
        return None  # shape inference reports why
    ins, outs, groups = _plan(b, bound, v, shape[0])
    x, parts, start = b.last, [], 0
    prefix = f"{base}." if base else ""
    for i, (cin, cout, kernel) in enumerate(zip(ins, outs, v["kernel"])):
        piece = b.add_from(f"{prefix}split{i}", Op.SLICE, {"start": start, "stop": start + cin}, [x])
        attrs = {"out_channels": cout, "kernel": kernel, "stride": v["stride"],
                 "padding": padding(bound, b.sink, kernel, v["dilation"]), "dilation": v["dilation"],
                 "groups": groups[i], "bias": v["bias"]}
        parts.append(b.add_from(f"{prefix}{i}", Op.CONV, attrs, [piece]))
        start += cin
    if any(p is None for p in parts):
        return None
    return b.add_from(f"{prefix}cat", Op.CONCAT, {"reduction": False, "fork": x}, parts)


MIXED_CONV = '''
def _split_channels(channels: int, parts: int) -> list:
    sizes = [channels // parts] * parts
    sizes[0] += channels - sum(sizes)
    return sizes


class MixedConv(nn.ModuleDict):
    """A conv with one kernel per channel group (a list `kernel=[3x3, 5x5]`, timm's
    MixedConv2d): the input split into one group per kernel (the first takes the remainder),
    each group convolved (depthwise when groups is the channel count), outputs concatenated,
    then the activation. Children `0`, `1`, ... are the groups' convs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding="same",
                 dilation=1, groups: int = 1, bias: bool = True, act: str = "identity"):
        super().__init__()
        ins, outs = _split_channels(in_channels, len(kernel_size)), _split_channels(out_channels, len(kernel_size))
        for i, (cin, cout, kernel) in enumerate(zip(ins, outs, kernel_size)):
            self[str(i)] = ConvAct(cin, cout, kernel, stride, padding, dilation, cout if groups != 1 else 1, bias)
        self.splits, self.act, self.out_channels = ins, act, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.splits, 1)
        return _activate(torch.cat([conv(part) for conv, part in zip(self.values(), parts)], 1), self.act, True)
'''

CONV_BN_ACT_MIXED = '''
class ConvBnActMixed(ConvBnAct):
    """ConvBnAct whose conv is a MixedConv (a kernel list)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding="same",
                 dilation=1, groups: int = 1, bias: bool = False, eps: float = 1e-5,
                 momentum: float = 0.1, act: str = "relu"):
        super().__init__(in_channels, out_channels, 1, 1, 0, 1, 1, bias, eps, momentum, act)
        self.conv = MixedConv(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
'''
register_helper("MixedConv", MIXED_CONV, ("ConvAct", "_padding", "_activate"))
register_helper("ConvBnActMixed", CONV_BN_ACT_MIXED, ("ConvBnAct", "MixedConv"))
