"""Joins that read earlier tensors, and channel splits whose parts go their own ways.

Mixed into structure.py's `_Scope` (the operation graph of one call, walked back from its
output). Three ways out of a graph that is not series-parallel by immediate dominators:

* `taps`: a join that reads the step before it and earlier steps of the same chain (VoVNet's
  concatenation of the block's input and every step's output) follows that step; its other
  branches are `identity from LABEL` (`from input`: the sequence's input).
* `spliced`: a join whose branches fork at one tensor and, deeper inside, read an earlier
  tensor of the chain (ReXNet's `cat([y[:, :c] + x, y[:, c:]])`: `y` is the fork, the block's
  input `x` is read inside a branch): every edge from a dominator of the join into an inner
  join is cut, the fork is the join's immediate dominator in what is left, and the cut reads
  are `identity from LABEL` branches: `concat { sum { channels(0, c); identity from input };
  channels(c, out) }`.
* `exploded`: a `chunk`/`split` on channels whose parts are not concatenated again in order
  becomes one `channels(a, b)` per part that is read, each reading the split's input.
Imports torch (through words.py's `channels_layer`)."""

from __future__ import annotations

import networkx as nx

from inception_dsl.decompiler.tree import Follows, Fork, Join, Layer, Sym
from inception_dsl.decompiler.words import channels_layer

__all__ = ["SOURCE", "NotStructured", "Taps"]

SOURCE = -1


class NotStructured(Exception):
    def __init__(self, missing: str, detail: str = ""):
        super().__init__(missing)
        self.missing, self.detail = missing, detail


class Taps:
    """What `_Scope` provides: items, words, inputs (node -> read nodes), read_refs (node ->
    refs, parallel), idom, seen, last_ref, target, aliases (a no-op's output -> its input)."""

    tapped: frozenset = frozenset()  # in `spliced`: the nodes a branch reads `from` their label
    tap_stop: int = SOURCE
    sides: dict = {}  # after `cut_parts`: a channel part a join reads -> the tensor it is a part of
    pending: list = []  # (join, tensor) read `from` a label: checked where the join's sequence ends

    def taps(self, node: int, join: Join, stop: int) -> tuple[Join, int] | None:
        """VoVNet's concatenation of the block's input and every step's output: each read but
        one lies on the chain of steps that leads to that one (its dominators, back to the
        sequence's input `stop`): the join follows that step, its other branches read `from`
        the labels of the steps they tap (`from input`: the sequence's input)."""
        reads = self.inputs[node]
        if join.kind not in ("concat", "sum", "product") or len(set(reads)) != len(reads):
            return None
        for main in reversed(reads):
            if main in self.sides:
                continue
            chain, step = [main], main
            while step != stop and step != SOURCE:
                step = self.idom[step]
                chain.append(step)
            if step != stop or any(read not in chain and (read not in self.sides or self.sides[read] not in chain)
                                   for read in reads):
                continue
            sources = [None if read == main or read in self.sides else self.tap_label(read, stop) for read in reads]
            if sum(source is None and read not in self.sides for read, source in zip(reads, sources)) != 1:
                return None
            join.branches = [self.side_branch(node, read) if read in self.sides else [] if read == main else
                             [Layer("identity", source=source)] for read, source in zip(reads, sources)]
            return join, main
        return None

    def tap_label(self, node: int, stop: int) -> str | None:
        if node == stop:
            return "input"
        words = self.words.get(node)
        if not words or isinstance(words[-1], Fork) or not hasattr(words[-1], "label"):
            return None
        stmt = words[-1]
        taken = {getattr(w, "label", None) for ws in self.words.values() for w in ws if w is not stmt}
        if not stmt.label or stmt.label.isdigit() or (stmt.label in taken and not getattr(stmt, "params", True)):
            stmt.label = next(f"tap{k}" for k in range(1, len(taken) + 2) if f"tap{k}" not in taken)
        stmt.tapped = True  # its label stays (blocks.py drops labels that say nothing)
        return stmt.label

    def tap_branch(self, read: int) -> list:
        label = self.tap_label(read, self.tap_stop)
        if label is None:
            raise NotStructured("a graph that is not series-parallel (a tensor read by two branches)",
                                getattr(self.items[read], "path", ""))
        return [Layer("identity", source=label)]

    # -- a join whose branches read an earlier tensor of the chain deep inside --------------
    def spliced(self, node: int, join: Join, stop: int) -> tuple[Join, int] | None:
        if self.tapped or join.kind not in ("concat", "sum", "product"):
            return None  # one level: a splice inside a splice is refused
        dominators, step = [], self.idom.get(node)
        while step is not None and step != stop and step != SOURCE:
            dominators.append(step)
            step = self.idom.get(step)
        if step != stop:
            return None
        taps = frozenset(dominators + ([SOURCE] if stop == SOURCE else []))
        graph = nx.DiGraph()
        graph.add_node(SOURCE)
        for reader, reads in self.inputs.items():
            cut = _is_join(self.words.get(reader)) and any(read not in taps for read in reads)
            for read in reads:
                if not (cut and read in taps):
                    graph.add_edge(read, reader)
        if node not in graph:
            return None
        idom = nx.immediate_dominators(graph, SOURCE)
        fork = idom.get(node)
        if fork is None or fork in taps or fork == node:
            return None
        saved = (self.idom, set(self.seen), self.last_ref, self.labels())
        self.idom, self.tapped, self.tap_stop = idom, taps, stop
        try:
            return self.forked(node, join)[0], fork
        except NotStructured:
            self.seen, self.last_ref = saved[1], saved[2]
            self.restore_labels(saved[3])
            return None
        finally:
            self.idom, self.tapped, self.tap_stop = saved[0], frozenset(), SOURCE

    def folded(self, branch: list) -> list:
        """`a; b; sum { identity; identity from x }` in a spliced branch is `sum { { a; b };
        identity from x }` (ReXNet's partial shortcut, as the reference writes it)."""
        if not self.tapped or len(branch) < 2 or not isinstance(branch[-1], Join) or branch[-1].label:
            return branch
        last = branch[-1]
        empty = [b for b in last.branches if not b]
        taps = [b for b in last.branches if len(b) == 1 and isinstance(b[0], Layer) and b[0].source]
        if len(empty) != 1 or len(empty) + len(taps) != len(last.branches):
            return branch
        last.branches = [list(branch[:-1]) if not b else b for b in last.branches]
        return [last]

    def labels(self) -> list:
        return [(w, w.label, getattr(w, "tapped", False)) for ws in self.words.values() for w in ws
                if hasattr(w, "label")]

    @staticmethod
    def restore_labels(saved: list) -> None:
        for word, label, tapped in saved:
            word.label = label
            if not tapped and getattr(word, "tapped", False):
                del word.tapped

    # -- parts of an earlier tensor, read by later joins -----------------------------------------
    def cut_parts(self) -> bool:
        """Res2Net's scales: each part of a split added to the last scale's output, the last part
        concatenated: a `channels(a, b)` read by one join only, of a tensor read elsewhere too,
        leaves the graph; the join reads it `channels(a, b) from LABEL` (False: there is none)."""
        readers: dict[int, set[int]] = {}
        for node, reads in self.inputs.items():
            for read in reads:
                readers.setdefault(read, set()).add(node)
        sides = {}
        for node, words in self.words.items():
            reads, users = set(self.inputs[node]), readers.get(node, set())
            if len(words) == 1 and isinstance(words[0], Layer) and words[0].word == "channels" and \
                    len(reads) == 1 and len(readers.get(next(iter(reads)), ())) > 1 and len(users) == 1 and \
                    _is_join(self.words.get(next(iter(users)))) and node != self.target:
                sides[node] = next(iter(reads))
        joins = {next(iter(readers[node])) for node in sides}
        if any(all(read in sides for read in self.inputs[join]) for join in joins):
            return False  # a join of parts only: nothing left to fork from
        self.sides = sides
        return bool(sides)

    def side_branch(self, join: int, read: int) -> list:
        root = self.sides[read]
        label = "input" if root == SOURCE else self.tap_label(root, SOURCE)
        if label is None:
            raise NotStructured("a graph that is not series-parallel (a tensor read by two branches)",
                                getattr(self.items[read], "path", ""))
        self.seen.add(read)
        self.pending.append((join, root))
        part = self.words[read][0]
        return [Layer(part.word, list(part.args), source=label)]

    def check_sides(self, visited: list[int], stop: int) -> None:
        """A part read `from` a label: that tensor must be an earlier statement of the join's sequence."""
        for join, root in self.pending:
            if join in visited and not (root == SOURCE == stop or root in visited[visited.index(join) + 1:]):
                raise NotStructured("a graph that is not series-parallel (a tensor read by two branches)",
                                    getattr(self.items[join], "path", ""))

    # -- layers that take another tensor's size ----------------------------------------------
    def name_sizes(self, visited: list[int], stop: int) -> None:
        """`resize(to=...)`/`pad_to(...)` of one sequence (`visited`, walked back from its end):
        the tensor whose size a layer takes is named by its label where it is an earlier
        statement of that sequence (`input`: the block's input), else the layer falls back to
        what says it at the traced size (`upsample(k)`) or is refused."""
        for position, node in enumerate(visited):
            for word in self.words[node]:
                slot = next((i for i, (_, v) in enumerate(getattr(word, "args", ())) if isinstance(v, Follows)), None)
                if slot is None:
                    continue
                follows = word.args[slot][1]
                target = self.producer.get(self.resolved(follows.ref))
                label = None
                if target == SOURCE and stop == SOURCE:
                    label = "input"
                elif target in visited[position + 1:]:
                    label = self.tap_label(target, stop)
                if label is not None:
                    word.args[slot] = (word.args[slot][0], Sym(label))
                elif follows.fallback is not None:
                    word.word, word.args = follows.fallback.word, follows.fallback.args
                else:
                    raise NotStructured(f"`{word.word}` to the size of a tensor that is not an earlier statement "
                                        "of its sequence", getattr(self.items[node], "path", ""))

    # -- channel splits read part by part ---------------------------------------------------
    def exploded(self) -> bool:
        """Each read part of a channel split: its own `channels(a, b)` node, reading the
        split's input (False when there is no split)."""
        forks = {node: words[-1].sizes for node, words in self.words.items() if words and isinstance(words[-1], Fork)}
        if not forks:
            return False
        parts: dict[tuple[int, int], int] = {}
        for reader in list(self.inputs):
            for position, (read, ref) in enumerate(zip(self.inputs[reader], self.read_refs[reader])):
                if read in forks:
                    self.inputs[reader][position] = self.part(read, self.resolved(ref)[1], forks[read], parts)
        if self.target in forks:
            self.target = self.part(self.target, self.resolved(self.call.output)[1], forks[self.target], parts)
        for node in forks:
            del self.words[node], self.inputs[node], self.read_refs[node]
        return True

    def part(self, fork: int, k: int, sizes: tuple[int, ...], parts: dict) -> int:
        if (fork, k) not in parts:
            node = len(self.items)
            self.items.append(self.items[fork])
            start = sum(sizes[:k])
            self.words[node] = [channels_layer(start, start + sizes[k])]
            self.inputs[node] = list(self.inputs[fork])
            self.read_refs[node] = list(self.read_refs[fork])
            parts[(fork, k)] = node
        return parts[(fork, k)]

    def resolved(self, ref):
        while ref in self.aliases:
            ref = self.aliases[ref]
        return ref


def _is_join(words) -> bool:
    return bool(words) and isinstance(words[-1], Join)
