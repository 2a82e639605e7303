"""The graph IR: one node per tensor operation, on a networkx DiGraph.

elaborate.py builds it; passes annotate it (shapes) or rewrite it (optimizations);
backends read it. Node ids are dotted scope paths (`inception_a.0.branch1.0.conv`) and,
for ops that own parameters, equal the nn.Module path of that op, so that ids are also
state_dict prefixes. Renaming a node is therefore a breaking change for saved weights.

Edges carry `index`, the position of the source among the target's inputs, so that
concatenation order is explicit. `Graph.nodes()` yields nodes in insertion order, which
elaborate keeps topological."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator

import networkx as nx

from inception_dsl.language.source import Span

__all__ = ["Op", "Node", "CallSite", "Stage", "Graph", "verify", "param_count"]


class Op(enum.Enum):
    """The closed set of IR operations. Attributes (Node.attrs) per op:

    INPUT    shape: tuple                      the network input (C, H, W)
    CONV     out_channels, kernel (kh, kw), stride (sh, sw), padding (top, bottom, left, right),
             dilation (dh, dw), groups, bias: bool
    BN       eps, momentum                     BatchNorm2d over the input channels
    ACT      kind: relu|relu6|gelu|silu|identity
    POOL     kind: max|avg, kernel, stride, padding (t, b, l, r), ceil_mode, count_include_pad
    ADAPTIVE_AVGPOOL size (h, w)               global average pooling is size (1, 1)
    CONCAT   (none)                            channel concatenation of all inputs, in edge order
    ADD      (none)                            elementwise sum of two inputs
    SCALE    value: float                      multiply by a constant
    DROPOUT  p
    FLATTEN  (none)                            (C, H, W) -> (C*H*W,)
    LINEAR   out_features, bias: bool
    IDENTITY (none)
    SLICE    start, stop                       channels [start, stop) of the input; made only by
                                               the optimizer (fuse_sibling_convs), never by elaborate
    OUTPUT   name, aux: bool                   a network output; aux outputs exist in training only
    """

    INPUT = "input"
    CONV = "conv"
    BN = "bn"
    ACT = "act"
    POOL = "pool"
    ADAPTIVE_AVGPOOL = "adaptive_avgpool"
    CONCAT = "concat"
    ADD = "add"
    SCALE = "scale"
    DROPOUT = "dropout"
    FLATTEN = "flatten"
    LINEAR = "linear"
    IDENTITY = "identity"
    SLICE = "slice"
    OUTPUT = "output"


PARAMETRIC = frozenset({Op.CONV, Op.BN, Op.LINEAR})
_ARITY = {Op.INPUT: (0, 0), Op.ADD: (2, 2), Op.CONCAT: (1, None)}


@dataclass(frozen=True)
class CallSite:
    """Where a block instance was called from: `block` called at `span`."""

    block: str
    span: Span


@dataclass
class Node:
    id: str
    op: Op
    attrs: dict[str, Any]
    span: Span | None = None
    origin: tuple[CallSite, ...] = ()
    stage: str = ""
    shape: tuple[int, ...] | None = None

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.op.name}, {self.attrs})"


@dataclass
class Stage:
    """A top-level statement of the network (one per repetition instance)."""

    name: str
    kind: str  # the block or layer name
    output: str  # node id
    span: Span | None
    aux: bool = False


@dataclass
class Graph:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    blocks: dict[str, CallSite] = field(default_factory=dict)  # scope -> block instance
    # scope -> input shape, for block instances that read in_channels / in_height / in_width
    block_inputs: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # `X xN`: instance path -> (first instance's path, N); instances are `x.0 ...`, or
    # positions of a `{ ... }` sequence (`features.6 ... features.9`), see naming.py
    repeats: dict[str, tuple[str, int]] = field(default_factory=dict)
    # `{ ... }` statements written in the network body: their members are the stages
    # (`features.0 ...`); drawn as clusters around them
    groups: dict[str, Stage] = field(default_factory=dict)
    span: Span | None = None
    _g: nx.DiGraph = field(default_factory=nx.DiGraph, repr=False)

    # -- construction
    def add(self, node: Node, inputs: list[str] = ()) -> str:
        assert node.id not in self._g, f"duplicate node id {node.id}"
        self._g.add_node(node.id, node=node)
        for index, source in enumerate(inputs):
            self._g.add_edge(source, node.id, index=index)
        return node.id

    def remove(self, node_id: str) -> None:
        self._g.remove_node(node_id)

    def replace_input(self, node_id: str, old: str, new: str) -> None:
        index = self._g.edges[old, node_id]["index"]
        self._g.remove_edge(old, node_id)
        self._g.add_edge(new, node_id, index=index)

    def set_inputs(self, node_id: str, inputs: list[str]) -> None:
        for source in list(self._g.predecessors(node_id)):
            self._g.remove_edge(source, node_id)
        for index, source in enumerate(inputs):
            self._g.add_edge(source, node_id, index=index)

    # -- queries
    def __contains__(self, node_id: str) -> bool:
        return node_id in self._g

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def node(self, node_id: str) -> Node:
        # networkx's own node dict: the public NodeView lookup costs a third of `check`
        # on large specs, for the same answer
        return self._g._node[node_id]["node"]

    def nodes(self) -> Iterator[Node]:
        """All nodes in topological order (ties broken by insertion order)."""
        order = {n: i for i, n in enumerate(self._g.nodes)}
        if all(order[source] < order[target] for source, target in self._g.edges):
            # elaborate inserts in topological order, and then the lexicographical sort below
            # yields exactly insertion order; this check is linear, the sort is not
            ids: Iterator[str] = iter(order)
        else:  # rewritten graphs (optimizer passes) may append producers after their users
            ids = nx.lexicographical_topological_sort(self._g, key=order.__getitem__)
        data = self._g._node
        for node_id in ids:
            yield data[node_id]["node"]

    def inputs(self, node_id: str) -> list[str]:
        predecessors = self._g.pred[node_id]
        if len(predecessors) < 2:
            return list(predecessors)
        return sorted(predecessors, key=lambda source: predecessors[source]["index"])

    def users(self, node_id: str) -> list[str]:
        return list(self._g.successors(node_id))

    @property
    def nx(self) -> nx.DiGraph:
        """The underlying networkx graph (node attribute `node` holds the Node)."""
        return self._g

    @property
    def input_node(self) -> Node:
        return next(n for n in self.nodes() if n.op is Op.INPUT)

    def output_nodes(self) -> list[Node]:
        return [self.node(n) for n in self.outputs]


def verify(graph: Graph) -> list[str]:
    """Structural invariants; returns the problems found (empty when well formed).
    A non-empty result is a compiler bug, not a user error."""
    problems = []
    if not nx.is_directed_acyclic_graph(graph.nx):
        problems.append("graph has a cycle")
    inputs = [n for n in graph.nodes() if n.op is Op.INPUT]
    if len(inputs) != 1:
        problems.append(f"expected one INPUT node, found {len(inputs)}")
    predecessors = graph.nx.pred
    for node in graph.nodes():
        edges = predecessors[node.id]
        count = len(edges)
        low, high = _ARITY.get(node.op, (1, 1))
        if count < low or (high is not None and count > high):
            problems.append(f"{node.id}: {node.op.name} has {count} inputs")
        indices = sorted(data["index"] for data in edges.values())
        if indices != list(range(count)):
            problems.append(f"{node.id}: input indices {indices} are not 0..{count - 1}")
    for output in graph.outputs:
        if output not in graph or graph.node(output).op is not Op.OUTPUT:
            problems.append(f"output {output} is not an OUTPUT node")
    return problems


def param_count(node: Node, in_channels: int | None) -> int:
    """Learnable parameters of one node, given its input channel count."""
    a = node.attrs
    if node.op is Op.CONV:
        kh, kw = a["kernel"]
        return a["out_channels"] * (in_channels // a["groups"]) * kh * kw + (a["out_channels"] if a["bias"] else 0)
    if node.op is Op.BN:
        return 2 * (in_channels or 0)
    if node.op is Op.LINEAR:
        return a["out_features"] * (in_channels or 0) + (a["out_features"] if a["bias"] else 0)
    return 0
