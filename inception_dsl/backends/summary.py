"""ir.Graph (with shapes) -> Summary: one row per stage (and, with depth, per statement
inside block scopes) with output shape, parameters, MACs and activation memory.

Counted from the IR alone, without torch. MACs follow torch.utils.flop_counter's
FlopCounterMode (which reports 2 FLOPs per MAC): only convolutions
(out_H*out_W*out_C*(in_C/groups)*kh*kw) and linear layers (in*out) count; BatchNorm,
activations, pooling, concat, add and scale are free. Activation memory is the size of
every op's output tensor (what training keeps for backward, an upper bound), batch
included; the input counts, the OUTPUT marker (the same tensor as its source) does not."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, fields

import yaml

from inception_dsl.ir import Graph, Node, Op, Role, fmt_shape, StatementKind, param_count
from inception_dsl.core.shapes import shape_data
from inception_dsl.ops.base import size

__all__ = ["Row", "Summary", "DTYPE_BYTES", "to_summary", "totals", "node_macs", "format_table", "format_json", "format_yaml",
           "format_csv", "to_document"]

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass
class Row:
    name: str
    kind: str
    level: int  # 0 for a stage, 1.. for statements inside it
    shape: tuple[int, ...] | None = None
    params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    aux: bool = False  # part of an auxiliary head, which runs in training only


@dataclass
class Summary:
    network: str
    input: tuple[int, ...]
    batch: int
    dtype: str
    rows: list[Row] = field(default_factory=list)
    params: int = 0
    macs: int = 0
    activation_bytes: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs


def node_macs(graph: Graph, node: Node) -> int:
    """Multiply-accumulates of one node for one sample (0 for ops that FlopCounterMode skips)."""
    inputs = graph.inputs(node.id)
    if not inputs or node.shape is None:
        return 0
    in_shape = graph.node(inputs[0]).shape
    return node.op.macs(node, in_shape) * getattr(in_shape, "batch", 1)  # folded tokens: per sequence


def totals(graph: Graph, *, batch: int = 1, dtype: str = "float32") -> tuple[int, int, int]:
    """(params, MACs, activation bytes) of the whole network: `to_summary`'s totals, without
    its rows (what `sweep` reports per variant)."""
    params = macs = elements = 0
    output, memo = Op.OUTPUT, {}
    for node in graph.nodes():
        kind = node.op
        if kind is output:
            continue
        counts = memo.get(kind)
        if counts is None:  # which of the two counts this kind has (OpKind's defaults are 0)
            counts = memo[kind] = ("params" in vars(kind), "macs" in vars(kind))
        elements += size(node.shape) * getattr(node.shape, "batch", 1)
        if counts[0] or counts[1]:
            inputs = graph.inputs(node.id)
            in_shape = graph.node(inputs[0]).shape if inputs else None
            if counts[0]:
                params += param_count(node, in_shape[0] if in_shape else None)
            if counts[1] and inputs and node.shape is not None:  # as node_macs
                macs += kind.macs(node, in_shape) * batch * getattr(in_shape, "batch", 1)
    return params, macs, elements * batch * DTYPE_BYTES[dtype]


def _module_path(node: Node) -> str:
    """The statement a node belongs to: a traditional layer's conv, BN and activation
    (`x.conv`, `x.bn`, `x.act`) all belong to `x`."""
    return node.statement if node.role is Role.LAYER and node.statement else node.id


def _row_key(path: str, stage: str, depth: int) -> tuple[str, int]:
    if not stage or not path.startswith(stage + ".") or depth == 0:
        return stage, 0
    parts = path[len(stage) + 1:].split(".")
    level = min(depth, len(parts))
    return f"{stage}." + ".".join(parts[:level]), level


def to_summary(graph: Graph, *, depth: int = 0, batch: int = 1, dtype: str = "float32") -> Summary:
    nodes = list(graph.nodes())
    layer_ops: dict[str, str] = {}  # layer statement -> the op of its first node
    kinds = {s.name: s.kind for s in graph.stages}
    aux_stages = {s.name for s in graph.stages if s.aux}
    summary = Summary(graph.name, graph.input_node.shape, batch, dtype)
    rows: dict[str, Row] = {}
    for node in nodes:
        if node.op is Op.OUTPUT:
            continue
        inputs = graph.inputs(node.id)
        in_channels = graph.node(inputs[0]).shape[0] if inputs and graph.node(inputs[0]).shape else None
        params, macs = param_count(node, in_channels), node_macs(graph, node) * batch
        memory = size(node.shape) * getattr(node.shape, "batch", 1) * batch * DTYPE_BYTES[dtype]
        if node.role is Role.LAYER:
            layer_ops.setdefault(node.statement, node.op.value)
        stage = node.stage if node.stage in kinds else ("input" if node.op is Op.INPUT else node.stage)
        keys = [(stage, 0)]
        if depth > 0 and stage in kinds:
            path = _module_path(node)
            levels = len(path[len(stage) + 1:].split(".")) if path.startswith(stage + ".") else 0
            for level in range(1, min(depth, levels) + 1):  # never more levels than the path has
                keys.append(_row_key(path, stage, level))
        for key, level in keys:
            row = rows.get(key)
            if row is None:
                kind = kinds.get(key) or (_sub_kind(graph, key, layer_ops) if level else node.op.value)
                row = rows[key] = Row(key, kind, level, aux=stage in aux_stages)
            row.params += params
            row.macs += macs
            row.activation_bytes += memory
            row.shape = node.shape
        summary.params += params
        summary.macs += macs
        summary.activation_bytes += memory
    summary.rows = list(rows.values())
    return summary


def _sub_kind(graph: Graph, key: str, layer_ops: dict[str, str]) -> str:
    """The kind of the statement at `key`: its block, its layer's first op, or the
    statement kind (`concat`, `reduction`, `residual`, `seq`)."""
    site = graph.blocks.get(key)
    if site is not None:
        return site.block
    kind = graph.statements.get(key)
    if kind is StatementKind.LAYER:
        return layer_ops.get(key, "conv")
    if kind is not None:
        return kind.value
    return graph.node(key).op.value if key in graph else "seq"


# -- formats -------------------------------------------------------------------------
_shape_text = fmt_shape


def _bytes_text(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def format_table(summary: Summary) -> str:
    header = ("name", "kind", "output", "params", "MACs", "activations")
    body = [("  " * r.level + r.name + (" (aux)" if r.aux else ""), r.kind, _shape_text(r.shape), f"{r.params:,}", f"{r.macs:,}",
             _bytes_text(r.activation_bytes)) for r in summary.rows]
    total = ("total", "", "", f"{summary.params:,}", f"{summary.macs:,}", _bytes_text(summary.activation_bytes))
    widths = [max(len(line[i]) for line in [header, *body, total]) for i in range(len(header))]

    def line(cells) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(header))
    title = (f"network {summary.network}, input {_shape_text(summary.input)}, batch {summary.batch}, "
             f"{summary.dtype}")
    footer = f"{summary.macs / 1e9:.3f} GMACs = {summary.flops / 1e9:.3f} GFLOPs (conv and linear only)"
    return "\n".join([title, line(header), rule, *map(line, body), rule, line(total), footer]) + "\n"


def to_document(summary: Summary) -> dict:
    """The summary as plain data: what `--format json` and `--format yaml` write."""
    return {
        "network": summary.network, "input": list(summary.input), "batch": summary.batch, "dtype": summary.dtype,
        "rows": [{**{f.name: getattr(r, f.name) for f in fields(r)}, "shape": shape_data(r.shape)} for r in summary.rows],
        "total": {"params": summary.params, "macs": summary.macs, "flops": summary.flops,
                  "activation_bytes": summary.activation_bytes},
    }


def format_json(summary: Summary) -> str:
    return json.dumps(to_document(summary), indent=2) + "\n"


def format_yaml(summary: Summary) -> str:
    """The JSON document as YAML (block style, keys in the same order); safe_dump quotes
    whatever a spec's names contain."""
    return yaml.safe_dump(to_document(summary), sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None)


def format_csv(summary: Summary) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "kind", "level", "output", "params", "macs", "activation_bytes"])
    for r in summary.rows:
        writer.writerow([r.name, r.kind, r.level, _shape_text(r.shape), r.params, r.macs, r.activation_bytes])
    writer.writerow(["total", "", "", "", summary.params, summary.macs, summary.activation_bytes])
    return out.getvalue()
