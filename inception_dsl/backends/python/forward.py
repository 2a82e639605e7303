"""Generate the flat forward of a GraphModule: one line per IR node, fx-style, each
written by its op's `forward` (inception_dsl/ops/).

Values are locals `v0, v1, ...`; a value is deleted right after its last reader so
intermediate activations are freed as early as in a hand-written forward. Activations
run in place when the tensor they overwrite is read by nothing else."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.ir import Graph, Node, Op
from inception_dsl.ops.base import symmetric

__all__ = ["attribute_names", "generate_forward", "Emitter"]


def attribute_names(graph: Graph) -> dict[str, str]:
    """The submodule attribute of each node with weights: its id with dots replaced by
    underscores (`inception_a.0.fused` -> `inception_a_0_fused`)."""
    attr_of = {node.id: node.id.replace(".", "_") for node in graph.nodes() if node.op.has_weights}
    if len(set(attr_of.values())) != len(attr_of):
        seen: dict[str, str] = {}
        clash = next(node_id for node_id, attr in attr_of.items() if seen.setdefault(attr, node_id) != node_id)
        raise ValueError(f"node ids collide once dots are replaced: {clash!r} -> {attr_of[clash]!r}")
    return attr_of


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
    emitter = Emitter(graph, attr_of, names, channels_last, inference_only)
    lines = ["def forward(self, x):"]
    current = None
    for node in order:
        if stage_marks and node.op is not Op.OUTPUT and node.stage != current:
            current = node.stage
            lines.append(f"    self._stage_mark({py_literal(current)})")
        ins = [names[s] for s in graph.inputs(node.id)]
        lines += [f"    {line}" for line in node.op.forward(emitter, node, ins, names[node.id])]
        dead = [names[s] for s in graph.inputs(node.id) if last_use[s] == position[node.id]]
        if dead and node.op is not Op.OUTPUT:
            lines.append(f"    del {', '.join(dead)}")
    if stage_marks:
        lines.append("    self._stage_mark(None)")
    lines += [f"    {line}" for line in emitter.returns()]
    return "\n".join(lines) + "\n"


class Emitter:
    """What an op's `forward(emitter, node, ins, out)` may ask: the graph, the submodule
    attribute of a node with weights, whether a tensor may be overwritten, padding."""

    def __init__(self, graph: Graph, attr_of, names, channels_last: bool, inference_only: bool) -> None:
        self.graph, self.attr_of, self.names = graph, attr_of, names
        self.channels_last, self.inference_only = channels_last, inference_only
        self.outputs: list[str] = []

    def returns(self) -> list[str]:
        """The main output; auxiliary outputs too in training mode (as torchvision's Inception3)."""
        outputs = self.outputs
        if self.channels_last:  # a grid output leaves in PyTorch's default layout (a no-op on any other)
            outputs = [f"{name}.contiguous()" for name in outputs]
        main, *aux = outputs
        if not aux:
            return [f"return {main}"]
        return ["if self.training:", f"    return {', '.join([main] + aux)}", f"return {main}"]

    def _fact(self, node: Node, name: str) -> bool:
        value = getattr(node.op, name)
        if not callable(value):
            return bool(value)
        return value(self, node)

    def may_overwrite(self, node_id: str) -> bool:
        """True when no other reader can observe a write into `node_id`'s tensor."""
        g = self.graph
        while True:
            node = g.node(node_id)
            if len(g.users(node_id)) != 1 or node.op is Op.INPUT:
                return False
            if self._fact(node, "fresh"):
                return True
            if node.op is Op.SLICE:  # the fused conv's slices are disjoint views
                (base,) = g.inputs(node_id)
                return all(g.node(u).op is Op.SLICE for u in g.users(base)) and self._owns_base(base)
            if not self._fact(node, "alias"):
                return False
            (node_id,) = g.inputs(node_id)

    def _owns_base(self, node_id: str) -> bool:
        node = self.graph.node(node_id)
        if self._fact(node, "fresh"):
            return True
        if node.op is Op.ACT:
            (source,) = self.graph.inputs(node_id)
            return len(self.graph.users(source)) == 1 and self._owns_base(source)
        return False

    def pad(self, node: Node, x: str, value: str) -> tuple[list[str], str]:
        """(lines, variable): `x` padded by F.pad with `value` where the node's padding is
        asymmetric (the layer itself then pads nothing), else `x` as it is."""
        padding = tuple(node.attrs["padding"])
        if symmetric(padding) is not None:
            return [], x
        top, bottom, left, right = padding
        padded = f"{self.names[node.id]}_in"
        return [f"{padded} = F.pad({x}, {py_literal((left, right, top, bottom))}, value={value})"], padded
