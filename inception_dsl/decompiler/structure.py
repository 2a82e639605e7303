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
import keyword
import re

import networkx as nx
from torch import nn

from inception_dsl.decompiler.located import qualname, where
from inception_dsl.decompiler.tokens import FLAT, TOKENS, to_tokens
from inception_dsl.decompiler.taps import SOURCE, NotStructured, Taps
from inception_dsl.decompiler.trace import Call, Event, Ref
from inception_dsl.decompiler.tree import SUM, Fork, Gap, Join, Layer, Refusal, Residual, Scale, Seq, Use
from inception_dsl.language.naming import reserved_name
from inception_dsl.language.parse import KEYWORDS, RESERVED
from inception_dsl.decompiler.words import NHWC, PASS_THROUGH, Missing, act_name, function_words, module_words

__all__ = ["Structurer", "residuals"]

_NotStructured = NotStructured


class Structurer:
    """Bodies of calls; `refusals` collects what cannot be said (each becomes a `Gap`)."""

    def __init__(self, events: list[Event], input_shape: tuple[int, ...]) -> None:
        self.refusals: list[Refusal] = []
        self.events = events
        self.input_shape = (1, *input_shape)
        self.layouts: dict[Ref, str] = {}  # tensors permuted to channels-last

    def refuse(self, path: str, owner, missing: str, detail: str = "", site: str = "") -> Gap:
        cls = owner if inspect.isclass(owner) else type(owner)
        refusal = Refusal(path, qualname(cls), site or where(owner), missing, detail)
        self.refusals.append(refusal)
        return Gap(refusal)

    # -- one call -----------------------------------------------------------------------
    def body(self, call: Call) -> list:
        try:
            layers = _dense_layers(call)
            if layers:
                return [Join("concat", [[], [self.use(layer, call)]]) for layer in layers]
            return _Scope(self, call).walk()
        except _NotStructured as error:
            return [self.refuse(call.path, call.module, error.missing, error.detail)]

    def statements(self, item: "Call | Event", scope: Call) -> list:
        if isinstance(item, Call):
            return [self.use(item, scope)]
        reads = item.tensor_inputs()
        item.layout = self.layouts.get(reads[0], NCHW) if reads else NCHW
        try:
            words, layout = self._permute(item) if _is_permute(item) else self._regroup(item)
            if words is None:
                words = module_words(item) if item.is_module else function_words(item)
        except Missing as missing:
            if item.is_module:
                return [self.refuse(item.path, item.target, missing.missing, missing.detail)]
            return [self.refuse(item.path, scope.module, missing.missing, missing.detail, item.site)]
        for k in range(len(item.shapes)):
            self.layouts[(item.index, k)] = layout
        for word in words:
            if isinstance(word, Scale):
                word.origin = (item.path, qualname(type(scope.module)), item.site or where(scope.module))
        if item.is_module and item.path.rpartition(".")[0] == scope.path:
            for word in words:
                if isinstance(word, Layer) and (word.params or word is words[0]):
                    word.label = label_of(item.path)
                    break
        return words

    def _permute(self, event: Event) -> tuple[list, str]:
        """To channels-last and back (ConvNeXt's blocks): no statement, only the layout changes."""
        dims = event.args[1:] if len(event.args) > 2 else (event.args[1] if len(event.args) > 1 else event.kwargs.get("dims"))
        dims = tuple(d % 4 for d in dims) if dims is not None and len(event.in_shape or ()) == 4 else ()
        if dims == (0, 2, 3, 1) and event.layout == NCHW:
            return [], NHWC
        if dims == (0, 3, 1, 2) and event.layout == NHWC:
            return [], NCHW
        raise Missing("permute other than to channels-last and back", f"dims {dims}")

    def _regroup(self, event: Event) -> tuple[list | None, str]:
        """torchvision's channel_shuffle written out: view to (N, g, C/g, H, W), transpose(1, 2),
        view back: `channel_shuffle(g)`. Anything else done to the grouped view is refused."""
        name = "" if event.is_module else getattr(event.target, "__name__", "")
        tokens = to_tokens(event, name)
        if tokens is not None:
            return tokens
        if event.layout == FLAT:
            raise Missing(f"torch function `{name or type(event.target).__name__}` on a flattened grid")
        shape_in, shape_out = event.in_shape or (), event.shapes[0]
        layout = event.layout
        if layout == NCHW and name in ("view", "reshape") and len(shape_in) == 4 and len(shape_out) == 5 and \
                shape_out[0] == shape_in[0] and shape_out[1] * shape_out[2] == shape_in[1] and shape_out[3:] == shape_in[2:]:
            return [], f"grouped:{shape_out[1]}"
        if not layout.startswith(("grouped:", "shuffled:")):
            return None, layout
        groups = int(layout.partition(":")[2])
        dims = tuple(d % 5 for d in event.args[1:3]) if len(event.args) >= 3 else ()
        if name == "transpose" and layout.startswith("grouped:") and sorted(dims) == [1, 2]:
            return [], f"shuffled:{groups}"
        if name in PASS_THROUGH:
            return [], layout
        if name in ("view", "reshape", "flatten") and layout.startswith("shuffled:") and len(shape_out) == 4:
            return [Layer("channel_shuffle", [(None, groups)])], NCHW
        raise Missing(f"torch function `{name or type(event.target).__name__}` on a grouped view of the channels")

    def use(self, call: Call, scope: Call):
        body = self.body(call)
        label = label_of(call.path) if call.path.rpartition(".")[0] == scope.path else None
        numbered = bool(body) and [getattr(s, "label", None) for s in body] == [str(k) for k in range(len(body))]
        if isinstance(call.module, (nn.Sequential, nn.ModuleList)) or numbered:  # numbered: a ModuleDict run in order
            for stmt in body:                                                     # (IntermediateLayerGetter)
                if _label_is_position(stmt):
                    stmt.label = None
            if type(call.module) is nn.Sequential or isinstance(call.module, nn.ModuleList):
                return Seq(body, label)
            body = [Seq(body)]
        for stmt in body:  # a number is a label only where it is the position (any other: the converter)
            if _label_is_position(stmt):
                stmt.label = None
        return Use(call.path, type(call.module), body, label, sum(self.channels(ref) for ref in call.inputs))

    def channels(self, ref) -> int:
        if ref is None:
            return 0
        shape = self.input_shape if ref[0] < 0 else self.events[ref[0]].shapes[ref[1]]
        if self.layouts.get(ref) in (NHWC, TOKENS):
            return shape[-1]
        return shape[1] if len(shape) > 1 else 0


NCHW = "nchw"
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# names a label cannot be: the grammar's keywords (`reduction: conv(...)` does not parse) but `shortcut`,
# a keyword only right after a residual body (a residual is a whole block body, never followed by a
# statement; the guard would refuse it), and names an expression reads otherwise
_WORDS = (KEYWORDS - {"shortcut"}) | RESERVED | {"x", "true", "false", "none", "in_channels", "in_height", "in_width"}


def label_of(path: str) -> str | None:
    """The module's name as a label, where the language allows it (torchvision's RegNet
    names blocks `block1-0`; those stay unlabelled and their weights go through the converter)."""
    name = path.rpartition(".")[2]
    if name.isdigit():
        return name  # a position in a sequence (the caller drops it)
    if not _LABEL.fullmatch(name) or reserved_name(name) or name in _WORDS or keyword.iskeyword(name):
        return None
    return name


def _is_permute(event: Event) -> bool:
    return not event.is_module and getattr(event.target, "__name__", "") == "permute"


def _label_is_position(stmt) -> bool:
    return getattr(stmt, "label", None) is not None and stmt.label.isdigit()


def _is_cat(item) -> bool:
    return isinstance(item, Event) and not item.is_module and getattr(item.target, "__name__", "") in (
        "cat", "concat", "concatenate")


def _dense_layers(call: Call) -> list[Call] | None:
    """DenseNet's block: layer i reads the block's input and every earlier layer's output
    (a list it concatenates first), and the block returns all of them concatenated. That is
    `concat { identity; layer }` once per layer: each concat's output is the next list's
    concatenation."""
    if len(call.items) < 2 or len(call.inputs) != 1:
        return None
    *layers, last = call.items
    if not all(isinstance(layer, Call) for layer in layers) or not _is_cat(last):
        return None
    refs = [call.inputs[0]]
    for layer in layers:
        if layer.inputs != refs or layer.output is None or not layer.items or not _is_cat(layer.items[0]) or \
                layer.items[0].tensor_inputs() != refs:
            return None
        refs = refs + [layer.output]
    return layers if last.tensor_inputs() == refs and call.output == (last.index, 0) else None


def module_lists(call: Call) -> list:
    """The call's items, where the calls of an nn.ModuleList's members (the list itself is
    never called) run one after the other, each reading the last one's output, with nothing
    else reading between: one call of the list, a sequence, so that the members keep the
    names `blocks.0`, `blocks.1` (a labelled sequence numbers its members so)."""
    items, out, i = list(call.items), [], 0
    while i < len(items):
        run = _list_run(call, items, i)
        out.append(run or items[i])
        i += len(run.items) if run else 1
    return out


def _list_run(call: Call, items: list, start: int) -> Call | None:
    parent, _, index = items[start].path.rpartition(".")
    if index != "0" or parent.rpartition(".")[0] != call.path or not _is_member(items[start]):
        return None
    try:
        module = call.module.get_submodule(parent[len(call.path) + 1:] if call.path else parent)
    except AttributeError:
        return None
    run = items[start:start + len(module)] if isinstance(module, nn.ModuleList) else []
    if len(run) != len(module) or any(not _is_member(m) or m.path != f"{parent}.{k}" for k, m in enumerate(run)):
        return None
    reads = [_item_reads(m) for m in run]
    outputs = [_item_output(m) for m in run]
    if len(reads[0]) != 1 or any(r != [o] for r, o in zip(reads[1:], outputs)) or None in outputs:
        return None
    inner = set(outputs[:-1])
    if call.output in inner or any(inner & set(_item_reads(m)) for m in items if not any(m is r for r in run)):
        return None
    return Call(module, parent, reads[0], outputs[-1], run)


def _inlined(items: list) -> list:
    """Calls of modules that take several tensors (VoVNet's SequentialAppendList: the input
    and the list of outputs so far) have no block: their operations join the caller's."""
    out = []
    for item in items:
        if isinstance(item, Call) and len(item.inputs) > 1 and item.items:
            out.extend(_inlined(module_lists(item)))
        else:
            out.append(item)
    return out


def _is_member(item) -> bool:
    return isinstance(item, Call) or (item.is_module and len(item.shapes) == 1)


def _item_reads(item) -> list:
    return list(item.inputs) if isinstance(item, Call) else item.tensor_inputs()


def _item_output(item):
    return item.output if isinstance(item, Call) else (item.index, 0)


class _Scope(Taps):
    """The operation graph of one call, walked back from its output."""

    def __init__(self, owner: Structurer, call: Call):
        self.owner, self.call = owner, call
        self.items = _inlined(module_lists(call))
        self.joined_inputs = len(call.inputs) > 1 and self.items and _is_cat(self.items[0]) and \
            self.items[0].tensor_inputs() == call.inputs  # a dense layer: the list it reads, concatenated
        self.words: dict[int, list] = {}
        self.inputs: dict[int, list[int]] = {}
        self.read_refs: dict[int, list[Ref]] = {}
        self.last_ref: Ref | None = None
        self.aliases: dict[Ref, Ref] = {}  # a no-op's output -> the tensor it passes on
        self.sides: dict[int, int] = {}
        self.pending: list[tuple[int, int]] = []
        producer: dict[Ref, int] = {ref: SOURCE for ref in call.inputs}
        if self.joined_inputs:
            producer[(self.items[0].index, 0)] = SOURCE
        for i, item in enumerate(self.items):
            if self.joined_inputs and i == 0:
                continue
            reads = self._reads(item, producer)
            if isinstance(item, Event):
                words = owner.statements(item, call)
                if not words:  # a no-op: its outputs are its input
                    for k in range(len(item.shapes)):
                        producer[(item.index, k)] = reads[0] if reads else SOURCE
                        if item.tensor_inputs():
                            self.aliases[(item.index, k)] = item.tensor_inputs()[0]
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
            self.read_refs[i] = list(item.inputs if isinstance(item, Call) else item.tensor_inputs())
        if call.output is None or call.output not in producer:
            raise _NotStructured("a module whose output is not computed from its input")
        self.target = producer[call.output]
        self.producer = producer
        self.seen: set[int] = set()

    def _reads(self, item, producer: dict[Ref, int]) -> list[int]:
        refs = item.inputs if isinstance(item, Call) else item.tensor_inputs()
        reads = []
        for ref in refs:
            if ref not in producer:
                path = item.path
                raise _NotStructured("a tensor read across module boundaries (from inside another module)", path)
            reads.append(producer[ref])
        if len(self.call.inputs) > 1 and not self.joined_inputs:
            raise _NotStructured(f"a module taking {len(self.call.inputs)} tensors (a block reads one)")
        return reads

    def walk(self) -> list:
        """The body; where it is not series-parallel, again with each read part of a channel
        split as its own `channels(a, b)`, then with parts read by a later join cut (taps.py):
        a refusal names what the last try found."""
        labels = self.labels()
        try:
            return self.walked()
        except _NotStructured as error:
            last = error
        for again in (self.exploded, self.cut_parts):  # each on top of the one before
            self.restore_labels(labels)
            if not again():
                break
            self.seen, self.last_ref, self.pending = set(), None, []
            try:
                return self.walked()
            except _NotStructured as error:  # what is left once the split's parts are `channels`
                last = error
        raise last

    def walked(self) -> list:
        graph = nx.DiGraph()
        graph.add_node(SOURCE)
        for node, reads in self.inputs.items():
            for read in reads:
                if node not in self.sides and read not in self.sides:
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
        visited: list[int] = []
        while node != stop:
            if node == SOURCE or node in self.seen:
                raise _NotStructured("a graph that is not series-parallel (a tensor read by two branches)",
                                     getattr(self.items[node], "path", "") if node != SOURCE else "")
            self.seen.add(node)
            visited.append(node)
            words, reads = self.words[node], self.inputs[node]
            if words and isinstance(words[-1], Join):
                join, node = self.join(node, words[-1], stop)
                stmts = [join] + stmts
                self.last_ref = None
                continue
            if words and isinstance(words[-1], Fork):
                raise _NotStructured("a split whose parts are not concatenated again in order",
                                     getattr(self.items[node], "path", ""))
            if len(set(reads)) != 1:
                raise _NotStructured(f"an operation reading {len(set(reads))} tensors",
                                     getattr(self.items[node], "path", ""))
            stmts = list(words) + stmts
            self.last_ref = self.read_refs[node][0]
            node = reads[0]
        self.name_sizes(visited, stop)
        self.check_sides(visited, stop)
        return stmts

    def join(self, node: int, join: Join, stop: int) -> tuple[Join, int]:
        """The join's branches, forked at its immediate dominator, else (a branch would read
        inside another) taps of one chain, `from` its labels, or a splice (taps.py)."""
        seen, last = set(self.seen), self.last_ref
        try:
            return self.forked(node, join)
        except _NotStructured:
            self.seen, self.last_ref = seen, last
            taps = self.taps(node, join, stop) or self.spliced(node, join, stop)
            if taps is None:
                raise
            return taps

    def forked(self, node: int, join: Join) -> tuple[Join, int]:
        """The join's branches, forked at its immediate dominator; a concat of a channel
        split's parts, each read by one branch in order, is a `split` statement."""
        fork = self.idom[node]
        branches, origins = [], []
        for read, ref in zip(self.inputs[node], self.read_refs[node]):
            self.last_ref = ref
            if read in self.tapped and read != fork:  # spliced: an earlier tensor of the chain
                branches.append(self.tap_branch(read))
            elif read in self.sides:  # a part of an earlier tensor, `from` its label
                branches.append(self.side_branch(node, read))
            else:
                branches.append(self.folded(self.chain(read, fork)) if read != fork else [])
            origins.append(self.last_ref)
        fork_words = self.words.get(fork) if fork != SOURCE else None
        if not (fork_words and isinstance(fork_words[-1], Fork)):
            first = branches[0] if branches else []
            if join.kind == SUM and len(first) == 1 and isinstance(first[0], Join) and first[0].kind == SUM \
                    and first[0].label is None:
                branches = first[0].branches + branches[1:]  # (a + b) + c is `sum { a; b; c }`, in that order
            join.branches = branches
            return join, fork
        sizes = fork_words[-1].sizes
        if join.kind != "concat" or [o[1] if o else -1 for o in origins] != list(range(len(sizes))):
            raise _NotStructured("a split whose parts are not concatenated again in order",
                                 getattr(self.items[fork], "path", ""))
        self.seen.add(fork)
        return Join("split", branches, sizes=sizes), self.inputs[fork][0]


def residuals(body: list) -> list:
    """`sum` of two branches followed by an activation → a `Residual` (when it is the
    whole body: the caller decides); the body is the branch with the scale or the more
    statements, the shortcut the other."""
    if not body or not isinstance(body[0], Join) or body[0].kind != SUM or len(body[0].branches) != 2:
        return body
    rest = body[1:]
    act = "identity"
    if len(rest) == 1 and isinstance(rest[0], Layer) and not rest[0].params and _is_act(rest[0]):
        act, rest = act_name(rest[0]), []
    if rest:
        return body
    a, b = body[0].branches
    if any(getattr(s, "source", None) for s in a[:1] + b[:1]):
        return body  # a branch read `from` a label is no residual's body or shortcut
    if (b and isinstance(b[-1], Scale)) or (len(b) > len(a) and not (a and isinstance(a[-1], Scale))):
        a, b = b, a
    scale = 1.0
    if a and isinstance(a[-1], Scale):
        scale, a = a[-1].factor, a[:-1]
    if any(isinstance(s, Scale) for s in a + b):
        return body
    return [Residual(a, b or None, scale, act)]


def _is_act(layer: Layer) -> bool:
    return act_name(layer) is not None
