"""Code actions: the concrete edits that diagnostics' `help:` texts describe, and
"add `# noqa: CODE`" for lint findings.

Read from the help text's own form, so every diagnostic that writes its fix that way
gets a quick fix: an argument list in backticks (`pad=valid`, `stride=2, pad=valid`)
is applied to the call the help names ("on the conv at FILE:LINE:COL") or, without
one, to the call the diagnostic points at; "insert `X` before it" inserts a statement;
"a label needs a colon" adds it; "did you mean `NAME`?" replaces the misspelt name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import Diagnostic
from inception_dsl.language.program import Program
from inception_dsl.core.source import SourceFile, Span
from inception_dsl.lint.config import noqa_codes
from inception_dsl.lint.rules import RULES
from inception_dsl.lsp import syntax_index as index
from inception_dsl.lsp.signatures import layer_signature

__all__ = ["Edit", "Fix", "fixes"]

_ASSIGNMENTS = re.compile(r"`((?:[a-z_]+=[^`,]+)(?:,\s*[a-z_]+=[^`,]+)*)`(?: on the \w+ at (\S+?):(\d+):(\d+)\b)?")
_INSERT = re.compile(r"insert `([^`]+)` before it")
_DID_YOU_MEAN = re.compile(r"did you mean `([A-Za-z_]\w*)`\?")
_LINT_CODES = {rule.code.id for rule in RULES}
_NOQA_LIST = re.compile(r"noqa:\s*[A-Za-z][\w-]*(?:\s*,\s*[A-Za-z][\w-]*)*", re.I)


def _line_start(source: SourceFile, line: int) -> int:
    start = 0
    for _ in range(line - 1):
        start = source.text.index("\n", start) + 1
    return start


@dataclass(frozen=True)
class Edit:
    source: SourceFile
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    diagnostic: Diagnostic
    preferred: bool = False


def _call_starting(program: Program, path: str, line: int, column: int) -> syntax.Call | None:
    entry = program.files.get(path)
    if entry is None:
        return None
    source, module = entry
    if not 1 <= line <= source.line_count:
        return None
    offset = _line_start(source, line) + column - 1
    return next((call for call, _ in index.calls(module) if call.span.start == offset), None)


def _call_at_span(program: Program, span: Span) -> syntax.Call | None:
    entry = program.files.get(span.path)
    if entry is None:
        return None
    return next((call for call, _ in index.calls(entry[1]) if call.span.start == span.start), None)


def _set_arguments(call: syntax.Call, assignments: list[tuple[str, str]]) -> tuple[Edit, ...]:
    """Edits that give `call` these keyword values: replace an existing keyword, replace
    a flag that sets the same parameter, or add the keyword at the end."""
    sig = layer_signature(call.name)
    flag_keys = dict(sig.flag_keys) if sig is not None else {}
    edits, added = [], []
    for key, value in assignments:
        arg = next((a for a in call.args if a.name == key), None)
        if arg is None:
            arg = next((a for a in call.args if a.name is None and isinstance(a.value, syntax.Name)
                        and key in flag_keys.get(a.value.name, ())), None)
        if arg is not None and all(e.start != arg.span.start for e in edits):
            edits.append(Edit(call.span.source, arg.span.start, arg.span.end, f"{key}={value}"))
        else:
            added.append(f"{key}={value}")
    if added:
        text = ", ".join(added)
        source, end = call.span.source, call.span.end
        if call.has_parens:
            edits.append(Edit(source, end - 1, end - 1, (", " if call.args else "") + text))
        else:
            edits.append(Edit(source, end, end, f"({text})"))
    return tuple(edits)


def _argument_fixes(diagnostic: Diagnostic, program: Program) -> list[Fix]:
    found = []
    for match in _ASSIGNMENTS.finditer(diagnostic.help or ""):
        pairs = [tuple(part.strip().split("=", 1)) for part in match.group(1).split(",")]
        if match.group(2):
            call = _call_starting(program, match.group(2), int(match.group(3)), int(match.group(4)))
        else:
            call = _call_at_span(program, diagnostic.primary_span) if diagnostic.primary_span else None
        if call is None:
            continue
        where = f" on the `{call.name}` at line {call.span.line}"
        found.append(Fix(f"Use `{match.group(1)}`{where}", _set_arguments(call, pairs), diagnostic, not found))
    return found


def _insert_fixes(diagnostic: Diagnostic, program: Program) -> list[Fix]:
    match = _INSERT.search(diagnostic.help or "")
    span = diagnostic.primary_span
    if match is None or span is None or span.path not in program.files:
        return []
    site = index.statement_at(program.files[span.path][1], span.start)
    if site is None:
        return []
    start, source = site.stmt.span.start, span.source
    line_start = source.text.rfind("\n", 0, start) + 1
    prefix = source.text[line_start:start]
    text = f"{match.group(1)}\n{prefix}" if not prefix.strip() else f"{match.group(1)}; "
    return [Fix(f"Insert `{match.group(1)}` before this statement", (Edit(source, start, start, text),), diagnostic, True)]


def _colon_fixes(diagnostic: Diagnostic) -> list[Fix]:
    span = diagnostic.primary_span
    if span is None:
        return []
    if diagnostic.code is codes.LABEL_WITHOUT_COLON:  # a bare name before `{`: either reading, user's choice
        return [Fix(f"Label the sequence: `{span.text()}:`", (Edit(span.source, span.end, span.end, ":"),), diagnostic),
                Fix(f"Make `{span.text()}` a statement of its own: `{span.text()};`",
                    (Edit(span.source, span.end, span.end, ";"),), diagnostic)]
    if "a label needs a colon" not in (diagnostic.help or ""):
        return []
    return [Fix(f"Add the colon: `{span.text()}:`", (Edit(span.source, span.end, span.end, ":"),), diagnostic, True)]


def _spelling_fixes(diagnostic: Diagnostic) -> list[Fix]:
    match = _DID_YOU_MEAN.search(diagnostic.help or "")
    span = diagnostic.primary_span
    if match is None or span is None:
        return []
    for wrong in re.findall(r"`([A-Za-z_]\w*)`", diagnostic.message):
        hit = re.search(rf"\b{re.escape(wrong)}\b", span.text())
        if hit and wrong != match.group(1):
            edit = Edit(span.source, span.start + hit.start(), span.start + hit.end(), match.group(1))
            return [Fix(f"Change `{wrong}` to `{match.group(1)}`", (edit,), diagnostic, True)]
    return []


def _noqa_fix(diagnostic: Diagnostic) -> list[Fix]:
    span = diagnostic.primary_span
    if span is None or diagnostic.code.id not in _LINT_CODES:
        return []
    source, line = span.source, span.line
    text, end = f"  # noqa: {diagnostic.code.id}", _line_start(source, line) + len(source.line_text(line))
    existing = noqa_codes(source, line)
    listed = _NOQA_LIST.search(source.line_text(line))
    if existing is not None and "*" in existing:
        return []  # a bare `# noqa` suppresses it already
    if existing and listed is not None:
        text, end = f", {diagnostic.code.id}", _line_start(source, line) + listed.end()
    return [Fix(f"Add `# noqa: {diagnostic.code.id}` ({diagnostic.code.slug})", (Edit(source, end, end, text),), diagnostic)]


def fixes(diagnostics: list[Diagnostic], program: Program) -> list[Fix]:
    found = []
    for diagnostic in diagnostics:
        found += _argument_fixes(diagnostic, program) + _insert_fixes(diagnostic, program)
        found += _colon_fixes(diagnostic) + _spelling_fixes(diagnostic) + _noqa_fix(diagnostic)
    return found
