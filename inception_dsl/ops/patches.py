"""MobileViT's unfold and fold (Mehta & Rastegari 2021; timm's MobileVitBlock): the IR ops
and layer words `to_patches(size)` and `from_patches(size)`. `to_patches(2x2)` cuts a CxHxW
grid into (H/2)x(W/2) patches of 2x2 pixels and makes, for each of the 4 positions within
a patch, one sequence of the H*W/4 patches as tokens, folded into the batch:
(B, C, H, W) -> (B*4, H*W/4, C), so that a transformer attends across patches, position by
position. `from_patches` is its inverse. The tokens shape says so (`Tokens.batch`: 4
sequences per image): per-token layers and attention run on it unchanged, and `check`
counts every sequence (values and MACs times 4); a layer that needs one sequence per image
(`to_grid`, `token`, `avg_tokens`, `class_token`, `pos_embed`) refuses it (E212). Both are
reshapes of timm's exact order; a grid that does not divide into the patches is E212
(timm interpolates it to the next multiple). No parameters."""

from __future__ import annotations

from inception_dsl.core import codes
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.literals import py_literal
from inception_dsl.core.shapes import Tokens
from inception_dsl.core.signatures import REQUIRED, LayerSig, pair
from inception_dsl.ir import PAIR, Op, OpKind, fmt_shape
from inception_dsl.ops.base import LayerDef, coerced, on_tokens, pair_text, register, shape_error, spatial

__all__ = ["TO_PATCHES", "FROM_PATCHES"]


def _to_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "to_patches"):
        return None
    (ph, pw), (channels, height, width) = node.attrs["size"], shape
    if height % ph or width % pw:
        shape_error(sink, node, codes.NOT_TOKENS, f"to_patches({pair_text((ph, pw))}) needs a grid that divides into "
                    f"{ph}x{pw} patches, got {fmt_shape(shape)}", f"{height}x{width} grid",
                    help=f"give it a grid of multiples of {ph}x{pw} (timm's MobileViT interpolates to the next one)")
        return None
    return Tokens(channels, (height // ph) * (width // pw), (height // ph, width // pw), 0, ph * pw)


def _from_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not on_tokens(node, shape, sink, "from_patches"):
        return None
    ph, pw = node.attrs["size"]
    if shape.batch != ph * pw or shape.grid is None or shape.prefix:
        shape_error(sink, node, codes.NOT_TOKENS, f"from_patches({pair_text((ph, pw))}) needs the {ph * pw} "
                    f"sequences of patch tokens `to_patches({pair_text((ph, pw))})` makes, got {fmt_shape(shape)}",
                    f"{shape.batch} sequence(s) per image", help="fold with the patch size the tokens were cut with")
        return None
    nh, nw = shape.grid
    return (shape[0], nh * ph, nw * pw)


def _to_forward(emitter, node, ins, out) -> list[str]:
    (ph, pw), (channels, count) = node.attrs["size"], node.shape
    nw = node.shape.grid[1]
    return [f"{out} = {ins[0]}.reshape(-1, {ph}, {nw}, {pw}).transpose(1, 2)",
            f"{out} = {out}.reshape(-1, {channels}, {count}, {ph * pw}).transpose(1, 3).reshape(-1, {count}, {channels})"]


def _from_forward(emitter, node, ins, out) -> list[str]:
    (ph, pw), (channels, height, width) = node.attrs["size"], node.shape
    count = (height // ph) * (width // pw)
    return [f"{out} = {ins[0]}.contiguous().view(-1, {ph * pw}, {count}, {channels}).transpose(1, 3)"
            f".reshape(-1, {width // pw}, {ph}, {pw})",
            f"{out} = {out}.transpose(1, 2).reshape(-1, {channels}, {height}, {width})"]


TO_PATCHES = OpKind(
    "to_patches", {"size": PAIR},
    doc="(C, H, W) -> (H/ph)*(W/pw) patch tokens of C channels, one sequence per position in a patch, folded into "
        "the batch (timm's MobileVitBlock unfold)",
    shape=_to_shape, label=lambda node, members: f"To patches {pair_text(node.attrs['size'])}",
    forward=_to_forward, fresh=True, fill="#efe6f7", describe=lambda a: f"to patches {pair_text(a['size'])}",
)
FROM_PATCHES = OpKind(
    "from_patches", {"size": PAIR},
    doc="the sequences of `to_patches` back onto their (C, H, W) grid (timm's MobileVitBlock fold)",
    shape=_from_shape, label=lambda node, members: f"From patches {pair_text(node.attrs['size'])}",
    forward=_from_forward, fresh=True, fill="#efe6f7", describe=lambda a: f"from patches {pair_text(a['size'])}",
)

PATCH_FNS = '''
def _to_patches(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """(B, C, H, W) -> (B*ph*pw, H*W/(ph*pw), C): one sequence of the patches per position in a
    patch (timm's MobileVitBlock unfold, in its order)."""
    b, c, nh, nw = x.shape[0], x.shape[1], x.shape[2] // ph, x.shape[3] // pw
    x = x.reshape(b * c * nh, ph, nw, pw).transpose(1, 2)
    return x.reshape(b, c, nh * nw, ph * pw).transpose(1, 3).reshape(b * ph * pw, nh * nw, c)


def _from_patches(x: torch.Tensor, ph: int, pw: int, nh: int, nw: int) -> torch.Tensor:
    """_to_patches' inverse: (B*ph*pw, nh*nw, C) -> (B, C, nh*ph, nw*pw) (timm's fold); nh = 0:
    the square grid of the token count."""
    if nh == 0:
        nh = nw = int(x.shape[1] ** 0.5 + 0.5)
    b, c = x.shape[0] // (ph * pw), x.shape[2]
    x = x.contiguous().view(b, ph * pw, nh * nw, c).transpose(1, 3).reshape(b * c * nh, nw, ph, pw)
    return x.transpose(1, 2).reshape(b, c, nh * ph, nw * pw)


torch.fx.wrap("_to_patches")
torch.fx.wrap("_from_patches")
'''
register_helper("_patch_fns", PATCH_FNS)
register_helper("ToPatches", '''
class ToPatches(nn.Module):
    """(B, C, H, W) -> (B*ph*pw, H*W/(ph*pw), C): MobileViT's unfold (`to_patches`)."""

    def __init__(self, size):
        super().__init__()
        self.ph, self.pw = (size, size) if isinstance(size, int) else size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _to_patches(x, self.ph, self.pw)
''', ("_patch_fns",))
register_helper("FromPatches", '''
class FromPatches(nn.Module):
    """(B*ph*pw, nh*nw, C) -> (B, C, nh*ph, nw*pw): MobileViT's fold (`from_patches`); `grid`
    (nh, nw), or None for the square grid of the token count."""

    def __init__(self, size, grid=None):
        super().__init__()
        self.ph, self.pw = (size, size) if isinstance(size, int) else size
        self.nh, self.nw = grid if grid is not None else (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _from_patches(x, self.ph, self.pw, self.nh, self.nw)
''', ("_patch_fns",))

_ARGS = {"size": lambda b, n, s: pair(b, n, s, "the patch size")}


def _elaborate(op):
    def elaborate(b, bound):
        attrs = coerced(_ARGS, bound, b.sink)
        return b.add("", op, attrs) if b.unique() and "size" in attrs else None
    return elaborate


def _to_source(args, in_ch):
    args.helpers.add("ToPatches")
    return args.code(f"ToPatches({_size_src(args)})", in_ch)


def _from_source(args, in_ch):
    args.helpers.add("FromPatches")
    grids = {shape.grid for shape in args.ctx.in_shapes(args.call)}
    if len(grids) == 1 and None not in grids:
        return args.code(f"FromPatches({_size_src(args)}, {py_literal(next(iter(grids)))})", in_ch)
    if None not in grids and any(g[0] != g[1] for g in grids):  # each instance's own (SourceArgs.per_instance)
        return args.code(f"FromPatches({_size_src(args)}, {args.per_instance('grid', lambda s: s.grid)})", in_ch)
    return args.code(f"FromPatches({_size_src(args)})", in_ch, "a square grid of patches in every instance")


def _size_src(args) -> str:
    size = args.get("size")
    return size.src if size.symbolic else py_literal(tuple(size.value))


register(
    LayerDef(LayerSig("to_patches", ("size",), {"size": REQUIRED},
                      summary="(C, H, W) -> patch tokens, one sequence per position in a patch (MobileViT's unfold)",
                      example="to_patches(2x2)"),
             elaborate=_elaborate(Op.TO_PATCHES), source=_to_source, args=_ARGS,
             doc="the sequences are folded into the batch: a transformer attends across patches"),
    LayerDef(LayerSig("from_patches", ("size",), {"size": REQUIRED},
                      summary="`to_patches`' tokens back onto their (C, H, W) grid (MobileViT's fold)",
                      example="from_patches(2x2)"),
             elaborate=_elaborate(Op.FROM_PATCHES), source=_from_source, args=_ARGS,
             doc="the size the tokens were cut with (E212 otherwise)"),
)
