"""Which language word a traced module or torch function is.

`is_word_module(m)`: a module that one word (or a fixed pair, as timm's BatchNormAct2d:
`bn` then its activation) stands for; the tracer records it whole. `module_words(event)`
and `function_words(event)` give the statements of one event, or a `Join`/`Scale`
marker (`cat`, `+`, `*`, `chunk`) for structure.py, or raise `Missing` with the word the
language lacks. Activations come from the one table (ops/activations.py). Imports torch."""

from __future__ import annotations

import math

from torch import nn

from inception_dsl.decompiler.tokens import ATTENTION_DEFAULTS, TOKENS, NoTokenWord, is_attention, token_words
from inception_dsl.decompiler.trace import Event, _Slot
from inception_dsl.decompiler.tree import Follows, Fork, Join, Layer, Scale, Size, Sym
from inception_dsl.ops.activations import ACTIVATIONS

__all__ = ["act_name", "DEFAULTS", "Missing", "is_word_module", "module_words", "function_words", "PASS_THROUGH", "BN_DEFAULTS"]

BN_DEFAULTS = {"eps": 1e-5, "momentum": 0.1}
NHWC = "nhwc"  # a tensor permuted to channels-last (ConvNeXt's blocks): linear and layernorm act on channels
# keyword arguments a word takes by default: left out of the text where the value is literal
DEFAULTS = {
    "conv": {"stride": 1, "pad": Sym("same"), "dilation": 1, "groups": 1, "bn": True, "act": Sym("relu")},
    "maxpool": {"stride": 1, "pad": Sym("same"), "ceil_mode": False},
    "avgpool": {"stride": 1, "pad": Sym("same"), "ceil_mode": False, "count_include_pad": True},
    "conv_transpose": {"stride": 1, "pad": 0, "output_padding": 0, "groups": 1, "dilation": 1, "bias": True},
    "bn": dict(BN_DEFAULTS), "linear": {"bias": True}, "layernorm": {"eps": 1e-5}, "groupnorm": {"eps": 1e-5},
    "elu": {"alpha": 1.0}, "leaky_relu": {"slope": 0.01}, "upsample": {"mode": Sym("nearest"), "align_corners": False},
    "attention": ATTENTION_DEFAULTS, "resize": {"mode": Sym("nearest"), "align_corners": False},
}


class Missing(Exception):
    """No word says this: `missing` names it (short, ranked by the census)."""

    def __init__(self, missing: str, detail: str = ""):
        super().__init__(missing)
        self.missing, self.detail = missing, detail


def _activation_modules() -> dict[type, str]:
    table = {}
    for act in ACTIVATIONS.values():
        cls = getattr(nn, act.module.split("(")[0].removeprefix("nn."), None)
        if cls is not None:
            table[cls] = act.name
    return table


ACT_MODULES = _activation_modules()
ACT_FUNCTIONS = {act.fn.rpartition(".")[2]: act.name for act in ACTIVATIONS.values() if act.fn}
ACT_FUNCTIONS.update({name + "_": act for name, act in list(ACT_FUNCTIONS.items())})
ACT_NAMES = {act.name for act in ACTIVATIONS.values()}
ACT_PARAMS = {act.name: act.params for act in ACTIVATIONS.values() if act.params}  # ops.activations.Param tuples
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
WORD_CLASSES = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.Linear, nn.Dropout, nn.Flatten, nn.Identity, nn.GroupNorm,
                nn.LayerNorm, *_POOLS, *ACT_MODULES)
# torch functions that change nothing a spec can see
_ELEMENTWISE = {"add", "__add__", "__iadd__", "add_", "__radd__", "mul", "__mul__", "__imul__", "mul_", "__rmul__",
                "dropout", "contiguous", "clone"}
PASS_THROUGH = {"contiguous", "clone", "detach", "float", "type_as", "to", "__getattribute__"}


def _timm_class(module: nn.Module, name: str) -> bool:
    cls = type(module)
    return cls.__name__ == name and cls.__module__.startswith("timm.")


def _torchvision_class(module: nn.Module, name: str) -> bool:
    cls = type(module)
    return cls.__name__ == name and cls.__module__.startswith("torchvision.")


def is_word_module(module: nn.Module) -> bool:
    cls = type(module)
    if cls in WORD_CLASSES:
        return True
    # timm's Linear is nn.Linear with a forward for TorchScript (F.linear, cast for AMP)
    return is_attention(module) or any(_timm_class(module, name) for name in (
        "BatchNormAct2d", "LayerNorm2d", "DropPath", "LayerNorm", "Linear", *_TF_SAME)) or \
        _torchvision_class(module, "StochasticDepth")


_TF_SAME = ("Conv2dSame", "MaxPool2dSame", "AvgPool2dSame")  # timm: TF's 'SAME' padding, from the input size


def _tf_same(words: list) -> list:
    """The word with `tf_same` for its padding (the module pads in forward, its own padding is 0)."""
    layer = words[0]
    layer.args = [(key, Sym("tf_same") if key == "pad" else value) for key, value in layer.args]
    return words


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _size(value) -> Size | int:
    h, w = _pair(value)
    return Size(h, w)


def conv_words(m: nn.Conv2d) -> list:
    if m.padding_mode != "zeros":
        raise Missing("conv padding_mode", f"padding_mode={m.padding_mode!r}")
    kernel, stride, dilation = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
    if isinstance(m.padding, str):  # torch's 'same' pads d(k-1) in all, an odd pixel after: the spec's `same`
        pad = Sym("same" if m.padding == "same" else "valid")
    else:
        pad = pad_value(kernel, dilation, _pair(m.padding))
    args: list = [(None, m.out_channels), (None, Size(*kernel)), ("stride", _one(stride)), ("pad", pad),
                  ("dilation", _one(dilation)), ("groups", m.groups), ("bias", m.bias is not None), ("bn", False),
                  ("act", Sym("identity"))]
    return [Layer("conv", args, params=True)]


def _conv_transpose(m: nn.ConvTranspose2d) -> list:
    if m.padding_mode != "zeros":
        raise Missing("conv_transpose padding_mode", f"padding_mode={m.padding_mode!r}")
    args: list = [(None, m.out_channels), (None, _size(m.kernel_size)), ("stride", _one(_pair(m.stride))),
                  ("pad", _one(_pair(m.padding))), ("output_padding", _one(_pair(m.output_padding))),
                  ("groups", m.groups), ("dilation", _one(_pair(m.dilation))), ("bias", m.bias is not None)]
    return [Layer("conv_transpose", args, params=True)]


def _one(pair):
    return pair[0] if pair[0] == pair[1] else tuple(pair)


def pad_value(kernel, dilation, padding):
    """`same` where the spec's default pads so, `valid` for none, else the padding."""
    same = tuple(d * (k - 1) // 2 if d * (k - 1) % 2 == 0 else None for k, d in zip(kernel, dilation))
    if tuple(padding) == same:
        return Sym("same")
    if tuple(padding) == (0, 0):
        return Sym("valid")
    return _one(padding)


def bn_words(m: nn.modules.batchnorm._BatchNorm) -> list:
    if not (m.affine and m.track_running_stats) or m.momentum is None:
        raise Missing("bn without affine or running statistics")
    return [Layer("bn", [("eps", float(m.eps)), ("momentum", float(m.momentum))], params=True)]


def act_word(name: str, values: dict | None = None) -> Layer:
    """`elu(alpha=...)` where the activation has numbers (written always), and a word parameter
    away from its default (`gelu(approximate=tanh)`); else `act(kind)`, written bare: a block
    parameter where it varies. `values`: spec parameter name -> value (default where missing)."""
    params, values = ACT_PARAMS.get(name, ()), values or {}
    args = [(p.name, float(values.get(p.name, p.default))) for p in params if not p.choices]
    args += [(p.name, Sym(values[p.name])) for p in params if p.choices and values.get(p.name, p.default) != p.default]
    return Layer(name, args) if args else Layer("act", [(None, Sym(name))])


def act_name(layer: Layer) -> str | None:
    """The activation a layer is, when it is a plain one written literally (`act(relu)`, `relu`)."""
    if layer.word == "act" and len(layer.args) == 1 and isinstance(layer.args[0][1], Sym):
        return layer.args[0][1].name
    return layer.word if layer.word in ACT_NAMES and not layer.args else None


def _pool_words(m, shape_in) -> list:
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        size = _pair(m.output_size)
        kind = "avg" if isinstance(m, nn.AdaptiveAvgPool2d) else "max"
        return [Layer(f"global_{kind}pool")] if size == (1, 1) else [Layer(f"adaptive_{kind}pool", [(None, Size(*size))])]
    return pool_layer("max" if isinstance(m, nn.MaxPool2d) else "avg", m.kernel_size, m.stride, m.padding,
                      m.ceil_mode, getattr(m, "count_include_pad", True), getattr(m, "dilation", 1),
                      getattr(m, "divisor_override", None))


def pool_layer(kind, kernel, stride, padding, ceil_mode, count_include_pad=True, dilation=1, divisor=None) -> list:
    if _pair(dilation) != (1, 1) or divisor is not None:
        raise Missing(f"{kind}pool dilation/divisor_override")
    kernel = _pair(kernel)
    stride = _pair(stride if stride not in (None, ()) else kernel)
    args: list = [(None, Size(*kernel)), ("stride", _one(stride)), ("pad", pad_value(kernel, (1, 1), _pair(padding))),
                  ("ceil_mode", bool(ceil_mode))]
    if kind == "avg":
        args.append(("count_include_pad", bool(count_include_pad)))
    return [Layer(f"{kind}pool", args)]


def _on_tokens(event: Event, name: str) -> list | None:
    if event.layout != TOKENS:
        return None
    try:
        return token_words(event, name)
    except NoTokenWord as missing:
        raise Missing(missing.missing, missing.detail) from None


def module_words(event: Event) -> list:
    m = event.target
    words = _on_tokens(event, type(m).__name__)
    if words is not None:
        return words
    if any(_timm_class(m, name) for name in _TF_SAME):
        if _pair(m.padding) != (0, 0):
            raise Missing(f"{type(m).__name__} with padding besides TF's 'SAME'", f"padding={m.padding}")
        return _tf_same(conv_words(m) if isinstance(m, nn.Conv2d) else _pool_words(m, event.in_shape))
    if isinstance(m, nn.Conv2d):
        return conv_words(m)
    if isinstance(m, nn.ConvTranspose2d):
        return _conv_transpose(m)
    if _timm_class(m, "BatchNormAct2d"):
        drop = getattr(m, "drop", None)
        if drop is not None and not isinstance(drop, nn.Identity):
            raise Missing("dropout inside BatchNormAct2d")
        act = getattr(m, "act", None)
        words = bn_words(m)
        if act is not None and not isinstance(act, nn.Identity):
            if type(act) not in ACT_MODULES:
                raise Missing(f"activation {type(act).__name__}")
            words.append(_act_module(act))
        return words
    if isinstance(m, nn.BatchNorm2d):
        return bn_words(m)
    if type(m) in ACT_MODULES:
        return [_act_module(m)]
    return _other_module_words(m, event)


def _act_module(m) -> Layer:
    name = ACT_MODULES[type(m)]
    return act_word(name, {p.name: getattr(m, p.keyword) for p in ACT_PARAMS.get(name, ()) if hasattr(m, p.keyword)})


def _other_module_words(m, event: Event) -> list:
    shape_in = event.in_shape
    if isinstance(m, nn.Linear) and len(shape_in) == 4 and event.layout == NHWC:
        return [Layer("conv", [(None, m.out_features), (None, Size(1, 1)), ("bias", m.bias is not None), ("bn", False),
                               ("act", Sym("identity"))], params=True)]
    if isinstance(m, nn.LayerNorm) and len(shape_in) == 4 and event.layout == NHWC:
        if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
            raise Missing("layernorm over several dimensions or without affine")
        return [Layer("layernorm", _eps(m), params=True)]
    if event.layout == NHWC and not isinstance(m, (nn.Dropout, nn.Identity, *ACT_MODULES)) and not \
            _timm_class(m, "DropPath") and not _torchvision_class(m, "StochasticDepth"):
        raise Missing(f"channels-last {type(m).__name__}")
    if isinstance(m, nn.Linear):
        if len(shape_in) != 2:
            raise Missing("linear on a grid", f"input {shape_in}")
        return [Layer("linear", [(None, m.out_features), ("bias", m.bias is not None)], params=True)]
    if isinstance(m, _POOLS):
        return _pool_words(m, shape_in)
    if isinstance(m, nn.Dropout):
        return [Layer("dropout", [(None, float(m.p))])] if m.p else [Layer("identity")]
    if isinstance(m, nn.Identity):
        return [Layer("identity")]
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise Missing("flatten of other dimensions")
        return [Layer("flatten")] if len(shape_in) != 2 else [Layer("identity")]
    if isinstance(m, nn.GroupNorm):
        if not m.affine:
            raise Missing("groupnorm without affine")
        return [Layer("groupnorm", [(None, m.num_groups)] + _eps(m), params=True)]
    if _timm_class(m, "LayerNorm2d") or (isinstance(m, nn.LayerNorm) and len(shape_in) == 2):
        if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
            raise Missing("layernorm over several dimensions or without affine")
        return [Layer("layernorm", _eps(m), params=True)]
    if isinstance(m, nn.LayerNorm):
        raise Missing("layernorm over the last dimension of a grid (channels-last)", f"input {shape_in}")
    if _timm_class(m, "DropPath") or _torchvision_class(m, "StochasticDepth"):
        p = float(getattr(m, "drop_prob", getattr(m, "p", 0.0)))
        if not getattr(m, "scale_by_keep", True) or getattr(m, "mode", "row") != "row":
            raise Missing("stochastic depth without per-sample rescaling", f"{m!r}")
        return [Layer("drop_path", [(None, p)])] if p else [Layer("identity")]
    raise Missing(type(m).__name__)


def _eps(m) -> list:
    return [("eps", float(m.eps))]


def _arg(event: Event, index: int, name: str, default=None):
    if name in event.kwargs:
        return event.kwargs[name]
    return event.args[index] if index < len(event.args) else default


def function_words(event: Event) -> list:
    fname = getattr(event.target, "__name__", str(event.target))
    words = _on_tokens(event, fname)
    if words is not None:
        return words
    if fname == "layer_norm" and event.layout == NHWC or (fname == "layer_norm" and len(event.in_shape or ()) == 2):
        return [_layer_norm(event)]
    if event.layout == NHWC and fname not in ACT_FUNCTIONS and fname not in _ELEMENTWISE:
        raise Missing(f"channels-last torch function `{fname}`", f"{event.in_shape}")
    if fname in ACT_FUNCTIONS:
        act = ACT_FUNCTIONS[fname]
        params = ACT_PARAMS.get(act, ())
        return [act_word(act, {p.name: _arg(event, 1 + i, p.keyword, p.default) for i, p in enumerate(params)})]
    if fname in ("cat", "concat", "concatenate"):
        if len(event.tensor_inputs()) == 1 and len(event.inputs) == 1:
            return []  # the concatenation of one tensor is that tensor
        if _arg(event, 1, "dim", 0) not in (1, -3) or len(event.shapes[0]) != 4:
            raise Missing("concat along another dimension")
        return [Join("concat", [])]
    if fname in ("chunk", "split", "split_with_sizes", "tensor_split") and len(event.shapes) > 1:
        if len(event.in_shape or ()) != 4 or any(shape[2:] != event.in_shape[2:] for shape in event.shapes):
            raise Missing(f"`{fname}` along another dimension than channels")
        return [Fork(tuple(shape[1] for shape in event.shapes))]
    if fname in ("add", "__add__", "__iadd__", "add_", "__radd__", "mul", "__mul__", "__imul__", "mul_", "__rmul__"):
        return _arith(event, "sum" if "add" in fname else "product")
    return _reshaping(event, fname)


def _arith(event: Event, join: str) -> list:
    traced = event.tensor_inputs()
    others = [v for v in list(event.args) + list(event.kwargs.values()) if not isinstance(v, _Slot)]
    if join == "sum" and ("alpha" in event.kwargs):
        raise Missing("add with alpha")
    if len(traced) == 2 and len(event.inputs) == 2:
        return [Join(join, [])]
    neutral = 0 if join == "sum" else 1
    if len(traced) == 1 and len(others) == 1 and not isinstance(others[0], bool) and others[0] == neutral:
        return []  # `0 + x` (MobileOne's running sum starts at 0), `x * 1`
    if join == "product" and len(traced) == 1 and len(others) == 1 and isinstance(others[0], (int, float)):
        return [Scale(float(others[0]))]
    params = [v for v in event.inputs if v[0] == "param"]
    if join == "product" and len(traced) == 1 and len(params) == 1:
        return [_layer_scale(event, params[0][2])]
    raise Missing(f"{'addition' if join == 'sum' else 'multiplication'} by a constant")


def _layer_norm(event: Event) -> Layer:
    """F.layer_norm over the channels (the last dimension, channels-last or flat), affine."""
    shape = _arg(event, 1, "normalized_shape")
    params = [v for v in event.inputs if v[0] == "param"]
    if len(tuple(shape)) != 1 or len(params) != 2:
        raise Missing("layernorm over several dimensions or without affine")
    eps = float(_arg(event, 4, "eps", 1e-5))
    return Layer("layernorm", [("eps", eps)], params=True)


def _layer_scale(event: Event, gamma) -> Layer:
    """x times a per-channel parameter: `layer_scale` (its init: the parameter's value when constant)."""
    channels = event.in_shape[-1] if event.layout in (NHWC, TOKENS) else event.in_shape[1]
    if gamma.numel() != channels or len(event.in_shape) != (3 if event.layout == TOKENS else 4):
        raise Missing("multiplication by a parameter that is not per channel", f"{tuple(gamma.shape)}")
    flat = gamma.detach().flatten()
    init = float(f"{float(flat[0]):.7g}") if bool((flat == flat[0]).all()) else 1.0  # as float32 holds it
    return Layer("layer_scale", [("init", init)], params=True)


def _reshaping(event: Event, fname: str) -> list:
    shape_in = event.in_shape
    shape_out = event.shapes[0]
    if fname in PASS_THROUGH or (fname in ("dropout", "dropout_") and not _arg(event, 1, "p", 0.5)):
        return []
    if fname in ("dropout", "dropout_"):
        return [Layer("dropout", [(None, float(_arg(event, 1, "p", 0.5)))])]
    if fname in ("flatten", "view", "reshape") and len(shape_out) == 2 and shape_in is not None:
        if math.prod(shape_in) == math.prod(shape_out) and shape_out[0] == shape_in[0]:
            return [Layer("flatten")] if len(shape_in) == 4 else []
    if fname == "adaptive_avg_pool2d" or fname == "adaptive_max_pool2d":
        size = _pair(_arg(event, 1, "output_size"))
        join = "avg" if "avg" in fname else "max"
        return [Layer(f"global_{join}pool")] if size == (1, 1) else [Layer(f"adaptive_{join}pool", [(None, Size(*size))])]
    if fname == "mean" and shape_in is not None and len(shape_in) == 4:
        dims = _arg(event, 1, "dim")
        dims = tuple(sorted(d % 4 for d in (dims if isinstance(dims, (tuple, list)) else (dims,))))
        if dims == (2, 3):
            keep = _arg(event, 2, "keepdim", False)
            return [Layer("global_avgpool")] + ([] if keep else [Layer("flatten")])
    if fname == "__getitem__" and shape_out == shape_in and _slices_only(event):
        return []  # every element (`x[:, :, :h, :w]` at the grid's own size)
    if fname in ("__getitem__", "narrow") and _channel_slice(event, fname):
        start, stop = _channel_slice(event, fname)
        if (start, stop) == (0, shape_in[1]):
            return []  # every channel (GhostNet's `out[:, :self.out_chs]` where the concat made just as many)
        return [channels_layer(start, stop)]
    if fname in ("interpolate", "upsample", "upsample_nearest", "upsample_bilinear"):
        return [_upsample(event, fname)]
    if fname == "pad" and _pad_to(event) is not None:
        return [_pad_to(event)]
    if fname in ("max_pool2d", "avg_pool2d"):
        join = fname[:3]
        return pool_layer(join, _arg(event, 1, "kernel_size"), _arg(event, 2, "stride"), _arg(event, 3, "padding", 0),
                          _arg(event, 5 if join == "max" else 4, "ceil_mode", False),
                          _arg(event, 5, "count_include_pad", True) if join == "avg" else True,
                          _arg(event, 4, "dilation", 1) if join == "max" else 1)
    raise Missing(f"torch function `{fname}`", f"{shape_in} -> {shape_out}")


def _upsample(event: Event, fname: str) -> Layer:
    """F.interpolate to a size (or by a factor) that is an integer multiple of the input's, per
    axis: `upsample(k)`. At the spec's fixed input size a `size=` and the factor it implies
    compute the same pixels (PyTorch derives the factor from the sizes)."""
    shape_in, shape_out = event.in_shape or (), event.shapes[0]
    mode = _arg(event, 3, "mode", "nearest") if fname == "interpolate" else fname.rpartition("_")[2]
    if fname == "upsample_bilinear":
        mode, align = "bilinear", True
    else:
        align = bool(_arg(event, 4, "align_corners", False)) if mode == "bilinear" else False
    if mode not in ("nearest", "bilinear") or _arg(event, 6, "antialias", False) or len(shape_in) != 4:
        raise Missing(f"interpolate mode {mode}" if len(shape_in) == 4 else "interpolate of other than a grid",
                      f"{shape_in} -> {shape_out}")
    factors = [o // i if i and o % i == 0 else 0 for i, o in zip(shape_in[2:], shape_out[2:])]
    upsample = None
    if all(factors) and shape_out[:2] == shape_in[:2]:
        args: list = [(None, factors[0] if factors[0] == factors[1] else Size(*factors)), ("mode", Sym(mode))]
        upsample = Layer("upsample", args + ([("align_corners", align)] if mode == "bilinear" else []))
    target = _followed(event) if _arg(event, 1, "size") is not None else None
    if target is not None:
        return Layer("resize", [("to", Follows(target, upsample)), ("mode", Sym(mode)), ("align_corners", align)])
    if upsample is None:
        raise Missing("interpolate to a size that is not an integer multiple of the input's", f"{shape_in} -> {shape_out}")
    return upsample


def _followed(event: Event):
    """The tensor whose grid the output takes: the last one whose size the module read before
    (`size=y.shape[-2:]`, U-Net's `x2.size()[2] - x1.size()[2]`), other than the input."""
    own = event.tensor_inputs()[:1]
    for ref, shape in reversed(event.sized_by):
        if len(shape) == 4 and shape[-2:] == event.shapes[0][-2:] and ref not in own:
            return ref
    return None


def _pad_to(event: Event) -> Layer | None:
    """F.pad by the difference to another tensor's grid, half before and the odd pixel after:
    `pad_to(LABEL)` (None: another padding)."""
    shape_in, shape_out = event.in_shape or (), event.shapes[0]
    pads = _arg(event, 1, "pad")
    if len(shape_in) != 4 or not isinstance(pads, (tuple, list)) or len(pads) != 4 or \
            _arg(event, 2, "mode", "constant") != "constant" or _arg(event, 3, "value", None) not in (None, 0, 0.0):
        return None
    dh, dw = shape_out[2] - shape_in[2], shape_out[3] - shape_in[3]
    if tuple(pads) != (int(dw / 2), dw - int(dw / 2), int(dh / 2), dh - int(dh / 2)):
        return None
    target = _followed(event)
    return Layer("pad_to", [(None, Follows(target))]) if target is not None else None


def channels_layer(start: int, stop: int) -> Layer:
    """`channels(start, stop)`: channels [start, stop) of a grid as a tensor of its own."""
    return Layer("channels", [(None, start), (None, stop)])


def _channel_slice(event: Event, fname: str = "__getitem__") -> tuple[int, int] | None:
    """`x[:, a:b]` (or `x[:, a:b, :, :]`, `x[:, a:b, ...]`, `x.narrow(1, a, b - a)`) on a grid: (a, b)."""
    shape = event.in_shape or ()
    if len(shape) != 4:
        return None
    if fname == "narrow":
        dim, start, length = _arg(event, 1, "dim"), _arg(event, 2, "start"), _arg(event, 3, "length")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (dim, start, length)) or dim % 4 != 1:
            return None
        part = slice(start, start + length)
    else:
        index = event.args[1] if len(event.args) > 1 else None
        if not isinstance(index, tuple) or not 2 <= len(index) <= 4 or index[0] != slice(None) or \
                any(p != slice(None) and p is not Ellipsis for p in index[2:]):
            return None
        part = index[1]
    if not isinstance(part, slice) or part.step not in (None, 1):
        return None
    chosen = range(shape[1])[part]
    return (chosen.start, chosen.stop) if len(chosen) else None


def _slices_only(event: Event) -> bool:
    index = event.args[1] if len(event.args) > 1 else None
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(part, slice) and part.step in (None, 1) for part in parts)
