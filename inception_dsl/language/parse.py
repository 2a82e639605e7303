"""Text -> syntax.Module. A lark LALR(1) parser over grammar.lark with positions
propagated; a Transformer turns the parse tree into the dataclasses of syntax.py.

Syntax errors become E001/E002 diagnostics. The parser recovers by skipping the
offending token, so several errors are reported in one run; an error on the same line
as the previous one is not reported again (it is usually a consequence)."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from inception_dsl.language.caches import large_file_parses, parser_tables
from inception_dsl.language.brackets import close_brackets, unclosed
from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.core.source import SourceFile, Span

__all__ = ["parse", "parser", "KEYWORDS", "RESERVED"]

KEYWORDS = frozenset(
    {"import", "set", "block", "network", "input", "output", "from", "when",
     "concat", "reduction", "residual", "shortcut", "sum", "product", "split"}
)
# Words of the expression grammar: never names (E009).
RESERVED = frozenset({"and", "or", "not", "if", "else"})
_KEYWORD_EXAMPLES = {"and": "a and b", "or": "a or b", "not": "not a", "if": "a if c else b", "else": "a if c else b"}
MAX_SYNTAX_ERRORS = 20
MAX_SYNTAX_DEPTH = 256  # levels of the parse tree; guards Python's recursion limit (~1000 frames)

_TOKEN_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "DIMS": "a size like `3x3`",
    "STRING": "a string",
    "REPEAT": "a repetition like `x4`",
    "REPEAT_X": "a repetition like `x n`",
    "$END": "the end of the file",
}


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process and cached on disk across processes
    (parser_tables.py: a private directory, verified with a keyed hash before loading):
    building the tables takes ~0.2 s, loading them ~10 ms (see benchmarks/check_bench.py)."""
    import io
    import sys

    import lark

    grammar = Path(__file__).with_name("grammar.lark")
    text = grammar.read_bytes()
    stamp = f"{hashlib.sha256(text).hexdigest()}-lark{lark.__version__}-py{sys.version_info[0]}.{sys.version_info[1]}"
    name = f"grammar-{stamp[:16]}-{lark.__version__}-py{sys.version_info[0]}{sys.version_info[1]}.lark-cache"
    payload = parser_tables.read_cache(name, stamp)
    if payload is not None:
        try:
            return Lark.load(io.BytesIO(payload))
        except Exception:  # a verified file lark cannot read (another lark build): rebuild it
            pass
    built = Lark(text.decode("utf-8"), parser="lalr", propagate_positions=True, maybe_placeholders=True,
                 start="module", cache=False)
    buffer = io.BytesIO()
    built.save(buffer)
    parser_tables.write_cache(name, stamp, buffer.getvalue())
    return built


def _describe_expected(names: set[str]) -> str:
    terminals = {t.name: t for t in parser().terminals}
    words = []
    for name in sorted(names):
        if name in _TOKEN_WORDS:
            words.append(_TOKEN_WORDS[name])
        elif name in terminals and terminals[name].pattern.type == "str":
            words.append(f"`{terminals[name].pattern.value}`")
        else:
            words.append(name.lower())
    words = sorted(set(words))
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    return f"`{token.value}`"


class _Reporter:
    def __init__(self, source: SourceFile, sink: DiagnosticSink):
        self.source, self.sink = source, sink
        self.count = 0
        self.last_line = -1

    def report(self, error: UnexpectedInput) -> bool:
        """on_error callback: record, then ask lark to skip the token and go on."""
        offset = getattr(error, "pos_in_stream", None)
        token = getattr(error, "token", None)
        if offset is None and token is not None:
            offset = token.start_pos
        if offset is None:
            offset = len(self.source.text)
        line = self.source.line_col(offset)[0]
        at_end = isinstance(error, UnexpectedEOF) or (token is not None and token.type == "$END")
        # after an earlier error, running into the end of the file is a consequence of that
        # error unless a `{` is really left open
        consequence = at_end and self.count > 0 and unclosed(self.source.text, len(self.source.text)) is None
        if (line != self.last_line or at_end) and not consequence:
            self._emit(error, offset, at_end)
        self.last_line = line
        self.count += 1
        if not at_end and isinstance(error, UnexpectedToken) and "RPAR" in error.expected:
            close_brackets(error)
        return not at_end and self.count < MAX_SYNTAX_ERRORS

    def _emit(self, error: UnexpectedInput, offset: int, at_end: bool) -> None:
        text = self.source.text
        expected = getattr(error, "expected", None) or getattr(error, "allowed", None) or set()
        if at_end:
            end = len(text.rstrip())  # the end of the last line, not the empty line after it
            span = Span(self.source, end, end)
            opened = unclosed(text, len(text))
            secondary = []
            if opened is not None:
                secondary.append(Label(Span(self.source, opened, opened + 1), "this `{` is never closed", False))
            self.sink.emit(
                codes.UNTERMINATED,
                "unexpected end of file" + (", a `{` is still open" if opened is not None else ""),
                span,
                f"expected {_describe_expected(set(expected))}" if expected else "",
                secondary=secondary,
                help="add the missing `}`" if opened is not None else None,
            )
            return
        if isinstance(error, UnexpectedCharacters):
            char = text[offset] if offset < len(text) else ""
            span = Span(self.source, offset, offset + 1)
            self.sink.emit(
                codes.SYNTAX,
                f"unexpected character {char!r}",
                span,
                "not part of the language" if not expected else f"expected {_describe_expected(set(expected))}",
            )
            return
        token = error.token  # type: ignore[attr-defined]
        span = Span(self.source, token.start_pos, max(token.end_pos, token.start_pos + 1))
        help, secondary = None, []
        opened = unclosed(text, token.start_pos, "()") if "RPAR" in expected else None
        if opened is not None and self.source.line_col(opened)[0] < self.source.line_col(token.start_pos)[0]:
            before = self.source.line_col(len(text[: token.start_pos].rstrip()))[0]
            secondary.append(Label(Span(self.source, opened, opened + 1), "this `(` is never closed", False))
            help = f"add the missing `)` at the end of line {before} (or a `,` if the arguments go on)"
        if token.type == "NAME" and token.value in KEYWORDS:
            help = f"`{token.value}` is a keyword; choose another name"
        elif token.type == "REPEAT":
            help = f"`{token.value}` reads as a repetition count; a name of the form x<digits> is one only as a label (`x1: ...`)"
        else:
            previous = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", self.source.text[: token.start_pos])
            if previous and previous.group(1) in ("concat", "reduction", "residual", "shortcut", "sum", "product", "split") and "LBRACE" in expected:
                word = previous.group(1)
                help = f"`{word}` is a keyword (`{word} {{ ... }}`), so it cannot name a block or layer; rename it"
        self.sink.emit(
            codes.SYNTAX,
            f"unexpected {_describe_token(token)}",
            span,
            f"expected {_describe_expected(set(expected))}",
            secondary=secondary,
            help=help,
        )


def parse(source: SourceFile, sink: DiagnosticSink) -> syntax.Module | None:
    """Parse one file. Returns None when the text has syntax errors (all reported)."""
    cached = large_file_parses.load(source)
    if cached is not None:
        return cached
    emitted = sink.count
    reporter = _Reporter(source, sink)
    try:
        tree = parser().parse(_collapse_separators(source.text), on_error=reporter.report)
    except UnexpectedInput as error:  # errors lark cannot resume from
        if reporter.count == 0 or not isinstance(error, UnexpectedEOF):
            reporter.report(error)
        return None
    if reporter.count:
        return None
    if not _within_depth(tree, source, sink):
        return None
    before = len(sink.errors)
    module = _ToAst(source, sink).transform(tree)
    if sink.count == emitted:  # a clean parse of a large file is kept on disk (language/caches/large_file_parses.py)
        large_file_parses.store(source, module)
    return module if len(sink.errors) == before else None


# `;[\s;]*;`, not `;(?:\s*;)+`: a repeated group keeps state per repetition in Python's re
# (1 GB for 8 MiB of `;`), a repeated character class does not
_SEPARATOR_RUNS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|;[\s;]*;')


def _collapse_separators(text: str) -> str:
    """Runs of `;` (with only whitespace between) read as one `;`: the later ones become
    spaces, so every offset stays where it was. The parse tree keeps one node per `;`, so
    a file of millions of them would cost ~1 KB and ~15 us each; one is all they mean.
    Strings and comments are matched first and left alone."""
    if ";;" not in text and not re.search(r";\s+;", text):
        return text

    def keep_first(match: re.Match) -> str:
        run = match.group(0)
        return run if run[0] != ";" else ";" + run[1:].replace(";", " ")

    return _SEPARATOR_RUNS.sub(keep_first, text)


def _within_depth(tree: Tree, source: SourceFile, sink: DiagnosticSink) -> bool:
    """The Transformer, evaluation and elaboration all recurse once per level of the
    tree, so a tree deeper than MAX_SYNTAX_DEPTH (`- - - ... 1`, `1+1+...+1` ten
    thousand times) is refused here, iteratively, before it can exhaust Python's stack."""
    stack: list[tuple[Tree | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_SYNTAX_DEPTH:
            start = node.start_pos if isinstance(node, Token) else getattr(node.meta, "start_pos", 0)
            sink.emit(codes.LIMIT_EXCEEDED, f"the text nests more than {MAX_SYNTAX_DEPTH} levels deep",
                      Span(source, start or 0, (start or 0) + 1), "nested too deeply here",
                      notes=["every operator, bracket and block adds a level; real specs stay under 30"],
                      help="split the expression or the nesting into named blocks or parameters")
            return False
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children if child is not None)
    return True


def _check_bare_names(children: list, source: SourceFile, sink: DiagnosticSink) -> None:
    """E008: a bare name directly followed by `{ ... }`, on the same line or the next.

    Older versions read `relu { conv(8) }` as the sequence labelled `relu`, so the same text
    meaning two statements now would change its meaning silently; and a writer who puts a
    name before `{` almost always meant the label. Either way the fix is one character,
    which the help gives. `relu; { ... }` (or any `;` between them) is two statements."""
    statements = [c for c in children if c is not None]
    for first, second in zip(statements, statements[1:]):
        if not (isinstance(first, syntax.Labeled) and isinstance(second, syntax.Labeled)):
            continue
        op = first.op
        if not (isinstance(op, syntax.Call) and not op.has_parens and first.label is None and first.repeat is None
                and first.source is None and first.condition is None):
            continue
        if second.label is not None or not isinstance(second.op, syntax.Seq):
            continue
        between = source.text[first.span.end:second.span.start]
        if any(";" in line.split("#", 1)[0] for line in between.split("\n")):
            continue
        brace = Span(source, second.span.start, second.span.start + 1)
        sink.emit(codes.LABEL_WITHOUT_COLON, f"`{op.name}` followed by `{{`: a label needs its colon",
                  first.span, "a bare name before a `{ ... }` sequence",
                  secondary=[Label(brace, "the sequence starts here", False)],
                  notes=[f"`{op.name}` and the `{{ ... }}` could be a label and its sequence or two statements; "
                         "without a `:` or a `;` the language takes neither"],
                  help=f"write `{op.name}: {{ ... }}` to name the sequence, or `{op.name};` if `{op.name}` is "
                       "a statement of its own")


_MAX_DIGITS = 30  # longer integer literals read as 10**30: far over every limit, and no 4,300-digit str->int


def _int(token: Token | str) -> int:
    text = str(token).lstrip("0") or "0"
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, source: SourceFile, sink: DiagnosticSink):
        super().__init__()
        self._file = source
        self._sink = sink

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self._file, 0, 0)
        return Span(self._file, meta.start_pos, meta.end_pos)

    def _tok(self, token: Token) -> Span:
        return Span(self._file, token.start_pos, token.end_pos)

    # -- top level
    def module(self, meta, items):
        return syntax.Module(tuple(i for i in items if isinstance(i, (syntax.Import, syntax.Setting, syntax.BlockDef))), self._span(meta))

    def import_decl(self, meta, children):
        return syntax.Import(_unquote(children[0]), self._span(meta))

    def set_decl(self, meta, children):
        return syntax.Setting(str(children[0]), children[1], self._span(meta))

    def _definition(self, kind, meta, children):
        name, params, body = children
        self._reserved(name, f"the name of a {kind}")
        return syntax.BlockDef(kind, str(name), tuple(params or ()), tuple(body), self._span(meta), self._tok(name))

    def block_decl(self, meta, children):
        return self._definition("block", meta, children)

    def network_decl(self, meta, children):
        return self._definition("network", meta, children)

    def param_list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def param(self, meta, children):
        self._reserved(children[0], "a parameter")
        return syntax.Param(str(children[0]), children[1], self._span(meta))

    def body(self, meta, children):
        _check_bare_names(children, self._file, self._sink)
        return tuple(c for c in children if isinstance(c, (syntax.Labeled, syntax.InputStmt, syntax.OutputStmt)))

    # -- statements
    def input_stmt(self, meta, children):
        return syntax.InputStmt(tuple(_int(v) for v in str(children[0]).split("x")), self._span(meta))

    def output_stmt(self, meta, children):
        return syntax.OutputStmt(tuple(str(c) for c in children), self._span(meta))

    def _labeled(self, meta, label, op, repeat, source, condition):
        repeat, repeat_span = repeat if repeat is not None else (None, None)
        if repeat_span is not None and repeat_span.line != Span(self._file, op.span.end, op.span.end).line:
            self._sink.emit(codes.SYNTAX, "a repetition starts on the line of the statement it repeats",
                            repeat_span, "on a line of its own",
                            notes=["a line never continues the statement above it with `x`"],
                            help="move it up, after the statement it repeats; if `x` is a block called here, "
                                 "end the statement before it with `;`")
        return syntax.Labeled(
            label=str(label) if label is not None else None,
            op=op,
            repeat=repeat,
            source=str(source) if source is not None else None,
            condition=condition,
            span=self._span(meta),
            label_span=self._tok(label) if label is not None else None,
            repeat_span=repeat_span,
            source_span=self._tok(source) if source is not None else None,
        )

    def labeled(self, meta, children):
        return self._labeled(meta, *children)

    def repeat_literal(self, meta, children):
        token = children[0]
        return syntax.Num(_int(str(token)[1:]), self._tok(token)), self._tok(token)

    def repeat_name(self, meta, children):
        return syntax.Name(str(children[-1]), self._tok(children[-1])), self._span(meta)

    def repeat_expr(self, meta, children):
        return children[-1], self._span(meta)

    def _reserved(self, token: Token, what: str) -> None:
        """E009: the expression keywords cannot name a block, a call or a parameter (a block
        `or` called on the line after a `when` condition would read as part of it). Labels
        may (`if: conv(8)`): nothing reads a label where an operator could stand."""
        name = str(token)
        if name in RESERVED:
            self._sink.emit(codes.RESERVED_NAME, f"`{name}` is reserved and cannot be {what}", self._tok(token),
                            f"`{name}` is an operator in expressions (`{_KEYWORD_EXAMPLES[name]}`)",
                            help=f"choose another name, e.g. `{name}_`")

    def source(self, meta, children):
        return children[0]

    def condition(self, meta, children):
        return children[0]

    def seq(self, meta, children):
        return syntax.Seq(tuple(children[0]), self._span(meta))

    def concat(self, meta, children):
        return syntax.Concat(tuple(children[0]), False, self._span(meta))

    def reduction(self, meta, children):
        return syntax.Concat(tuple(children[0]), True, self._span(meta))

    def sum_op(self, meta, children):
        return syntax.Concat(tuple(children[0]), False, self._span(meta), "sum")

    def product_op(self, meta, children):
        return syntax.Concat(tuple(children[0]), False, self._span(meta), "product")

    def split_op(self, meta, children):
        args, body = children
        return syntax.Concat(tuple(body), False, self._span(meta), "split", tuple(args or ()))

    def residual(self, meta, children):
        args, body, shortcut = children
        return syntax.Residual(tuple(args or ()), tuple(body), tuple(shortcut) if shortcut is not None else None, self._span(meta))

    def shortcut(self, meta, children):
        return children[0]

    def call(self, meta, children):
        name, args = children
        self._reserved(name, "called")
        return syntax.Call(str(name), tuple(args or ()), args is not None, self._span(meta))

    def arg_list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def positional(self, meta, children):
        return syntax.Arg(None, children[0], self._span(meta))

    def keyword(self, meta, children):
        return syntax.Arg(str(children[0]), children[1], self._span(meta))

    # -- expressions
    def int(self, meta, children):
        return syntax.Num(_int(children[0]), self._span(meta))

    def float(self, meta, children):
        return syntax.Num(float(str(children[0])), self._span(meta))

    def dims(self, meta, children):
        return syntax.Dims(tuple(_int(v) for v in str(children[0]).split("x")), self._span(meta))

    def string(self, meta, children):
        return syntax.Str(_unquote(children[0]), self._span(meta))

    def name(self, meta, children):
        return syntax.Name(str(children[0]), self._span(meta))

    def tuple(self, meta, children):
        return syntax.Tuple(tuple(c for c in children if c is not None), self._span(meta))

    def list_(self, meta, children):
        return syntax.Tuple(tuple(c for c in children if c is not None), self._span(meta), brackets=True)

    def neg(self, meta, children):
        return syntax.Neg(children[0], self._span(meta))

    def _binop(op):  # noqa: N805 - a method factory used in the class body
        def method(self, meta, children):
            return syntax.BinOp(op, children[0], children[1], self._span(meta))

        return method

    def not_(self, meta, children):
        return syntax.Not(children[0], self._span(meta))

    def ifelse(self, meta, children):
        then, condition, other = children
        return syntax.IfElse(condition, then, other, self._span(meta))

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    div = _binop("/")
    floordiv = _binop("//")
    mod = _binop("%")
    eq, ne, lt = _binop("=="), _binop("!="), _binop("<")
    le, gt, ge = _binop("<="), _binop(">"), _binop(">=")
    and_ = _binop("and")
    or_ = _binop("or")


def _unquote(token: Token) -> str:
    raw = str(token)[1:-1]
    return raw.replace('\\"', '"').replace("\\\\", "\\")
