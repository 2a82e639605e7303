"""core/digraph.Digraph, the graph behind ir.Graph, answers as networkx does: the same
node, successor and predecessor orders, the same lexicographic topological order, the
same ancestors, and cycles found."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from inception_dsl.core.digraph import CycleError, Digraph


def _pair(seed: int, nodes: int = 30, edges: int = 60, acyclic: bool = True) -> tuple[Digraph, nx.DiGraph]:
    rng = random.Random(seed)
    ours, theirs = Digraph(), nx.DiGraph()
    names = [f"n{rng.randrange(1000)}_{i}" for i in range(nodes)]
    ours.add_nodes_from(names[: nodes // 2])
    theirs.add_nodes_from(names[: nodes // 2])
    for index in range(edges):
        a, b = rng.sample(range(nodes), 2)
        if acyclic and a > b:
            a, b = b, a
        ours.add_edge(names[a], names[b], index=index)
        theirs.add_edge(names[a], names[b], index=index)
    for _ in range(3):  # removals keep the orders of what is left
        a, b = rng.choice(list(theirs.edges))
        ours.remove_edge(a, b)
        theirs.remove_edge(a, b)
    victim = rng.choice(list(theirs.nodes))
    ours.remove_node(victim)
    theirs.remove_node(victim)
    return ours, theirs


@pytest.mark.parametrize("seed", range(20))
def test_orders_and_answers_are_networkx_ones(seed):
    ours, theirs = _pair(seed)
    assert list(ours.node) == list(theirs.nodes) and len(ours) == theirs.number_of_nodes()
    assert list(ours.edges()) == list(theirs.edges)
    for n in theirs.nodes:
        assert list(ours.succ[n]) == list(theirs.successors(n))
        assert list(ours.pred[n]) == list(theirs.predecessors(n))
        assert ours.ancestors(n) == nx.ancestors(theirs, n)
    rank = {n: random.Random(seed + 1).random() for n in theirs.nodes}
    assert ours.topological_order(key=rank.__getitem__) == list(nx.lexicographical_topological_sort(theirs, key=rank.__getitem__))
    assert ours.is_acyclic() and nx.is_directed_acyclic_graph(theirs)


def test_a_cycle_is_found():
    ours = Digraph()
    ours.add_edge("a", "b", index=0)
    ours.add_edge("b", "c", index=0)
    assert ours.is_acyclic()
    ours.add_edge("c", "a", index=0)
    assert not ours.is_acyclic()
    with pytest.raises(CycleError):
        ours.topological_order(key=str)


def test_an_edge_keeps_one_data_dict_for_both_directions():
    ours = Digraph()
    ours.add_edge("a", "b", index=1)
    ours.add_edge("a", "b", other=2)
    assert ours.succ["a"]["b"] is ours.pred["b"]["a"] == {"index": 1, "other": 2}
