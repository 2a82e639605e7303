"""Multi-head self-attention over tokens: the IR op and layer word `attention(heads,
qkv_bias=true, qk_norm=false, attn_drop=0.0, proj_drop=0.0, eps=1e-6, proj_bias=true,
key_dim=, attn_ratio=1.0, attn_bias=false, stride=1, out=, bn=false, act=identity)`.

Without `key_dim` it is timm's ViT `Attention` with its parameter names: `qkv` (Linear C -> 3C,
q, k and v of all heads in turn), `q_norm` and `k_norm` (LayerNorm over a head's channels, with
`qk_norm`), `proj` (Linear C -> C).

With `key_dim` it is EfficientFormer's and LeViT's attention (timm's efficientformer.Attention,
levit.Attention and levit.AttentionDownsample): each head has queries and keys of `key_dim`
channels and values of int(attn_ratio * key_dim), the qkv rows grouped per head (q, k, v of
head 0, then of head 1, ...), and the options these networks add: `attn_bias` (a learned bias
per head and relative grid offset, added to the attention logits: `attention_biases` of shape
(heads, H*W), indexed by the buffer `attention_bias_idxs`, as timm names them), `stride`
(queries from the grid subsampled by `stride`: separate `kv` and `q` projections, the output on
the smaller grid), `out` (the output width), `bn` (each projection a Linear without bias and a
BatchNorm1d over the tokens, timm's LinearNorm: `<name>.linear`, `<name>.bn`) and `act` (an
activation before the output projection, LeViT's hardswish).

Computed with F.scaled_dot_product_attention (the biases as its additive mask). MACs count the
projections and the two matrix products, which torch's FlopCounterMode sees under the math
SDPA backend (`sdpa_kernel(SDPBackend.MATH)`); the fused CPU kernel is invisible to it. Heads
that do not divide the width (without `key_dim`) are E213; biases or a stride on tokens without
a grid (or with prepended tokens) are E212."""

from __future__ import annotations

from dataclasses import dataclass, replace

from inception_dsl.core import codes
from inception_dsl.core.literals import py_literal
from inception_dsl.core.shapes import Tokens
from inception_dsl.core.signatures import EPS_RANGE, REQUIRED, LayerSig, boolean, number, pair, positive_int
from inception_dsl.core.values import EvalError
from inception_dsl.ir import BOOL, FLOAT, PAIR, POSITIVE, TEXT, Op, OpKind, fmt_shape
from inception_dsl.ops.activations import ACTIVATIONS, activation
from inception_dsl.ops.attention_source import BIAS_IDXS_TEXT
from inception_dsl.ops.base import LayerDef, coerced, heads_divide, on_tokens, register, shape_error

__all__ = ["ATTENTION", "Geometry", "geometry"]


@dataclass(frozen=True)
class Geometry:
    """The widths and token counts of one attention node on its input shape."""

    heads: int
    key: int  # channels of a head's queries and keys
    value: int  # channels of a head's values
    per_head: bool  # EfficientFormer/LeViT's layout (key_dim given)
    width: int  # input channels
    out: int  # output channels
    count: int  # input tokens (the keys)
    queries: int  # output tokens
    grid: tuple[int, int] | None  # the input grid
    out_grid: tuple[int, int] | None
    stride: int

    @property
    def qkv(self) -> int:
        return self.heads * (2 * self.key + self.value)


def geometry(attrs, shape) -> Geometry:
    """On the input `shape`; where the node says which grid it is built for (`grid`), that one."""
    heads, width = attrs["heads"], shape[0]
    key_dim, stride = attrs.get("key_dim"), attrs.get("stride", 1)
    key = key_dim or width // heads
    value = int(attrs.get("attn_ratio", 1.0) * key) if key_dim else key
    grid = tuple(attrs["grid"]) if attrs.get("grid") else getattr(shape, "grid", None)
    count = grid[0] * grid[1] if attrs.get("grid") else shape[1]
    out_grid = grid if stride == 1 or grid is None else (-(-grid[0] // stride), -(-grid[1] // stride))
    queries = count if stride == 1 or out_grid is None else out_grid[0] * out_grid[1]
    return Geometry(heads, key, value, key_dim is not None, width, attrs.get("out") or width, count, queries,
                    grid, out_grid, stride)


def _needs_grid(attrs) -> str:
    return "attention biases" if attrs.get("attn_bias") else "a query stride" if attrs.get("stride", 1) > 1 else ""


def _shape(graph, node, shapes, sink):
    (shape,) = shapes
    if not on_tokens(node, shape, sink, "attention"):
        return None
    if node.attrs.get("key_dim") is None and not heads_divide(
            node, shape[0], sink, "attention", "give each head its width with `key_dim`"):
        return None
    needs, built = _needs_grid(node.attrs), node.attrs.get("grid")
    if built and tuple(built) != shape.grid:
        came = f"a {shape.grid[0]}x{shape.grid[1]} grid" if shape.grid else "no known grid"
        shape_error(sink, node, codes.NOT_TOKENS, f"the attention is built for a {built[0]}x{built[1]} grid, but "
                    f"{fmt_shape(shape)} come from {came}", f"tokens from {came}",
                    help=f"write `grid={shape.grid[0]}x{shape.grid[1]}` for this input size" if shape.grid else
                    "give the input the size the attention was built for")
        return None
    if needs and (shape.grid is None or shape.prefix):
        why = "come from no known grid" if shape.grid is None else f"start with {shape.prefix} prepended token(s)"
        shape_error(sink, node, codes.NOT_TOKENS, f"{needs} need the tokens of a grid, but {fmt_shape(shape)} {why}",
                    f"tokens that {why}", help="use attention biases and a stride on the tokens of `to_tokens`, "
                    "before a `class_token`")
        return None
    g = geometry(node.attrs, shape)
    return Tokens(g.out, g.queries, g.out_grid, shape.prefix if g.stride == 1 else 0, shape.batch)  # batch: to_patches


def _linear_params(fan_in: int, fan_out: int, bias: bool, bn: bool) -> int:
    return fan_in * fan_out + (2 * fan_out if bn else fan_out if bias else 0)


def _params(node, in_channels) -> int:
    a = node.attrs
    if node.shape is None or in_channels is None:
        return 0
    g = geometry(a, _input_shape(node, in_channels))
    bn = a.get("bn", False)
    norms = 4 * g.key if a["qk_norm"] else 0
    if g.stride > 1:
        projections = (_linear_params(g.width, g.heads * (g.key + g.value), a["qkv_bias"], bn)
                       + _linear_params(g.width, g.heads * g.key, a["qkv_bias"], bn))
    else:
        projections = _linear_params(g.width, g.qkv, a["qkv_bias"], bn)
    biases = g.heads * g.count if a.get("attn_bias") else 0
    return projections + norms + biases + _linear_params(g.heads * g.value, g.out, a["proj_bias"], bn)


def _input_shape(node, in_channels: int) -> Tokens:
    """The input shape, from the output's (with a stride, from the grid the node is built for)."""
    if node.attrs.get("stride", 1) == 1:
        return Tokens(in_channels, node.shape[1], node.shape.grid, node.shape.prefix)
    grid = node.attrs["grid"]
    return Tokens(in_channels, grid[0] * grid[1], tuple(grid))


def _macs(node, in_shape) -> int:
    g = geometry(node.attrs, in_shape)
    if g.stride > 1:
        projections = g.count * g.width * g.heads * (g.key + g.value) + g.queries * g.width * g.heads * g.key
    else:
        projections = g.count * g.width * g.qkv
    products = g.queries * g.count * g.heads * (g.key + g.value)
    return projections + products + g.queries * g.heads * g.value * g.out


def _label(node, members) -> str:
    a, heads = node.attrs, node.attrs["heads"]
    if node.shape is None:
        return f"Multi-head attention ({heads} heads)"
    if a.get("key_dim") is None:
        return f"Multi-head attention ({heads} heads x {node.shape[0] // heads}, {node.shape[0]})"
    value = int(a.get("attn_ratio", 1.0) * a["key_dim"])
    extras = (["biases"] if a.get("attn_bias") else []) + ([f"stride {a['stride']}"] if a.get("stride", 1) > 1 else [])
    extras += (["BatchNorm"] if a.get("bn") else []) + ([f"{ACTIVATIONS[a['act']].label} before proj"]
                                                         if a.get("act", "identity") != "identity" else [])
    return (f"Multi-head attention ({heads} heads, keys {a['key_dim']}, values {value}, {node.shape[0]}"
            + "".join(f", {e}" for e in extras) + ")")


# -- the module (GraphModule, `compile --optimize`) and the flat forward ------------------
def _norm(node, width: int) -> str:
    if not node.attrs["qk_norm"]:
        return "nn.Identity()"
    return f"nn.LayerNorm({width}, eps={py_literal(node.attrs['eps'])})"


def _linear_text(fan_in: int, fan_out: int, bias: bool, bn: bool) -> str:
    if bn:
        return f'nn.ModuleDict({{"linear": nn.Linear({fan_in}, {fan_out}, bias=False), "bn": nn.BatchNorm1d({fan_out})}})'
    return f"nn.Linear({fan_in}, {fan_out}, bias={py_literal(bias)})"


def _module(node, in_channels) -> str:
    a = node.attrs
    if a.get("key_dim") is None:
        c, head = in_channels, in_channels // a["heads"]
        return (f'nn.ModuleDict({{"qkv": nn.Linear({c}, {3 * c}, bias={py_literal(a["qkv_bias"])}), '
                f'"q_norm": {_norm(node, head)}, "k_norm": {_norm(node, head)}, '
                f'"proj": nn.Linear({c}, {c}, bias={py_literal(a["proj_bias"])})}})')
    g = geometry(a, _input_shape(node, in_channels))
    bn, bias = a.get("bn", False), a["qkv_bias"]
    if g.stride > 1:
        children = {"kv": _linear_text(g.width, g.heads * (g.key + g.value), bias, bn),
                    "q": _linear_text(g.width, g.heads * g.key, bias, bn)}
    else:
        children = {"qkv": _linear_text(g.width, g.qkv, bias, bn)}
    children |= {"q_norm": _norm(node, g.key), "k_norm": _norm(node, g.key),
                 "proj": _linear_text(g.heads * g.value, g.out, a["proj_bias"], bn)}
    text = "nn.ModuleDict({" + ", ".join(f'"{k}": {v}' for k, v in children.items()) + "})"
    if not a.get("attn_bias"):
        return text
    idxs = BIAS_IDXS_TEXT.format(h=g.grid[0], w=g.grid[1], s=g.stride)
    return (f'(lambda m, nn=nn, torch=torch: (m.register_parameter("attention_biases", nn.Parameter(torch.zeros({g.heads}, {g.count}))), '
            f'm.register_buffer("attention_bias_idxs", {idxs}, persistent=False), m)[2])({text})')


def _project(m: str, name: str, x: str, out: str, bn: bool) -> list[str]:
    """Lines putting a (LinearNorm) projection of `x` in `out`."""
    if not bn:
        return [f'{out} = {m}["{name}"]({x})']
    return [f'{out} = {m}["{name}"]["linear"]({x})',
            f'{out} = {m}["{name}"]["bn"]({out}.flatten(0, 1)).view_as({out})']


def _forward(emitter, node, ins, out) -> list[str]:
    a, x, m = node.attrs, ins[0], f"self.{emitter.attr_of[node.id]}"
    if a.get("key_dim") is None:
        return _vit_forward(node, x, m, out)
    g = geometry(a, emitter.graph.node(emitter.graph.inputs(node.id)[0]).shape)
    bn = a.get("bn", False)
    if g.stride > 1:
        lines = _project(m, "kv", x, f"{out}_t", bn)
        lines.append(f"{out}_k, {out}_v = {out}_t.view(-1, {g.count}, {g.heads}, {g.key + g.value})"
                     f".transpose(1, 2).split([{g.key}, {g.value}], 3)")
        lines.append(f"{out}_t = {x}.view(-1, {g.grid[0]}, {g.grid[1]}, {g.width})[:, ::{g.stride}, ::{g.stride}]"
                     f".reshape(-1, {g.queries}, {g.width})")
        lines += _project(m, "q", f"{out}_t", f"{out}_t", bn)
        lines.append(f"{out}_q = {out}_t.view(-1, {g.queries}, {g.heads}, {g.key}).transpose(1, 2)")
    else:
        lines = _project(m, "qkv", x, f"{out}_t", bn)
        lines.append(f"{out}_q, {out}_k, {out}_v = {out}_t.view(-1, {g.count}, {g.heads}, {2 * g.key + g.value})"
                     f".transpose(1, 2).split([{g.key}, {g.key}, {g.value}], 3)")
    if a["qk_norm"]:
        lines.append(f'{out}_q, {out}_k = {m}["q_norm"]({out}_q), {m}["k_norm"]({out}_k)')
    mask = f"{m}.attention_biases[:, {m}.attention_bias_idxs]" if a.get("attn_bias") else "None"
    lines.append(f"{out} = F.scaled_dot_product_attention({out}_q, {out}_k, {out}_v, attn_mask={mask}, "
                 f"dropout_p={_drop_text(a)}, scale={py_literal(g.key ** -0.5)})")
    lines.append(f"{out} = {out}.transpose(1, 2).reshape(-1, {g.queries}, {g.heads * g.value})")
    kind = a.get("act", "identity")
    if ACTIVATIONS[kind].fn is not None:
        lines.append(f"{out} = {ACTIVATIONS[kind].call(out)}")
    lines += _project(m, "proj", out, out, bn)
    return lines + _proj_drop(a, out)


def _drop_text(a) -> str:
    return f"{py_literal(float(a['attn_drop']))} if self.training else 0.0" if a["attn_drop"] else "0.0"


def _proj_drop(a, out: str) -> list[str]:
    return [f"{out} = F.dropout({out}, {py_literal(float(a['proj_drop']))}, self.training)"] if a["proj_drop"] else []


def _vit_forward(node, x: str, m: str, out: str) -> list[str]:
    a = node.attrs
    channels, count = node.shape
    heads = a["heads"]
    lines = [f'{out}_q, {out}_k, {out}_v = {m}["qkv"]({x}).reshape(-1, {count}, 3, {heads}, {channels // heads})'
             f".permute(2, 0, 3, 1, 4).unbind(0)"]
    if a["qk_norm"]:
        lines.append(f'{out}_q, {out}_k = {m}["q_norm"]({out}_q), {m}["k_norm"]({out}_k)')
    lines.append(f"{out} = F.scaled_dot_product_attention({out}_q, {out}_k, {out}_v, dropout_p={_drop_text(a)})")
    lines.append(f'{out} = {m}["proj"]({out}.transpose(1, 2).reshape(-1, {count}, {channels}))')
    return lines + _proj_drop(a, out)


def _linear_weights(name: str, bias: bool, bn: bool) -> tuple[str, ...]:
    if bn:
        return (f"{name}.linear.weight",) + tuple(f"{name}.bn.{k}" for k in ("weight", "bias", "running_mean", "running_var"))
    return (f"{name}.weight",) + ((f"{name}.bias",) if bias else ())


def _inner_norms(attrs):
    """With `bn`, each projection is a Linear without bias and a BatchNorm1d (LeViT's
    LinearNorm): in eval mode one Linear with a bias. The (linear, bn, fused) prefixes of
    each with its BatchNorm's eps (PyTorch's default, as _linear_text builds it), and the
    attributes of the folded op (no `bn`, biased projections); None without."""
    if not attrs.get("bn"):
        return None
    names = ("kv", "q", "proj") if attrs.get("stride", 1) > 1 else ("qkv", "proj")
    folded = {**attrs, "bn": False, "qkv_bias": True, "proj_bias": True}
    return tuple((f"{name}.linear", f"{name}.bn", name, 1e-5) for name in names), folded


def _weights(node) -> tuple[str, ...]:
    a = node.attrs
    bn = a.get("bn", False)
    if a.get("stride", 1) > 1:
        inputs = _linear_weights("kv", a["qkv_bias"], bn) + _linear_weights("q", a["qkv_bias"], bn)
    else:
        inputs = _linear_weights("qkv", a["qkv_bias"], bn)
    return (inputs + (("q_norm.weight", "q_norm.bias", "k_norm.weight", "k_norm.bias") if a["qk_norm"] else ())
            + (("attention_biases",) if a.get("attn_bias") else ()) + _linear_weights("proj", a["proj_bias"], bn))


_OPTIONAL_INT = replace(POSITIVE, optional=True)
ATTENTION = OpKind(
    "attention", {"heads": POSITIVE, "qkv_bias": BOOL, "qk_norm": BOOL, "attn_drop": FLOAT, "proj_drop": FLOAT,
                  "eps": FLOAT, "proj_bias": BOOL, "key_dim": _OPTIONAL_INT, "attn_ratio": replace(FLOAT, optional=True),
                  "attn_bias": replace(BOOL, optional=True), "stride": _OPTIONAL_INT, "out": _OPTIONAL_INT,
                  "bn": replace(BOOL, optional=True), "act": replace(TEXT, optional=True),
                  "grid": replace(PAIR, optional=True)},
    doc="multi-head self-attention over tokens (timm's ViT Attention: qkv, q_norm, k_norm, proj; with key_dim "
        "EfficientFormer's and LeViT's: attention_biases, kv and q with a stride, LinearNorm projections)",
    shape=_shape, params=_params, macs=_macs, label=_label, module=_module, forward=_forward, fresh=True,
    weights=_weights, fill="#fbe3d6", closing_norm=lambda attrs: "proj.bn" if attrs.get("bn") else None,
    inner_norms=_inner_norms,
)


# -- the layer word ---------------------------------------------------------------------
def _drop(bound, name, sink) -> float:
    return number(bound, name, sink, 0.0, 1.0, "a dropout probability")


def _eps(bound, name, sink) -> float:
    return number(bound, name, sink, *EPS_RANGE, "eps")


def _optional_int(what: str):
    return lambda b, n, s: None if b[n] is None else positive_int(b, n, s, what)


def _ratio(bound, name, sink) -> float:
    return number(bound, name, sink, 1e-3, 1e3, "the ratio of a head's value width to its key width")


_ARGS = {"heads": lambda b, n, s: positive_int(b, n, s, "the number of heads"),
         "qkv_bias": boolean, "qk_norm": boolean, "attn_drop": _drop, "proj_drop": _drop, "eps": _eps,
         "proj_bias": boolean, "key_dim": _optional_int("a head's key width"), "attn_ratio": _ratio,
         "attn_bias": boolean, "stride": lambda b, n, s: positive_int(b, n, s, "the query stride"),
         "out": _optional_int("the output width"), "bn": boolean, "act": activation,
         "grid": lambda b, n, s: None if b[n] is None else pair(b, n, s, "the grid the attention is built for")}
_DEFAULTS = {"qkv_bias": True, "qk_norm": False, "attn_drop": 0.0, "proj_drop": 0.0, "eps": 1e-6, "proj_bias": True}
# EfficientFormer's and LeViT's options: left out of the node at their default, and only with key_dim
_KEYED = {"attn_ratio": 1.0, "attn_bias": False, "stride": 1, "out": None, "bn": False, "act": "identity",
          "grid": None}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    keyed = {name: attrs.pop(name) for name in _KEYED}
    if attrs["key_dim"] is None:
        attrs.pop("key_dim")
        written = [name for name, default in _KEYED.items() if keyed[name] != default]
        if written:
            b.sink.emit(codes.BAD_VALUE, f"`{written[0]}` needs `key_dim` (EfficientFormer's and LeViT's "
                        "attention, whose heads have widths of their own)", bound.span(written[0]),
                        "without key_dim", help=f"give each head's key width, as `key_dim=32`")
            raise EvalError()
    else:
        if int(keyed["attn_ratio"] * attrs["key_dim"]) < 1:
            b.sink.emit(codes.BAD_VALUE, "a head's value width, int(attn_ratio * key_dim), must be at least 1",
                        bound.span("attn_ratio"), "no value channels")
            raise EvalError()
        if keyed["stride"] > 1 and keyed["grid"] is None:
            b.sink.emit(codes.BAD_VALUE, "a query stride needs the grid the attention is built for (timm's "
                        "`resolution`)", bound.span("stride"), "without grid", help="add `grid=14x14`, say")
            raise EvalError()
        if keyed["bn"]:  # LeViT's LinearNorm: the BatchNorm's shift is the projections' bias
            attrs["qkv_bias"] = attrs["proj_bias"] = False
        attrs |= {name: value for name, value in keyed.items() if value != _KEYED[name]}
    return b.add("", Op.ATTENTION, attrs) if b.unique() else None


def _source(args, in_ch):
    parts = [str(in_ch), args.get("heads").src]
    for name, default in _DEFAULTS.items():
        arg = args.get(name)
        if not arg.is_(default):
            parts.append(f"{name}={arg.src}")
    key_dim = args.get("key_dim")
    if key_dim.is_(None):
        args.helpers.add("Attention")
        return args.code(f"Attention({', '.join(parts)})", in_ch)
    parts.append(f"key_dim={key_dim.src}")
    for name, default in _KEYED.items():
        arg = args.get(name, literal=py_literal) if name == "grid" else args.get(name)
        if name == "act" and arg.symbolic:  # a block parameter names it
            args.helpers.add("Activation")
            parts.append(f"act=Activation({arg.src})")
        elif name == "act" and not arg.is_(default):
            args.helpers.update(ACTIVATIONS[arg.value].helpers)
            parts.append(f"act={ACTIVATIONS[arg.value].module_source()}")
        elif name == "grid" and arg.is_(None):  # the tokens' own grid, where a layer needs it
            from inception_dsl.ops.token_params import call_input  # here: token_params registers its words itself
            if _grid_needed(args) and not args.ctx.in_shapes(args.call):
                call_input(args, "the tokens' grid")  # the located error of a call shape inference never reached
            grid = args.per_instance("grid", lambda shape: shape.grid) if _grid_needed(args) else "None"
            parts += [f"grid={grid}"] if grid != "None" else []
        elif name not in ("act", "grid") and not arg.is_(default) or name == "grid" and not arg.is_(None):
            parts.append(f"{name}={arg.src}")
    args.helpers.add("GridAttention")
    out = args.get("out")
    return args.code(f"GridAttention({', '.join(parts)})", in_ch if out.is_(None) else out.src if out.symbolic
                     else out.value)


def _grid_needed(args) -> bool:
    """Whether the class needs the grid: for attention biases (a block parameter may set them)."""
    bias = args.get("attn_bias")
    return bias.symbolic or bias.value


register(LayerDef(
    LayerSig("attention", ("heads",), {"heads": REQUIRED, **_DEFAULTS, "key_dim": None, **_KEYED, "act": None},
             summary="multi-head self-attention over tokens (timm's Attention; EfficientFormer's, LeViT's)",
             example="attention(8, key_dim=32, attn_ratio=4, out=256)"),
    elaborate=_elaborate, source=_source, args=_ARGS, keeps_channels=False,
    doc="children `qkv`, `q_norm`, `k_norm`, `proj` as timm's; computed with `F.scaled_dot_product_attention`; "
        "`heads` must divide the channels (E213); `eps` is the q/k LayerNorm's. With `key_dim`: each head's "
        "key width, values `attn_ratio` times wider, `attn_bias` (timm's `attention_biases` over the grid), "
        "`stride` (queries from the subsampled grid: `kv` and `q`), `out` width, `bn` (LinearNorm projections), "
        "`act` before `proj`, `grid` it is built for (timm's `resolution`; by default the tokens' own, needed "
        "with a stride)",
))
