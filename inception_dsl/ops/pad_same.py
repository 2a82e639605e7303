"""TensorFlow's 'SAME' padding, computed from the input size: the IR op `pad_same` that
`conv(..., tf_same)`, `maxpool(..., tf_same)` and `avgpool(..., tf_same)` put before their
window (which then pads nothing). Along an axis of size `i`, a window of `k` at stride `s`
and dilation `d` pads `max((ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0)` in all, the odd
pixel after (timm's `pad_same`, Conv2dSame, MaxPool2dSame, AvgPool2dSame), so the output is
`ceil(i / s)` at every input size: the padding follows the input, where a written
`pad=(0, 1, 0, 1)` is right at one size only. No parameters."""

from __future__ import annotations

from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import PAIR, OpKind, one_of
from inception_dsl.ops.base import dims_text, pair_text, spatial

__all__ = ["PAD_SAME", "same_total", "tf_same_pads"]

FILLS = {"zero": "0.0", "-inf": "float('-inf')"}


def same_total(size: int, kernel: int, stride: int, dilation: int) -> int:
    """The total TF 'SAME' padding along one axis of `size` (timm's get_same_padding)."""
    return max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


def tf_same_pads(attrs, hw) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) at the input grid `hw`: the odd pixel after."""
    th, tw = (same_total(hw[i], attrs["kernel"][i], attrs["stride"][i], attrs["dilation"][i]) for i in (0, 1))
    return (th // 2, th - th // 2, tw // 2, tw - tw // 2)


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "TF 'same' padding"):
        return None
    top, bottom, left, right = tf_same_pads(node.attrs, shape[1:])
    return (shape[0], shape[1] + top + bottom, shape[2] + left + right)


def _axis(x: str, axis: int, kernel: int, stride: int, dilation: int) -> str:
    # ceil(i / s) as (i + s - 1) // s: ONNX's integer Div truncates, so the TorchScript
    # exporter's trace of -(-i // s) is the floor, a pixel short at odd sizes
    size = f"{x}.shape[{axis}]"
    return f"max((({size} + {stride - 1}) // {stride} - 1) * {stride} + {(kernel - 1) * dilation + 1} - {size}, 0)"


def _forward(emitter, node, ins, out) -> list[str]:
    a, x = node.attrs, ins[0]
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a["dilation"]
    return [f"{out}_h = {_axis(x, -2, kh, sh, dh)}", f"{out}_w = {_axis(x, -1, kw, sw, dw)}",
            f"{out} = F.pad({x}, ({out}_w // 2, {out}_w - {out}_w // 2, {out}_h // 2, {out}_h - {out}_h // 2), "
            f"value={FILLS[a['fill']]})"]


def _label(node, members) -> str:
    a = node.attrs
    details = [f"stride {pair_text(a['stride'])}"] if a["stride"] != (1, 1) else []
    details += [f"dilation {pair_text(a['dilation'])}"] if a["dilation"] != (1, 1) else []
    return f"TF same pad ({' '.join([dims_text(a['kernel'])] + details)})"


PAD_SAME = OpKind(
    "pad_same", {"kernel": PAIR, "stride": PAIR, "dilation": PAIR, "fill": one_of(*FILLS)},
    doc="TensorFlow's 'SAME' padding of the window that reads it (kernel, stride, dilation), computed from the "
        "input size in forward; the odd pixel after; `fill` zero (conv, avgpool) or -inf (maxpool)",
    shape=_shape, label=_label, forward=_forward, fresh=True, fill="#eeeeee",
    follows=lambda a: "pads from its input's size (TF same)",
    describe=lambda a: f"TF same pad {dims_text(a['kernel'])}" + (f" stride {pair_text(a['stride'])}"
                                                                   if a["stride"] != (1, 1) else ""),
)


# -- the standalone file's helpers (a conv's or a pool's module pads in its forward) ------
PAD_SAME_FN = '''
def _pad_same(x: torch.Tensor, kernel_size, stride, dilation=(1, 1), value: float = 0.0) -> torch.Tensor:
    """TensorFlow's SAME padding at x's size (timm's pad_same): along each axis
    max((ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0) in all, the odd pixel after."""
    ih, iw = x.shape[-2:]  # ceil(i / s) as (i + s - 1) // s: ONNX's integer Div truncates
    ph = max(((ih + stride[0] - 1) // stride[0] - 1) * stride[0] + (kernel_size[0] - 1) * dilation[0] + 1 - ih, 0)
    pw = max(((iw + stride[1] - 1) // stride[1] - 1) * stride[1] + (kernel_size[1] - 1) * dilation[1] + 1 - iw, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=value)


torch.fx.wrap("_pad_same")
'''

CONV_SAME = '''
class ConvSame(ConvAct):
    """A conv with TensorFlow's SAME padding computed from the input size in forward
    (`tf_same`, timm's Conv2dSame): an nn.Conv2d (same state_dict keys) without padding of
    its own, then its activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, act: str = "identity"):
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad_same(x, self.kernel_size, self.stride, self.dilation)
        return _activate(self._conv_forward(x, self.weight, self.bias), self.act, True)
'''

CONV_BN_ACT_SAME = '''
class ConvBnActSame(ConvBnAct):
    """ConvBnAct whose conv is a ConvSame (TensorFlow's SAME padding, from the input size)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = False, eps: float = 1e-5,
                 momentum: float = 0.1, act: str = "relu"):
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, eps,
                         momentum, act)
        self.conv = ConvSame(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias)
'''
POOL_SAME = '''
class {name}Same(nn.{name}):
    """nn.{name} after TensorFlow's SAME padding computed from the input size (`tf_same`,
    timm's {name}Same: {fill} padding)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = _pair(self.kernel_size), _pair(self.stride)
        return super().forward(_pad_same(x, kernel, stride, (1, 1), {value}))
'''

PAIR_FN = '''
def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)
'''
register_helper("_pad_same", PAD_SAME_FN)
register_helper("_pair", PAIR_FN)
register_helper("MaxPool2dSame", POOL_SAME.format(name="MaxPool2d", fill="-inf", value="float('-inf')"), ("_pad_same", "_pair"))
register_helper("AvgPool2dSame", POOL_SAME.format(name="AvgPool2d", fill="zero", value="0.0"), ("_pad_same", "_pair"))
register_helper("ConvSame", CONV_SAME, ("ConvAct", "_pad_same", "_activate"))
register_helper("ConvBnActSame", CONV_BN_ACT_SAME, ("ConvBnAct", "ConvSame"))
