"""The names of every statement of every block a network can reach, checked without
elaborating: a statement that `when` switches off (or a block only such a statement
calls) is not elaborated, but the generated module still defines it, so a name used twice
in one scope or a name reserved by nn.Module there must be an error for `check` as it is
for `compile` (issue 13: what check accepts, load builds). The diagnostics are the ones
elaborate.py emits for elaborated statements; the sink keeps one of each."""

from __future__ import annotations

from inception_dsl import ops
from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.language.naming import TRANSPARENT, reserved_name, statement_names
from inception_dsl.core.values import did_you_mean

__all__ = ["check_names", "report_reserved", "report_duplicate", "report_unknown_callee"]


def report_reserved(sink: DiagnosticSink, stmt: syntax.Labeled, name: str | None) -> bool:
    """E301 for a statement whose name nn.Module reserves; whether it was one."""
    if not reserved_name(name):
        return False
    where = f"label `{name}`" if stmt.label == name else f"name `{name}` (the called block's name)"
    sink.emit(codes.UNSUPPORTED, f"the {where} is reserved by torch.nn.Module", stmt.label_span or stmt.span,
              "cannot be a module attribute", help="give the statement another label (names starting "
              "with `_` and nn.Module's own attributes like `forward` or `training` are reserved)")
    return True


def report_duplicate(sink: DiagnosticSink, stmt: syntax.Labeled, name: str, first: syntax.Labeled) -> None:
    sink.emit(codes.DUPLICATE_NAME, f"two statements are both named `{name}`", stmt.label_span or stmt.span,
              "second use of this name", secondary=[Label(first.label_span or first.span, "first used here", False)],
              help="give one of them a distinct label (`name: ...`)")


def report_unknown_callee(definitions: dict[str, syntax.BlockDef], call: syntax.Call, sink: DiagnosticSink) -> bool:
    """E102 for a call, in a statement `when` may leave out, that names no layer and no block:
    the generated module defines it whatever the parameters. Whether it was one."""
    definition = definitions.get(call.name)
    if call.name in ops.LAYERS or (definition is not None and definition.kind == "block"):
        return False
    candidates = list(ops.LAYERS) + [name for name, d in definitions.items() if d.kind == "block"]
    sink.emit(codes.UNKNOWN_BLOCK, f"unknown layer or block `{call.name}`", call.span,
              "no layer or block has this name", help=did_you_mean(call.name, candidates),
              notes=["checked although `when` leaves this statement out"])
    return True


def check_names(definitions: dict[str, syntax.BlockDef], network: syntax.BlockDef, sink: DiagnosticSink) -> None:
    """Check every body reachable from `network`, whatever the conditions."""
    pending, done = [network], set()
    while pending:
        definition = pending.pop()
        if definition.name in done:
            continue
        done.add(definition.name)
        _body(definitions, definition.body, "block", sink, pending)


def _body(definitions, body, context: str, sink: DiagnosticSink, pending: list) -> None:
    statements = [s for s in body if isinstance(s, syntax.Labeled)]
    seen: dict[str, syntax.Labeled] = {}
    for stmt, name in zip(statements, statement_names(body, context, definitions)):
        if name is not TRANSPARENT and not report_reserved(sink, stmt, name):
            if name in seen:
                report_duplicate(sink, stmt, name, seen[name])
            seen.setdefault(name, stmt)
        _op(definitions, stmt.op, sink, pending)


def _op(definitions, op: syntax.Transform, sink: DiagnosticSink, pending: list) -> None:
    if isinstance(op, syntax.Call):
        definition = definitions.get(op.name)
        if definition is not None and definition.kind == "block":
            pending.append(definition)
        else:
            report_unknown_callee(definitions, op, sink)
    elif isinstance(op, syntax.Seq):
        _body(definitions, op.body, "seq", sink, pending)
    elif isinstance(op, syntax.Concat):
        _body(definitions, op.body, "concat", sink, pending)
    elif isinstance(op, syntax.Residual):
        _body(definitions, op.body, "residual", sink, pending)
        if op.shortcut is not None:
            _body(definitions, op.shortcut, "seq", sink, pending)
