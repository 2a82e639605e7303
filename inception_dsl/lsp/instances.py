"""Where a statement went in the checked graphs: one `Instance` per time it was
elaborated (a block body statement once per call of the block, `name xN` of a block
once per repetition), with its input and output shapes, parameters and MACs.

Read from the IR alone: every node keeps the span of the statement it came from and its
`origin`, the chain of block call sites that led to it. A node belongs to statement S
when S's span holds the node's own span or one of its call sites; the call sites above
that level say which instance of the enclosing block it is in."""

from __future__ import annotations

from dataclasses import dataclass, field

from inception_dsl.backends.summary import node_macs
from inception_dsl.ir import Graph, Node, Op, param_count, fmt_shape
from inception_dsl.core.source import Span
from inception_dsl.lsp.analysis import norm

__all__ = ["Instance", "instances", "shape_text"]


@dataclass
class Instance:
    graph: Graph
    nodes: list[Node] = field(default_factory=list)
    context: tuple[str, ...] = ()  # the blocks it was called through, outermost first

    @property
    def output(self) -> Node | None:
        inside = {n.id for n in self.nodes}
        ends = [n for n in self.nodes if n.op is not Op.OUTPUT
                and (not self.graph.users(n.id) or any(u not in inside for u in self.graph.users(n.id)))]
        return ends[-1] if ends else None

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        inside = {n.id for n in self.nodes}
        for node in self.nodes:
            if node.op is Op.INPUT:
                return node.shape
            for source in self.graph.inputs(node.id):
                if source not in inside:
                    return self.graph.node(source).shape
        return None

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        output = self.output
        return output.shape if output is not None else None

    @property
    def params(self) -> int:
        total = 0
        for node in self.nodes:
            inputs = self.graph.inputs(node.id)
            shape = self.graph.node(inputs[0]).shape if inputs else None
            total += param_count(node, shape[0] if shape else None) if node.shape is not None else 0
        return total

    @property
    def macs(self) -> int:
        return sum(node_macs(self.graph, node) for node in self.nodes)


def _within(inner: Span | None, outer: Span) -> bool:
    return (inner is not None and outer.start <= inner.start and inner.end <= outer.end
            and (inner.source is outer.source or norm(inner.source.path) == norm(outer.source.path)))


def instances(graphs: list[Graph], span: Span, *, repeated: bool = False) -> list[Instance]:
    """The instances of the statement at `span`. A statement of a network's own body has
    one per stage (so `inception_a x4` has four); with `repeated` (an `xN` statement
    inside a block), each call of a block it makes is its own instance."""
    found: dict[tuple, Instance] = {}
    for graph in graphs:
        for node in graph.nodes():
            chain = [site.span for site in node.origin] + [node.span]
            level = next((i for i, s in enumerate(chain) if _within(s, span)), None)
            if level is None:
                continue
            outer = node.origin[:level]
            key = (id(graph),) + tuple(id(site) for site in outer)
            if not outer:
                key += (node.stage,)
            elif repeated and level < len(node.origin):
                key += (id(node.origin[level]),)
            instance = found.get(key)
            if instance is None:
                instance = found[key] = Instance(graph, context=tuple(site.block for site in outer))
            instance.nodes.append(node)
    return list(found.values())


def shape_text(shape) -> str:
    return fmt_shape(shape)
