"""Between grids and sequences of tokens: the IR ops and layer words `to_tokens` (a CxHxW
grid -> its H*W positions as tokens, `x.flatten(2).transpose(1, 2)` as timm's PatchEmbed
writes it), `to_grid(size)` (tokens -> a CxHxW grid of the given size, or of the grid
the tokens remember), `token(index)` (one token as flat features: the class token for the
head) and `avg_tokens(skip)` (the mean over the tokens after the first `skip`, by default
after the prepended ones: timm's `global_pool='avg'`). The learned tokens and position
embeddings are in ops/token_params.py.

A tokens shape is `language.shapes.Tokens`, `(C, N)` channels first with the grid its
tokens came from; a token word on a grid or flat input is E212, a grid word on tokens is
E204 (`base.spatial`)."""

from __future__ import annotations

from dataclasses import replace

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import INT, PAIR, Op, OpKind, fmt_shape
from inception_dsl.core import codes
from inception_dsl.core.signatures import LayerSig, pair, positive_int
from inception_dsl.core.shapes import Tokens
from inception_dsl.ops.base import LayerDef, on_tokens, unfolded, register, shape_error, spatial
from inception_dsl.ops.token_params import call_input, call_prefix

__all__ = ["TO_TOKENS", "TO_GRID", "TOKEN", "AVG_TOKENS"]


# -- to_tokens ------------------------------------------------------------------------
def _to_tokens_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not spatial(node, shape, sink, "to_tokens"):
        return None
    channels, height, width = shape
    return Tokens(channels, height * width, (height, width))


TO_TOKENS = OpKind(
    "to_tokens", {}, doc="(C, H, W) -> H*W tokens of C channels (x.flatten(2).transpose(1, 2))",
    shape=_to_tokens_shape, label=lambda node, members: "To tokens",
    forward=lambda emitter, node, ins, out: [f"{out} = {ins[0]}.flatten(2).transpose(1, 2)"], alias=True,
    fill="#efe6f7",
)

register_helper("ToTokens", '''
class ToTokens(nn.Module):
    """(B, C, H, W) -> (B, H*W, C): the grid's positions as tokens, row by row (timm's PatchEmbed)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)
''')


# -- to_grid ---------------------------------------------------------------------------
def _to_grid_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not (on_tokens(node, shape, sink, "to_grid") and unfolded(node, shape, sink, "to_grid")):
        return None
    size = node.attrs.get("size", shape.grid)
    if shape.prefix:
        shape_error(sink, node, codes.NOT_TOKENS, f"to_grid needs patch tokens only, but {fmt_shape(shape)} "
                    f"start with {shape.prefix} prepended token(s)", f"{shape.prefix} prepended token(s)",
                    help="put the patch tokens back on their grid before `class_token` adds to them")
        return None
    if size is None:
        shape_error(sink, node, codes.NOT_TOKENS, f"to_grid does not know the grid of {fmt_shape(shape)}",
                    "no grid remembered", help=f"give the size, like `to_grid({_square_hint(shape[1])})`")
        return None
    if size[0] * size[1] != shape[1]:
        shape_error(sink, node, codes.NOT_TOKENS,
                    f"to_grid({size[0]}x{size[1]}) needs {size[0] * size[1]} tokens, got {fmt_shape(shape)}",
                    f"{shape[1]} tokens", help=f"give a size with {shape[1]} positions, like "
                    f"`to_grid({_square_hint(shape[1])})`" + (f" (the tokens came from {shape.grid[0]}x"
                                                              f"{shape.grid[1]})" if shape.grid else ""))
        return None
    return (shape[0], *size)


def _square_hint(count: int) -> str:
    side = max(d for d in range(1, int(count ** 0.5) + 1) if count % d == 0)
    return f"{side}x{count // side}"


def _to_grid_forward(emitter, node, ins, out) -> list[str]:
    channels, height, width = node.shape
    return [f"{out} = {ins[0]}.transpose(1, 2).reshape(-1, {channels}, {height}, {width})"]


TO_GRID = OpKind(
    "to_grid", {"size": replace(PAIR, optional=True)},
    doc="N tokens of C channels -> (C, H, W), H*W = N; the size given or the grid the tokens came from",
    shape=_to_grid_shape, label=lambda node, members: f"To grid {node.shape[1]}x{node.shape[2]}" if node.shape
    else "To grid", forward=_to_grid_forward, alias=True, fill="#efe6f7",
)

register_helper("ToGrid", '''
class ToGrid(nn.Module):
    """(B, H*W, C) -> (B, C, H, W): tokens back on their grid, row by row; without a size,
    on the square grid of their count."""

    def __init__(self, size=None):
        super().__init__()
        self.size = (size, size) if isinstance(size, int) else size  # None: the square grid of the tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is None:
            side = int(x.shape[1] ** 0.5 + 0.5)
            if side * side != x.shape[1]:
                raise ValueError(f"ToGrid(): {x.shape[1]} tokens are not a square grid")
            return x.transpose(1, 2).reshape(x.shape[0], -1, side, side)
        return x.transpose(1, 2).reshape(x.shape[0], -1, *self.size)
''')


# -- token, avg_tokens: tokens -> flat features -----------------------------------------
def _token_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not (on_tokens(node, shape, sink, "token") and unfolded(node, shape, sink, "token")):
        return None
    if node.attrs["index"] >= shape[1]:
        shape_error(sink, node, codes.NOT_TOKENS, f"token({node.attrs['index']}) is out of range for {fmt_shape(shape)}",
                    f"{shape[1]} tokens", help=f"pick an index below {shape[1]}")
        return None
    return (shape[0],)


TOKEN = OpKind(
    "token", {"index": INT}, doc="one token as flat features (x[:, index]): the class token for the head",
    shape=_token_shape, label=lambda node, members: f"Token {node.attrs['index']}", forward=lambda emitter, node, ins, out: [
        f"{out} = {ins[0]}[:, {py_literal(node.attrs['index'])}]"], alias=True,
)


def _skip(node, shape) -> int:
    return node.attrs.get("skip", shape.prefix)


def _avg_shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not (on_tokens(node, shape, sink, "avg_tokens") and unfolded(node, shape, sink, "avg_tokens")):
        return None
    if _skip(node, shape) >= shape[1]:
        shape_error(sink, node, codes.NOT_TOKENS, f"avg_tokens(skip={_skip(node, shape)}) leaves no token of "
                    f"{fmt_shape(shape)} to average", f"{shape[1]} tokens", help=f"skip fewer than {shape[1]}")
        return None
    return (shape[0],)


def _avg_forward(emitter, node, ins, out) -> list[str]:
    skip = _skip(node, emitter.graph.node(emitter.graph.inputs(node.id)[0]).shape)
    return [f"{out} = {ins[0]}" + (f"[:, {py_literal(skip)}:]" if skip else "") + ".mean(1)"]


AVG_TOKENS = OpKind(
    "avg_tokens", {"skip": replace(INT, optional=True)},
    doc="the mean over the tokens after the first `skip` (by default, after the prepended ones)",
    shape=_avg_shape, label=lambda node, members: "Average tokens", forward=_avg_forward, fresh=True,
    fill="#dcebf7",
)

register_helper("TokenPool", '''
class TokenPool(nn.Module):
    """(B, N, C) -> (B, C): token `index`, or with `index=None` the mean over the tokens after
    the first `skip` (timm's global_pool='token' and 'avg')."""

    def __init__(self, index: Optional[int] = None, skip: int = 0):
        super().__init__()
        self.index, self.skip = index, skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index] if self.index is not None else x[:, self.skip:].mean(1)
''')


# -- the layer words --------------------------------------------------------------------
def _to_grid_elaborate(b, bound):
    attrs = {} if bound["size"] is None else {"size": pair(bound, "size", b.sink, "the grid size")}
    return b.add("", Op.TO_GRID, attrs) if b.unique() else None


def _to_grid_source(args, in_ch):
    size = args.get("size", lambda b, n, s: None if b[n] is None else pair(b, n, s, "the grid size"))
    args.helpers.add("ToGrid")
    if size.symbolic:
        return args.code(f"ToGrid({size.src})", in_ch)
    if size.value is not None:
        return args.code(f"ToGrid({py_literal(tuple(size.value))})", in_ch)
    grids = {shape.grid for shape in args.ctx.in_shapes(args.call)}
    if len(grids) > 1 and all(g is not None and g[0] == g[1] for g in grids):
        return args.code("ToGrid()", in_ch, "a square grid in every instance")
    if not grids:
        call_input(args, "the grid")  # the located error of a call shape inference never reached
    return args.code(f"ToGrid({args.per_instance('grid', lambda shape: shape.grid)})", in_ch)


def _avg_elaborate(b, bound):
    skip = bound["skip"]
    attrs = {} if skip is None else {"skip": positive_int(bound, "skip", b.sink, "the tokens to skip", 0)}
    return b.add("", Op.AVG_TOKENS, attrs) if b.unique() else None


def _avg_source(args, in_ch):
    skip = args.get("skip", lambda b, n, s: None if b[n] is None else positive_int(b, n, s, "skip", 0))
    src = skip.src if skip.value is not None or skip.symbolic else call_prefix(args)
    args.helpers.add("TokenPool")
    return args.code(f"TokenPool(skip={src})", in_ch)


def _token_elaborate(b, bound):
    index = positive_int(bound, "index", b.sink, "the token index", 0)
    return b.add("", Op.TOKEN, {"index": index}) if b.unique() else None


def _token_source(args, in_ch):
    index = args.get("index", lambda b, n, s: positive_int(b, n, s, "the token index", 0))
    args.helpers.add("TokenPool")
    return args.code(f"TokenPool({index.src})", in_ch)


def _with_helper(name: str, ctor: str):
    def source(args, in_ch):
        args.helpers.add(name)
        return args.code(ctor, in_ch)
    return source


register(
    LayerDef(LayerSig("to_tokens", summary="(C, H, W) -> H*W tokens of C channels"),
             elaborate=lambda b, bound: b.add("", Op.TO_TOKENS, {}) if b.unique() else None,
             source=_with_helper("ToTokens", "ToTokens()"),
             doc="row by row (`x.flatten(2).transpose(1, 2)`, timm's PatchEmbed); the tokens remember their grid"),
    LayerDef(LayerSig("to_grid", ("size",), {"size": None},
                      summary="tokens -> (C, H, W): the grid they came from, or the size given",
                      example="to_grid(14x14)"),
             elaborate=_to_grid_elaborate, source=_to_grid_source,
             doc="patch tokens only (after `class_token` it is E212)"),
    LayerDef(LayerSig("token", ("index",), {"index": 0}, summary="one token as flat features (the class token)",
                      example="token(0)"),
             elaborate=_token_elaborate, source=_token_source, head="pool",
             doc="`token(0)` is the class token for the head"),
    LayerDef(LayerSig("avg_tokens", ("skip",), {"skip": None},
                      summary="the mean over the tokens after the prepended ones", example="avg_tokens"),
             elaborate=_avg_elaborate, source=_avg_source, head="pool",
             doc="`skip`: by default the prepended tokens (timm's `global_pool='avg'`)"),
)
