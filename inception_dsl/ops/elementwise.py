"""The elementwise joins of a `sum { ... }` / `product { ... }` statement: `sum` adds
and `product` multiplies its inputs (two or more, in edge order). Channels must agree;
a branch whose grid is 1x1 broadcasts over the others' grid (a squeeze-and-excitation
gate: `product { identity; { global_avgpool; ...; sigmoid } }`). The shape rule names
the branch and the dimension that disagree."""

from __future__ import annotations

from collections import Counter

from inception_dsl.ir import TEXT, OpKind, fmt_shape
from inception_dsl.core import codes
from inception_dsl.core.diagnostics import Label
from inception_dsl.ops.base import shape_error
from inception_dsl.ops.combine import branch_name, reconcile

__all__ = ["SUM", "PRODUCT"]


def _word(node) -> str:
    return "product" if node.op is PRODUCT else "sum"


def _shape(graph, node, shapes, sink):
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        _mismatch(graph, node, shapes, [len(s) for s in shapes], "flat and CxHxW tensors",
                  "flatten every branch, or none", sink)
        return None
    if len(shapes[0]) != 3:  # flat: the feature counts must be equal
        if len(set(shapes)) > 1:
            _mismatch(graph, node, shapes, shapes, "features", None, sink)
            return None
        return shapes[0]
    channels = [s[0] for s in shapes]
    if len(set(channels)) > 1:
        _mismatch(graph, node, shapes, channels, "channels", "channels", sink)
        return None
    grids = {s[1:] for s in shapes if s[1:] != (1, 1)}
    if len(grids) > 1:
        _mismatch(graph, node, shapes, [s[1:] if s[1:] != (1, 1) else None for s in shapes], "spatial size",
                  "grid", sink)
        return None
    return (channels[0], *(grids.pop() if grids else (1, 1)))


def _mismatch(graph, node, shapes, values, what: str, fix: str | None, sink) -> None:
    """E210: name the branch(es) whose `what` differs from the most common one."""
    inputs = graph.inputs(node.id)
    names = [branch_name(node, i) for i in inputs]
    known = [v for v in values if v is not None]
    majority = Counter(known).most_common(1)[0][0]
    if known.count(majority) == 1:
        majority = known[0]
    odd = [i for i, v in enumerate(values) if v is not None and v != majority]
    good = next(i for i, v in enumerate(values) if v == majority)
    text = (lambda v: fmt_shape(v) if isinstance(v, tuple) else str(v))
    odd_text = ", ".join(f"`{names[i]}` gives {text(values[i])}" for i in odd)
    message = (f"{_word(node)} branches disagree on {what}: `{names[good]}` gives {text(majority)}, {odd_text}"
               if fix is not None else f"{_word(node)} branches mix {what}")
    secondary = [Label(graph.node(inputs[i]).span, f"`{names[i]}`: {fmt_shape(shapes[i])}", False)
                 for i in odd + [good] if graph.node(inputs[i]).span is not None]
    help = None
    if fix == "channels":
        help = f"end `{names[odd[0]]}` with a conv to {majority} channels (`conv({majority}, 1x1)`)"
    elif fix == "grid":
        help = reconcile(graph, node, inputs[odd[0]], majority) or (f"give `{names[odd[0]]}` the grid {fmt_shape(majority)}, or pool it to 1x1 (`global_avgpool`) "
                "to broadcast it over the others")
    elif fix is not None:
        help = fix
    notes = [f"elementwise {_word(node)} needs equal channels; a 1x1 grid broadcasts over any grid"]
    verb = "multiplied" if node.op is PRODUCT else "added"
    shape_error(sink, node, codes.ELEMENTWISE_MISMATCH, message, f"branches are {verb} here",
                secondary=secondary, help=help, notes=notes)


def _forward(symbol: str, method: str):
    def forward(emitter, node, ins, out) -> list[str]:
        graph = emitter.graph
        sources = graph.inputs(node.id)
        if emitter.inference_only:  # write into an input that has the output's shape and no other reader
            for index, source in enumerate(sources):
                if graph.node(source).shape == node.shape and emitter.may_overwrite(source):
                    rest = [ins[j] for j in range(len(ins)) if j != index]
                    return [f"{out} = {ins[index]}" + "".join(f".{method}({r})" for r in rest)]
        return [f"{out} = " + f" {symbol} ".join(ins)]
    return forward


def _fresh(emitter, node) -> bool:
    return len(emitter.graph.inputs(node.id)) > 1


_CIRCLE = "shape=circle, width=0.35, fixedsize=true"

SUM = OpKind(
    "sum", {"fork": TEXT}, arity=(1, None),
    doc="elementwise sum of all inputs (a 1x1 grid broadcasts); `fork` is the node the branches read",
    shape=_shape, label=lambda node, members: "+", forward=_forward("+", "add_"), fresh=_fresh,
    fill="#e8e8e8", style=_CIRCLE,
)

PRODUCT = OpKind(
    "product", {"fork": TEXT}, arity=(1, None),
    doc="elementwise product of all inputs (a 1x1 grid broadcasts: a gate); `fork` is the node the branches read",
    shape=_shape, label=lambda node, members: "⊗", forward=_forward("*", "mul_"), fresh=_fresh,
    fill="#fbe3d6", style=_CIRCLE,
)
