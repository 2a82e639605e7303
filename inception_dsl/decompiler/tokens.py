"""Vision transformers: which traced operations on tokens are the language's token words.

A grid becomes tokens where timm's PatchEmbed writes `x.flatten(2).transpose(1, 2)`
(`to_tokens`); from there a tensor (B, N, C) has the layout `TOKENS`, and on it timm's
`Attention` is `attention(heads, ...)`, `nn.Linear` is `linear`, a LayerNorm over the channels
is `layernorm`, the concatenation of a parameter in front is `class_token` (its parameter's name
the label: `cls_token`, `reg_token`), the addition of a parameter of the tokens' shape is
`pos_embed`, `x[:, i]` is `token(i)` and a per-channel parameter times the tokens
`layer_scale`. Anything else on tokens is refused by words.py as before. Imports torch."""

from __future__ import annotations

from torch import nn

from inception_dsl.decompiler.trace import Event
from inception_dsl.decompiler.tree import Layer

__all__ = ["ATTENTION_DEFAULTS", "FLAT", "TOKENS", "is_attention", "to_tokens", "token_words"]

TOKENS = "tokens"
FLAT = "flatgrid"  # (B, C, H*W): a grid flattened, on its way to tokens
ATTENTION_DEFAULTS = {"qkv_bias": True, "qk_norm": False, "attn_drop": 0.0, "proj_drop": 0.0, "eps": 1e-6,
                      "proj_bias": True}


class NoTokenWord(Exception):
    def __init__(self, missing: str, detail: str = ""):
        super().__init__(missing)
        self.missing, self.detail = missing, detail


def is_attention(module: nn.Module) -> bool:
    cls = type(module)  # timm.layers.attention's, which ViT, DeiT, ... use (BEiT's, LeViT's are others)
    return cls.__name__ == "Attention" and cls.__module__ == "timm.layers.attention"


def to_tokens(event: Event, fname: str) -> tuple[list, str] | None:
    """`flatten(2)` of a grid, then `transpose(1, 2)`: `to_tokens` (None: not this)."""
    shape_in, args = event.in_shape or (), event.args
    if event.layout == "nchw" and fname == "flatten" and len(shape_in) == 4 and \
            (args[1:2] or (event.kwargs.get("start_dim"),))[0] == 2 and len(event.shapes[0]) == 3:
        return [], FLAT
    if event.layout == FLAT and fname == "transpose" and sorted(d % 3 for d in args[1:3]) == [1, 2]:
        return [Layer("to_tokens")], TOKENS
    return None


def token_words(event: Event, fname: str) -> list | None:
    """The words of an operation on tokens, None where words.py's rules apply (activations,
    dropout, joins of two tensors); raises NoTokenWord for what has none."""
    if event.is_module:
        return _module(event.target, event.in_shape or ())
    params = [value for value in event.inputs if value[0] == "param"]
    if fname in ("cat", "concat") and params and len(event.tensor_inputs()) == 1:
        return _class_tokens(event, params)
    if fname in ("add", "__add__", "__radd__", "add_", "__iadd__") and len(params) == 1 and \
            len(event.tensor_inputs()) == 1 and tuple(params[0][2].shape) == tuple(event.in_shape or ()):
        return [Layer("pos_embed", params=True, label=_param_label(params[0][1], event.path))]
    if fname == "__getitem__":
        index = event.args[1] if len(event.args) > 1 else None
        if isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None) and isinstance(index[1], int):
            return [Layer("token", [(None, index[1] % event.in_shape[1])])]
        raise NoTokenWord("tokens taken other than one by index", f"{index!r}")
    if fname in ("view", "reshape", "contiguous") and event.shapes[0] == event.in_shape:
        return []
    if fname == "layer_norm" and len(params) == 2:
        return [Layer("layernorm", [("eps", float(event.kwargs.get("eps", event.args[4] if len(event.args) > 4
                                                                      else 1e-5)))], params=True)]
    return None


def _module(m: nn.Module, shape_in: tuple) -> list | None:
    if is_attention(m):
        return [_attention(m)]
    if isinstance(m, nn.Linear):
        return [Layer("linear", [(None, m.out_features), ("bias", m.bias is not None)], params=True)]
    if isinstance(m, nn.LayerNorm) and len(shape_in) == 3:
        if len(m.normalized_shape) != 1 or not m.elementwise_affine:
            raise NoTokenWord("layernorm over several dimensions or without affine")
        return [Layer("layernorm", [("eps", float(m.eps))] + ([] if m.bias is not None else [("bias", False)]),
                      params=True)]
    return None


def _attention(m: nn.Module) -> Layer:
    width = m.qkv.in_features
    if getattr(m, "gate", None) is not None or not isinstance(getattr(m, "norm", nn.Identity()), nn.Identity) or \
            m.num_heads * m.head_dim != width or m.proj.out_features != width:
        raise NoTokenWord("attention with a gate, a scale norm or another width", f"{m!r}"[:200])
    qk_norm = not isinstance(m.q_norm, nn.Identity)
    eps = float(getattr(m.q_norm, "eps", 1e-6)) if qk_norm else 1e-6
    values = {"qkv_bias": m.qkv.bias is not None, "qk_norm": qk_norm, "attn_drop": float(m.attn_drop.p),
              "proj_drop": float(m.proj_drop.p), "eps": eps, "proj_bias": m.proj.bias is not None}
    return Layer("attention", [(None, m.num_heads)] + list(values.items()), params=True)


def _class_tokens(event: Event, params: list) -> list:
    """cat([cls_token.expand(B, -1, -1), reg_token..., x], dim=1): `class_token` per parameter."""
    dim = event.kwargs.get("dim", event.args[1] if len(event.args) > 1 else 0)
    order = [value[0] for value in event.inputs]
    if dim % 3 != 1 or order[-1] == "param" or any(kind != "param" for kind in order[:-1]):
        raise NoTokenWord("tokens concatenated other than learned ones in front")
    return [Layer("class_token", [(None, int(tensor.shape[1]))] if tensor.shape[1] != 1 else [], params=True,
                  label=_param_label(pname, event.path)) for _, pname, tensor in params]


def _param_label(pname: str, path: str) -> str | None:
    owner, _, attr = pname.rpartition(".")
    return attr if owner == path and attr.isidentifier() else None
