"""The graph IR: one node per tensor operation, on a directed graph (core/digraph.py).

elaborate.py builds it; passes annotate it (shapes) or rewrite it (optimizations);
backends read it. Node ids are dotted scope paths (`inception_a.0.branch1.0.conv`) and,
for ops that own parameters, equal the nn.Module path of that op, so that ids are also
state_dict prefixes. Renaming a node is therefore a breaking change for saved weights.

Edges carry `index`, the position of the source among the target's inputs, so that
concatenation order is explicit. `Graph.nodes()` yields nodes in insertion order, which
elaborate keeps topological.

The operations are `OpKind`s, defined in inception_dsl/ops/ (one module per family), each
with its attribute schema; `Op.CONV` names the registered kind `conv`. `verify` checks
every node against its kind's schema and raises `InternalError`."""

from __future__ import annotations

import copy
import enum
import os.path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from inception_dsl.core.digraph import Digraph
from inception_dsl.core.shapes import shape_data
from inception_dsl.core.source import Span

__all__ = ["Op", "OpKind", "Attr", "Node", "Role", "CallSite", "Stage", "StatementKind", "Graph", "InternalError",
           "verify", "check", "attr_problems", "param_count", "dump", "fmt_shape", "to_data", "origin_notes"]


class InternalError(Exception):
    """A compiler bug: the IR broke its contract. Never a user error."""


@dataclass(frozen=True)
class Attr:
    """The type of one node attribute: `check(value)` says whether a value fits, `text`
    writes it for `dump` (stable, one token, no spaces)."""

    name: str
    check: Callable[[Any], bool]
    separator: str = "x"  # between the items of a tuple value: `3x3`, `1,1,1,1`
    optional: bool = False  # a node may leave it out (an activation's parameter, where its kind has one)

    def text(self, value: Any) -> str:
        if isinstance(value, tuple):
            return self.separator.join(str(v) for v in value) if value else "()"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(count: int | None, minimum: int) -> Callable[[Any], bool]:
    return lambda v: (isinstance(v, tuple) and (count is None or len(v) == count)
                      and all(_is_int(i) and i >= minimum for i in v))


INT = Attr("int", lambda v: _is_int(v) and v >= 0)
POSITIVE = Attr("positive int", lambda v: _is_int(v) and v >= 1)
FLOAT = Attr("float", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
BOOL = Attr("bool", lambda v: isinstance(v, bool))
PAIR = Attr("(int, int), each >= 1", _ints(2, 1))
PADDING = Attr("(top, bottom, left, right), each >= 0", _ints(4, 0), ",")
SHAPE = Attr("shape", _ints(None, 1))
TEXT = Attr("str", lambda v: isinstance(v, str))


def one_of(*choices: str) -> Attr:
    return Attr("one of " + "|".join(choices), lambda v: v in choices)


class OpKind:
    """One IR operation: its attribute schema and arity, and what the passes and backends
    ask of it. The behaviour is attached by the op's module in inception_dsl/ops/; a kind
    compares by identity (`node.op is Op.CONV`)."""

    def __init__(self, value: str, attrs: Mapping[str, Attr], *, arity: tuple[int, int | None] = (1, 1),
                 doc: str = "", **behaviour: Any) -> None:
        self.value = value  # the lower-case name, as in `dump` and diagrams
        self.name = value.upper()
        self.attrs = dict(attrs)
        self.arity = arity
        self.doc = doc
        for key, fn in behaviour.items():
            if key not in _BEHAVIOUR:
                raise TypeError(f"OpKind {value}: unknown behaviour {key!r}")
            setattr(self, key, fn)
        Op._register(self)

    def __repr__(self) -> str:
        return f"Op.{self.name}"

    def __reduce__(self):  # pickles (and deep-copies) as a reference to the registered kind
        return (_kind, (self.value,))

    # -- defaults, overridden per kind through **behaviour (see inception_dsl/ops/base.py)
    def shape(self, graph, node, shapes, sink):
        return shapes[0]

    def params(self, node, in_shape) -> int:  # and `macs`: none unless the op counts them
        return 0
    macs = params

    def label(self, node, members) -> str:
        return self.value

    def forward(self, emitter, node, ins, out) -> list[str]:  # the flat forward's line: by default its `call`
        if self.call is None:
            raise InternalError(f"{node.id}: the torch backend has no lowering for {self.name}")
        return [f"{out} = {self.call(ins[0], node.attrs)}"]

    def weights(self, node) -> tuple[str, ...]:
        """The state_dict entries a node owns, without the `<id>.` prefix."""
        return ()

    @property
    def has_weights(self) -> bool:
        return self.module is not None

    def describe(self, attrs) -> str:  # a few words for `diff` (`3x3 conv 384 stride 2`)
        return self.value

    module = None  # (node, in_channels) -> constructor source (`nn.Conv2d(...)`) of an op with weights
    call = None  # (x, attrs) -> the functional expression of a one-input op (`F.pixel_shuffle(x, 2)`)
    fill, style = "#ffffff", ""  # diagram fill colour, extra DOT node attributes
    fresh = alias = False  # in-place facts: a new tensor / maybe the input itself (ops/base.py says more)
    sliding, weight_scale, inference_noop = False, None, False  # traits asked instead of op names (ops/base.py)
    inner_norms = closing_norm = None  # attrs -> LinearNorms inside (fold_inner_bn); output's BN (zero_init_residual)
    residual_sum = False  # trait: the sum of a residual's shortcut and branch (ops/base.py)
    follows = None  # attrs -> words: the size the node follows at run time (`check` lists them: resize, pad_same)


_BEHAVIOUR = frozenset(k for k in vars(OpKind) if not k.startswith("_") and k != "has_weights")


def _kind(value: str) -> "OpKind":
    return Op._kinds[value]


class _Registry(type):
    def __getattr__(cls, name: str) -> OpKind:
        try:
            return cls._kinds[name.lower()]
        except KeyError:
            raise AttributeError(f"no operation {name!r} is registered (inception_dsl/ops/)") from None

    def __iter__(cls) -> Iterator[OpKind]:
        return iter(list(cls._kinds.values()))

    def __contains__(cls, kind: object) -> bool:
        return isinstance(kind, OpKind) and cls._kinds.get(kind.value) is kind


class Op(metaclass=_Registry):
    """The registered operations: `Op.CONV` is the kind named `conv` (inception_dsl/ops/)."""

    _kinds: dict[str, OpKind] = {}

    @classmethod
    def _register(cls, kind: OpKind) -> None:
        if kind.value in cls._kinds:
            raise InternalError(f"operation {kind.value!r} is registered twice")
        cls._kinds[kind.value] = kind


class Role(enum.Enum):
    """What a node is to the statement that made it (`Node.statement`)."""

    INPUT = "input"  # the network input
    LAYER = "layer"  # one of the nodes of a built-in layer call (conv, BN and activation of `conv(...)`)
    JOIN = "join"  # the concat or the residual sum (with its scale and activation) of a compound statement
    OUTPUT = "output"
    REWRITE = "rewrite"  # made by an optimizer pass


class StatementKind(enum.Enum):
    """The kind of a spec statement (`Graph.statements`)."""

    LAYER = "layer"
    BLOCK = "block"
    SEQ = "seq"
    CONCAT = "concat"
    REDUCTION = "reduction"
    RESIDUAL = "residual"
    SUM = "sum"
    PRODUCT = "product"
    SPLIT = "split"


_PRECEDENCE = {StatementKind.BLOCK: 5, StatementKind.LAYER: 4, StatementKind.CONCAT: 3, StatementKind.REDUCTION: 3,
               StatementKind.SUM: 3, StatementKind.PRODUCT: 3, StatementKind.SPLIT: 3,
               StatementKind.RESIDUAL: 2, StatementKind.SEQ: 1}


@dataclass(frozen=True)
class CallSite:
    """Where a block instance was called from: `block` called at `span`."""

    block: str
    span: Span


@dataclass
class Node:
    id: str
    op: OpKind
    attrs: dict[str, Any]
    span: Span | None = None
    origin: tuple[CallSite, ...] = ()
    stage: str = ""
    shape: tuple[int, ...] | None = None
    statement: str = ""  # the path of the statement that made it (a conv+BN layer `x` makes x.conv, x.bn, x.act)
    role: Role = Role.LAYER

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.op.name}, {self.attrs})"


@dataclass
class Stage:
    """A top-level statement of the network (one per repetition instance)."""

    name: str
    kind: str  # the block or layer name, or the statement kind (`concat`, `residual`, ...)
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
    statements: dict[str, StatementKind] = field(default_factory=dict)  # statement path -> its kind
    span: Span | None = None
    # not copied by `copy`, see language/caches/block_templates.py: shapes infer_shapes keeps, attributes check skips
    settled: set[str] = field(default_factory=set, repr=False, compare=False)
    checked: set[str] = field(default_factory=set, repr=False, compare=False)
    _g: Digraph = field(default_factory=Digraph, repr=False)
    added: list[str] = field(default_factory=list, repr=False, compare=False)  # ids in the order added
    _forward: bool = field(default=True, repr=False, compare=False)  # every edge runs to a later-added node

    # -- construction
    def add(self, node: Node, inputs: list[str] = ()) -> str:
        if node.id in self._g.node:
            raise InternalError(f"duplicate node id {node.id}")
        self._g.add_nodes_from([s for s in inputs if s not in self._g.succ])  # bare, as add_edge made them
        self.add_new([node], [inputs])
        return node.id

    def add_new(self, nodes: list[Node], inputs: list[list[str]]) -> None:
        """Add new nodes reading earlier ones: the digraph's dicts, filled as add_edge does, minus its checks."""
        g = self._g
        data, succ, preds = g.node, g.succ, g.pred
        for node, sources in zip(nodes, inputs):
            node_id, pred = node.id, {}
            data[node_id], succ[node_id], preds[node_id] = {"node": node}, {}, pred
            for index, source in enumerate(sources):
                succ[source][node_id] = pred[source] = {"index": index}
            self.added.append(node_id)

    def taken(self, ids) -> bool:
        """Whether any of `ids` is a node already."""
        return not self._g.node.keys().isdisjoint(ids)

    def remove(self, node_id: str) -> None:
        self._g.remove_node(node_id)

    def replace_input(self, node_id: str, old: str, new: str) -> None:
        index = self._g.succ[old][node_id]["index"]
        self._g.remove_edge(old, node_id)
        self._g.add_edge(new, node_id, index=index)
        self._forward = False

    def set_inputs(self, node_id: str, inputs: list[str]) -> None:
        self._forward = False
        for source in list(self._g.pred[node_id]):
            self._g.remove_edge(source, node_id)
        for index, source in enumerate(inputs):
            self._g.add_edge(source, node_id, index=index)

    def replace_node(self, node: Node, inputs: list[str]) -> None:
        """Put `node` in place of the node with its id: new inputs, the same readers at the
        same input positions."""
        readers = [(user, self.input_index(node.id, user)) for user in self.users(node.id)]
        self.remove(node.id)
        self.add(node, inputs)
        for user, index in readers:
            self._g.add_edge(node.id, user, index=index)
        self._forward = self._forward and not readers

    def record(self, path: str, kind: StatementKind) -> None:
        """The kind of the statement at `path` (`statements`); where two share a path (a
        block whose body is one concat, a residual around an unlabelled concat) the outer
        call or the join wins, in this order: block, layer, concat, residual, seq."""
        current = self.statements.get(path)
        if path and (current is None or _PRECEDENCE[kind] > _PRECEDENCE[current]):
            self.statements[path] = kind

    def copy(self) -> "Graph":
        """A copy the passes may rewrite: new nodes, edges, stages and outputs; same spans."""
        clone = Graph(self.name, dict(self.params), [copy.copy(s) for s in self.stages], list(self.outputs),
                      dict(self.blocks), dict(self.block_inputs), dict(self.repeats),
                      {name: copy.copy(stage) for name, stage in self.groups.items()}, dict(self.statements),
                      span=self.span)
        for node in self.nodes():
            clone.add(Node(node.id, node.op, dict(node.attrs), node.span, node.origin, node.stage, node.shape,
                           node.statement, node.role), self.inputs(node.id))
        return clone

    # -- queries
    def __contains__(self, node_id: str) -> bool:
        return node_id in self._g

    def __len__(self) -> int:
        return len(self._g)

    def node(self, node_id: str) -> Node:
        return self._g.node[node_id]["node"]

    def nodes(self) -> list[Node]:
        """All nodes in topological order (ties broken by insertion order): insertion order
        while every edge runs forward (elaboration), else sorted (optimizer rewrites)."""
        data = self._g.node
        if not self._forward:
            order = {n: i for i, n in enumerate(data)}
            if not all(order[source] < order[target] for source, target in self._g.edges()):
                return [data[i]["node"] for i in self._g.topological_order(key=order.__getitem__)]
            self._forward = True
        return [value["node"] for value in data.values()]

    def inputs(self, node_id: str) -> list[str]:
        predecessors = self._g.pred[node_id]
        if len(predecessors) < 2:
            return list(predecessors)
        return sorted(predecessors, key=lambda source: predecessors[source]["index"])

    def input_index(self, source: str, node_id: str) -> int:
        """The position of `source` among the inputs of `node_id`."""
        return self._g.pred[node_id][source]["index"]

    def has_edge(self, source: str, node_id: str) -> bool:
        return source in self._g.pred.get(node_id, ())

    def users(self, node_id: str) -> list[str]:
        return list(self._g.succ[node_id])

    def is_acyclic(self) -> bool:
        return self._forward or self._g.is_acyclic()

    def ancestors(self, node_id: str) -> set[str]:
        """Every node that `node_id` depends on."""
        return self._g.ancestors(node_id)

    def insertion_order(self) -> list[str]:
        """Node ids in the order they were added (tests compare it with `nodes()`)."""
        return list(self._g.node)

    @property
    def input_node(self) -> Node:
        return next(n for n in self.nodes() if n.op is Op.INPUT)

    def output_nodes(self) -> list[Node]:
        return [self.node(n) for n in self.outputs]


def check(graph: Graph) -> list[str]:
    """Structural invariants and attribute schemas; the problems found (empty when well formed)."""
    problems = []
    if not graph.is_acyclic():
        return ["graph has a cycle"]
    inputs, input_kind, kinds = 0, Op.INPUT, set(Op)
    predecessors = graph._g.pred
    for node in graph.nodes():
        inputs += node.op is input_kind
        if node.op not in kinds:
            problems.append(f"{node.id}: {node.op!r} is not a registered operation")
            continue
        edges = predecessors[node.id]
        count = len(edges)
        low, high = node.op.arity
        if count < low or (high is not None and count > high):
            problems.append(f"{node.id}: {node.op.name} has {count} inputs")
        if count > 1 and sorted(data["index"] for data in edges.values()) != list(range(count)):
            problems.append(f"{node.id}: input indices are not 0..{count - 1}")
        if node.id not in graph.checked:
            problems += attr_problems(node)
    if inputs != 1:
        problems.append(f"expected one INPUT node, found {inputs}")
    for output in graph.outputs:
        if output not in graph or graph.node(output).op is not Op.OUTPUT:
            problems.append(f"output {output} is not an OUTPUT node")
    return problems


def attr_problems(node: Node) -> list[str]:  # what is wrong with a node's attributes against its schema
    schema = node.op.attrs
    required = {name for name, attr in schema.items() if not attr.optional}
    if not required <= node.attrs.keys() <= schema.keys():
        missing, extra = sorted(required - node.attrs.keys()), sorted(node.attrs.keys() - schema.keys())
        return [f"{node.id}: {node.op.name} attributes: missing {missing}, unexpected {extra}"]
    return [f"{node.id}: {node.op.name}.{name} = {node.attrs[name]!r} is not a {attr.name}"
            for name, attr in schema.items() if name in node.attrs and not attr.check(node.attrs[name])]


def verify(graph: Graph, stage: str = "the IR") -> None:
    """Raise InternalError (a compiler bug, not a user error) if the graph is malformed."""
    problems = check(graph)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise InternalError(f"malformed {stage}: {shown}")


def fmt_shape(shape) -> str:
    """`384x35x35`, `1000`, `197x192 tokens` (core/shapes.Tokens.text); `?` for an unknown shape."""
    return "?" if shape is None else shape.text() if hasattr(shape, "text") else "x".join(str(d) for d in shape)


def origin_notes(node: Node) -> list[str]:
    """'in block `x` called at file:line:col' for each enclosing block, innermost first."""
    return [f"in block `{site.block}`, called at {site.span.location()}" for site in reversed(node.origin)]


def param_count(node: Node, in_channels: int | None) -> int:
    """Learnable parameters of one node, given its input channel count."""
    return node.op.params(node, in_channels)


def dump(graph: Graph, *, locations: bool = True, relative_to: str | None = None) -> str:
    """The IR as text, one line per node in topological order:

        %inception_a.0.branch0.conv = conv(%stem.cat) {out_channels=96 kernel=1x1 ...} : 96x35x35  # v4.incp:3:5

    Attributes in schema order; shapes as inferred (`?` before inference); the location
    is the source statement (paths as the spec was given, or relative to `relative_to`)."""

    def where(span: Span) -> str:
        path = span.path if relative_to is None or span.path.startswith("<") else os.path.relpath(span.path, relative_to)
        return f"  # {path.replace(os.sep, '/')}:{span.line}:{span.column}"

    lines = [f"graph {graph.name}" + "".join(f" {k}={_value_text(v)}" for k, v in sorted(graph.params.items()))]
    for node in graph.nodes():
        attrs = " ".join(f"{name}={attr.text(node.attrs[name])}" for name, attr in node.op.attrs.items()
                         if name in node.attrs)
        inputs = ", ".join(f"%{i}" for i in graph.inputs(node.id))
        shape = fmt_shape(node.shape)
        lines.append(f"%{node.id} = {node.op.value}({inputs})" + (f" {{{attrs}}}" if attrs else "")
                     + f" : {shape}" + (where(node.span) if locations and node.span else ""))
    lines.append("outputs " + ", ".join(f"%{o}" for o in graph.outputs))
    return "\n".join(lines) + "\n"


def to_data(graph: Graph, *, relative_to: str | None = None) -> dict[str, Any]:
    """The IR as plain data (for JSON and YAML): what `dump` prints, one mapping per node in
    topological order, attribute values as numbers, booleans, strings and lists."""
    nodes = []
    for node in graph.nodes():
        entry = {"id": node.id, "op": node.op.value, "inputs": list(graph.inputs(node.id)),
                 "attrs": {name: _plain(node.attrs[name]) for name in node.op.attrs if name in node.attrs},
                 "shape": shape_data(node.shape),
                 "stage": node.stage, "statement": node.statement, "role": node.role.value}
        if node.span is not None:
            path = node.span.path
            if relative_to is not None and not path.startswith("<"):
                path = os.path.relpath(path, relative_to)
            entry["location"] = {"path": path.replace(os.sep, "/"), "line": node.span.line,
                                 "column": node.span.column}
        nodes.append(entry)
    return {"graph": graph.name, "params": {k: _plain(v) for k, v in sorted(graph.params.items())},
            "nodes": nodes, "outputs": list(graph.outputs)}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return _value_text(value)


def _value_text(value: Any) -> str:
    return Attr("", lambda v: True).text(value)
