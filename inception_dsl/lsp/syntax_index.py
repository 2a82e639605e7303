"""What is under the cursor, read from the syntax tree: statements (innermost first),
calls and their name spans, block definitions, imports, labels and the `from`/`output`
references to them. Plain walks over core/syntax.py's dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from inception_dsl.core import syntax
from inception_dsl.core.source import Span

__all__ = ["Site", "walk", "bodies", "statement_at", "call_at", "calls", "definition_at", "definition_of",
           "import_at", "word_at", "label_sites", "name_span", "body_of"]

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Site:
    """A statement with where it sits: its definition and the body that holds it."""

    stmt: syntax.Stmt
    definition: syntax.BlockDef
    body: tuple[syntax.Stmt, ...]
    depth: int


def bodies(op: syntax.Transform) -> list[tuple[syntax.Stmt, ...]]:
    if isinstance(op, (syntax.Seq, syntax.Concat)):
        return [op.body]
    if isinstance(op, syntax.Residual):
        return [op.body] + ([op.shortcut] if op.shortcut is not None else [])
    return []


def walk(module: syntax.Module) -> Iterator[Site]:
    """Every statement of every definition, outer before inner, without recursion."""
    for definition in module.definitions:
        stack = [(definition.body, 0)]
        while stack:
            body, depth = stack.pop()
            nested = []
            for stmt in body:
                yield Site(stmt, definition, body, depth)
                if isinstance(stmt, syntax.Labeled):
                    nested.extend((inner, depth + 1) for inner in bodies(stmt.op))
            stack.extend(reversed(nested))


def _holds(span: Span | None, offset: int) -> bool:
    return span is not None and span.start <= offset <= span.end


def statement_at(module: syntax.Module, offset: int) -> Site | None:
    """The innermost statement whose text holds the offset."""
    best = None
    for site in walk(module):
        if _holds(site.stmt.span, offset) and (best is None or site.depth >= best.depth):
            best = site
    return best


def name_span(call: syntax.Call) -> Span:
    return Span(call.span.source, call.span.start, call.span.start + len(call.name))


def calls(module: syntax.Module) -> Iterator[tuple[syntax.Call, Site]]:
    for site in walk(module):
        if isinstance(site.stmt, syntax.Labeled) and isinstance(site.stmt.op, syntax.Call):
            yield site.stmt.op, site


def call_at(module: syntax.Module, offset: int) -> tuple[syntax.Call, Site] | None:
    """The call whose name is under the cursor."""
    for call, site in calls(module):
        if _holds(name_span(call), offset):
            return call, site
    return None


def definition_at(module: syntax.Module, offset: int) -> syntax.BlockDef | None:
    """The definition whose name is under the cursor."""
    return next((d for d in module.definitions if _holds(d.name_span, offset)), None)


def definition_of(module: syntax.Module, offset: int) -> syntax.BlockDef | None:
    """The definition whose text holds the offset."""
    return next((d for d in module.definitions if _holds(d.span, offset)), None)


def import_at(module: syntax.Module, offset: int) -> syntax.Import | None:
    return next((i for i in module.imports if _holds(i.span, offset)), None)


def word_at(text: str, offset: int) -> tuple[str, int, int] | None:
    """The identifier touching the offset, with its start and end."""
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    match = WORD.match(text, start)
    if match is None or match.end() < offset:
        return None
    return match.group(), match.start(), match.end()


def body_of(module: syntax.Module, stmt: syntax.Stmt) -> tuple[syntax.Stmt, ...] | None:
    return next((site.body for site in walk(module) if site.stmt is stmt), None)


def label_sites(body: tuple[syntax.Stmt, ...], label: str) -> list[Span]:
    """The label's definition and every `from`/`output` use of it in one body (labels
    are visible in the sequence that defines them)."""
    spans = []
    for stmt in body:
        if isinstance(stmt, syntax.Labeled):
            if stmt.label == label and stmt.label_span is not None:
                spans.append(stmt.label_span)
            if stmt.source == label and stmt.source_span is not None:
                spans.append(stmt.source_span)
        elif isinstance(stmt, syntax.OutputStmt) and label in stmt.names:
            text = stmt.span.text()
            for match in WORD.finditer(text):
                if match.group() == label and match.start() > 0:
                    spans.append(Span(stmt.span.source, stmt.span.start + match.start(), stmt.span.start + match.end()))
    return spans
