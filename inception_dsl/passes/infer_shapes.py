"""infer_shapes(graph, sink): annotate every node with its output shape (C, H, W), or
(F,) once flattened, using PyTorch's size arithmetic; emit E2xx diagnostics where
shapes do not fit. A node whose input shape is unknown (after an error) stays None,
so one mistake is reported once, not at every layer downstream."""

from __future__ import annotations

from collections import Counter

from inception_dsl.language import codes
from inception_dsl.language.diagnostics import DiagnosticSink, Label
from inception_dsl.ir import Graph, Node, Op
from inception_dsl.language.shapes import conv2d_out, pool2d_out, same_padding

__all__ = ["infer_shapes", "fmt_shape", "origin_notes"]


def fmt_shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape is not None else "?"


def origin_notes(node: Node) -> list[str]:
    """'in block `x` called at file:line:col' for each enclosing block, innermost first."""
    return [f"in block `{site.block}`, called at {site.span.location()}" for site in reversed(node.origin)]


def infer_shapes(graph: Graph, sink: DiagnosticSink, nodes=None) -> None:
    """Every node's shape, in topological order (or only `nodes`, whose inputs are already shaped)."""
    for node in graph.nodes() if nodes is None else nodes:
        inputs = [graph.node(i) for i in graph.inputs(node.id)]
        if any(i.shape is None for i in inputs):
            node.shape = None
            continue
        node.shape = _RULES[node.op](graph, node, [i.shape for i in inputs], sink)


def _error(sink: DiagnosticSink, node: Node, code, message: str, label: str, **kwargs) -> None:
    notes = list(kwargs.pop("notes", ())) + origin_notes(node)
    sink.emit(code, message, node.span, label, notes=notes, **kwargs)


def _spatial(node: Node, shape, sink: DiagnosticSink, what: str) -> bool:
    if len(shape) != 3:
        _error(sink, node, codes.NOT_SPATIAL, f"{what} needs a CxHxW input, got the flat {fmt_shape(shape)}",
               "input is already flattened", help="move it before `flatten`")
        return False
    return True


def _input(graph, node, shapes, sink):
    return tuple(node.attrs["shape"])


def _conv(graph, node, shapes, sink):
    (shape,) = shapes
    if not _spatial(node, shape, sink, "a conv"):
        return None
    a = node.attrs
    channels, h, w = shape
    if channels % a["groups"] or a["out_channels"] % a["groups"]:
        _error(sink, node, codes.BAD_GROUPS,
               f"conv groups={a['groups']} must divide both its {channels} input and {a['out_channels']} output channels",
               f"groups={a['groups']}")
        return None
    out = conv2d_out((h, w), a["kernel"], a["stride"], a["padding"], a["dilation"])
    if min(out) < 1:
        _too_small(node, (h, w), out, sink, "conv")
        return None
    return (a["out_channels"], *out)


def _too_small(node, hw, out, sink, what):
    kernel = "x".join(map(str, node.attrs["kernel"]))
    _error(sink, node, codes.SIZE_TOO_SMALL,
           f"{what} output size would be {out[0]}x{out[1]}: its {kernel} window does not fit the {hw[0]}x{hw[1]} input",
           f"input is {hw[0]}x{hw[1]}", help="pad the input (`pad=same`), or use a smaller kernel or stride")


def _pool(graph, node, shapes, sink):
    (shape,) = shapes
    if not _spatial(node, shape, sink, "pooling"):
        return None
    a = node.attrs
    top, bottom, left, right = a["padding"]
    kh, kw = a["kernel"]
    if top != bottom or left != right:
        _error(sink, node, codes.BAD_ARG_TYPE, "pooling takes symmetric padding only",
               f"padding {a['padding']}", help=_pool_padding_help(node))
        return None
    if top > kh // 2 or left > kw // 2:
        _error(sink, node, codes.BAD_ARG_TYPE,
               f"pool padding ({top}, {left}) is more than half the {kh}x{kw} window (PyTorch refuses it)",
               "padding too large", help="use `pad=valid`, or a larger window")
        return None
    channels, h, w = shape
    out = pool2d_out((h, w), a["kernel"], a["stride"], a["padding"], a["ceil_mode"])
    if min(out) < 1:
        _too_small(node, (h, w), out, sink, f"{a['kind']} pool")
        return None
    return (channels, *out)


def _pool_padding_help(node) -> str:
    """`same` on an even window pads one side only; the usual intent (VGG's
    `maxpool(2x2, stride=2)`) is no padding at all."""
    a = node.attrs
    window = "x".join(map(str, a["kernel"]))
    stride = a["stride"][0] if a["stride"][0] == a["stride"][1] else "({}, {})".format(*a["stride"])
    kind = "maxpool" if a["kind"] == "max" else "avgpool"
    return (f"add `valid` for no padding (`{kind}({window}, stride={stride}, valid)`, as VGG pools), "
            "or use an odd pool size with `pad=same`, or explicit (h, w) padding")


def _adaptive(graph, node, shapes, sink):
    (shape,) = shapes
    if not _spatial(node, shape, sink, "average pooling"):
        return None
    return (shape[0], *node.attrs["size"])


def _same(graph, node, shapes, sink):
    return shapes[0]


def _bn(graph, node, shapes, sink):
    if not _spatial(node, shapes[0], sink, "BatchNorm2d"):
        return None
    return shapes[0]


def _flatten(graph, node, shapes, sink):
    size = 1
    for d in shapes[0]:
        size *= d
    return (size,)


def _linear(graph, node, shapes, sink):
    (shape,) = shapes
    if len(shape) != 1:
        _error(sink, node, codes.NOT_FLAT, f"a linear layer needs a flat input, got {fmt_shape(shape)}",
               f"input is {fmt_shape(shape)}", help="insert `flatten` before it")
        return None
    return (node.attrs["out_features"],)


def _add(graph, node, shapes, sink):
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
    _error(sink, node, codes.RESIDUAL_MISMATCH,
           f"residual sum adds {fmt_shape(branch)} (branch) to {fmt_shape(shortcut)} (shortcut)",
           f"shortcut is {fmt_shape(shortcut)}", secondary=secondary, help=help,
           notes=["x + scale * f(x) needs f(x) to have the shape of x"])
    return None


def _branch_name(concat: Node, input_id: str) -> str:
    prefix = concat.id[: -len(".cat")] if concat.id.endswith(".cat") else ""
    rest = input_id[len(prefix) + 1:] if prefix and input_id.startswith(prefix + ".") else input_id
    return rest.split(".")[0]


def _concat(graph, node, shapes, sink):
    if any(len(s) != 3 for s in shapes) and any(len(s) == 3 for s in shapes):
        _error(sink, node, codes.CONCAT_MISMATCH, "concat mixes flat and CxHxW branches", "mixed ranks")
        return None
    if len(shapes[0]) == 1:
        return (sum(s[0] for s in shapes),)
    sizes = [s[1:] for s in shapes]
    fork = graph.node(node.attrs["fork"]) if node.attrs.get("fork") in graph else None
    if len(set(sizes)) > 1:
        inputs = graph.inputs(node.id)
        majority = Counter(sizes).most_common(1)[0][0]
        if sizes.count(majority) == 1 and sizes[0] != majority:
            majority = sizes[0]
        odd = [i for i, s in enumerate(sizes) if s != majority]
        good = [i for i, s in enumerate(sizes) if s == majority]
        names = [_branch_name(node, inputs[i]) for i in range(len(inputs))]
        odd_text = ", ".join(f"`{names[i]}` gives {fmt_shape(sizes[i])}" for i in odd)
        message = (f"concat branches disagree on spatial size: `{names[good[0]]}` gives {fmt_shape(majority)}, "
                   f"{odd_text}")
        secondary = [Label(graph.node(inputs[i]).span, f"`{names[i]}`: {fmt_shape(shapes[i])}", False)
                     for i in odd + good[:1] if graph.node(inputs[i]).span is not None]
        fixes = [_reconcile(graph, node, inputs[odd[0]], majority)]
        if len(good) == len(odd) == 1:  # a tie: either side may be the one to change
            fixes.insert(0, _reconcile(graph, node, inputs[good[0]], sizes[odd[0]]))
        help = " or ".join(f for f in fixes if f) or None
        _error(sink, node, codes.CONCAT_MISMATCH, message, "branches are concatenated here",
               secondary=secondary, help=help,
               notes=["concat along channels needs the same HxW in every branch"])
        return None
    out = (sum(s[0] for s in shapes), *sizes[0])
    if node.attrs.get("reduction") and fork is not None and fork.shape is not None and len(fork.shape) == 3:
        if out[1] >= fork.shape[1] and out[2] >= fork.shape[2]:
            _error(sink, node, codes.NOT_REDUCING,
                   f"this reduction keeps the grid at {fmt_shape(out[1:])} (input {fmt_shape(fork.shape[1:])})",
                   "does not reduce", help="give its branches stride 2 (`stride=2, valid`), or write `concat` instead")
            return None
    return out


def _chain(graph: Graph, output_id: str, fork_id: str) -> list[Node] | None:
    """The single-input ops from the fork to `output_id`, in forward order; None if the
    branch is not a simple chain."""
    chain = []
    current = output_id
    while current != fork_id:
        node = graph.node(current)
        inputs = graph.inputs(current)
        if len(inputs) != 1:
            return None
        chain.append(node)
        current = inputs[0]
    return list(reversed(chain))


def _simulate(chain: list[Node], hw, override: tuple[int, dict] | None):
    for index, node in enumerate(chain):
        attrs = dict(node.attrs)
        if override and override[0] == index:
            attrs.update(override[1])
        if node.op is Op.CONV:
            hw = conv2d_out(hw, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"])
        elif node.op is Op.POOL:
            hw = pool2d_out(hw, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["ceil_mode"])
        if min(hw) < 1:
            return None
    return hw


def _reconcile(graph: Graph, concat: Node, branch_output: str, target) -> str | None:
    """Find one padding or stride change in the odd branch that gives the target size."""
    fork_id = concat.attrs.get("fork")
    if fork_id not in graph or graph.node(fork_id).shape is None:
        return None
    chain = _chain(graph, branch_output, fork_id)
    if not chain:
        return None
    start = graph.node(fork_id).shape[1:]
    for index, node in enumerate(chain):
        if node.op not in (Op.CONV, Op.POOL):
            continue
        kernel = node.attrs["kernel"]
        options = [
            ("pad=valid", {"padding": (0, 0, 0, 0)}),
            ("pad=same", {"padding": same_padding(kernel[0]) + same_padding(kernel[1])}),
            ("stride=1", {"stride": (1, 1)}),
            ("stride=2", {"stride": (2, 2)}),
            ("stride=2, pad=valid", {"stride": (2, 2), "padding": (0, 0, 0, 0)}),
        ]
        for text, change in options:
            if all(node.attrs.get(k) == v for k, v in change.items()):
                continue
            if _simulate(chain, start, (index, change)) == tuple(target):
                where = node.span.location() if node.span else node.id
                return f"`{text}` on the {node.op.value} at {where} would give {fmt_shape(target)}"
    return None


_RULES = {
    Op.INPUT: _input,
    Op.CONV: _conv,
    Op.BN: _bn,
    Op.ACT: _same,
    Op.POOL: _pool,
    Op.ADAPTIVE_AVGPOOL: _adaptive,
    Op.CONCAT: _concat,
    Op.ADD: _add,
    Op.SCALE: _same,
    Op.DROPOUT: _same,
    Op.FLATTEN: _flatten,
    Op.LINEAR: _linear,
    Op.IDENTITY: _same,
    Op.OUTPUT: _same,
}
