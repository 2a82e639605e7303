"""Two elaborated networks compared structurally: `diff(a, b) -> Diff`.

Stages are grouped into statements (`inception_a x4` is one statement of four stages) and
the two statement lists are aligned: pairs that agree on name and block score highest,
then block alone, then name alone (a weighted longest common subsequence); statements
left between two aligned pairs are paired by position when both sides have as many,
otherwise they are removed (only in A) or added (only in B). Each pair compares output
shape, parameters and MACs (summed over its instances, from backends/summary.py) and the
layers of its first instance, matched by path inside the stage: added, removed, or
changed (kernel, width, stride, padding, scale, activation, ...), each with file:line on
both sides. Pure IR work: no torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inception_dsl import api
from inception_dsl.backends.diagram.compare import statement_of
from inception_dsl.backends.diagram.drawing import fused_layers
from inception_dsl.backends.summary import Summary, to_summary
from inception_dsl.ir import Graph, Node, Op
from inception_dsl.language.params_file import sources_of
from inception_dsl.ops.base import dims_text

__all__ = ["Side", "LayerChange", "StageDiff", "Diff", "diff", "diff_graphs", "describe_layer"]

_IGNORED_ATTRS = frozenset({"fork"})  # node-id references, not structure
_ATTR_NAMES = {"out_channels": "width", "out_features": "width", "value": "scale", "kind": "kind", "p": "p"}
_DP_LIMIT = 400_000  # statement pairs above which alignment uses the greedy fallback


@dataclass
class Side:
    path: str
    network: str
    input: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int
    output: tuple[int, ...] | None


@dataclass
class LayerChange:
    path: str  # inside the stage, e.g. `branch1.conv0` ("" for the stage's own layer)
    status: str  # added | removed | changed
    a: str | None  # description on each side (`1x1 conv 384`)
    b: str | None
    changes: list[str] = field(default_factory=list)  # `width 384 -> 320`
    where_a: str | None = None  # file:line
    where_b: str | None = None


@dataclass
class StageDiff:
    status: str  # same | changed | added | removed
    name_a: str | None
    name_b: str | None
    kind_a: str | None = None
    kind_b: str | None = None
    repeat_a: int = 0
    repeat_b: int = 0
    shape_a: tuple[int, ...] | None = None
    shape_b: tuple[int, ...] | None = None
    params_a: int = 0
    params_b: int = 0
    macs_a: int = 0
    macs_b: int = 0
    where_a: str | None = None
    where_b: str | None = None
    layer_a: str | None = None  # the layer, for a statement that is one layer (`1x1 conv 1536`)
    layer_b: str | None = None
    changes: list[str] = field(default_factory=list)  # statement-level: block, repeats, shape
    layers: list[LayerChange] = field(default_factory=list)

    @property
    def name(self) -> str:
        a, b = self.name_a, self.name_b
        return a if b is None or a == b else b if a is None else f"{a} -> {b}"


@dataclass
class Diff:
    a: Side
    b: Side
    stages: list[StageDiff]

    @property
    def same(self) -> bool:
        return self.a.input == self.b.input and all(s.status == "same" for s in self.stages)

    @property
    def changed(self) -> list[StageDiff]:
        return [s for s in self.stages if s.status != "same"]


@dataclass
class _Statement:
    name: str
    kind: str
    stages: list[str]  # stage names of its instances, in order
    where: str | None
    shape: tuple[int, ...] | None = None
    params: int = 0
    macs: int = 0


def _where(span) -> str | None:
    return f"{span.path}:{span.line}" if span is not None else None


def _statements(graph: Graph, summary: Summary) -> list[_Statement]:
    rows = {row.name: row for row in summary.rows if row.level == 0}
    statements: dict[str, _Statement] = {}
    for stage in graph.stages:
        key = statement_of(graph, stage.name)
        statement = statements.get(key)
        if statement is None:
            statement = statements[key] = _Statement(key, stage.kind, [], _where(stage.span))
        statement.stages.append(stage.name)
        row = rows.get(stage.name)
        if row is not None:
            statement.shape, statement.params, statement.macs = row.shape, statement.params + row.params, statement.macs + row.macs
    return list(statements.values())


def _side(path: str, graph: Graph, summary: Summary) -> Side:
    output = graph.node(graph.outputs[0]).shape if graph.outputs else None
    return Side(str(path), graph.name, tuple(graph.input_node.shape), summary.params, summary.macs,
                summary.activation_bytes, output)


# -- alignment ---------------------------------------------------------------------------
def _score(a: _Statement, b: _Statement) -> int:
    if a.kind == b.kind:
        return 4 if a.name == b.name else 3
    return 2 if a.name == b.name else 0


def _align(left: list[_Statement], right: list[_Statement]) -> list[tuple[int | None, int | None]]:
    """Index pairs in order; (i, None) removed, (None, j) added."""
    anchors = _anchors_dp(left, right) if len(left) * len(right) <= _DP_LIMIT else _anchors_greedy(left, right)
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    for ai, bj in anchors + [(len(left), len(right))]:
        gap_a, gap_b = list(range(i, ai)), list(range(j, bj))
        if len(gap_a) == len(gap_b):
            pairs.extend(zip(gap_a, gap_b))
        else:
            pairs.extend((k, None) for k in gap_a)
            pairs.extend((None, k) for k in gap_b)
        if ai < len(left):
            pairs.append((ai, bj))
        i, j = ai + 1, bj + 1
    return pairs


def _anchors_dp(left: list[_Statement], right: list[_Statement]) -> list[tuple[int, int]]:
    n, m = len(left), len(right)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = best[i], best[i + 1]
        for j in range(m - 1, -1, -1):
            score = _score(left[i], right[j])
            row[j] = max(below[j], row[j + 1], below[j + 1] + score if score else 0)
    anchors, i, j = [], 0, 0
    while i < n and j < m:
        score = _score(left[i], right[j])
        if score and best[i][j] == best[i + 1][j + 1] + score:
            anchors.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return anchors


def _anchors_greedy(left: list[_Statement], right: list[_Statement]) -> list[tuple[int, int]]:
    """For very long networks: difflib's matching blocks on (name, block)."""
    import difflib

    matcher = difflib.SequenceMatcher(None, [(s.name, s.kind) for s in left], [(s.name, s.kind) for s in right],
                                      autojunk=False)
    return [(block.a + k, block.b + k) for block in matcher.get_matching_blocks() for k in range(block.size)]


# -- layers ------------------------------------------------------------------------------
@dataclass
class _Layer:
    path: str
    op: Op
    attrs: dict[str, Any]
    where: str | None


class _Index:
    """One graph's nodes grouped by stage, and its traditional layers, computed once."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.by_stage: dict[str, list[Node]] = {}
        nodes = [n for n in graph.nodes() if n.op not in (Op.INPUT, Op.OUTPUT)]
        for node in nodes:
            self.by_stage.setdefault(node.stage, []).append(node)
        self.owner = fused_layers(graph, nodes)
        self.blocks: dict[str, dict[str, tuple[str, str | None]]] = {}  # stage -> path inside -> (block, file:line)
        stages = {s.name for s in graph.stages}
        for scope, site in graph.blocks.items():
            parts = scope.split(".")
            stage = next((p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in stages), None)
            if stage is not None:
                self.blocks.setdefault(stage, {})[scope[len(stage) + 1:]] = (site.block, _where(site.span))


def _layers(index: _Index, stage: str) -> dict[str, _Layer]:
    """The layers of one stage by path inside it; a conv with its BN and activation is one layer."""
    graph, owner = index.graph, index.owner
    layers: dict[str, _Layer] = {}
    for node in index.by_stage.get(stage, []):
        if node.id in owner:
            layer = layers[_layer_path(graph, owner[node.id], stage)]
            layer.attrs.update(_member_attrs(node))
            continue
        path = _layer_path(graph, node.id, stage)
        attrs = {k: v for k, v in node.attrs.items() if k not in _IGNORED_ATTRS}
        layers[path] = _Layer(path, node.op, attrs, _where(node.span))
    return layers


def _layer_path(graph: Graph, node_id: str, stage: str) -> str:
    if node_id.endswith(".conv") and f"{node_id[:-5]}.bn" in graph:
        node_id = node_id[:-5]
    return node_id[len(stage) + 1:] if node_id.startswith(stage + ".") else ("" if node_id == stage else node_id)


def _member_attrs(node: Node) -> dict[str, Any]:
    if node.op is Op.BN:
        return {"batchnorm": True, **{f"bn_{k}": v for k, v in node.attrs.items()}}
    if node.op is Op.ACT:
        return {"activation": node.attrs.get("kind")}
    return {}


def describe_layer(op: Op, attrs: dict[str, Any]) -> str:
    """`3x3 conv 384 stride 2`, `scale 0.17`, `maxpool 3x3 stride 2`: short, for diffs (each op's `describe`)."""
    return op.describe(attrs)


def _layer_changes(a: _Layer, b: _Layer) -> list[str]:
    if a.op is not b.op:
        return [f"op {a.op.value} -> {b.op.value}"]
    changes = []
    for key in sorted(set(a.attrs) | set(b.attrs), key=lambda k: (k not in _ATTR_NAMES and k != "kernel", k)):
        before, after = a.attrs.get(key), b.attrs.get(key)
        if before != after:
            name = _ATTR_NAMES.get(key, key) if a.op is not Op.ACT or key != "kind" else "activation"
            changes.append(f"{name} {dims_text(before)} -> {dims_text(after)}")
    return changes


def _compare_layers(index_a: _Index, stage_a: str, index_b: _Index, stage_b: str) -> list[LayerChange]:
    left, right = _layers(index_a, stage_a), _layers(index_b, stage_b)
    result = _compare_blocks(index_a.blocks.get(stage_a, {}), index_b.blocks.get(stage_b, {}))
    for path in list(left) + [p for p in right if p not in left]:
        a, b = left.get(path), right.get(path)
        if a is None:
            result.append(LayerChange(path, "added", None, describe_layer(b.op, b.attrs), where_b=b.where))
        elif b is None:
            result.append(LayerChange(path, "removed", describe_layer(a.op, a.attrs), None, where_a=a.where))
        else:
            changes = _layer_changes(a, b)
            if changes:
                result.append(LayerChange(path, "changed", describe_layer(a.op, a.attrs), describe_layer(b.op, b.attrs),
                                          changes, a.where, b.where))
    return result


def _compare_blocks(left: dict[str, tuple[str, str | None]], right: dict[str, tuple[str, str | None]]) -> list[LayerChange]:
    """Block instances nested in a statement, by path: added, removed, or calling another block."""
    result = []
    for path in list(left) + [p for p in right if p not in left]:
        a, b = left.get(path), right.get(path)
        if a is None:
            result.append(LayerChange(path, "added", None, f"block {b[0]}", where_b=b[1]))
        elif b is None:
            result.append(LayerChange(path, "removed", f"block {a[0]}", None, where_a=a[1]))
        elif a[0] != b[0]:
            result.append(LayerChange(path, "changed", f"block {a[0]}", f"block {b[0]}", [f"block {a[0]} -> {b[0]}"],
                                      a[1], b[1]))
    return result


# -- statements --------------------------------------------------------------------------
def _single_layer(index: _Index, statement: _Statement | None) -> str | None:
    if statement is None:
        return None
    layers = _layers(index, statement.stages[0])
    if len(layers) != 1 or "" not in layers:
        return None
    return describe_layer(layers[""].op, layers[""].attrs)


def _stage_diff(index_a: _Index, a: _Statement | None, index_b: _Index, b: _Statement | None) -> StageDiff:
    layer_a, layer_b = _single_layer(index_a, a), _single_layer(index_b, b)
    if b is None:
        return StageDiff("removed", a.name, None, a.kind, None, len(a.stages), 0, a.shape, None, a.params, 0,
                         a.macs, 0, a.where, None, layer_a)
    if a is None:
        return StageDiff("added", None, b.name, None, b.kind, 0, len(b.stages), None, b.shape, 0, b.params, 0,
                         b.macs, None, b.where, None, layer_b)
    result = StageDiff("same", a.name, b.name, a.kind, b.kind, len(a.stages), len(b.stages), a.shape, b.shape,
                       a.params, b.params, a.macs, b.macs, a.where, b.where, layer_a, layer_b)
    for label, before, after in (("block", a.kind, b.kind), ("repeats", len(a.stages), len(b.stages)),
                                 ("output", a.shape, b.shape), ("params", a.params, b.params), ("MACs", a.macs, b.macs)):
        if before != after:
            result.changes.append(f"{label} {dims_text(before)} -> {dims_text(after)}")
    result.layers = _compare_layers(index_a, a.stages[0], index_b, b.stages[0])
    if result.changes or result.layers:
        result.status = "changed"
    return result


def diff_graphs(graph_a: Graph, graph_b: Graph, *, path_a: str = "A", path_b: str = "B") -> Diff:
    """The structural difference between two shape-checked graphs."""
    summary_a, summary_b = to_summary(graph_a), to_summary(graph_b)
    left, right = _statements(graph_a, summary_a), _statements(graph_b, summary_b)
    index_a, index_b = _Index(graph_a), _Index(graph_b)
    stages = [_stage_diff(index_a, left[i] if i is not None else None, index_b, right[j] if j is not None else None)
              for i, j in _align(left, right)]
    return Diff(_side(path_a, graph_a, summary_a), _side(path_b, graph_b, summary_b), stages)


def diff(a, b=None, *, network: str | None = None, network_a: str | None = None, network_b: str | None = None,
         params=None, params_a=None, params_b=None, input_shape: tuple[int, ...] | None = None) -> Diff:
    """Compare two specs, two networks of one spec (`network_a`, `network_b`) or two
    parameter sets (`params_a`, `params_b`, each on top of `params`; each a dict, a YAML
    parameter file or a list of those, as for `analyze`). Raises CompileError when either
    side does not check."""
    graphs = []
    for path, net, extra in ((a, network_a, params_a), (a if b is None else b, network_b, params_b)):
        result = api.analyze(path, network=net or network, params=[*sources_of(params), *sources_of(extra)],
                             input_shape=input_shape)
        graphs.append(api.require(result))
    return diff_graphs(graphs[0], graphs[1], path_a=str(a), path_b=str(a if b is None else b))
