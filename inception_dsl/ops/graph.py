"""The graph's own operations: `input`, `output`, `identity`, and the parts of a residual
statement, `scale` and `add` (elaborated by language/elaborate.py, not by a layer word),
and `slice`, channels [start, stop) of its input: a `split` statement's parts
(language/combinator_nodes.py) and the optimizer's fused convs (fuse_sibling_convs)."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import BOOL, FLOAT, INT, SHAPE, TEXT, Op, OpKind, fmt_shape
from inception_dsl.core import codes
from inception_dsl.core.diagnostics import Label
from inception_dsl.ops.base import dims_text, shape_error

__all__ = ["INPUT", "OUTPUT", "IDENTITY", "SCALE", "ADD", "SLICE"]

_TERMINAL = 'shape=box, style="rounded,filled"'


def _input_forward(emitter, node, ins, out) -> list[str]:
    return [f"{out} = x.contiguous(memory_format=torch.channels_last)" if emitter.channels_last else f"{out} = x"]


def _output_forward(emitter, node, ins, out) -> list[str]:
    if node.attrs["aux"]:
        emitter.outputs.append(ins[0])
    else:
        emitter.outputs.insert(0, ins[0])
    return []


INPUT = OpKind(
    "input", {"shape": SHAPE}, arity=(0, 0), doc="the network input (C, H, W)",
    shape=lambda graph, node, shapes, sink: tuple(node.attrs["shape"]),
    label=lambda node, members: "Input", forward=_input_forward, fill="#eef5e1", style=_TERMINAL,
)

OUTPUT = OpKind(
    "output", {"name": TEXT, "aux": BOOL}, doc="a network output; aux outputs exist in training only",
    label=lambda node, members: f"Aux output {node.attrs['name']}".rstrip() if node.attrs["aux"] else "Output",
    forward=_output_forward, fill="#eef5e1", style=_TERMINAL,
)

IDENTITY = OpKind(
    "identity", {}, doc="the input, unchanged",
    label=lambda node, members: "Identity", forward=lambda emitter, node, ins, out: [f"{out} = {ins[0]}"], alias=True,
    inference_noop=True,
)


def _scale_forward(emitter, node, ins, out) -> list[str]:
    value = float(node.attrs["value"])
    if emitter.inference_only and emitter.may_overwrite(emitter.graph.inputs(node.id)[0]):
        return [f"{out} = {ins[0]}.mul_({py_literal(value)})"]
    return [f"{out} = {ins[0]} * {py_literal(value)}"]


SCALE = OpKind(
    "scale", {"value": FLOAT}, doc="multiply by a constant (a residual branch's scale)",
    label=lambda node, members: f"x{node.attrs['value']:g}", forward=_scale_forward, fresh=True,
    describe=lambda attrs: f"scale {dims_text(attrs['value'])}", inference_noop=lambda attrs: attrs["value"] == 1.0,
    style='shape=box, style="filled,dashed"',
)


def _add_shape(graph, node, shapes, sink):
    shortcut, branch = shapes
    if shortcut == branch:
        return shortcut
    branch_end = graph.node(graph.inputs(node.id)[1])
    if branch_end.op is Op.SCALE:  # the scale is the residual statement itself; point at the branch's last layer
        branch_end = graph.node(graph.inputs(branch_end.id)[0])
    secondary = [Label(branch_end.span, f"residual branch gives {fmt_shape(branch)}", False)]
    if len(shortcut) == 3 and len(branch) == 3 and shortcut[0] != branch[0] and shortcut[1:] == branch[1:]:
        help = (f"end the residual branch with `conv({shortcut[0]}, 1x1, linear)` to project back to "
                f"{shortcut[0]} channels, or give it a `shortcut {{ conv({branch[0]}, 1x1, act=identity) }}`")
    elif len(shortcut) == 3 and len(branch) == 3 and shortcut[1:] != branch[1:]:
        help = "a residual branch must keep the grid size: use stride 1 and `pad=same`, or downsample the shortcut too"
    else:
        help = None
    shape_error(sink, node, codes.RESIDUAL_MISMATCH,
                f"residual sum adds {fmt_shape(branch)} (branch) to {fmt_shape(shortcut)} (shortcut)",
                f"shortcut is {fmt_shape(shortcut)}", secondary=secondary, help=help,
                notes=["x + scale * f(x) needs f(x) to have the shape of x"])
    return None


def _add_forward(emitter, node, ins, out) -> list[str]:
    sources = emitter.graph.inputs(node.id)
    if emitter.inference_only:
        for index in (1, 0):  # the branch (index 1) is usually the fresh one
            if emitter.may_overwrite(sources[index]):
                return [f"{out} = {ins[index]}.add_({ins[1 - index]})"]
    return [f"{out} = {ins[0]} + {ins[1]}"]


ADD = OpKind(
    "add", {}, arity=(2, 2), doc="elementwise sum of (shortcut, branch)",
    shape=_add_shape, label=lambda node, members: "+", forward=_add_forward, fresh=True, residual_sum=True,
    fill="#e8e8e8", style="shape=circle, width=0.35, fixedsize=true",
)


def _slice_shape(graph, node, shapes, sink):
    start, stop, channels = node.attrs["start"], node.attrs["stop"], shapes[0][0]
    if stop > channels:  # only `channels(a, b)` can: a split's parts and a fused conv's are in range
        shape_error(sink, node, codes.BAD_SPLIT, f"channels {start}:{stop} of a {channels}-channel input are out of range",
                    f"the input has {channels} channels",
                    help=f"a slice `channels(a, b)` needs 0 <= a < b <= {channels} here")
        return None
    return (stop - start, *shapes[0][1:])


SLICE = OpKind(
    "slice", {"start": INT, "stop": INT}, doc="channels [start, stop) of the input (a split's part, or a fused conv's)",
    shape=_slice_shape, label=lambda node, members: f"Channels {node.attrs['start']}:{node.attrs['stop']}",
    forward=lambda emitter, node, ins, out: [
        f"{out} = {ins[0]}.narrow(1, {py_literal(node.attrs['start'])}, "
        f"{py_literal(node.attrs['stop'] - node.attrs['start'])})"],
    alias=True,
)
