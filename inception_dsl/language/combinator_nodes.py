"""Elaboration of the statements whose parts are parallel branches: `concat` /
`reduction` (channel concatenation), `sum` and `product` (elementwise, a 1x1 grid
broadcasts) and `split(...)` (branch i reads channel slice i of the input; the results
are concatenated). Called by elaborate.py's `_Elaborator.op`; the join nodes' shape
rules live in ops/combine.py and ops/elementwise.py."""

from __future__ import annotations

from typing import Any

from inception_dsl.ir import Op, StatementKind
from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.language.builder import join_path
from inception_dsl.core.source import Span
from inception_dsl.language.naming import statement_names
from inception_dsl.core.values import EvalError, describe, did_you_mean, evaluate

__all__ = ["elaborate_join"]

# keyword -> (suffix of the join node, its op, its statement kind)
_JOINS = {
    "concat": ("cat", "CONCAT", StatementKind.CONCAT),
    "reduction": ("cat", "CONCAT", StatementKind.REDUCTION),
    "split": ("cat", "CONCAT", StatementKind.SPLIT),
    "sum": ("sum", "SUM", StatementKind.SUM),
    "product": ("mul", "PRODUCT", StatementKind.PRODUCT),
}


def elaborate_join(elab, op: syntax.Concat, path: str, x: str | None, env, origin,
                   statement: syntax.Labeled | None = None) -> str | None:
    """The branches of `op` (written as `statement`) and the node that joins them (None
    if nothing was built)."""
    statements = [s for s in op.body if isinstance(s, syntax.Labeled)]
    for stmt in op.body:
        if not isinstance(stmt, syntax.Labeled):
            elab.sink.emit(codes.MISPLACED, f"`input`/`output` are not allowed inside a {op.word}", stmt.span)
    if statement is not None and statement.repeat is not None and syntax.branch_sources(op):
        elab.sink.emit(codes.MISPLACED, f"a {op.word} whose branches read `from` a label cannot be repeated",
                       statement.repeat_span, "every repetition would read the same tensor",
                       help="repeat a block or sequence that holds the labelled statement too")
        return None
    inputs: list[str | None] = [x] * len(statements)
    if op.kind == "split":
        inputs = _split(elab, op, statements, path, x, env, origin)
        if inputs is None:
            return None
    names = statement_names(op.body, "concat", elab.program.definitions)
    branches, refused = [], False
    for stmt, name, source in zip(statements, names, inputs):
        if stmt.source is not None and not _source_known(elab, op, stmt):
            continue
        if not elab._transparent_ok(stmt):
            continue
        if elab._reserved(stmt, name):
            refused = True
            continue
        if not elab._condition(stmt, env):  # its names are name_check's (every reachable body)
            continue
        if stmt.source is not None:
            source = _source(elab, stmt)
        branches.append(elab.statement(stmt, path, name, "concat", source, env, origin))
    if not branches:
        if not refused:
            elab.sink.emit(codes.BAD_VALUE, f"a {op.word} needs at least one branch", op.span, "empty")
        return None
    suffix, kind, statement_kind = _JOINS[op.word]
    elab._record(path, statement_kind)
    attrs: dict[str, Any] = {"reduction": op.reduction, "fork": x} if kind == "CONCAT" else {"fork": x}
    return elab._add(join_path(path, suffix), getattr(Op, kind), attrs, op.span, origin, branches, statement=path)


def _source_known(elab, op: syntax.Concat, stmt: syntax.Labeled) -> bool:
    """Whether a branch's `from LABEL` may be read: an earlier labelled statement of the
    sequence the statement stands in (E114 on a split's branch, E113 for an unknown label)."""
    sink, label = elab.sink, stmt.source
    if op.kind == "split":
        sink.emit(codes.MISPLACED, "`from` is not allowed on a split branch", stmt.source_span,
                  "each branch of a split reads its slice of the input")
        return False
    produced = elab.labels[-1] if elab.labels else {}
    if label not in produced:
        sink.emit(codes.UNKNOWN_SOURCE, f"`from {label}`: no earlier statement of this sequence has that label",
                  stmt.source_span, "unknown label", help=did_you_mean(label, produced),
                  notes=[f"a {op.word} branch may read an earlier labelled statement of the sequence the "
                         f"{op.word} stands in"])
        return False
    return True


def _source(elab, stmt: syntax.Labeled) -> str | None:
    """The node a (checked, included) branch's `from LABEL` reads; E113 when `when` switched it off."""
    node = elab.labels[-1][stmt.source]
    if node is None and not elab.sink.has_errors:
        elab.sink.emit(codes.UNKNOWN_SOURCE, f"`from {stmt.source}`: `{stmt.source}` is switched off by its `when`",
                       stmt.source_span, "this branch reads nothing for these parameters",
                       help=f"give the branch the same `when` as `{stmt.source}`")
    return node


def _split(elab, op: syntax.Concat, statements, path, x, env, origin) -> list[str | None] | None:
    """One SLICE node per branch (channels [start, stop) of `x`), after checking the
    sizes against the input's channels (E211)."""
    for stmt in statements:
        if stmt.condition is not None:
            elab.sink.emit(codes.MISPLACED, "`when` is not allowed on a split branch", stmt.condition.span,
                           "every slice needs its branch", help="leave a slice unchanged with `identity`")
            return None
    shape = elab._shape(x)
    if shape is None:
        return None
    sizes = _sizes(elab.sink, op, shape[0], len(statements), env)
    if sizes is None:
        return None
    slices, start = [], 0
    for index, size in enumerate(sizes):
        slices.append(elab._add(join_path(path, f"slice{index}"), Op.SLICE, {"start": start, "stop": start + size},
                                op.span, origin, [x], statement=path))
        start += size
    return slices


def _sizes(sink, op: syntax.Concat, channels: int, branches: int, env) -> list[int] | None:
    """The channel count of each part, checked (E211 / E105 / E112)."""
    if not op.args or any(arg.name is not None for arg in op.args):
        where = next((a.span for a in op.args if a.name is not None), op.span)
        sink.emit(codes.BAD_SPLIT, "`split` takes a count or channel sizes, written without names", where,
                  "expected `split(n)` or `split(a, b, ...)`", help="e.g. `split(2) { ... }` or `split(16, 48) { ... }`")
        return None
    values = [_int(sink, arg, env) for arg in op.args]
    if any(v is None for v in values):
        return None
    whole = ", ".join(map(str, values))
    if len(values) == 1:
        count = values[0]
        if channels % count:
            parts = [channels // count + (1 if i < channels % count else 0) for i in range(count)]
            sink.emit(codes.BAD_SPLIT, f"`split({count})` cannot cut {channels} channels into {count} equal parts",
                      op.args[0].span, f"{channels} is not a multiple of {count}",
                      help=f"give the sizes instead: `split({', '.join(map(str, parts))})`")
            return None
        sizes = [channels // count] * count
    else:
        sizes = values
        if sum(sizes) != channels:
            rest = channels - sum(sizes[:-1])
            sink.emit(codes.BAD_SPLIT, f"`split({whole})` cuts {sum(sizes)} channels, but its input has {channels}",
                      Span(op.args[0].span.source, op.args[0].span.start, op.args[-1].span.end),
                      f"these sizes sum to {sum(sizes)}",
                      help=f"make the last size {rest}" if rest > 0 else "the sizes must sum to the input's channels")
            return None
    if len(sizes) != branches:
        sink.emit(codes.BAD_SPLIT, f"`split({whole})` makes {len(sizes)} parts but has {branches} "
                  f"branch{'es' if branches != 1 else ''}", op.span, f"{len(sizes)} parts",
                  help="write one branch per part (`identity` keeps a part unchanged)")
        return None
    return sizes


def _int(sink, arg: syntax.Arg, env) -> int | None:
    try:
        value = evaluate(arg.value, env, sink)
    except EvalError:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        sink.emit(codes.BAD_ARG_TYPE, f"a split size must be an integer, not {describe(value)}", arg.span,
                  "not an integer", help="`//` divides to an integer")
        return None
    if value < 1:
        sink.emit(codes.BAD_VALUE, f"a split size must be at least 1, got {value}", arg.span, str(value))
        return None
    return value
