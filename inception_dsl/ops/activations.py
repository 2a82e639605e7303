"""Activations: the one table of them, the `act` IR op, and the layer words `act(kind)`,
`relu`, `relu6`, `gelu`, `silu`, `identity`.

Every other place that needs an activation (the conv unit's `act=`, the residual's
`act=`, the generated `_activate` helper, diagrams, the flat forward) reads this table."""

from __future__ import annotations

from dataclasses import dataclass

from inception_dsl.ir import Op, OpKind, one_of
from inception_dsl.language.layers import REQUIRED, Bound, LayerSig, choice
from inception_dsl.language.diagnostics import DiagnosticSink
from inception_dsl.ops.base import LayerDef, keep_grid, register

__all__ = ["Activation", "ACTIVATIONS", "NAMES", "activation", "is_identity", "ACT"]


@dataclass(frozen=True)
class Activation:
    """`fn`: its torch.nn.functional form; `inplace`: whether that takes `inplace=`;
    `call`/`inplace_call`: the flat forward's expression of `{x}`; `module`: nn module."""

    name: str
    label: str
    module: str
    fn: str | None
    inplace: bool
    call: str
    inplace_call: str


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in [
    Activation("relu", "ReLU", "nn.ReLU()", "F.relu", True, "torch.relu({x})", "torch.relu_({x})"),
    Activation("relu6", "ReLU6", "nn.ReLU6()", "F.relu6", True, "F.relu6({x}, inplace=False)",
               "F.relu6({x}, inplace=True)"),
    Activation("gelu", "GELU", "nn.GELU()", "F.gelu", False, "F.gelu({x})", "F.gelu({x})"),
    Activation("silu", "SiLU", "nn.SiLU()", "F.silu", True, "F.silu({x}, inplace=False)", "F.silu({x}, inplace=True)"),
    Activation("identity", "Identity", "nn.Identity()", None, False, "{x}", "{x}"),
]}
NAMES = tuple(ACTIVATIONS)


def is_identity(kind: str) -> bool:
    """Whether the activation named `kind` leaves its input as it is."""
    return ACTIVATIONS[kind].fn is None


def activation(bound: Bound, name: str, sink: DiagnosticSink) -> str:
    """The activation named by argument `name` (None reads as `identity`), or E-coded error."""
    return choice(bound, name, sink, NAMES, "activation")


def _forward(emitter, node, ins, out) -> list[str]:
    act = ACTIVATIONS[node.attrs["kind"]]
    inplace = emitter.may_overwrite(emitter.graph.inputs(node.id)[0])
    return [f"{out} = {(act.inplace_call if inplace else act.call).format(x=ins[0])}"]


ACT = OpKind(
    "act", {"kind": one_of(*NAMES)}, doc="an activation from the table in ops/activations.py",
    label=lambda node, members: ACTIVATIONS[node.attrs["kind"]].label,
    forward=_forward, alias=True,
)


# -- layer words ------------------------------------------------------------------------
def _elaborate_act(b, bound: Bound) -> str | None:
    if not b.unique():
        return None
    return _node(b, activation(bound, "kind", b.sink))


def _elaborate_fixed(b, name: str) -> str | None:
    return _node(b, name) if b.unique() else None


def _node(b, kind: str) -> str | None:
    if is_identity(kind):
        return b.add("", Op.IDENTITY, {})
    return b.add("", Op.ACT, {"kind": kind})


def _source_act(args, in_ch):
    if args.is_symbolic("kind"):
        args.helpers.add("Activation")
        return args.code(f"Activation({args.expr('kind')})", in_ch)
    return args.code(ACTIVATIONS[activation(args.bound, "kind", args.sink)].module, in_ch)


def _fixed(name: str) -> LayerDef:
    return LayerDef(
        LayerSig(name, summary=f"{name} activation"),
        elaborate=lambda b, bound: _elaborate_fixed(b, name),
        source=lambda args, in_ch: args.code(ACTIVATIONS[name].module, in_ch),
        grid=keep_grid,
    )


register(
    LayerDef(LayerSig("act", ("kind",), {"kind": REQUIRED}, summary="an activation chosen by name",
                      example="act(relu)"),
             elaborate=_elaborate_act, source=_source_act, grid=keep_grid),
    *[_fixed(name) for name in NAMES],
)
