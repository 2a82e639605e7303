"""Channel shuffle: the IR op and layer word `channel_shuffle(groups)`, ShuffleNet's
permutation of channels between groups, computed as torchvision's shufflenetv2
`channel_shuffle`: view (N, groups, C/groups, H, W), swap the two channel axes, flatten
them back. Channel i*(C/groups) + j moves to j*groups + i. No parameters, no MACs."""

from __future__ import annotations

from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.literals import py_literal
from inception_dsl.ir import POSITIVE, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import REQUIRED, LayerSig, positive_int
from inception_dsl.ops.base import LayerDef, coerced, register, shape_error, spatial

__all__ = ["CHANNEL_SHUFFLE"]


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "channel_shuffle"):
        return None
    groups, channels = node.attrs["groups"], shape[0]
    if channels % groups:
        fits = [g for g in range(2, min(channels, 8) + 1) if channels % g == 0]
        shape_error(sink, node, codes.BAD_GROUPS,
                    f"channel_shuffle groups={groups} must divide its {channels} input channels",
                    f"{channels} channels do not split into {groups} groups",
                    help=(f"use groups={fits[0]}" + (f" (or {', '.join(map(str, fits[1:]))})" if fits[1:] else "")
                          if fits else "give the layer before it a channel count divisible by the groups")
                    + f", or make the input channels a multiple of {groups}")
        return None
    return shape


def _forward(emitter, node, ins, out) -> list[str]:
    """torchvision's channel_shuffle with the sizes shape inference knows; `reshape`
    copies (as its `.contiguous().view`) unless one of the two groupings is trivial."""
    channels, h, w = node.shape
    groups = node.attrs["groups"]
    sizes = ", ".join(py_literal(v) for v in (groups, channels // groups, h, w))
    return [f"{out} = {ins[0]}.view(-1, {sizes}).transpose(1, 2).reshape(-1, {channels}, {h}, {w})"]


CHANNEL_SHUFFLE = OpKind(
    "channel_shuffle", {"groups": POSITIVE}, doc="ShuffleNet's channel shuffle between `groups` groups",
    shape=_shape, label=lambda node, members: f"Channel Shuffle (groups {node.attrs['groups']})",
    forward=_forward, fresh=lambda emitter, node: 1 < node.attrs["groups"] < node.shape[0], alias=True,
    fill="#f3e6f7",
)


_ARGS = {"groups": lambda b, n, s: positive_int(b, n, s, "channel_shuffle groups")}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    return b.add("", Op.CHANNEL_SHUFFLE, attrs) if b.unique() else None


def _source(args, in_ch):
    groups = args.get("groups")
    args.helpers.add("ChannelShuffle")
    return args.code(f"ChannelShuffle({groups.src})", in_ch)


register_helper("ChannelShuffle", '''
class ChannelShuffle(nn.Module):
    """torchvision's shufflenetv2 channel_shuffle as a module: view (N, groups, C/groups, H, W),
    swap the two channel axes, flatten them back (nn.ChannelShuffle computes the same, but
    the legacy ONNX exporter has no symbolic for it)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.size()
        x = x.view(batch, self.groups, channels // self.groups, height, width)
        return torch.transpose(x, 1, 2).contiguous().view(batch, channels, height, width)
''')


register(LayerDef(
    LayerSig("channel_shuffle", ("groups",), {"groups": REQUIRED},
             summary="ShuffleNet's channel shuffle (torchvision's channel_shuffle)", example="channel_shuffle(2)"),
    elaborate=_elaborate, source=_source, args=_ARGS,
    doc="channel `i` of group `g` moves to `i·groups + g`; channels must divide by `groups` (E207)",
))
