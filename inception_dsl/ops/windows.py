"""Shifted-window attention and patch merging (Swin, Liu et al. 2021), as timm's
`SwinTransformerBlock._attn` and `PatchMerging` compute them: the IR ops and layer words
`window_attention(heads, window=7, shift=0, qkv_bias=true, attn_drop=0.0, proj_drop=0.0)`
and `merge_patches`.

Both work on tokens that remember their grid: (B, H*W, C) in row order, which is timm's
NHWC (B, H, W, C) tensor viewed flat, so no copy is made between them.

`window_attention` is one W-MSA (`shift=0`) or SW-MSA (`shift` > 0, the paper's
window // 2) layer: the grid is rolled by -shift (torch.roll), zero-padded at the bottom
and right to a multiple of the window, cut into windows; each window attends within itself
with a relative position bias (ops/relpos.py: `relative_position_bias_table`,
`relative_position_index`) and, when shifted, the -100 mask that keeps the rolled-in
regions apart (timm's `attn_mask`, a non-persistent buffer); then the windows are put
back, the padding cut off and the roll undone. Children `qkv`, `proj` as timm's. A window
that does not fit the grid shrinks to it, and then nothing is shifted (timm's rule, per
axis). MACs count the projections and the two products of every (padded) window.

`merge_patches` concatenates each 2x2 neighbourhood's channels in timm's order (x[0::2,
0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]) after zero-padding an odd grid: C
channels on HxW -> 4C on ceil(H/2) x ceil(W/2). Swin's patch merging is
`merge_patches`, `layernorm`, `linear(2 * C, bias=false)` (specs/blocks/swin.incp)."""

from __future__ import annotations

import math

from inception_dsl.core import codes
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.literals import py_literal
from inception_dsl.core.shapes import Tokens
from inception_dsl.core.signatures import REQUIRED, LayerSig, boolean, number, pair, positive_int
from inception_dsl.core.values import EvalError
from inception_dsl.ir import BOOL, FLOAT, PAIR, POSITIVE, Attr, Op, OpKind, fmt_shape
from inception_dsl.ops import relpos
from inception_dsl.ops.base import LayerDef, coerced, dims_text, heads_divide, on_tokens, register, shape_error
from inception_dsl.ops.token_params import call_input

__all__ = ["WINDOW_ATTENTION", "MERGE_PATCHES", "fitted", "shift_labels"]

SHIFT = Attr("(int, int), each >= 0", lambda v: isinstance(v, tuple) and len(v) == 2
             and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v))


def fitted(grid, window, shift) -> tuple[tuple[int, int], tuple[int, int]]:
    """The window and shift on `grid`: a window at least as large as the grid shrinks to it
    and is not shifted (timm's SwinTransformerBlock._calc_window_shift), per axis."""
    size = tuple(r if r <= w else w for r, w in zip(grid, window))
    return size, tuple(0 if r <= w else s for r, w, s in zip(grid, window, shift))


def _padded(grid, window) -> tuple[int, int]:
    return tuple(math.ceil(r / w) * w for r, w in zip(grid, window))


def shift_labels(length: int, window: int, shift: int) -> list[int]:
    """Along one axis of the padded grid, the region each position falls in after the roll
    (timm's img_mask slices (0, -w), (-w, -s), (-s, None), assigned in that order)."""
    labels = [0] * length
    for value, part in enumerate((slice(0, -window), slice(-window, -shift), slice(-shift, None))):
        for i in range(length)[part]:
            labels[i] = value
    return labels


def _geometry(node, shape):
    """(H, W), window, shift, padded (Hp, Wp) of a window_attention node on `shape`."""
    window, shift = fitted(shape.grid, node.attrs["window"], node.attrs["shift"])
    return shape.grid, window, shift, _padded(shape.grid, window)


def _on_grid(node, shape, sink, what: str) -> bool:
    """Whether the input is tokens that remember their grid, with nothing prepended (E212)."""
    if not on_tokens(node, shape, sink, what):
        return False
    if shape.grid is None or shape.prefix:
        why = f"{shape.prefix} prepended token(s)" if shape.prefix else "no grid remembered"
        shape_error(sink, node, codes.NOT_TOKENS, f"{what} needs tokens on a grid, but {fmt_shape(shape)} have {why}",
                    why, help=f"{what} runs on the tokens of a grid (`to_tokens`), before any `class_token`")
        return False
    return True


# -- window_attention -------------------------------------------------------------------
def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not _on_grid(node, shape, sink, "window_attention"):
        return None
    if not heads_divide(node, shape[0], sink, "window_attention"):
        return None
    return shape


def _params(node, in_channels) -> int:
    c, a = in_channels or 0, node.attrs
    table = relpos.bias_params(fitted(node.shape.grid, a["window"], a["shift"])[0], a["heads"]) if node.shape else 0
    return 4 * c * c + (3 * c if a["qkv_bias"] else 0) + c + table


def _macs(node, in_shape) -> int:
    channels = in_shape[0]
    _, window, _, (hp, wp) = _geometry(node, in_shape)
    return 4 * hp * wp * channels * channels + 2 * hp * wp * window[0] * window[1] * channels


def _label(node, members) -> str:
    heads = node.attrs["heads"]
    if node.shape is None or node.shape.grid is None:
        return f"Window attention ({heads} heads)"
    grid, window, shift, padded = _geometry(node, node.shape)
    count = (padded[0] // window[0], padded[1] // window[1])
    lines = [f"{'SW-MSA' if any(shift) else 'W-MSA'}, {heads} heads x {node.shape[0] // heads}",
             f"{dims_text(count)} windows of {dims_text(window)}" + (f" (padded to {dims_text(padded)})"
                                                                      if padded != grid else "")]
    if any(shift):
        lines.append(f"rolled by ({shift[0]}, {shift[1]}), masked")
    return "\n".join(lines)


def _mask_source(grid, window, shift) -> str:
    """The (windows, area, area) -100/0 mask of a shifted window attention: a torch-only
    expression without lambdas (timm's SwinTransformerBlock.get_attn_mask)."""
    (hp, wp), area = grid, window[0] * window[1]
    rows = py_literal(tuple(shift_labels(hp, window[0], shift[0])))
    cols = py_literal(tuple(shift_labels(wp, window[1], shift[1])))
    regions = (f"(3 * torch.tensor({rows})[:, None] + torch.tensor({cols})[None, :])"
               f".view({hp // window[0]}, {window[0]}, {wp // window[1]}, {window[1]}).permute(0, 2, 1, 3)"
               f".reshape(-1, {area})")
    count = (hp // window[0]) * (wp // window[1])
    return (f"torch.zeros({count}, {area}, {area}).masked_fill({regions}[:, None, :] != {regions}[:, :, None], "
            f"-100.0)")


def _module(node, in_channels) -> str:
    a, c = node.attrs, in_channels
    _, window, shift, padded = _geometry(node, node.shape)
    layers = (f'nn.ModuleDict({{"qkv": nn.Linear({c}, {3 * c}, bias={py_literal(a["qkv_bias"])}), '
              f'"proj": nn.Linear({c}, {c})}})')
    mask = {"attn_mask": _mask_source(padded, window, shift)} if any(shift) else {}
    return relpos.attach_source(layers, window, a["heads"], mask)


def _forward(emitter, node, ins, out) -> list[str]:
    a, x, m = node.attrs, ins[0], f"self.{emitter.attr_of[node.id]}"
    channels, heads = node.shape[0], a["heads"]
    (h, w), (wh, ww), (sh, sw), (hp, wp) = _geometry(node, node.shape)
    area, count = wh * ww, (hp // wh) * (wp // ww)
    lines = [f"{out} = {x}.view(-1, {h}, {w}, {channels})"]
    if sh or sw:
        lines.append(f"{out} = torch.roll({out}, shifts=({-sh}, {-sw}), dims=(1, 2))")
    if (hp, wp) != (h, w):
        lines.append(f"{out} = F.pad({out}, (0, 0, 0, {wp - w}, 0, {hp - h}))")
    lines += [
        f"{out} = {out}.view(-1, {hp // wh}, {wh}, {wp // ww}, {ww}, {channels}).permute(0, 1, 3, 2, 4, 5)"
        f".reshape(-1, {area}, {channels})",
        f'{out}_q, {out}_k, {out}_v = {m}["qkv"]({out}).reshape(-1, {area}, 3, {heads}, {channels // heads})'
        f".permute(2, 0, 3, 1, 4).unbind(0)",
        # one (windows x batch, heads, area, area) mask: SDPA's fused CPU kernel takes 4-D inputs (5-D is 3x slower)
        f"{out}_m = ({relpos.bias_source(m, area)} + {m}.attn_mask.unsqueeze(1)).repeat({out}_q.shape[0] // {count}, "
        f"1, 1, 1)" if sh or sw else f"{out}_m = {relpos.bias_source(m, area)}.unsqueeze(0)",
        f"{out} = F.scaled_dot_product_attention({out}_q, {out}_k, {out}_v, attn_mask={out}_m, dropout_p="
        + (f"{py_literal(float(a['attn_drop']))} if self.training else 0.0)" if a["attn_drop"] else "0.0)"),
        f'{out} = {m}["proj"]({out}.transpose(1, 2).reshape(-1, {area}, {channels}))',
    ]
    if a["proj_drop"]:
        lines.append(f"{out} = F.dropout({out}, {py_literal(float(a['proj_drop']))}, self.training)")
    lines.append(f"{out} = {out}.view(-1, {hp // wh}, {wp // ww}, {wh}, {ww}, {channels}).permute(0, 1, 3, 2, 4, 5)"
                 f".reshape(-1, {hp}, {wp}, {channels})")
    if (hp, wp) != (h, w):
        lines.append(f"{out} = {out}[:, :{h}, :{w}]")
    if sh or sw:
        lines.append(f"{out} = torch.roll({out}, shifts=({sh}, {sw}), dims=(1, 2))")
    lines.append(f"{out} = {out}.reshape(-1, {h * w}, {channels})")
    return lines


def _weights(node) -> tuple[str, ...]:
    return (("relative_position_bias_table", "qkv.weight") + (("qkv.bias",) if node.attrs["qkv_bias"] else ())
            + ("proj.weight", "proj.bias"))


def _describe(attrs) -> str:
    shift = f" shift {dims_text(attrs['shift'])}" if any(attrs["shift"]) else ""
    return f"window attention {attrs['heads']} heads window {dims_text(attrs['window'])}{shift}"


WINDOW_ATTENTION = OpKind(
    "window_attention", {"heads": POSITIVE, "window": PAIR, "shift": SHIFT, "qkv_bias": BOOL, "attn_drop": FLOAT,
                         "proj_drop": FLOAT},
    doc="(shifted) window self-attention with a relative position bias over tokens on a grid (timm's Swin: "
        "roll, pad, windows, qkv, bias table, mask, proj)",
    shape=_shape, params=_params, macs=_macs, label=_label, module=_module, forward=_forward, fresh=True,
    weights=_weights, describe=_describe, fill="#fbe3d6",
)

register_helper("_window_shift_mask", '''
def _window_shift_mask(height: int, width: int, window: tuple, shift: tuple) -> torch.Tensor:
    """The (windows, area, area) mask of shifted windows on a padded height x width grid:
    -100 between positions the roll brought together from different regions, else 0
    (timm's SwinTransformerBlock.get_attn_mask)."""
    regions = torch.zeros(height, width)
    count = 0
    for rows in ((0, -window[0]), (-window[0], -shift[0]), (-shift[0], None)):
        for cols in ((0, -window[1]), (-window[1], -shift[1]), (-shift[1], None)):
            regions[rows[0]:rows[1], cols[0]:cols[1]] = count
            count += 1
    regions = regions.view(height // window[0], window[0], width // window[1], window[1])
    regions = regions.permute(0, 2, 1, 3).reshape(-1, window[0] * window[1])
    return torch.zeros(regions.shape[0], regions.shape[1], regions.shape[1]).masked_fill(
        regions[:, None, :] != regions[:, :, None], -100.0)
''')

register_helper("WindowAttention", '''
class WindowAttention(nn.Module):
    """(Shifted) window self-attention with a relative position bias on (B, H*W, C) tokens
    of an H x W grid (timm's SwinTransformerBlock._attn with its WindowAttention: children
    `qkv`, `proj`, the table `relative_position_bias_table` and the non-persistent
    `relative_position_index`; `attn_mask` when shifted). `grid` None: a square grid, read
    from the token count (so are tokens of another count); a dict: the grid of each input
    width `dim` (a block on several grids; another width: None, where all are square). A
    window larger than the grid shrinks to it, unshifted (with `grid` None and a grid smaller
    than the window, the shrunken window reads its offsets from this window's table, where
    timm builds a smaller one; generated files give the grid wherever the IR has one)."""

    def __init__(self, dim: int, heads: int, window=7, shift=0, grid=None, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if heads < 1 or dim % heads:  # check's E213
            raise ValueError(f"WindowAttention: {heads} heads do not divide {dim} channels")
        window = (window, window) if isinstance(window, int) else tuple(window)
        shift = (shift, shift) if isinstance(shift, int) else tuple(shift)
        if any(s >= w or s < 0 for s, w in zip(shift, window)):  # check's E112
            raise ValueError(f"WindowAttention: the shift {shift} must be smaller than the window {window}")
        if isinstance(grid, dict):  # one grid per input width (a block on several grids): this instance's
            if dim not in grid and any(h != w for h, w in grid.values()):
                raise ValueError(f"WindowAttention: built for the widths {sorted(grid)} only, not {dim}")
            grid = grid.get(dim)  # another width on square grids: read at run time
        if grid is not None:  # timm's rule: a window at least as large as the grid is the grid, unshifted
            shift = tuple(0 if r <= w else s for r, w, s in zip(grid, window, shift))
            window = tuple(min(r, w) for r, w in zip(grid, window))
        self.heads, self.window, self.shift, self.grid = heads, window, shift, grid
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop, self.proj_drop = attn_drop, proj_drop
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window[0] - 1) * (2 * window[1] - 1), heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)  # as timm
        self.register_buffer("relative_position_index", _relative_position_index(*window), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        side = int(N ** 0.5 + 0.5)  # tokens not of the grid it was built for: a square grid, as grid None
        grid = self.grid if self.grid is not None and self.grid[0] * self.grid[1] == N else None
        H, W = grid if grid is not None else (side, side)
        (wh, ww), (sh, sw) = self.window, self.shift
        index = self.relative_position_index
        if grid is None and (H <= wh or W <= ww):  # timm's rule at run time: the window shrinks, unshifted
            sh, sw = 0 if H <= wh else sh, 0 if W <= ww else sw
            if H < wh or W < ww:  # its offsets are read from this window's table (timm would build a smaller one)
                wh, ww = min(H, wh), min(W, ww)
                rows = torch.arange(wh, device=x.device).repeat_interleave(ww)
                cols = torch.arange(ww, device=x.device).repeat(wh)
                index = ((rows[:, None] - rows[None, :] + self.window[0] - 1) * (2 * self.window[1] - 1)
                         + cols[:, None] - cols[None, :] + self.window[1] - 1)
        x = x.view(B, H, W, C)
        if sh or sw:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        ph, pw = (wh - H % wh) % wh, (ww - W % ww) % ww
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
        Hp, Wp = H + ph, W + pw
        count, area = (Hp // wh) * (Wp // ww), wh * ww
        x = x.view(B, Hp // wh, wh, Wp // ww, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B * count, area, C)
        q, k, v = self.qkv(x).reshape(B * count, area, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        bias = _rel_pos_bias(self.relative_position_bias_table, index).unsqueeze(0)
        if sh or sw:  # one 4-D mask for every window of every image (SDPA's fused kernel)
            bias = (bias + _window_shift_mask(Hp, Wp, (wh, ww), (sh, sw)).to(x).unsqueeze(1)).repeat(B, 1, 1, 1)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.attn_drop if self.training else 0.0)
        x = F.dropout(self.proj(x.transpose(1, 2).reshape(B * count, area, C)), self.proj_drop, self.training)
        x = x.view(B, Hp // wh, Wp // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, C)[:, :H, :W]
        if sh or sw:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x.reshape(B, N, C)
''', needs=("_relative_position_index", "_rel_pos_bias", "_window_shift_mask"))


# -- merge_patches ----------------------------------------------------------------------
def _merge_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not _on_grid(node, shape, sink, "merge_patches"):
        return None
    h, w = ((r + 1) // 2 for r in shape.grid)
    return Tokens(4 * shape[0], h * w, (h, w))


def _merge_forward(emitter, node, ins, out) -> list[str]:
    (c4, _), (h, w) = node.shape, node.shape.grid
    grid, c = emitter.graph.node(emitter.graph.inputs(node.id)[0]).shape.grid, c4 // 4
    lines = [f"{out} = {ins[0]}.view(-1, {grid[0]}, {grid[1]}, {c})"]
    if (2 * h, 2 * w) != tuple(grid):
        lines.append(f"{out} = F.pad({out}, (0, 0, 0, {2 * w - grid[1]}, 0, {2 * h - grid[0]}))")
    lines.append(f"{out} = {out}.reshape(-1, {h}, 2, {w}, 2, {c}).permute(0, 1, 3, 4, 2, 5).reshape(-1, {h * w}, {c4})")
    return lines


MERGE_PATCHES = OpKind(
    "merge_patches", {}, doc="each 2x2 neighbourhood of a grid's tokens as one token of 4C channels (Swin's "
    "patch merging order; an odd grid is zero-padded)",
    shape=_merge_shape, label=lambda node, members: "Merge 2x2 patches" + (
        f"\n{dims_text(node.shape.grid)}" if node.shape is not None else ""),
    forward=_merge_forward, fresh=True, fill="#efe6f7",
)

register_helper("MergePatches", '''
class MergePatches(nn.Module):
    """(B, H*W, C) tokens of an H x W grid -> (B, ceil(H/2)*ceil(W/2), 4C): each 2x2
    neighbourhood's channels concatenated in timm's PatchMerging order, an odd grid
    zero-padded first. `grid` None: a square grid, read from the token count; a dict: the
    grid of each input width (a block on several grids)."""

    def __init__(self, grid=None):
        super().__init__()
        self.grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        side = int(N ** 0.5 + 0.5)
        grid = self.grid.get(C) if isinstance(self.grid, dict) else self.grid  # a dict: the grid of each width
        H, W = grid if grid is not None and grid[0] * grid[1] == N else (side, side)
        x = F.pad(x.view(B, H, W, C), (0, 0, 0, W % 2, 0, H % 2))
        h, w = (H + 1) // 2, (W + 1) // 2
        return x.reshape(B, h, 2, w, 2, C).permute(0, 1, 3, 4, 2, 5).reshape(B, h * w, 4 * C)
''')


# -- the layer words --------------------------------------------------------------------
def _drop(bound, name, sink) -> float:
    return number(bound, name, sink, 0.0, 1.0, "a dropout probability")


_ARGS = {"heads": lambda b, n, s: positive_int(b, n, s, "the number of heads"),
         "window": lambda b, n, s: pair(b, n, s, "the window"),
         "shift": lambda b, n, s: pair(b, n, s, "the shift", 0),
         "qkv_bias": boolean, "attn_drop": _drop, "proj_drop": _drop}
_DEFAULTS = {"window": 7, "shift": 0, "qkv_bias": True, "attn_drop": 0.0, "proj_drop": 0.0}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    if any(s >= w for s, w in zip(attrs["shift"], attrs["window"])):
        b.sink.emit(codes.BAD_VALUE, f"the shift {dims_text(attrs['shift'])} must be smaller than the window "
                    f"{dims_text(attrs['window'])}", bound.span("shift"), "not inside the window",
                    help=f"Swin shifts by half the window: `shift={attrs['window'][0] // 2}`")
        raise EvalError()
    return b.add("", Op.WINDOW_ATTENTION, attrs) if b.unique() else None


def _grids(args, what: str) -> set:
    """The input shapes (tokens on a grid) of a layer call's instances."""
    shapes = args.ctx.in_shapes(args.call)
    if not shapes:
        call_input(args, what)  # the located error of a call shape inference never reached
    return shapes


def _grid_source(args, shapes: set) -> str:
    """The grid a generated class is built for: fixed; or, where instances differ, one per
    input width (`{channels: (h, w)}`, the class picks its own: Swin's stages); or, where
    instances of one width meet different grids, each instance's own, handed down the block
    classes' constructors (`SourceArgs.per_instance`; built on its own, a class of square
    grids reads its grid at run time)."""
    grids = {shape.grid for shape in shapes}
    if len(grids) == 1:
        return py_literal(next(iter(grids)))
    by_width = {shape[0]: shape.grid for shape in shapes}
    if len(by_width) == len(shapes):
        return "{" + ", ".join(f"{c}: {py_literal(g)}" for c, g in sorted(by_width.items())) + "}"
    square = all(g is not None and g[0] == g[1] for g in grids)
    return args.per_instance("grid", lambda shape: shape.grid, "None" if square else None)


def _source(args, in_ch):
    values = {name: args.get(name) for name in ("heads", *_DEFAULTS)}
    grid = _grid_source(args, _grids(args, "the grid"))
    parts = [str(in_ch), values["heads"].src]
    parts += [f"{name}={values[name].src}" for name, default in _DEFAULTS.items() if not values[name].is_(default)]
    args.helpers.add("WindowAttention")
    return args.code(f"WindowAttention({', '.join(parts[:2] + [f'grid={grid}'] + parts[2:])})", in_ch)


def _merge_source(args, in_ch):
    grid = _grid_source(args, _grids(args, "the grid"))
    args.helpers.add("MergePatches")
    out = 4 * in_ch if isinstance(in_ch, int) else f"4 * ({in_ch})"
    return args.code(f"MergePatches({'' if grid == 'None' else grid})", out)


register(
    LayerDef(LayerSig("window_attention", ("heads", "window", "shift"), {"heads": REQUIRED, **_DEFAULTS},
                      summary="(shifted) window attention with a relative position bias (Swin's W-MSA, SW-MSA)",
                      example="window_attention(3, 7, shift=3)"),
             elaborate=_elaborate, source=_source, args=_ARGS,
             doc="tokens on a grid; `shift` > 0 rolls the grid and masks (SW-MSA); padded to whole windows; "
                 "timm's names (`qkv`, `proj`, `relative_position_bias_table`); a window larger than the grid "
                 "shrinks to it, unshifted"),
    LayerDef(LayerSig("merge_patches", summary="each 2x2 neighbourhood of grid tokens as one token of 4C channels"),
             elaborate=lambda b, bound: b.add("", Op.MERGE_PATCHES, {}) if b.unique() else None,
             source=_merge_source, keeps_channels=False,
             doc="timm's PatchMerging order, an odd grid zero-padded; Swin's patch merging is `merge_patches`, "
                 "`layernorm`, `linear(2 * in_channels, bias=false)`"),
)
