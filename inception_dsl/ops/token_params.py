"""Learned tokens and position embeddings: the IR ops and layer words `class_token(count=1)`
(prepends `count` learned tokens after those already prepended: timm's `cls_token`, then its
`reg_token`; parameter `token`, shape (1, count, C)) and `pos_embed` (adds a learned
embedding per token: timm's `pos_embed`, parameter `weight`, shape (1, N, C)).

`pos_embed(grid=HxW)` says which grid the embedding was built for: where the tokens come
from another grid, it is E214, or with `resample=true` the embedding is resampled to their
grid in the forward pass (bicubic, as timm's `resample_abs_pos_embed`; the prepended tokens'
entries are kept)."""

from __future__ import annotations

from dataclasses import replace

from inception_dsl.core.literals import py_literal
from inception_dsl.core.python_exprs import CodegenError
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import BOOL, PAIR, POSITIVE, Op, OpKind, fmt_shape
from inception_dsl.core import codes
from inception_dsl.core.signatures import LayerSig, boolean, pair, positive_int
from inception_dsl.core.shapes import Tokens
from inception_dsl.ops.base import LayerDef, on_tokens, unfolded, register, shape_error

__all__ = ["CLASS_TOKEN", "POS_EMBED", "call_input", "call_prefix"]


# -- class_token ------------------------------------------------------------------------
def _class_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not (on_tokens(node, shape, sink, "class_token") and unfolded(node, shape, sink, "class_token")):
        return None
    count = node.attrs["count"]
    return Tokens(shape[0], shape[1] + count, shape.grid, shape.prefix + count)


def _class_forward(emitter, node, ins, out) -> list[str]:
    x = ins[0]
    token = f'self.{emitter.attr_of[node.id]}["token"].expand({x}.shape[0], -1, -1)'
    after = emitter.graph.node(emitter.graph.inputs(node.id)[0]).shape.prefix
    parts = [f"{x}[:, :{after}]", token, f"{x}[:, {after}:]"] if after else [token, x]
    return [f"{out} = torch.cat([{', '.join(parts)}], 1)"]


def _class_module(node, in_channels) -> str:
    size = py_literal((1, node.attrs["count"], in_channels))
    return f'nn.ParameterDict({{"token": nn.Parameter(torch.zeros({size}))}})'


CLASS_TOKEN = OpKind(
    "class_token", {"count": POSITIVE}, doc="prepends `count` learned tokens (`token`, shape (1, count, C))",
    shape=_class_shape, params=lambda node, in_channels: node.attrs["count"] * (in_channels or 0),
    label=lambda node, members: "Class token" if node.attrs["count"] == 1 else f"{node.attrs['count']} learned tokens",
    module=_class_module, forward=_class_forward, fresh=True, weights=lambda node: ("token",), fill="#efe6f7",
)

register_helper("ClassToken", '''
class ClassToken(nn.Module):
    """Prepends `count` learned tokens, after the `after` tokens already prepended (timm's
    cls_token, then its reg_token): (B, N, C) -> (B, N + count, C). `token`: (1, count, C)."""

    def __init__(self, channels: int, count: int = 1, after: int = 0):
        super().__init__()
        self.after = after
        self.token = nn.Parameter(torch.zeros(1, count, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        token = self.token.expand(x.shape[0], -1, -1)
        if self.after:
            return torch.cat([x[:, :self.after], token, x[:, self.after:]], 1)
        return torch.cat([token, x], 1)
''')


# -- pos_embed --------------------------------------------------------------------------
def _built_for(node) -> int:
    """The token count the embedding holds: its grid's positions and the prepended tokens
    (its output shape is its input's)."""
    grid, shape = node.attrs.get("grid"), node.shape
    return 0 if shape is None else shape[1] if grid is None else grid[0] * grid[1] + shape.prefix


def _pos_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not (on_tokens(node, shape, sink, "pos_embed") and unfolded(node, shape, sink, "pos_embed")):
        return None
    grid = node.attrs.get("grid")
    if grid is not None and tuple(grid) != shape.grid and not node.attrs["resample"]:
        came = f"a {shape.grid[0]}x{shape.grid[1]} grid" if shape.grid else "no known grid"
        shape_error(sink, node, codes.POS_EMBED_SIZE,
                    f"the position embedding is built for a {grid[0]}x{grid[1]} grid, but {fmt_shape(shape)} "
                    f"come from {came}", f"tokens from {came}",
                    help=(f"write `pos_embed(grid={shape.grid[0]}x{shape.grid[1]})` for this input size, or "
                          f"`resample=true` to resample the {grid[0]}x{grid[1]} embedding as timm does")
                    if shape.grid else "give the input the size the embedding was built for")
        return None
    return shape


def _pos_forward(emitter, node, ins, out) -> list[str]:
    weight = f'self.{emitter.attr_of[node.id]}["weight"]'
    shape = emitter.graph.node(emitter.graph.inputs(node.id)[0]).shape
    grid = node.attrs.get("grid")
    if grid is None or tuple(grid) == shape.grid:
        return [f"{out} = {ins[0]} + {weight}"]
    (old_h, old_w), (new_h, new_w), prefix = grid, shape.grid, shape.prefix  # as _resample_pos_embed, inline
    return [f"{out}_g = {weight}[:, {prefix}:].reshape(1, {old_h}, {old_w}, -1).permute(0, 3, 1, 2).float()",
            f"{out}_g = F.interpolate({out}_g, size=({new_h}, {new_w}), mode='bicubic', antialias=True, "
            f"align_corners=False)",
            f"{out}_g = {out}_g.permute(0, 2, 3, 1).reshape(1, {new_h * new_w}, -1).to({weight}.dtype)",
            f"{out} = {ins[0]} + torch.cat([{weight}[:, :{prefix}], {out}_g], 1)"]


def _pos_module(node, in_channels) -> str:
    size = py_literal((1, _built_for(node), in_channels))
    return f'nn.ParameterDict({{"weight": nn.Parameter(torch.randn({size}) * 0.02)}})'


POS_EMBED = OpKind(
    "pos_embed", {"grid": replace(PAIR, optional=True), "resample": BOOL},
    doc="adds a learned embedding per token (`weight`, shape (1, N, C)), built for `grid` if given",
    shape=_pos_shape, label=lambda node, members: "Position embedding", fresh=True,
    params=lambda node, in_channels: _built_for(node) * (in_channels or 0), module=_pos_module, forward=_pos_forward, weights=lambda node: ("weight",), fill="#efe6f7",
)

RESAMPLE = '''
def _resample_pos_embed(weight: torch.Tensor, old: tuple, new: tuple, prefix: int) -> torch.Tensor:
    """A position embedding built for the grid `old` on the grid `new` (timm's
    resample_abs_pos_embed: bicubic with antialiasing; the `prefix` tokens' entries kept)."""
    head, grid = weight[:, :prefix], weight[:, prefix:]
    grid = grid.reshape(1, old[0], old[1], -1).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=new, mode="bicubic", antialias=True, align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], -1).to(weight.dtype)
    return torch.cat([head, grid], 1)
'''
register_helper("_resample_pos_embed", RESAMPLE)

register_helper("PosEmbed", '''
class PosEmbed(nn.Module):
    """Adds a learned embedding per token: (B, N, C) + `weight` (1, N, C) (timm's pos_embed).
    Built for the grid `grid` with `prefix` tokens before it; `resample_to` a grid resamples it."""

    def __init__(self, count: int, channels: int, grid=None, prefix: int = 0, resample_to=None):
        super().__init__()
        grid = (grid, grid) if isinstance(grid, int) else grid  # a block parameter may give one size
        self.grid, self.prefix, self.resample_to = grid, prefix, resample_to
        self.weight = nn.Parameter(torch.randn(1, count, channels) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample_to is None:
            return x + self.weight
        return x + _resample_pos_embed(self.weight, self.grid, self.resample_to, self.prefix)
''', needs=("_resample_pos_embed",))


def call_input(args, what: str):
    """The input shape of a layer call in a standalone file, from shape inference: the same
    in every instance of the call."""
    shapes = args.ctx.in_shapes(args.call)
    if not shapes:
        raise CodegenError(f"`{args.call.name}`: {what} comes from shape inference, which never reached it",
                           args.call.span)
    if len(shapes) > 1:
        raise CodegenError(f"`{args.call.name}` sees different inputs in different instances "
                           f"({', '.join(sorted(map(fmt_shape, shapes)))}), so the generated class cannot know "
                           f"{what}", args.call.span)
    return next(iter(shapes))


def call_prefix(args) -> str:
    """Source of the number of tokens prepended before a call's grid tokens (each instance's,
    `SourceArgs.per_instance`: its instances may meet different grids)."""
    if not args.ctx.in_shapes(args.call):
        call_input(args, "the prepended tokens")  # the located error of a call shape inference never reached
    return args.per_instance("prefix", lambda shape: shape.prefix)



# -- the layer words --------------------------------------------------------------------
def _class_elaborate(b, bound):
    count = positive_int(bound, "count", b.sink, "the number of tokens")
    return b.add("", Op.CLASS_TOKEN, {"count": count}) if b.unique() else None


def _class_source(args, in_ch):
    count = args.get("count", lambda b, n, s: positive_int(b, n, s, "the number of tokens"))
    after = call_prefix(args)
    args.helpers.add("ClassToken")
    return args.code(f"ClassToken({in_ch}" + ("" if count.is_(1) else f", {count.src}")
                     + (f", after={after})" if after != "0" else ")"), in_ch)


def _pos_elaborate(b, bound):
    attrs = {"resample": boolean(bound, "resample", b.sink)}
    if bound["grid"] is not None:
        attrs["grid"] = pair(bound, "grid", b.sink, "the position embedding's grid")
    return b.add("", Op.POS_EMBED, attrs) if b.unique() else None


def _pos_source(args, in_ch):
    """`PosEmbed(count, C)` (+ the grid it is built for and the one it is resampled to), each
    instance's own where instances of a block meet different grids (`SourceArgs.per_instance`)."""
    if not args.ctx.in_shapes(args.call):
        call_input(args, "the number of tokens")  # the located error of a call shape inference never reached
    grid = args.get("grid", lambda b, n, s: None if b[n] is None else pair(b, n, s, "grid"), literal=py_literal)

    def built_for(node):  # the grid the instance's embedding is built for (a block parameter may give it)
        value = node.attrs.get("grid") if grid.symbolic else grid.value
        return tuple(value) if value is not None else None

    def resampled(node, shape) -> bool:
        return built_for(node) not in (None, shape.grid)

    def count(node, shape) -> int:
        return built_for(node)[0] * built_for(node)[1] + shape.prefix if resampled(node, shape) else shape[1]

    to = args.per_instance("resample_to", lambda n, s: s.grid if resampled(n, s) else None, of_node=True)
    extra = "" if to == "None" else f", grid={grid.src}, prefix={args.per_instance('prefix', lambda s: s.prefix)}, " \
                                    f"resample_to={to}"
    count = args.per_instance("count", count, of_node=True)
    args.helpers.add("PosEmbed")
    return args.code(f"PosEmbed({count}, {in_ch}{extra})", in_ch)


register(
    LayerDef(LayerSig("class_token", ("count",), {"count": 1},
                      summary="prepends learned tokens (timm's cls_token, reg_token)", example="class_token"),
             elaborate=_class_elaborate, source=_class_source,
             doc="after those already prepended (timm's `cls_token`, then `reg_token`); parameter `token`, "
                 "(1, count, C)"),
    LayerDef(LayerSig("pos_embed", (), {"grid": None, "resample": False},
                      summary="adds a learned position embedding per token", example="pos_embed(grid=14x14)"),
             elaborate=_pos_elaborate, source=_pos_source,
             doc="timm's `pos_embed` (parameter `weight`, (1, N, C)); `grid`: "
                 "the grid it was built for, by default the tokens' own: another one is E214, or with "
                 "`resample=true` resampled as timm does (bicubic, the prepended tokens kept)"),
)
