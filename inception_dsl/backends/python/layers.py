"""One built-in layer call -> the Python expression that builds its module.

An argument that mentions a block parameter is translated to a Python expression over
the constructor's arguments (`conv(2 * k, 1x1)` -> `ConvBnAct(in_channels, 2 * k, 1)`);
every other argument is bound and checked exactly as elaborate.py does, and written as
a literal, so the generated code reads like hand-written timm code. No torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

from inception_dsl.language import codes, layers
from inception_dsl.language import syntax as ast
from inception_dsl.language.diagnostics import Diagnostic, DiagnosticSink, Label
from inception_dsl.language.values import CONSTANTS, EvalError, Symbol, evaluate
from inception_dsl.backends.python.literals import py_literal

__all__ = ["Channels", "LayerCode", "CodegenError", "layer_code", "py_expr", "py_value", "add_channels",
           "channels_src", "mentions", "CHANNEL_PRESERVING"]

Channels = Union[int, str]  # a channel count: a literal, or a Python expression
CHANNEL_PRESERVING = frozenset({"maxpool", "avgpool", "global_avgpool", "adaptive_avgpool", "bn", "act",
                                "dropout", *layers.ACTIVATIONS})
_RELU, _IDENTITY = py_literal("relu"), py_literal("identity")  # activation names as they appear in generated source
_ACT_MODULES = {"relu": "nn.ReLU()", "relu6": "nn.ReLU6()", "gelu": "nn.GELU()", "silu": "nn.SiLU()",
                "identity": "nn.Identity()"}


class CodegenError(Exception):
    """The spec is valid but this construct cannot be written as one Python class."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span

    def diagnostic(self) -> Diagnostic:
        """The error as an E301 diagnostic located at the statement."""
        labels = (Label(self.span, "not supported by the Python backend", True),) if self.span is not None else ()
        return Diagnostic(codes.UNSUPPORTED, str(self), labels)


@dataclass
class LayerCode:
    ctor: str
    out: Channels
    comment: str = ""
    helpers: set[str] = field(default_factory=set)


# -- expressions and channel arithmetic ------------------------------------------------
def mentions(expr: ast.Expr, names: Mapping[str, str]) -> bool:
    """Whether the expression reads any of the given parameters."""
    return any(name in names for name in ast.names_in(expr))


def py_value(value: Any) -> str:
    """A bound value (int, float, bool, None, symbol, string, tuple) as a Python literal
    (literals.py: the only way a value reaches generated source)."""
    return py_literal(value)


def py_expr(expr: ast.Expr, names: Mapping[str, str], helpers: set[str]) -> str:
    """A spec expression as Python source; parameters become the constructor's locals."""
    if isinstance(expr, (ast.Num, ast.Str)):
        return py_literal(expr.value)
    if isinstance(expr, ast.Dims):
        return py_literal(expr.values)
    if isinstance(expr, ast.Name):
        if expr.name in names:
            return names[expr.name]
        return py_literal(CONSTANTS.get(expr.name, Symbol(expr.name)))  # a bare symbol: `relu`, `same`
    if isinstance(expr, ast.Neg):
        return f"-{_operand(expr.operand, names, helpers)}"
    if isinstance(expr, ast.Tuple):
        items = [py_expr(item, names, helpers) for item in expr.items]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(expr, ast.Not):
        return f"not {_operand(expr.operand, names, helpers)}"
    if isinstance(expr, ast.IfElse):
        parts = (_operand(e, names, helpers) for e in (expr.then, expr.condition, expr.other))
        return "{} if {} else {}".format(*parts)
    if isinstance(expr, ast.BinOp):
        left, right = _operand(expr.left, names, helpers), _operand(expr.right, names, helpers)
        if expr.op == "/":
            helpers.add("_div")
            return f"_div({py_expr(expr.left, names, helpers)}, {py_expr(expr.right, names, helpers)})"
        return f"{left} {expr.op} {right}"
    raise AssertionError(f"unknown expression {expr!r}")


def _operand(expr: ast.Expr, names, helpers) -> str:
    text = py_expr(expr, names, helpers)
    compound = (ast.BinOp, ast.Neg, ast.Not, ast.IfElse)
    return f"({text})" if isinstance(expr, compound) and not text.startswith("_div(") else text


def channels_src(channels: Channels) -> str:
    return str(channels)


def _atom(channels: Channels) -> str:
    text = str(channels)
    return text if isinstance(channels, int) or text.replace("_", "").replace(".", "").isalnum() else f"({text})"


def add_channels(parts: list[Channels]) -> Channels:
    literal = sum(p for p in parts if isinstance(p, int))
    symbolic = [str(p) for p in parts if not isinstance(p, int)]
    if not symbolic:
        return literal
    return " + ".join(symbolic + ([str(literal)] if literal else []))


def _mul_channels(channels: Channels, factor: int | str) -> Channels:
    if isinstance(factor, str):
        return f"{_atom(channels)} * {factor}"
    if isinstance(channels, int):
        return channels * factor
    return channels if factor == 1 else f"{_atom(channels)} * {factor}"


# -- layers -------------------------------------------------------------------------
@dataclass
class LayerContext:
    """What a layer needs from its surroundings."""

    env: Mapping[str, Any]  # concrete parameter values of one instance (for literal arguments)
    names: Mapping[str, str]  # spec parameter -> Python local
    settings: Mapping[str, Any]
    flat_area: Callable[[ast.Call], Union[int, str]]  # flatten: HxW of its input (a literal or an expression)


def _given(call: ast.Call, sig: layers.LayerSig, env, sink) -> dict[str, ast.Expr]:
    """Which explicitly written argument expression feeds each parameter (flags excluded)."""
    given: dict[str, ast.Expr] = {}
    positional = list(sig.positional)
    for arg in call.args:
        if arg.name is not None:
            given[arg.name] = arg.value
            if arg.name in positional:
                positional.remove(arg.name)
            continue
        value = evaluate(arg.value, env, sink)
        if isinstance(value, Symbol) and value.name in sig.flags:
            for key in sig.flags[value.name]:
                given.pop(key, None)
            continue
        if positional:
            given[positional.pop(0)] = arg.value
    return given


def layer_code(call: ast.Call, in_ch: Channels, ctx: LayerContext) -> LayerCode:
    sig = layers.LAYERS[call.name]
    sink = DiagnosticSink()
    try:
        bound = layers.bind(call, sig, ctx.env, ctx.settings, sink)
        given = _given(call, sig, ctx.env, sink)
        symbolic = {k: v for k, v in given.items() if mentions(v, ctx.names)}
        code = _build(call, bound, symbolic, in_ch, ctx, sink)
    except EvalError:
        message = sink.diagnostics[0].message if sink.diagnostics else "invalid arguments"
        raise CodegenError(f"cannot write `{call.name}` for every instance: {message}", call.span) from None
    return code


def _arg(name: str, bound, symbolic, ctx, helpers: set[str], concrete: Callable[[], Any]) -> str:
    if name in symbolic:
        return py_expr(symbolic[name], ctx.names, helpers)
    return _short(concrete())


def _short(value: Any) -> str:
    """(3, 3) -> 3: PyTorch accepts one int for a square size."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return py_literal(value[0])
    if isinstance(value, tuple) and len(value) == 4:
        top, bottom, left, right = value
        if top == bottom and left == right:
            return py_literal(top) if top == left else py_literal((top, left))
    return py_value(value)


def _build(call: ast.Call, bound, symbolic, in_ch: Channels, ctx: LayerContext, sink) -> LayerCode:
    name = call.name
    helpers: set[str] = set()
    arg = lambda key, concrete: _arg(key, bound, symbolic, ctx, helpers, concrete)  # noqa: E731
    src_in = channels_src(in_ch)
    if name == "conv":
        return _conv(call, bound, symbolic, src_in, ctx, sink, helpers, arg)
    if name in ("maxpool", "avgpool"):
        kernel = arg("kernel", lambda: layers.pair(bound, "kernel", sink, "the pool size"))
        stride = arg("stride", lambda: layers.pair(bound, "stride", sink, "the stride"))
        if "pad" in symbolic or ("kernel" in symbolic and _is_same(bound)):
            helpers.add("_pool_padding")
            pad_src = py_expr(symbolic["pad"], ctx.names, helpers) if "pad" in symbolic else py_value(bound["pad"])
            padding = f"_pool_padding({pad_src}, {kernel})"
        else:
            padding = _short(layers.padding(bound, sink, layers.pair(bound, "kernel", sink, "the pool size")))
        parts = [kernel, f"stride={stride}"] + ([f"padding={padding}"] if padding != "0" else [])
        ceil = arg("ceil_mode", lambda: layers.boolean(bound, "ceil_mode", sink))
        if ceil != "False":
            parts.append(f"ceil_mode={ceil}")
        if name == "avgpool":
            include = arg("count_include_pad", lambda: layers.boolean(bound, "count_include_pad", sink))
            if include != "True":
                parts.append(f"count_include_pad={include}")
        module = "nn.MaxPool2d" if name == "maxpool" else "nn.AvgPool2d"
        return LayerCode(f"{module}({', '.join(parts)})", in_ch, helpers=helpers)
    if name == "global_avgpool":
        return LayerCode("nn.AdaptiveAvgPool2d(1)", in_ch)
    if name == "adaptive_avgpool":
        return LayerCode(f"nn.AdaptiveAvgPool2d({arg('size', lambda: layers.pair(bound, 'size', sink, 'the output size'))})",
                         in_ch, helpers=helpers)
    if name == "bn":
        eps = arg("eps", lambda: layers.number(bound, "eps", sink, *layers.EPS_RANGE, "eps"))
        momentum = arg("momentum", lambda: layers.number(bound, "momentum", sink, *layers.MOMENTUM_RANGE, "momentum"))
        return LayerCode(f"nn.BatchNorm2d({src_in}, eps={eps}, momentum={momentum})", in_ch, helpers=helpers)
    if name == "act" or name in layers.ACTIVATIONS:
        if name == "act" and "kind" in symbolic:
            helpers.add("Activation")
            return LayerCode(f"Activation({py_expr(symbolic['kind'], ctx.names, helpers)})", in_ch, helpers=helpers)
        kind = layers.activation(bound, "kind", sink) if name == "act" else name
        return LayerCode(_ACT_MODULES[kind], in_ch)
    if name == "dropout":
        return LayerCode(f"nn.Dropout({arg('p', lambda: layers.number(bound, 'p', sink, 0.0, 1.0, 'p'))})", in_ch,
                         helpers=helpers)
    if name == "flatten":
        area = ctx.flat_area(call)
        out = _mul_channels(in_ch, area)
        if isinstance(area, str):
            note = "x the grid positions of the adaptive pooling"
        else:
            note = f"x {area} grid positions: a size from shape inference, not written in the spec" if area != 1 else ""
        return LayerCode("nn.Flatten(1)", out, note)
    if name == "linear":
        out = arg("out", lambda: layers.positive_int(bound, "out", sink, "output features"))
        bias = arg("bias", lambda: layers.boolean(bound, "bias", sink))
        extra = "" if bias == "True" else f", bias={bias}"
        return LayerCode(f"nn.Linear({src_in}, {out}{extra})", _channels_of(out), helpers=helpers)
    raise AssertionError(name)


def _is_same(bound) -> bool:
    return isinstance(bound["pad"], Symbol) and bound["pad"].name == "same"


def _channels_of(src: str) -> Channels:
    return int(src) if src.lstrip("-").isdigit() else src


def _conv(call: ast.Call, bound, symbolic, src_in, ctx, sink, helpers, arg) -> LayerCode:
    out = arg("out", lambda: layers.positive_int(bound, "out", sink, "output channels"))
    kernel_value = layers.pair(bound, "kernel", sink, "the kernel size") if "kernel" not in symbolic else None
    dilation_value = layers.pair(bound, "dilation", sink, "the dilation") if "dilation" not in symbolic else None
    kernel = arg("kernel", lambda: kernel_value)
    dilation = arg("dilation", lambda: dilation_value)
    stride = arg("stride", lambda: layers.pair(bound, "stride", sink, "the stride"))
    groups = arg("groups", lambda: layers.positive_int(bound, "groups", sink, "groups"))
    if "pad" in symbolic or (_is_same(bound) and (kernel_value is None or dilation_value is None)):
        helpers.add("_padding")
        pad_src = py_expr(symbolic["pad"], ctx.names, helpers) if "pad" in symbolic else py_value(bound["pad"])
        padding = f"_padding({pad_src}, {kernel}, {dilation})"
        symmetric = False
    else:
        padding_value = layers.padding(bound, sink, kernel_value or (1, 1), dilation_value or (1, 1))
        padding = _short(padding_value)
        symmetric = padding_value[0] == padding_value[1] and padding_value[2] == padding_value[3]
    bias = arg("bias", lambda: layers.boolean(bound, "bias", sink))
    bn = arg("bn", lambda: layers.boolean(bound, "bn", sink))
    if "bn" in symbolic and bound.span("bias") == call.span:
        # an unwritten bias follows bn (layers._apply_settings): the file's conv_bias with BN, else a bias
        bias = "True" if ctx.settings["conv_bias"] else f"not {_paren_src(bn)}"
    act = arg("act", lambda: _literal_act(bound, sink))
    options = [("stride", stride, "1"), ("padding", padding, "0"), ("dilation", dilation, "1"),
               ("groups", groups, "1")]
    common = [src_in, out, kernel] + [f"{k}={v}" for k, v, default in options if v != default]
    bn_parts = common + ([f"bias={bias}"] if bias != "False" else [])
    eps, momentum = ctx.settings["bn_eps"], ctx.settings["bn_momentum"]
    bn_parts += ([f"eps={py_literal(eps)}"] if eps != 1e-5 else []) + ([f"momentum={py_literal(momentum)}"] if momentum != 0.1 else [])
    bn_parts += [f"act={act}"] if act != _RELU else []
    with_bn = f"ConvBnAct({', '.join(bn_parts)})"
    plain_parts = common + ([f"bias={bias}"] if bias != "True" else [])
    if act == _IDENTITY and symmetric and "pad" not in symbolic:
        without_bn = f"nn.Conv2d({', '.join(plain_parts)})"
    else:
        act_part = [f"act={act}"] if act != _IDENTITY else []
        without_bn = f"ConvAct({', '.join(plain_parts + act_part)})"
    if bn == "True":
        helpers.add("ConvBnAct")
        return LayerCode(with_bn, _channels_of(out), helpers=helpers)
    if bn == "False":
        helpers.update({"ConvAct"} if without_bn.startswith("ConvAct") else set())
        return LayerCode(without_bn, _channels_of(out), helpers=helpers)
    helpers.update({"ConvBnAct", "ConvAct"})
    return LayerCode(f"{with_bn} if {bn} else {without_bn}", _channels_of(out), helpers=helpers)


def _paren_src(src: str) -> str:
    return src if src.isidentifier() else f"({src})"


def _literal_act(bound, sink) -> Symbol:
    return Symbol(layers.activation(bound, "act", sink))
