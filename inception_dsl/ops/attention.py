"""Multi-head self-attention over tokens: the IR op and layer word `attention(heads,
qkv_bias=true, qk_norm=false, attn_drop=0.0, proj_drop=0.0, eps=1e-6, proj_bias=true)`, timm's `Attention`
with its parameter names: `qkv` (Linear C -> 3C), `q_norm` and `k_norm` (LayerNorm over a
head's channels, with `qk_norm`), `proj` (Linear C -> C). Computed with
F.scaled_dot_product_attention, as timm does.

MACs count the two projections and the two matrix products (N*N*C each), which torch's
FlopCounterMode sees under the math SDPA backend (`sdpa_kernel(SDPBackend.MATH)`); the
fused CPU kernel is invisible to it. Heads that do not divide the width are E213."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import BOOL, FLOAT, POSITIVE, Op, OpKind
from inception_dsl.core import codes
from inception_dsl.core.signatures import EPS_RANGE, REQUIRED, LayerSig, boolean, number, positive_int
from inception_dsl.ops.base import LayerDef, on_tokens, register, shape_error

__all__ = ["ATTENTION"]


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not on_tokens(node, shape, sink, "attention"):
        return None
    heads, width = node.attrs["heads"], shape[0]
    if width % heads:
        divisors = [d for d in range(1, width + 1) if width % d == 0]
        near = sorted(divisors, key=lambda d: (abs(d - heads), d))[:2]
        shape_error(sink, node, codes.BAD_HEADS, f"attention with {heads} heads needs a width divisible by "
                    f"{heads}, got {width} channels", f"{width} channels",
                    help=f"use {' or '.join(f'`heads={d}`' for d in sorted(near))} "
                    f"(the divisors of {width}: {', '.join(map(str, divisors))})")
        return None
    return shape


def _params(node, in_channels) -> int:
    a, c = node.attrs, in_channels or 0
    norms = 4 * (c // a["heads"]) if a["qk_norm"] else 0
    return 3 * c * c + (3 * c if a["qkv_bias"] else 0) + c * c + (c if a["proj_bias"] else 0) + norms


def _macs(node, in_shape) -> int:
    channels, count = in_shape
    return 4 * count * channels * channels + 2 * count * count * channels


def _label(node, members) -> str:
    heads = node.attrs["heads"]
    if node.shape is None:
        return f"Multi-head attention ({heads} heads)"
    return f"Multi-head attention ({heads} heads x {node.shape[0] // heads}, {node.shape[0]})"


def _norm(node, width: int) -> str:
    if not node.attrs["qk_norm"]:
        return "nn.Identity()"
    return f"nn.LayerNorm({width}, eps={py_literal(node.attrs['eps'])})"


def _module(node, in_channels) -> str:
    a, c = node.attrs, in_channels
    head = c // a["heads"]
    return (f'nn.ModuleDict({{"qkv": nn.Linear({c}, {3 * c}, bias={py_literal(a["qkv_bias"])}), '
            f'"q_norm": {_norm(node, head)}, "k_norm": {_norm(node, head)}, '
            f'"proj": nn.Linear({c}, {c}, bias={py_literal(a["proj_bias"])})}})')


def _forward(emitter, node, ins, out) -> list[str]:
    a, x, m = node.attrs, ins[0], f"self.{emitter.attr_of[node.id]}"
    channels, count = node.shape
    heads = a["heads"]
    lines = [f'{out}_q, {out}_k, {out}_v = {m}["qkv"]({x}).reshape(-1, {count}, 3, {heads}, {channels // heads})'
             f".permute(2, 0, 3, 1, 4).unbind(0)"]
    if a["qk_norm"]:
        lines.append(f'{out}_q, {out}_k = {m}["q_norm"]({out}_q), {m}["k_norm"]({out}_k)')
    drop = f"{py_literal(float(a['attn_drop']))} if self.training else 0.0" if a["attn_drop"] else "0.0"
    lines.append(f"{out} = F.scaled_dot_product_attention({out}_q, {out}_k, {out}_v, dropout_p={drop})")
    lines.append(f'{out} = {m}["proj"]({out}.transpose(1, 2).reshape(-1, {count}, {channels}))')
    if a["proj_drop"]:
        lines.append(f"{out} = F.dropout({out}, {py_literal(float(a['proj_drop']))}, self.training)")
    return lines


def _weights(node) -> tuple[str, ...]:
    a = node.attrs
    return (("qkv.weight",) + (("qkv.bias",) if a["qkv_bias"] else ())
            + (("q_norm.weight", "q_norm.bias", "k_norm.weight", "k_norm.bias") if a["qk_norm"] else ())
            + ("proj.weight",) + (("proj.bias",) if a["proj_bias"] else ()))


ATTENTION = OpKind(
    "attention", {"heads": POSITIVE, "qkv_bias": BOOL, "qk_norm": BOOL, "attn_drop": FLOAT, "proj_drop": FLOAT,
                  "eps": FLOAT, "proj_bias": BOOL},
    doc="multi-head self-attention over tokens (timm's Attention: qkv, q_norm, k_norm, proj)",
    shape=_shape, params=_params, macs=_macs, label=_label, module=_module, forward=_forward, fresh=True,
    weights=_weights, fill="#fbe3d6",
)

register_helper("Attention", '''
class Attention(nn.Module):
    """Multi-head self-attention on (B, N, C) tokens, as timm's Attention (parameter names
    `qkv`, `q_norm`, `k_norm`, `proj`), computed with F.scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True, qk_norm: bool = False,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, eps: float = 1e-6, proj_bias: bool = True):
        super().__init__()
        if heads < 1 or dim % heads:  # check's E213; a class built here with other widths refuses them too
            raise ValueError(f"Attention: {heads} heads do not divide {dim} channels")
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.q_norm = nn.LayerNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))
''')


# -- the layer word ---------------------------------------------------------------------
def _drop(bound, name, sink) -> float:
    return number(bound, name, sink, 0.0, 1.0, "a dropout probability")


def _eps(bound, name, sink) -> float:
    return number(bound, name, sink, *EPS_RANGE, "eps")


def _elaborate(b, bound):
    attrs = {"heads": positive_int(bound, "heads", b.sink, "the number of heads"),
             "qkv_bias": boolean(bound, "qkv_bias", b.sink), "qk_norm": boolean(bound, "qk_norm", b.sink),
             "attn_drop": _drop(bound, "attn_drop", b.sink), "proj_drop": _drop(bound, "proj_drop", b.sink),
             "eps": _eps(bound, "eps", b.sink), "proj_bias": boolean(bound, "proj_bias", b.sink)}
    return b.add("", Op.ATTENTION, attrs) if b.unique() else None


_DEFAULTS = {"qkv_bias": True, "qk_norm": False, "attn_drop": 0.0, "proj_drop": 0.0, "eps": 1e-6, "proj_bias": True}
_COERCE = {"qkv_bias": boolean, "qk_norm": boolean, "attn_drop": _drop, "proj_drop": _drop, "eps": _eps,
           "proj_bias": boolean}


def _source(args, in_ch):
    heads = args.get("heads", lambda b, n, s: positive_int(b, n, s, "the number of heads"))
    parts = [str(in_ch), heads.src]
    for name, default in _DEFAULTS.items():
        arg = args.get(name, _COERCE[name])
        if not arg.is_(default):
            parts.append(f"{name}={arg.src}")
    args.helpers.add("Attention")
    return args.code(f"Attention({', '.join(parts)})", in_ch)


register(LayerDef(
    LayerSig("attention", ("heads",), {"heads": REQUIRED, **_DEFAULTS},
             summary="multi-head self-attention over tokens (timm's Attention)", example="attention(3)"),
    elaborate=_elaborate, source=_source,
    doc="children `qkv`, `q_norm`, `k_norm`, `proj` as timm's; computed with `F.scaled_dot_product_attention`; "
        "`heads` must divide the channels (E213); `eps` is the q/k LayerNorm's",
))
