"""Generate the flat forward of a GraphModule: one line per IR node, fx-style.

Values are locals `v0, v1, ...`; a value is deleted right after its last reader so
intermediate activations are freed as early as in a hand-written forward. Activations
run in place when the tensor they overwrite is read by nothing else."""

from __future__ import annotations

from inception_dsl.backends.python.literals import py_literal
from inception_dsl.ir import Graph, Node, Op
from inception_dsl.backends.python.literals import py_literal

__all__ = ["generate_forward"]

# ops whose result is a new tensor (not a view or alias of an input)
_FRESH = frozenset({Op.CONV, Op.BN, Op.POOL, Op.ADAPTIVE_AVGPOOL, Op.ADD, Op.SCALE, Op.LINEAR})
_ALIAS = frozenset({Op.INPUT, Op.IDENTITY, Op.DROPOUT, Op.FLATTEN, Op.SLICE, Op.ACT})


def generate_forward(graph: Graph, attr_of: dict[str, str], *, channels_last: bool, inference_only: bool,
                     stage_marks: bool = False) -> str:
    """Python source of `def forward(self, x)` for `graph`. With `stage_marks`, the forward
    calls `self._stage_mark(stage)` whenever the next node belongs to another stage than
    the previous one, and `self._stage_mark(None)` at the end (runtime/profile.py times
    the stretches between marks)."""
    order = list(graph.nodes())
    position = {node.id: i for i, node in enumerate(order)}
    last_use = {node.id: max((position[u] for u in graph.users(node.id)), default=-1) for node in order}
    names = {node.id: f"v{i}" for i, node in enumerate(order)}
    emitter = _Emitter(graph, attr_of, names, channels_last, inference_only)
    lines = ["def forward(self, x):"]
    current = None
    for node in order:
        if stage_marks and node.op is not Op.OUTPUT and node.stage != current:
            current = node.stage
            lines.append(f"    self._stage_mark({py_literal(current)})")
        lines += [f"    {line}" for line in emitter.emit(node)]
        dead = [names[s] for s in graph.inputs(node.id) if last_use[s] == position[node.id]]
        if dead and node.op is not Op.OUTPUT:
            lines.append(f"    del {', '.join(dead)}")
    if stage_marks:
        lines.append("    self._stage_mark(None)")
    lines += [f"    {line}" for line in emitter.returns()]
    return "\n".join(lines) + "\n"


class _Emitter:
    def __init__(self, graph: Graph, attr_of, names, channels_last: bool, inference_only: bool) -> None:
        self.graph, self.attr_of, self.names = graph, attr_of, names
        self.channels_last, self.inference_only = channels_last, inference_only
        self.outputs: list[str] = []
        self.inplace_done: set[str] = set()

    def returns(self) -> list[str]:
        """The main output; auxiliary outputs too in training mode (as torchvision's Inception3)."""
        main, *aux = self.outputs
        if not aux:
            return [f"return {main}"]
        return ["if self.training:", f"    return {', '.join([main] + aux)}", f"return {main}"]

    def emit(self, node: Node) -> list[str]:
        g, a = self.graph, node.attrs
        out = self.names[node.id]
        ins = [self.names[s] for s in g.inputs(node.id)]
        x = ins[0] if ins else "x"
        op = node.op
        if op is Op.INPUT:
            return [f"{out} = x.contiguous(memory_format=torch.channels_last)" if self.channels_last else f"{out} = x"]
        if op is Op.CONV:
            return self._pad_lines(node, x, "conv") + [f"{out} = self.{self.attr_of[node.id]}({self._padded(node, x)})"]
        if op in (Op.BN, Op.LINEAR):
            return [f"{out} = self.{self.attr_of[node.id]}({x})"]
        if op is Op.ACT:
            return [f"{out} = {self._activation(a['kind'], x, self._may_overwrite(g.inputs(node.id)[0]))}"]
        if op is Op.POOL:
            return self._pad_lines(node, x, a["kind"]) + [f"{out} = {self._pool(node, self._padded(node, x))}"]
        if op is Op.ADAPTIVE_AVGPOOL:
            if tuple(a["size"]) == (1, 1):
                return [f"{out} = {x}.mean((2, 3), keepdim=True)"]
            return [f"{out} = F.adaptive_avg_pool2d({x}, {py_literal(tuple(a['size']))})"]
        if op is Op.CONCAT:
            return [f"{out} = torch.cat(({', '.join(ins)},), 1)" if len(ins) > 1 else f"{out} = {x}"]
        if op is Op.ADD:
            return [f"{out} = {self._add(node, ins)}"]
        if op is Op.SCALE:
            value = float(a["value"])
            if self.inference_only and self._may_overwrite(g.inputs(node.id)[0]):
                return [f"{out} = {x}.mul_({py_literal(value)})"]
            return [f"{out} = {x} * {py_literal(value)}"]
        if op is Op.DROPOUT:
            return [f"{out} = F.dropout({x}, {py_literal(float(a['p']))}, self.training)"]
        if op is Op.FLATTEN:
            return [f"{out} = torch.flatten({x}, 1)"]
        if op is Op.SLICE:
            return [f"{out} = {x}.narrow(1, {py_literal(a['start'])}, {py_literal(a['stop'] - a['start'])})"]
        if op is Op.IDENTITY:
            return [f"{out} = {x}"]
        if op is Op.OUTPUT:
            if not a.get("aux"):
                self.outputs.insert(0, x)
            else:
                self.outputs.append(x)
            return []
        raise NotImplementedError(f"{node.id}: the torch backend has no lowering for {op.name}")

    # -- helpers
    def _may_overwrite(self, node_id: str) -> bool:
        """True when no other reader can observe a write into `node_id`'s tensor."""
        g = self.graph
        while True:
            node = g.node(node_id)
            if len(g.users(node_id)) != 1 or node.op is Op.INPUT:
                return False
            if node.op in _FRESH or (node.op is Op.CONCAT and len(g.inputs(node_id)) > 1):
                return True
            if node.op is Op.SLICE:  # the fused conv's slices are disjoint views
                (base,) = g.inputs(node_id)
                return all(g.node(u).op is Op.SLICE for u in g.users(base)) and self._owns_base(base)
            if node.op not in _ALIAS or node.op is Op.DROPOUT and not self.inference_only:
                return False
            (node_id,) = g.inputs(node_id)

    def _owns_base(self, node_id: str) -> bool:
        node = self.graph.node(node_id)
        if node.op in _FRESH:
            return True
        if node.op is Op.ACT:
            (source,) = self.graph.inputs(node_id)
            return len(self.graph.users(source)) == 1 and self._owns_base(source)
        return False

    @staticmethod
    def _activation(kind: str, x: str, inplace: bool) -> str:
        if kind == "relu":
            return f"torch.relu_({x})" if inplace else f"torch.relu({x})"
        if kind in ("relu6", "silu"):
            return f"F.{kind}({x}, inplace={inplace})"
        if kind == "gelu":
            return f"F.gelu({x})"
        if kind == "identity":
            return x
        raise NotImplementedError(f"activation {kind}")

    def _add(self, node: Node, ins: list[str]) -> str:
        sources = self.graph.inputs(node.id)
        if self.inference_only:
            for index in (1, 0):  # the branch (index 1) is usually the fresh one
                if self._may_overwrite(sources[index]):
                    return f"{ins[index]}.add_({ins[1 - index]})"
        return f"{ins[0]} + {ins[1]}"

    def _pool(self, node: Node, x: str) -> str:
        a = node.attrs
        kernel, stride = tuple(a["kernel"]), tuple(a["stride"])
        pad = _symmetric(a["padding"]) or (0, 0)
        if a["kind"] == "max":
            return f"F.max_pool2d({x}, {py_literal(kernel)}, {py_literal(stride)}, {py_literal(pad)}, 1, {py_literal(a['ceil_mode'])})"
        return f"F.avg_pool2d({x}, {py_literal(kernel)}, {py_literal(stride)}, {py_literal(pad)}, {py_literal(a['ceil_mode'])}, {py_literal(a['count_include_pad'])})"

    def _pad_lines(self, node: Node, x: str, kind: str) -> list[str]:
        padding = tuple(node.attrs["padding"])
        if _symmetric(padding) is not None:
            return []
        top, bottom, left, right = padding
        if kind == "avg" and not node.attrs["count_include_pad"]:
            raise NotImplementedError(f"{node.id}: asymmetric padding with count_include_pad=false")
        value = "float('-inf')" if kind == "max" else "0.0"
        return [f"{self.names[node.id]}_in = F.pad({x}, {py_literal((left, right, top, bottom))}, value={value})"]

    def _padded(self, node: Node, x: str) -> str:
        return x if _symmetric(tuple(node.attrs["padding"])) is not None else f"{self.names[node.id]}_in"


def _symmetric(padding: tuple[int, int, int, int]) -> tuple[int, int] | None:
    top, bottom, left, right = padding
    return (top, left) if top == bottom and left == right else None
