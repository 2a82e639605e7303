"""syntax.Module -> canonical text, comments kept: `fmt(text, path) -> str`.

The layout (docs/lint.md, "fmt"): 2-space indents, one statement per line, one blank
line between definitions, other blank lines kept where the source had them (at most
one); `name=value` in call arguments, `name = default` in parameter lists and
`set name = value` (declarations are spaced, as in docs/language.md). A concat
branch that is a short sequence (or concat) of plain layer and block calls is written
on one line, `{ a; b; c }`, when it fits in LINE_WIDTH columns and holds no comment.
Trailing comments of consecutive lines at one indentation are aligned two columns
past the longest code among them. Number and string literals keep their spelling.

Comments are not in the AST: a second Lark instance built from the same grammar
collects COMMENT tokens through `lexer_callbacks` while it lexes the text, and they
are re-attached by line (a trailing comment to the printed line its source line
starts; an own-line comment before the first printed line that comes after it).
fmt is idempotent, and parse(fmt(x)) == parse(x)."""

from __future__ import annotations

import bisect
import functools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Token

from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import CompileError, DiagnosticSink
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile, Span

__all__ = ["fmt", "format_module", "LINE_WIDTH", "INDENT"]

INDENT = "  "
LINE_WIDTH = 100
# binding strength, as in Python: if-else 1, or 2, and 3, not 4, comparisons 5, + - 6, * / // % 7, unary - 8
_IFELSE, _NOT, _UNARY = 1, 4, 8
_PRECEDENCE = {"or": 2, "and": 3, **{op: 5 for op in syntax.COMPARISONS},
               "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7}


# -- comments -------------------------------------------------------------------------
class _CommentCollector:
    def __init__(self) -> None:
        self.tokens: list[Token] = []

    def __call__(self, token: Token) -> Token:
        self.tokens.append(token)
        return token


@functools.lru_cache(maxsize=1)
def _comment_parser() -> tuple[Lark, _CommentCollector, threading.Lock]:
    collector = _CommentCollector()
    grammar = Path(__file__).with_name("grammar.lark")
    # The basic lexer is enough to find comments (the text has already parsed), and
    # lexing alone is ~4x faster than a second parse.
    lark = Lark.open(str(grammar), parser="lalr", lexer="basic", start="module",
                     lexer_callbacks={"COMMENT": collector})
    return lark, collector, threading.Lock()


def _comments(text: str) -> list[Token]:
    lark, collector, lock = _comment_parser()
    with lock:
        collector.tokens = []
        for _ in lark.lex(text):
            pass
        return list(collector.tokens)


# -- the printed lines ----------------------------------------------------------------
@dataclass
class _Line:
    depth: int
    text: str
    anchor: int | None  # source line of the first token printed on it
    kind: str  # "def" | "stmt" | "close" | "comment" | "blank"
    comments: list[str] = field(default_factory=list)


class _Printer:
    def __init__(self, source: SourceFile | None):
        self.source = source
        self.lines: list[_Line] = []

    def line_of(self, span: Span | None) -> int | None:
        return span.line if span is not None and self.source is not None and span.source is self.source else None

    def emit(self, depth: int, text: str, anchor: int | None, kind: str = "stmt") -> None:
        self.lines.append(_Line(depth, text, anchor, kind))

    def has_comment_inside(self, span: Span | None, offsets: list[int]) -> bool:
        """Whether a comment starts inside `span` (`offsets`: comment starts, sorted)."""
        if span is None or self.source is None:
            return False
        index = bisect.bisect_left(offsets, span.start)
        return index < len(offsets) and offsets[index] < span.end

    def closing_line(self, after: Span | None) -> int | None:
        """Line of the `}` that closes the body whose last statement is `after`."""
        if after is None or self.source is None or after.source is not self.source:
            return None
        text, index = self.source.text, after.end
        while index < len(text):
            char = text[index]
            if char == "#":
                while index < len(text) and text[index] != "\n":
                    index += 1
            elif char.isspace() or char == ";":
                index += 1
            elif char == "}":
                return self.source.line_col(index)[0]
            else:
                return None
        return None


# -- expressions ----------------------------------------------------------------------
def _literal(node, printed: str) -> str:
    span = node.span
    return span.text() if span is not None and span.end > span.start else printed


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expr(node: syntax.Expr, context: int = 0) -> str:
    if isinstance(node, syntax.Num):
        return _literal(node, repr(node.value))
    if isinstance(node, syntax.Dims):
        return "x".join(str(v) for v in node.values)
    if isinstance(node, syntax.Str):
        return _literal(node, _quote(node.value))
    if isinstance(node, syntax.Name):
        return node.name
    if isinstance(node, syntax.Tuple) and node.brackets:
        return "[" + ", ".join(expr(item) for item in node.items) + "]"
    if isinstance(node, syntax.Tuple):
        items = ", ".join(expr(item) for item in node.items)
        return f"({items},)" if len(node.items) == 1 else f"({items})"
    if isinstance(node, syntax.Neg):
        text = "-" + expr(node.operand, _UNARY)
        return f"({text})" if context > _UNARY else text
    if isinstance(node, syntax.Not):
        text = "not " + expr(node.operand, _NOT)
        return f"({text})" if context > _NOT else text
    if isinstance(node, syntax.IfElse):
        text = f"{expr(node.then, _IFELSE + 1)} if {expr(node.condition, _IFELSE + 1)} else {expr(node.other, _IFELSE)}"
        return f"({text})" if context > _IFELSE else text
    precedence = _PRECEDENCE[node.op]
    chained = precedence + 1 if node.op in syntax.COMPARISONS else precedence  # comparisons do not chain
    text = f"{expr(node.left, chained)} {node.op} {expr(node.right, precedence + 1)}"
    return f"({text})" if precedence < context else text


def _keyword(op: syntax.Concat) -> str:
    """`concat`, `reduction`, `sum`, `product`, or `split(...)` with its sizes."""
    return f"split({_args(op.args)})" if op.kind == "split" else op.word


def _args(args: tuple[syntax.Arg, ...]) -> str:
    return ", ".join(expr(a.value) if a.name is None else f"{a.name}={expr(a.value)}" for a in args)


def _call(call: syntax.Call) -> str:
    return f"{call.name}({_args(call.args)})" if call.has_parens else call.name


def _suffix(stmt: syntax.Labeled) -> str:
    text = _repeat(stmt.repeat) if stmt.repeat is not None else ""
    if stmt.source is not None:
        text += f" from {stmt.source}"
    if stmt.condition is not None:
        text += f" when {expr(stmt.condition)}"
    return text


def _repeat(count: syntax.Expr) -> str:
    """`x4`, `x n`, `x (2 * n)`."""
    if isinstance(count, syntax.Num) and isinstance(count.value, int) and not isinstance(count.value, bool):
        return f" x{count.value}"
    if isinstance(count, syntax.Name):
        return f" x {count.name}"
    return f" x ({expr(count)})"


def _head(stmt: syntax.Labeled) -> str:
    """The label part, always `name: ` (`name { ... }` reads back the same)."""
    return "" if stmt.label is None else f"{stmt.label}: "


_REPEAT_LIKE = re.compile(r"x[0-9]+\Z")


def _needs_separator(stmt: syntax.Stmt, following: syntax.Stmt | None) -> bool:
    """Whether `;` must end `stmt` so that the text reads back the same: `flatten` then
    `{ ... }` would read as the named sequence `flatten { ... }`, and any statement then a
    call of a block named like `x2` would read as the repetition `stmt x2` (a label such as
    `x1: conv(8)` reads as a label)."""
    if not isinstance(stmt, syntax.Labeled):
        return False
    if (isinstance(following, syntax.Labeled) and following.label is None and isinstance(following.op, syntax.Call)
            and _REPEAT_LIKE.match(following.op.name)):
        return True
    return (
        isinstance(stmt.op, syntax.Call) and not stmt.op.has_parens
        and stmt.repeat is None and stmt.source is None and stmt.condition is None
        and isinstance(following, syntax.Labeled) and following.label is None and isinstance(following.op, syntax.Seq)
    )


def inline(stmt: syntax.Stmt) -> str | None:
    """The one-line form of a statement, or None if it has no one-line form."""
    if not isinstance(stmt, syntax.Labeled):
        return None
    op = stmt.op
    if isinstance(op, syntax.Call):
        return _head(stmt) + _call(op) + _suffix(stmt)
    if not isinstance(op, (syntax.Seq, syntax.Concat)):
        return None
    parts = [inline(s) for s in op.body]
    if any(p is None for p in parts):
        return None
    keyword = "" if isinstance(op, syntax.Seq) else _keyword(op) + " "
    braces = "{ " + "; ".join(parts) + " }" if parts else "{}"  # type: ignore[arg-type]
    return f"{_head(stmt)}{keyword}{braces}{_suffix(stmt)}"


# -- statements and definitions -------------------------------------------------------
class _Formatter:
    def __init__(self, source: SourceFile | None, comments: list[Token]):
        self.printer = _Printer(source)
        self.comment_offsets = sorted(c.start_pos for c in comments)

    def body(self, statements: tuple[syntax.Stmt, ...], depth: int, branches: bool = False) -> None:
        for index, stmt in enumerate(statements):
            following = statements[index + 1] if index + 1 < len(statements) else None
            self.statement(stmt, depth, branches, ";" if _needs_separator(stmt, following) else "")

    def statement(self, stmt: syntax.Stmt, depth: int, branch: bool, separator: str = "") -> None:
        printer = self.printer
        anchor = printer.line_of(stmt.span)
        if isinstance(stmt, syntax.InputStmt):
            printer.emit(depth, "input " + "x".join(map(str, stmt.dims)), anchor)
            return
        if isinstance(stmt, syntax.OutputStmt):
            printer.emit(depth, "output " + ", ".join(stmt.names), anchor)
            return
        op = stmt.op
        if isinstance(op, syntax.Call):
            printer.emit(depth, inline(stmt) + separator, anchor)  # type: ignore[operator]
            return
        one_line = inline(stmt) if branch else None
        if (one_line is not None and len(INDENT * depth + one_line) <= LINE_WIDTH
                and not printer.has_comment_inside(stmt.span, self.comment_offsets)):
            printer.emit(depth, one_line + separator, anchor)
            return
        suffix = _suffix(stmt) + separator
        if isinstance(op, syntax.Residual):
            opener = _head(stmt) + "residual" + (f"({_args(op.args)})" if op.args else "")
            self.block(opener, op.body, depth, anchor, False, None if op.shortcut is not None else suffix)
            if op.shortcut is not None:
                self.block("} shortcut", op.shortcut, depth, self.closing(op.body), False, suffix, kind="close")
            return
        keyword = "" if isinstance(op, syntax.Seq) else _keyword(op)
        opener = (_head(stmt) + keyword).rstrip()
        self.block(opener, op.body, depth, anchor, isinstance(op, syntax.Concat), suffix, construct=op.span)

    def closing(self, body: tuple[syntax.Stmt, ...]) -> int | None:
        return self.printer.closing_line(body[-1].span) if body else None

    def block(self, opener: str, body, depth: int, anchor, branches: bool, after: str | None, kind="stmt",
              construct: Span | None = None) -> None:
        """`opener {`, the body one level deeper, then `}` + `after` (None: the caller
        continues the closing line, as `} shortcut {` does). `construct` is the span
        that ends with the closing brace, when there is one: an empty body that holds
        comments keeps its lines so that the comments stay inside."""
        printer = self.printer
        opener = f"{opener} {{" if opener else "{"
        if not body and after is not None and printer.has_comment_inside(construct, self.comment_offsets):
            printer.emit(depth, opener, anchor, kind)
            printer.emit(depth, "}" + after, construct.end_line, "close")  # type: ignore[union-attr]
            return
        if not body:
            printer.emit(depth, opener + ("}" + after if after is not None else ""), anchor, kind)
            return
        printer.emit(depth, opener, anchor, kind)
        self.body(body, depth + 1, branches)
        if after is not None:
            printer.emit(depth, "}" + after, self.closing(body), "close")

    def item(self, item) -> None:
        printer = self.printer
        anchor = printer.line_of(item.span)
        if isinstance(item, syntax.Import):
            printer.emit(0, f"import {_literal_path(item)}", anchor)
        elif isinstance(item, syntax.Setting):
            printer.emit(0, f"set {item.name} = {expr(item.value)}", anchor)
        else:
            params = [p.name if p.default is None else f"{p.name} = {expr(p.default)}" for p in item.params]
            opener = _wrap(f"{item.kind} {item.name}(", params, ")") if params else f"{item.kind} {item.name}"
            self.block(opener, item.body, 0, anchor, False, "", kind="def", construct=item.span)


def _wrap(prefix: str, items: list[str], suffix: str) -> str:
    """`prefix` + items + `suffix` on one line if it fits (with the ` {` that follows),
    else filled greedily, continuation lines aligned after `prefix`."""
    one_line = prefix + ", ".join(items) + suffix
    if len(one_line) + 2 <= LINE_WIDTH:
        return one_line
    lines, current = [], prefix
    for index, item in enumerate(items):
        piece = item + ("," if index + 1 < len(items) else suffix)
        reserve = 2 if index + 1 == len(items) else 0
        if current.strip() and current != prefix and len(current) + 1 + len(piece) + reserve > LINE_WIDTH:
            lines.append(current)
            current = " " * len(prefix) + piece
        else:
            current += ("" if current == prefix else " ") + piece
    return "\n".join(lines + [current])


def _last_line(text: str) -> str:
    return text.rsplit("\n", 1)[-1]


def _literal_path(item: syntax.Import) -> str:
    span = item.span
    if span is not None and span.end > span.start:
        text = span.text()
        return text[text.index('"'):]
    return _quote(item.path)


# -- comments, blank lines and alignment ----------------------------------------------
def _attach_comments(lines: list[_Line], comments: list[Token], source: SourceFile) -> list[_Line]:
    # printed lines come in source order, so their anchors never decrease: bisect them
    anchored = [i for i, l in enumerate(lines) if l.anchor is not None]
    anchors = [lines[i].anchor for i in anchored]
    inserts: dict[int, list[_Line]] = {}
    tail: list[_Line] = []
    for token in comments:
        line, column = token.line, token.column
        text = str(token).rstrip()
        own_line = source.line_text(line)[: column - 1].strip() == ""
        position = bisect.bisect_right(anchors, line)  # anchors[:position] <= line < anchors[position:]
        if not own_line and position > 0:
            lines[anchored[position - 1]].comments.append(text)
            continue
        following = anchored[position] if position < len(anchored) else None
        if following is None:
            tail.append(_Line(0, text, line, "comment"))
        else:
            depth = lines[following].depth + (1 if lines[following].kind == "close" else 0)
            inserts.setdefault(following, []).append(_Line(depth, text, line, "comment"))
    merged: list[_Line] = []
    for index, line in enumerate(lines):
        merged.extend(inserts.get(index, []))
        merged.append(line)
    return merged + tail


def _blank_lines(lines: list[_Line], source: SourceFile | None) -> list[_Line]:
    out: list[_Line] = []
    last_anchor = 0
    for line in lines:
        previous = out[-1] if out else None
        opens = previous is not None and previous.text.endswith("{")
        if (source is not None and line.kind in ("stmt", "comment", "def") and previous is not None and not opens
                and line.anchor is not None and line.anchor > max(last_anchor, 1)
                and source.line_text(line.anchor - 1).strip() == ""):
            out.append(_Line(line.depth, "", None, "blank"))
        if line.kind == "def" and out:
            start = len(out)
            while start > 0 and out[start - 1].kind == "comment" and out[start - 1].depth == 0:
                start -= 1
            if start > 0 and out[start - 1].kind != "blank":
                out.insert(start, _Line(0, "", None, "blank"))
        out.append(line)
        last_anchor = line.anchor if line.anchor is not None else last_anchor
    return out


def _render(lines: list[_Line]) -> str:
    texts = [INDENT * l.depth + l.text if l.kind != "blank" else "" for l in lines]
    columns: dict[int, int] = {}
    start = 0
    while start < len(lines):  # a run: consecutive code lines at one depth
        end = start + 1
        while (end < len(lines) and lines[end].kind not in ("comment", "blank")
               and lines[start].kind not in ("comment", "blank") and lines[end].depth == lines[start].depth):
            end += 1
        widths = [len(_last_line(texts[i])) for i in range(start, end) if lines[i].comments]
        for i in range(start, end):
            if lines[i].comments:
                columns[i] = max(widths) + 2
        start = end
    out = []
    for index, (line, text) in enumerate(zip(lines, texts)):
        if line.comments:
            padding = " " * max(0, columns[index] - len(_last_line(text)))
            text = text + padding + " ".join(line.comments) if text.strip() else " ".join(line.comments)
        out.append(text.rstrip())
    return "\n".join(out) + "\n" if out else ""


def format_module(module: syntax.Module, source: SourceFile | None = None, comments: list[Token] = ()) -> str:
    """Print a module canonically; `source` and its `comments` when it came from text."""
    formatter = _Formatter(source, list(comments))
    for item in module.items:
        formatter.item(item)
    lines = formatter.printer.lines
    if source is not None:
        lines = _attach_comments(lines, list(comments), source)
    return _render(_blank_lines(lines, source))


def fmt(text: str, path: str = "<input>") -> str:
    """The canonical form of a spec's text. Raises CompileError if it does not parse."""
    source = SourceFile(path, text)
    sink = DiagnosticSink()
    module = parse(source, sink)
    if module is None or sink.has_errors:
        raise CompileError(sink.sorted())
    return format_module(module, source, _comments(text))
