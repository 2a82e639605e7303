"""Multi-head self-attention over the positions of a CxHxW grid with a learned relative
position bias: the IR op and layer word `attention2d(heads, out=none, bias=true,
rel_pos=true, grid=none)`, timm's `Attention2d` (CoAtNet, maxxvit.py) with its parameter
names: `qkv` (1x1 conv C -> 3C, the channels head-first: head h holds q, k, v of its
C/heads channels), `rel_pos.relative_position_bias_table` (((2H-1)(2W-1), heads), timm's
`RelPosBias` over the whole grid) and `proj` (1x1 conv C -> `out`). Computed with
F.scaled_dot_product_attention, the bias as its additive mask.

The table and its index are the relative position bias that Swin's window attention shares
(ops/relpos.py: `RelPosBias` in generated files, `attach_source`/`bias_source` for the
flat forward), built here for the whole input grid.

`grid` is the grid the table is built for: by default the input's; another input grid is
E214. MACs count the two convs and the two matrix products (N*N*C each), which torch's
FlopCounterMode sees under the math SDPA backend. Heads that do not divide the width are E213."""

from __future__ import annotations

from dataclasses import replace

from inception_dsl.core import codes
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.literals import py_literal
from inception_dsl.core.signatures import REQUIRED, LayerSig, boolean, pair, positive_int
from inception_dsl.ir import BOOL, PAIR, POSITIVE, Op, OpKind, fmt_shape
from inception_dsl.ops.base import LayerDef, coerced, heads_divide, register, shape_error, spatial
from inception_dsl.ops.relpos import attach_source, bias_params, bias_source
from inception_dsl.ops.token_params import call_input

__all__ = ["ATTENTION2D"]


register_helper("Attention2d", '''
class Attention2d(nn.Module):
    """Multi-head self-attention over the positions of an NCHW grid, as timm's Attention2d
    (head-first qkv, `qkv`/`proj` 1x1 convs, `rel_pos` a RelPosBias over `grid` or None)."""

    def __init__(self, dim: int, heads: int, out: int = None, bias: bool = True, grid: tuple = None):
        super().__init__()
        if heads < 1 or dim % heads:  # check's E213
            raise ValueError(f"Attention2d: {heads} heads do not divide {dim} channels")
        self.heads, self.head_dim = heads, dim // heads
        self.grid = None if grid is None else (grid, grid) if isinstance(grid, int) else tuple(grid)
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=bias)
        self.rel_pos = RelPosBias(self.grid, heads) if grid is not None else None
        self.proj = nn.Conv2d(dim, out or dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        if self.grid is not None and (H, W) != self.grid:  # check's E214, for a class built here
            raise ValueError(f"Attention2d: the relative position bias is built for a {self.grid[0]}x"
                             f"{self.grid[1]} grid, the input is {H}x{W}")
        q, k, v = self.qkv(x).reshape(B, self.heads, 3 * self.head_dim, H * W).chunk(3, dim=2)
        bias = self.rel_pos() if self.rel_pos is not None else None
        x = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2),
                                           attn_mask=bias)
        return self.proj(x.transpose(-1, -2).reshape(B, C, H, W))
''', needs=("RelPosBias",))


# -- the IR op --------------------------------------------------------------------------
def _grid(node, shape) -> tuple[int, int]:
    grid = node.attrs.get("grid")
    return tuple(grid) if grid is not None else tuple(shape[1:])


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "attention2d"):
        return None
    if not heads_divide(node, shape[0], sink, "attention2d"):
        return None
    grid = node.attrs.get("grid")
    if node.attrs["rel_pos"] and grid is not None and tuple(grid) != tuple(shape[1:]):
        shape_error(sink, node, codes.POS_EMBED_SIZE,
                    f"the relative position bias is built for a {grid[0]}x{grid[1]} grid, but the input is "
                    f"{fmt_shape(shape)}", f"a {shape[1]}x{shape[2]} grid",
                    help=f"write `grid={shape[1]}x{shape[2]}` for this input size")
        return None
    return (node.attrs.get("out") or shape[0], shape[1], shape[2])


def _params(node, in_channels) -> int:
    a, c = node.attrs, in_channels or 0
    out = a.get("out") or c
    table = bias_params(_grid(node, node.shape), a["heads"]) if a["rel_pos"] and node.shape else 0
    return 3 * c * c + c * out + ((3 * c + out) if a["bias"] else 0) + table


def _macs(node, in_shape) -> int:
    channels, h, w = in_shape
    count, out = h * w, node.attrs.get("out") or channels
    return count * channels * (3 * channels + out) + 2 * count * count * channels


def _label(node, members) -> str:
    heads = node.attrs["heads"]
    what = "Relative attention 2D" if node.attrs["rel_pos"] else "Attention 2D"
    if node.shape is None:
        return f"{what} ({heads} heads)"
    h, w = node.shape[1:]
    return f"{what} ({heads} heads, {h}x{w} grid, {node.shape[0]})"


def _module(node, in_channels) -> str:
    a, c = node.attrs, in_channels
    out, bias = a.get("out") or c, py_literal(a["bias"])
    parts = [f'"qkv": nn.Conv2d({c}, {3 * c}, 1, bias={bias})']
    if a["rel_pos"]:
        parts.append(f'"rel_pos": {attach_source("nn.Module()", _grid(node, node.shape), a["heads"])}')
    parts.append(f'"proj": nn.Conv2d({c}, {out}, 1, bias={bias})')
    return f"nn.ModuleDict({{{', '.join(parts)}}})"


def _forward(emitter, node, ins, out) -> list[str]:
    a, x, m = node.attrs, ins[0], f"self.{emitter.attr_of[node.id]}"
    channels, h, w = emitter.graph.node(emitter.graph.inputs(node.id)[0]).shape
    heads, n = a["heads"], h * w
    lines = [f'{out}_q, {out}_k, {out}_v = {m}["qkv"]({x}).reshape(-1, {heads}, {3 * channels // heads}, {n})'
             f".chunk(3, dim=2)"]
    mask = "None"
    if a["rel_pos"]:
        rel_pos = f'{m}["rel_pos"]'
        lines.append(f"{out}_b = {bias_source(rel_pos, n)}.unsqueeze(0)")
        mask = f"{out}_b"
    lines.append(f"{out} = F.scaled_dot_product_attention({out}_q.transpose(-1, -2), {out}_k.transpose(-1, -2), "
                 f"{out}_v.transpose(-1, -2), attn_mask={mask})")
    lines.append(f'{out} = {m}["proj"]({out}.transpose(-1, -2).reshape(-1, {channels}, {h}, {w}))')
    return lines


def _weights(node) -> tuple[str, ...]:
    bias = node.attrs["bias"]
    return (("qkv.weight",) + (("qkv.bias",) if bias else ())
            + (("rel_pos.relative_position_bias_table",) if node.attrs["rel_pos"] else ())
            + ("proj.weight",) + (("proj.bias",) if bias else ()))


def _describe(attrs) -> str:
    return f"2-D attention {attrs['heads']} heads" + (" relpos" if attrs["rel_pos"] else "")


ATTENTION2D = OpKind(
    "attention2d", {"heads": POSITIVE, "out": replace(POSITIVE, optional=True), "bias": BOOL, "rel_pos": BOOL,
                    "grid": replace(PAIR, optional=True)},
    doc="multi-head self-attention over a CxHxW grid's positions with a relative position bias "
        "(timm's Attention2d: qkv, rel_pos, proj)",
    shape=_shape, params=_params, macs=_macs, label=_label, module=_module, forward=_forward, fresh=True,
    weights=_weights, describe=_describe, fill="#fbe3d6",
)


# -- the layer word ---------------------------------------------------------------------
def _optional_positive(what: str):
    return lambda b, n, s: None if b[n] is None else positive_int(b, n, s, what)


def _optional_pair(b, n, s):
    return None if b[n] is None else pair(b, n, s, "the relative position bias's grid")


_ARGS = {"heads": lambda b, n, s: positive_int(b, n, s, "the number of heads"),
         "out": _optional_positive("the output channels"), "bias": boolean, "rel_pos": boolean,
         "grid": _optional_pair}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    attrs = {k: v for k, v in attrs.items() if v is not None}
    return b.add("", Op.ATTENTION2D, attrs) if b.unique() else None


def _source(args, in_ch):
    parts = [str(in_ch), args.get("heads").src]
    out = args.get("out")
    if out.symbolic or out.value is not None:
        parts.append(f"out={out.src}")
    if not args.get("bias").is_(True):
        parts.append(f"bias={args.get('bias').src}")
    rel_pos = args.get("rel_pos")
    if rel_pos.symbolic or rel_pos.value:
        grid = args.get("grid")
        if not grid.symbolic and grid.value is None:  # the input's: each instance's own where they differ
            if not args.ctx.in_shapes(args.call):
                call_input(args, "the grid of its relative position bias")  # located: never reached
            grid = args.text(args.per_instance("grid", lambda shape: tuple(shape[1:])))
        parts.append(f"grid={grid.src}" if not rel_pos.symbolic else f"grid={grid.src} if {rel_pos.src} else None")
    args.helpers.add("Attention2d")
    out_ch = out.src if out.symbolic else out.value if out.value is not None else in_ch
    return args.code(f"Attention2d({', '.join(parts)})", out_ch)


register(LayerDef(
    LayerSig("attention2d", ("heads", "out"), {"heads": REQUIRED, "out": None, "bias": True, "rel_pos": True,
                                               "grid": None},
             summary="multi-head self-attention over a grid with a relative position bias (timm's Attention2d)",
             example="attention2d(4, 64)"),
    elaborate=_elaborate, source=_source, args=_ARGS, keeps_channels=False,
    doc="children `qkv` (1x1 conv to 3C, head-first), `rel_pos.relative_position_bias_table` "
        "((2H-1)(2W-1), heads) and `proj` (1x1 conv to `out`, by default C) as timm's (CoAtNet); "
        "`heads` must divide the channels (E213); `grid`: the grid the bias table is built for, by default the "
        "input's (another input grid is E214); computed with `F.scaled_dot_product_attention`",
))
