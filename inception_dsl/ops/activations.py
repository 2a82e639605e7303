"""Activations: the one table of them, the `act` IR op, and the layer words `act(kind)`,
`relu`, `relu6`, `gelu`, `silu`, `sigmoid`, `hardsigmoid`, `hardswish`, `tanh`, `mish`,
`elu(alpha=1.0)`, `leaky_relu(slope=0.01)`, `identity`.

Every other place that needs an activation (the conv unit's `act=`, the residual's
`act=`, the generated `_activate` helper, diagrams, the flat forward) reads this table.
An activation with a parameter (`elu`'s alpha, `leaky_relu`'s slope) carries it as an
attribute of its `act` node; where an activation is named bare (`act=elu`, `act(elu)`)
the parameter takes its default, as torch's module does."""

from __future__ import annotations

from dataclasses import dataclass, replace

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import FLOAT, Op, OpKind, one_of
from inception_dsl.core.signatures import REQUIRED, Bound, LayerSig, choice, number
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.ops.base import LayerDef, keep_grid, register

__all__ = ["Activation", "ACTIVATIONS", "NAMES", "activation", "is_identity", "act_attrs", "ACT"]

PARAM_RANGE = (-1e6, 1e6)


@dataclass(frozen=True)
class Activation:
    """`fn`: its functional form (None for identity); `inplace`: whether `fn` takes
    `inplace=`; `call`/`inplace_call`: the flat forward's expression of `{x}` (and `{p}`,
    the parameter); `module`: its nn module (with `{p}`). `param`: the spec's name of its
    parameter, `keyword` torch's, `default` its value when not written."""

    name: str
    label: str
    module: str
    fn: str | None
    inplace: bool
    call: str
    inplace_call: str
    param: str | None = None
    keyword: str | None = None
    default: float | None = None

    def apply(self, x: str, value: float | None = None, inplace: str | None = None) -> str:
        """`fn(x, <keyword>=value, inplace=...)`: the functional call (value: the default)."""
        args = [x] + ([f"{self.keyword}={py_literal(self.value(value))}"] if self.param else [])
        return f"{self.fn}({', '.join(args + ([f'inplace={inplace}'] if inplace and self.inplace else []))})"

    def value(self, value: float | None) -> float | None:
        return self.default if value is None and self.param else value

    def module_source(self, value: str | None = None) -> str:
        """The nn module's constructor; `value` is Python source of the parameter."""
        return self.module.format(p=value if value is not None else py_literal(self.default))


def _fn(name, label, module, fn, call, inplace_call, **param) -> Activation:
    return Activation(name, label, module, fn, "inplace" in inplace_call, call, inplace_call, **param)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in [
    Activation("relu", "ReLU", "nn.ReLU()", "F.relu", True, "torch.relu({x})", "torch.relu_({x})"),
    _fn("relu6", "ReLU6", "nn.ReLU6()", "F.relu6", "F.relu6({x}, inplace=False)", "F.relu6({x}, inplace=True)"),
    Activation("gelu", "GELU", "nn.GELU()", "F.gelu", False, "F.gelu({x})", "F.gelu({x})"),
    _fn("silu", "SiLU", "nn.SiLU()", "F.silu", "F.silu({x}, inplace=False)", "F.silu({x}, inplace=True)"),
    Activation("sigmoid", "Sigmoid", "nn.Sigmoid()", "torch.sigmoid", False, "torch.sigmoid({x})",
               "torch.sigmoid_({x})"),
    _fn("hardsigmoid", "Hardsigmoid", "nn.Hardsigmoid()", "F.hardsigmoid", "F.hardsigmoid({x}, inplace=False)",
        "F.hardsigmoid({x}, inplace=True)"),
    _fn("hardswish", "Hardswish", "nn.Hardswish()", "F.hardswish", "F.hardswish({x}, inplace=False)",
        "F.hardswish({x}, inplace=True)"),
    Activation("tanh", "Tanh", "nn.Tanh()", "torch.tanh", False, "torch.tanh({x})", "torch.tanh_({x})"),
    _fn("mish", "Mish", "nn.Mish()", "F.mish", "F.mish({x}, inplace=False)", "F.mish({x}, inplace=True)"),
    _fn("elu", "ELU", "nn.ELU(alpha={p})", "F.elu", "F.elu({x}, alpha={p})", "F.elu({x}, alpha={p}, inplace=True)",
        param="alpha", keyword="alpha", default=1.0),
    _fn("leaky_relu", "LeakyReLU", "nn.LeakyReLU(negative_slope={p})", "F.leaky_relu",
        "F.leaky_relu({x}, negative_slope={p})", "F.leaky_relu({x}, negative_slope={p}, inplace=True)",
        param="slope", keyword="negative_slope", default=0.01),
    Activation("identity", "Identity", "nn.Identity()", None, False, "{x}", "{x}"),
]}
NAMES = tuple(ACTIVATIONS)


def is_identity(kind: str) -> bool:
    """Whether the activation named `kind` leaves its input as it is."""
    return ACTIVATIONS[kind].fn is None


def activation(bound: Bound, name: str, sink: DiagnosticSink) -> str:
    """The activation named by argument `name` (None reads as `identity`), or E-coded error."""
    return choice(bound, name, sink, NAMES, "activation")


def act_attrs(kind: str, value: float | None = None) -> dict:
    """The attributes of an `act` node: its kind, and its parameter (default if None)."""
    act = ACTIVATIONS[kind]
    return {"kind": kind, act.param: float(act.value(value))} if act.param else {"kind": kind}


def _param(node) -> float | None:
    act = ACTIVATIONS[node.attrs["kind"]]
    return node.attrs.get(act.param) if act.param else None


def _forward(emitter, node, ins, out) -> list[str]:
    act = ACTIVATIONS[node.attrs["kind"]]
    inplace = emitter.may_overwrite(emitter.graph.inputs(node.id)[0])
    value = _param(node)
    text = act.inplace_call if inplace else act.call
    return [f"{out} = {text.format(x=ins[0], p=py_literal(value) if value is not None else '')}"]


def _label(node, members) -> str:
    """`ELU`, `LeakyReLU 0.2` (a parameter other than its default is shown)."""
    act, value = ACTIVATIONS[node.attrs["kind"]], _param(node)
    return act.label if value is None or value == act.default else f"{act.label} {value:g}"


_PARAMS = {a.param: replace(FLOAT, optional=True) for a in ACTIVATIONS.values() if a.param}

ACT = OpKind(
    "act", {"kind": one_of(*NAMES), **_PARAMS}, doc="an activation from the table in ops/activations.py "
    "(with its parameter where it has one: elu's alpha, leaky_relu's slope)",
    label=_label, forward=_forward, alias=True,
)


# -- layer words ------------------------------------------------------------------------
def _elaborate_act(b, bound: Bound) -> str | None:
    if not b.unique():
        return None
    return _node(b, activation(bound, "kind", b.sink))


def _elaborate_fixed(b, bound: Bound, name: str) -> str | None:
    act = ACTIVATIONS[name]
    value = number(bound, act.param, b.sink, *PARAM_RANGE, f"{name}'s {act.param}") if act.param else None
    return _node(b, name, value) if b.unique() else None


def _node(b, kind: str, value: float | None = None) -> str | None:
    if is_identity(kind):
        return b.add("", Op.IDENTITY, {})
    return b.add("", Op.ACT, act_attrs(kind, value))


def _source_act(args, in_ch):
    if args.is_symbolic("kind"):
        args.helpers.add("Activation")
        return args.code(f"Activation({args.expr('kind')})", in_ch)
    return args.code(ACTIVATIONS[activation(args.bound, "kind", args.sink)].module_source(), in_ch)


def _source_fixed(args, in_ch, name: str):
    act = ACTIVATIONS[name]
    if not act.param:
        return args.code(act.module_source(), in_ch)
    value = args.get(act.param, lambda b, n, s: number(b, n, s, *PARAM_RANGE, f"{name}'s {act.param}"))
    return args.code(act.module_source(value.src), in_ch)


def _fixed(name: str) -> LayerDef:
    act = ACTIVATIONS[name]
    positional, keywords = ((act.param,), {act.param: act.default}) if act.param else ((), {})
    example = f"{name}({act.param}={act.default:g})" if act.param else ""
    return LayerDef(
        LayerSig(name, positional, keywords, summary=f"{name} activation", example=example),
        elaborate=lambda b, bound: _elaborate_fixed(b, bound, name),
        source=lambda args, in_ch: _source_fixed(args, in_ch, name),
        grid=keep_grid,
    )


register(
    LayerDef(LayerSig("act", ("kind",), {"kind": REQUIRED}, summary="an activation chosen by name",
                      example="act(relu)"),
             elaborate=_elaborate_act, source=_source_act, grid=keep_grid),
    *[_fixed(name) for name in NAMES],
)
