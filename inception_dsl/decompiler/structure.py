"""A traced module call → the statements of its body.

Inside one call the operations form a small graph: what each operation (a word event, a
torch function, or a call of a child module) reads. Walking back from the call's output,
an operation with one input is the next statement of the sequence; a join (`torch.cat`,
`+`, `*`) closes branches that fork at its immediate dominator, each branch the walk
from one of its inputs back to that fork. A graph that is not series-parallel this way
(a branch that reads inside another branch, an operation read twice outside a join) is
refused, located. Child modules become `Use`s (blocks, later) or `Seq`s (a plain
nn.Sequential, whose children are numbered as the language numbers a sequence).
Imports torch (through the tracer's types)."""

from __future__ import annotations

import inspect

import networkx as nx
from torch import nn

from inception_dsl.decompiler.located import qualname, where
from inception_dsl.decompiler.trace import Call, Event, Ref
from inception_dsl.decompiler.tree import SUM, Gap, Join, Layer, Refusal, Residual, Scale, Seq, Use
from inception_dsl.decompiler.words import Missing, function_words, module_words

__all__ = ["Structurer", "residuals"]

SOURCE = -1


class _NotStructured(Exception):
    def __init__(self, missing: str, detail: str = ""):
        super().__init__(missing)
        self.missing, self.detail = missing, detail


class Structurer:
    """Bodies of calls; `refusals` collects what cannot be said (each becomes a `Gap`)."""

    def __init__(self, events: list[Event], input_shape: tuple[int, ...]) -> None:
        self.refusals: list[Refusal] = []
        self.events = events
        self.input_shape = (1, *input_shape)

    def refuse(self, path: str, owner, missing: str, detail: str = "", site: str = "") -> Gap:
        cls = owner if inspect.isclass(owner) else type(owner)
        refusal = Refusal(path, qualname(cls), site or where(owner), missing, detail)
        self.refusals.append(refusal)
        return Gap(refusal)

    # -- one call -----------------------------------------------------------------------
    def body(self, call: Call) -> list:
        try:
            return _Scope(self, call).walk()
        except _NotStructured as error:
            return [self.refuse(call.path, call.module, error.missing, error.detail)]

    def statements(self, item: "Call | Event", scope: Call) -> list:
        if isinstance(item, Call):
            return [self.use(item, scope)]
        try:
            words = module_words(item) if item.is_module else function_words(item)
        except Missing as missing:
            if item.is_module:
                return [self.refuse(item.path, item.target, missing.missing, missing.detail)]
            return [self.refuse(item.path, scope.module, missing.missing, missing.detail, item.site)]
        for word in words:
            if isinstance(word, Scale):
                word.origin = (item.path, qualname(type(scope.module)), item.site or where(scope.module))
        if item.is_module and item.path.rpartition(".")[0] == scope.path:
            for word in words:
                if isinstance(word, Layer) and (word.params or word is words[0]):
                    word.label = item.path.rpartition(".")[2]
                    break
        return words

    def use(self, call: Call, scope: Call):
        body = self.body(call)
        label = call.path.rpartition(".")[2] if call.path.rpartition(".")[0] == scope.path else None
        if isinstance(call.module, nn.Sequential):
            for stmt in body:
                if _label_is_position(stmt):
                    stmt.label = None
            if type(call.module) is nn.Sequential:
                return Seq(body, label)
            body = [Seq(body)]
        return Use(call.path, type(call.module), body, label, self.channels(call.inputs[0] if call.inputs else None))

    def channels(self, ref) -> int:
        if ref is None:
            return 0
        shape = self.input_shape if ref[0] < 0 else self.events[ref[0]].shapes[ref[1]]
        return shape[1] if len(shape) > 1 else 0


def _label_is_position(stmt) -> bool:
    return getattr(stmt, "label", None) is not None and stmt.label.isdigit()


class _Scope:
    """The operation graph of one call, walked back from its output."""

    def __init__(self, owner: Structurer, call: Call):
        self.owner, self.call = owner, call
        self.items = list(call.items)
        self.words: dict[int, list] = {}
        self.inputs: dict[int, list[int]] = {}
        producer: dict[Ref, int] = {ref: SOURCE for ref in call.inputs}
        for i, item in enumerate(self.items):
            reads = self._reads(item, producer)
            if isinstance(item, Event):
                words = owner.statements(item, call)
                if not words:  # a no-op: its outputs are its input
                    for k in range(len(item.shapes)):
                        producer[(item.index, k)] = reads[0] if reads else SOURCE
                    continue
                for k in range(len(item.shapes)):
                    producer[(item.index, k)] = i
                self.words[i] = words
            else:
                if item.output is None:
                    raise _NotStructured("a module returning something other than one tensor", item.path)
                if item.output not in producer:
                    producer[item.output] = i
                    self.words[i] = owner.statements(item, call)
                else:  # returns a tensor it did not compute (an identity module)
                    self.words[i] = []
            self.inputs[i] = reads
        if call.output is None or call.output not in producer:
            raise _NotStructured("a module whose output is not computed from its input")
        self.target = producer[call.output]
        self.seen: set[int] = set()

    def _reads(self, item, producer: dict[Ref, int]) -> list[int]:
        refs = item.inputs if isinstance(item, Call) else item.tensor_inputs()
        reads = []
        for ref in refs:
            if ref not in producer:
                path = item.path
                raise _NotStructured("a tensor read across module boundaries (from inside another module)", path)
            reads.append(producer[ref])
        if len(self.call.inputs) > 1:
            raise _NotStructured(f"a module taking {len(self.call.inputs)} tensors (a block reads one)")
        return reads

    def walk(self) -> list:
        graph = nx.DiGraph()
        graph.add_node(SOURCE)
        for node, reads in self.inputs.items():
            for read in reads:
                graph.add_edge(read, node)
        self.idom = nx.immediate_dominators(graph, SOURCE) if self.target != SOURCE else {}
        body = self.chain(self.target, SOURCE)
        unused = [i for i in self.words if i not in self.seen and self.words[i]]
        if unused:
            item = self.items[unused[0]]
            raise _NotStructured("an operation whose result is never used", getattr(item, "path", ""))
        return body

    def chain(self, node: int, stop: int) -> list:
        stmts: list = []
        while node != stop:
            if node == SOURCE or node in self.seen:
                raise _NotStructured("a graph that is not series-parallel (a tensor read by two branches)",
                                     getattr(self.items[node], "path", "") if node != SOURCE else "")
            self.seen.add(node)
            words, reads = self.words[node], self.inputs[node]
            if words and isinstance(words[-1], Join):
                fork = self.idom[node]
                join = words[-1]
                join.branches = [self.chain(read, fork) for read in reads]
                stmts = [join] + stmts
                node = fork
                continue
            if len(set(reads)) != 1:
                raise _NotStructured(f"an operation reading {len(set(reads))} tensors",
                                     getattr(self.items[node], "path", ""))
            stmts = list(words) + stmts
            node = reads[0]
        return stmts


def residuals(body: list) -> list:
    """`sum` of two branches followed by an activation → a `Residual` (when it is the
    whole body: the caller decides); the body is the branch with the scale or the more
    statements, the shortcut the other."""
    if not body or not isinstance(body[0], Join) or body[0].kind != SUM or len(body[0].branches) != 2:
        return body
    rest = body[1:]
    act = "identity"
    if len(rest) == 1 and isinstance(rest[0], Layer) and not rest[0].args and not rest[0].params and _is_act(rest[0]):
        act, rest = rest[0].word, []
    if rest:
        return body
    a, b = body[0].branches
    if (b and isinstance(b[-1], Scale)) or (len(b) > len(a) and not (a and isinstance(a[-1], Scale))):
        a, b = b, a
    scale = 1.0
    if a and isinstance(a[-1], Scale):
        scale, a = a[-1].factor, a[:-1]
    if any(isinstance(s, Scale) for s in a + b):
        return body
    return [Residual(a, b or None, scale, act)]


def _is_act(layer: Layer) -> bool:
    from inception_dsl.decompiler.words import ACT_FUNCTIONS

    return layer.word in set(ACT_FUNCTIONS.values())
