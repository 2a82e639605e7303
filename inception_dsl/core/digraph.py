"""The directed graph behind `ir.Graph`: networkx's layout (a dict of node data and two
dicts of adjacency dicts sharing one data dict per edge, all in insertion order), with
only what the IR asks of it, so that the front end starts without importing networkx
(a third of `check`'s start-up). Same orders as networkx: nodes, successors and
predecessors in insertion order; `topological_order` is networkx's
`lexicographical_topological_sort` (Kahn's algorithm, the smallest key first)."""

from __future__ import annotations

import heapq
from typing import Any, Callable, Hashable, Iterable, Iterator

__all__ = ["Digraph", "CycleError"]


class CycleError(ValueError):
    """The graph has a cycle, so it has no topological order."""


class Digraph:
    __slots__ = ("node", "succ", "pred")

    def __init__(self) -> None:
        self.node: dict[Hashable, dict[str, Any]] = {}  # node -> its data
        self.succ: dict[Hashable, dict[Hashable, dict[str, Any]]] = {}  # node -> successor -> edge data
        self.pred: dict[Hashable, dict[Hashable, dict[str, Any]]] = {}  # node -> predecessor -> the same edge data

    def add_nodes_from(self, nodes: Iterable[Hashable]) -> None:
        for n in nodes:
            if n not in self.succ:
                self.node[n], self.succ[n], self.pred[n] = {}, {}, {}

    def add_edge(self, source: Hashable, target: Hashable, **data: Any) -> None:
        self.add_nodes_from((source, target))
        edge = self.succ[source].get(target, {})
        edge.update(data)
        self.succ[source][target] = self.pred[target][source] = edge

    def remove_edge(self, source: Hashable, target: Hashable) -> None:
        del self.succ[source][target]
        del self.pred[target][source]

    def remove_node(self, n: Hashable) -> None:
        for target in self.succ.pop(n):
            del self.pred[target][n]
        for source in self.pred.pop(n):
            del self.succ[source][n]
        del self.node[n]

    def __contains__(self, n: Hashable) -> bool:
        return n in self.node

    def __len__(self) -> int:
        return len(self.node)

    def edges(self) -> Iterator[tuple[Hashable, Hashable]]:
        return ((source, target) for source, targets in self.succ.items() for target in targets)

    def topological_order(self, key: Callable[[Hashable], Any]) -> list[Hashable]:
        """Every node after its predecessors; among the nodes ready at a step, the one with
        the smallest `key` first. CycleError if there is no such order."""
        indegree = {n: len(p) for n, p in self.pred.items()}
        ready = [(key(n), i, n) for i, n in enumerate(self.node) if indegree[n] == 0]
        heapq.heapify(ready)
        order, index = [], {n: i for i, n in enumerate(self.node)}
        while ready:
            _, _, n = heapq.heappop(ready)
            order.append(n)
            for target in self.succ[n]:
                indegree[target] -= 1
                if indegree[target] == 0:
                    heapq.heappush(ready, (key(target), index[target], target))
        if len(order) != len(self.node):
            raise CycleError("the graph has a cycle")
        return order

    def is_acyclic(self) -> bool:
        try:
            self.topological_order(key=lambda n: 0)
        except CycleError:
            return False
        return True

    def ancestors(self, n: Hashable) -> set[Hashable]:
        """Every node with a path to `n`."""
        seen: set[Hashable] = set()
        pending = list(self.pred[n])
        while pending:
            source = pending.pop()
            if source not in seen:
                seen.add(source)
                pending.extend(self.pred[source])
        seen.discard(n)
        return seen
