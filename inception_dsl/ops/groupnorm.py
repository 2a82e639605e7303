"""Group normalization: the IR op `groupnorm` and the layer word `groupnorm(groups,
eps=1e-5)`, torch's nn.GroupNorm(groups, channels, eps): the channels in `groups` equal
parts, each normalized over its channels and the grid, then a weight and a bias per
channel. The groups must divide the channels (E207, with the nearest divisors)."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import FLOAT, POSITIVE, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import EPS_RANGE, REQUIRED, LayerSig, number, positive_int
from inception_dsl.core.shapes import is_tokens
from inception_dsl.ops.base import LayerDef, coerced, call_module, register, shape_error, spatial

__all__ = ["GROUPNORM", "nearest_divisors"]


def nearest_divisors(n: int, near: int) -> list[int]:
    """The divisors of `n` closest to `near` (one below and one above it, where they exist)."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    below = [d for d in divisors if d < near]
    above = [d for d in divisors if d > near]
    return ([below[-1]] if below else []) + ([above[0]] if above else [])


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if is_tokens(shape) and not spatial(node, shape, sink, "groupnorm"):  # on tokens: E204, with the fix
        return None
    groups, channels = node.attrs["groups"], shape[0]
    if channels % groups:
        fixes = " or ".join(f"`groupnorm({d})`" for d in nearest_divisors(channels, groups))
        shape_error(sink, node, codes.BAD_GROUPS,
                    f"groupnorm groups={groups} must divide its {channels} input channels",
                    f"{channels} channels in {groups} groups",
                    help=f"{fixes}: the divisors of {channels} nearest {groups}")
        return None
    return shape


GROUPNORM = OpKind(
    "groupnorm", {"groups": POSITIVE, "eps": FLOAT}, doc="nn.GroupNorm(groups, channels, eps)",
    shape=_shape,
    params=lambda node, in_channels: 2 * (in_channels or 0),
    label=lambda node, members: f"GroupNorm ({node.attrs['groups']})",
    module=lambda node, in_channels: (f"nn.GroupNorm({py_literal(node.attrs['groups'])}, {py_literal(in_channels)}, "
                                      f"eps={py_literal(node.attrs['eps'])})"),
    forward=call_module, fresh=True,
    weights=lambda node: ("weight", "bias"),
)


def _groups(bound, name, sink) -> int:
    return positive_int(bound, name, sink, "groups")


def _eps(bound, name, sink) -> float:
    return number(bound, name, sink, *EPS_RANGE, "eps")


_ARGS = {"groups": _groups, "eps": _eps}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    return b.add("", Op.GROUPNORM, attrs) if b.unique() else None


def _source(args, in_ch):
    groups, eps = args.get("groups"), args.get("eps")
    return args.code(f"nn.GroupNorm({groups.src}, {in_ch}" + (f", eps={eps.src})" if not eps.is_(1e-5) else ")"),
                     in_ch)


register(LayerDef(LayerSig("groupnorm", ("groups",), {"groups": REQUIRED, "eps": 1e-5},
                           summary="GroupNorm: channels in groups, each normalized", example="groupnorm(32)"),
                  elaborate=_elaborate, source=_source, args=_ARGS,
                  doc="`nn.GroupNorm`; `groups` must divide the channels (E207)"))
