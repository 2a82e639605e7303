"""Activations: the one table of them, the `act` IR op, and the layer words `act(kind)`,
`relu`, `relu6`, `gelu(approximate=none)`, `silu`, `sigmoid`, `hardsigmoid`, `hardswish`,
`tanh`, `mish`, `elu(alpha=1.0)`, `leaky_relu(slope=0.01)`, `identity`; an op module adds
another with `register_activation` (ops/hardtanh.py).

An activation is one record (`Activation`): its functional form, its nn module, its
parameters and how it writes in place. `Activation.call` is the one rendering of a call;
the flat forward, the generated `_activate` helper, the residual's activation and the
conv unit all write it, so a parameter cannot be lost in one of them. A parameter
carries its value as an attribute of the `act` node (left out at its default, so the
IR of `elu` and `elu(alpha=1.0)` is the same); where an activation is named bare
(`act=elu`, `act(elu)`, `set act elu`) its parameters take their defaults, as torch's
module does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import FLOAT, Attr, Op, OpKind, one_of
from inception_dsl.core.signatures import REQUIRED, Bound, LayerSig, choice, number
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core import codes
from inception_dsl.core.values import EvalError, Symbol
from inception_dsl.ops.base import LayerDef, coerced, register

__all__ = ["Param", "Activation", "ACTIVATIONS", "NAMES", "register_activation", "activation", "is_identity",
           "act_attrs", "ACT"]

PARAM_RANGE = (-1e6, 1e6)


@dataclass(frozen=True)
class Param:
    """A parameter of an activation: `name` in the spec (and the IR attribute), `keyword`
    in torch, `default` (torch's), and `choices` for a word parameter (gelu's
    `approximate`); without choices it is a number."""

    name: str
    keyword: str
    default: Any
    choices: tuple[str, ...] = ()

    @property
    def attr(self) -> Attr:
        kind = one_of(*self.choices) if self.choices else FLOAT
        return Attr(kind.name, kind.check, optional=True)

    def coerce(self, bound: Bound, sink: DiagnosticSink, owner: str) -> Any:
        """The bound argument, checked (E105/E112 at its span)."""
        if self.choices:
            return choice(bound, self.name, sink, self.choices, f"{owner}'s {self.name}")
        return number(bound, self.name, sink, *PARAM_RANGE, f"{owner}'s {self.name}")

    def spec_default(self) -> Any:
        return Symbol(self.default) if self.choices else self.default


@dataclass(frozen=True)
class Activation:
    """One activation. `fn`: its functional form (None: identity, the input itself), or an
    expression of `{x}` where torch has no one function for it (`F.relu({x}).square()`);
    `module`: its nn class, or "" where torch has none (generated files then hold the
    `Activation` helper, which calls `fn`); `params`; `inplace`: how it writes into its
    input, `"keyword"` (`fn(x, inplace=True)`), `"method"` (`torch.sigmoid_(x)`) or `""` (never)."""

    name: str
    label: str
    fn: str | None
    module: str
    params: tuple[Param, ...] = ()
    inplace: str = ""
    # values -> what is wrong with them together (torch would refuse them), or ""
    check: Callable[[Mapping[str, Any]], str] | None = None

    def call(self, x: str, args: Mapping[str, str] | None = None, inplace: bool | str = False) -> str:
        """THE rendering of a call: `x` and `args` (parameter name -> Python source; left
        out: the default) are source text; `inplace` is a bool, or Python source of one
        (`_activate`'s argument)."""
        if self.fn is None:
            return x
        if "{x}" in self.fn:
            return self.fn.format(x=x)
        keywords = self._keywords(args)
        if inplace is True and self.inplace == "method":
            return f"{self.fn}_({', '.join([x] + keywords)})"
        if inplace is not False and self.inplace == "keyword":
            keywords.append(f"inplace={'True' if inplace is True else inplace}")
        return f"{self.fn}({', '.join([x] + keywords)})"

    def module_source(self, args: Mapping[str, str] | None = None) -> str:
        """The nn module's constructor (`args` as for `call`); without an nn class, the
        `Activation` helper of generated files (`helpers` names it)."""
        if not self.module:
            return f"Activation({py_literal(self.name)})"
        return f"{self.module}({', '.join(self._keywords(args))})"

    @property
    def helpers(self) -> tuple[str, ...]:
        """The helpers of generated files that `module_source` needs."""
        return () if self.module else ("Activation",)

    def _keywords(self, args: Mapping[str, str] | None) -> list[str]:
        args = args or {}
        return [f"{p.keyword}={args[p.name]}" for p in self.params
                if p.name in args and args[p.name] != py_literal(p.default)]

    def literals(self, attrs: Mapping[str, Any]) -> dict[str, str]:
        """The parameters among `attrs` (an `act` node's) as Python literals."""
        return {p.name: py_literal(attrs[p.name]) for p in self.params if p.name in attrs}


ACTIVATIONS: dict[str, Activation] = {}
NAMES = ACTIVATIONS.keys()  # a live view: an op module may register more


def is_identity(kind: str) -> bool:
    """Whether the activation named `kind` leaves its input as it is."""
    return ACTIVATIONS[kind].fn is None


def activation(bound: Bound, name: str, sink: DiagnosticSink) -> str:
    """The activation named by argument `name` (None reads as `identity`), or E-coded error."""
    return choice(bound, name, sink, NAMES, "activation")


def act_attrs(kind: str, values: Mapping[str, Any] | None = None) -> dict:
    """The attributes of an `act` node: its kind and the parameters that are not at their
    default (one IR for `elu` and `elu(alpha=1.0)`)."""
    values = values or {}
    return {"kind": kind, **{p.name: values[p.name] for p in ACTIVATIONS[kind].params
                             if values.get(p.name, p.default) != p.default}}


def _forward(emitter, node, ins, out) -> list[str]:
    act = ACTIVATIONS[node.attrs["kind"]]
    inplace = emitter.may_overwrite(emitter.graph.inputs(node.id)[0])
    return [f"{out} = {act.call(ins[0], act.literals(node.attrs), inplace)}"]


def _label(node, members) -> str:
    """`ELU`, `LeakyReLU 0.2`, `GELU tanh` (parameters other than their default are shown)."""
    act = ACTIVATIONS[node.attrs["kind"]]
    shown = [node.attrs[p.name] for p in act.params if p.name in node.attrs]
    return " ".join([act.label] + [f"{v:g}" if isinstance(v, float) else str(v) for v in shown])


def _describe(attrs) -> str:
    return str(attrs.get("kind"))


ACT = OpKind(
    "act", {"kind": Attr("an activation of ops/activations.py's table", lambda v: v in ACTIVATIONS)},
    doc="an activation from the table in ops/activations.py (with its parameters where they are not "
    "at their default: elu's alpha, leaky_relu's slope, gelu's approximate)",
    label=_label, forward=_forward, alias=True, describe=_describe,
    inference_noop=lambda attrs: is_identity(attrs["kind"]),
)


# -- layer words ------------------------------------------------------------------------
def _elaborate_act(b, bound: Bound) -> str | None:
    if not b.unique():
        return None
    return _node(b, activation(bound, "kind", b.sink))


def _elaborate_fixed(b, bound: Bound, act: Activation) -> str | None:
    values = coerced(_coercions(act), bound, b.sink)
    problem = act.check(values) if act.check else ""
    if problem:
        b.sink.emit(codes.BAD_ARG_TYPE, f"{act.name}: {problem}", bound.span(act.params[-1].name), "refused by torch")
        raise EvalError()
    return _node(b, act.name, values) if b.unique() else None


def _coercions(act: Activation) -> dict:
    return {p.name: lambda b, n, s, p=p: p.coerce(b, s, act.name) for p in act.params}


def _node(b, kind: str, values: Mapping[str, Any] | None = None) -> str | None:
    if is_identity(kind):
        return b.add("", Op.IDENTITY, {})
    return b.add("", Op.ACT, act_attrs(kind, values))


def _source_act(args, in_ch):
    if args.is_symbolic("kind"):
        args.helpers.add("Activation")
        return args.code(f"Activation({args.expr('kind')})", in_ch)
    act = ACTIVATIONS[activation(args.bound, "kind", args.sink)]
    args.helpers.update(act.helpers)
    return args.code(act.module_source(), in_ch)


def _source_fixed(args, in_ch, act: Activation):
    sources = {p.name: args.get(p.name, literal=py_literal).src for p in act.params}
    args.helpers.update(act.helpers)
    return args.code(act.module_source(sources), in_ch)


def _word(act: Activation) -> LayerDef:
    params = act.params
    example = f"{act.name}({', '.join(f'{p.name}={_example(p)}' for p in params)})" if params else ""
    return LayerDef(
        LayerSig(act.name, tuple(p.name for p in params), {p.name: p.spec_default() for p in params},
                 summary=f"activation: `{act.module_source()}`", example=example),
        elaborate=lambda b, bound: _elaborate_fixed(b, bound, act),
        source=lambda args, in_ch: _source_fixed(args, in_ch, act), args=_coercions(act),
    )


def _example(param: Param) -> str:
    if param.choices:
        return next((c for c in param.choices if c != param.default), param.default)
    return f"{param.default / 2:g}" if param.default else "1"


def register_activation(*activations: Activation) -> None:
    """Add activations to the table, their parameters to the `act` op's schema, and their
    layer words (`elu(alpha=0.5)`)."""
    for act in activations:
        if act.name in ACTIVATIONS:
            raise ValueError(f"activation {act.name!r} is defined twice")
        for param in act.params:
            known = ACT.attrs.get(param.name)
            if known is not None and known.name != param.attr.name:
                raise ValueError(f"activation parameter {param.name!r} means two things")
            ACT.attrs[param.name] = param.attr
        ACTIVATIONS[act.name] = act
        register(_word(act))


register(LayerDef(LayerSig("act", ("kind",), {"kind": REQUIRED}, summary="an activation chosen by name",
                           example="act(relu)"),
                  elaborate=_elaborate_act, source=_source_act, args={"kind": activation}))
register_activation(
    Activation("relu", "ReLU", "F.relu", "nn.ReLU", inplace="keyword"),
    Activation("relu6", "ReLU6", "F.relu6", "nn.ReLU6", inplace="keyword"),
    Activation("gelu", "GELU", "F.gelu", "nn.GELU", (Param("approximate", "approximate", "none", ("none", "tanh")),)),
    Activation("silu", "SiLU", "F.silu", "nn.SiLU", inplace="keyword"),
    Activation("sigmoid", "Sigmoid", "torch.sigmoid", "nn.Sigmoid", inplace="method"),
    Activation("hardsigmoid", "Hardsigmoid", "F.hardsigmoid", "nn.Hardsigmoid", inplace="keyword"),
    Activation("hardswish", "Hardswish", "F.hardswish", "nn.Hardswish", inplace="keyword"),
    Activation("tanh", "Tanh", "torch.tanh", "nn.Tanh", inplace="method"),
    Activation("mish", "Mish", "F.mish", "nn.Mish", inplace="keyword"),
    Activation("elu", "ELU", "F.elu", "nn.ELU", (Param("alpha", "alpha", 1.0),), inplace="keyword"),
    Activation("leaky_relu", "LeakyReLU", "F.leaky_relu", "nn.LeakyReLU", (Param("slope", "negative_slope", 0.01),),
               inplace="keyword"),
    Activation("identity", "Identity", None, "nn.Identity"),
)
