"""Completion from the text before the cursor (which, while typing, rarely parses):
labels after `from`, keyword arguments of the layer or block being called (and the
parameters in scope as values), or, at the start of a statement, layers with their
signatures, blocks (imported ones too), keywords and the parameters in scope.

Blocks come from the last analysis whose file parsed (imports included) and from the
definitions written in the current text; the layer table from signatures.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

from inception_dsl.core import syntax
from inception_dsl.core.syntax import BUILTIN_NAMES
from inception_dsl.language.parse import KEYWORDS
from inception_dsl.lsp.signatures import Signature, block_signature, layer_names, layer_signature
from inception_dsl.ops.activations import ACTIVATIONS

__all__ = ["complete", "Context", "context_at"]

_HEADER = re.compile(r"\b(block|network)\s+([A-Za-z_]\w*)\s*(?:\(([^()]*)\))?\s*\{")
_LABEL = re.compile(r"(?:^|[;{\n])\s*([A-Za-z_]\w*)\s*:(?!=)")
_FROM = re.compile(r"\bfrom\s+(\w*)$")
_IDENT_BEFORE = re.compile(r"([A-Za-z_]\w*)\s*$")
_STATEMENT_KEYWORDS = ("concat", "reduction", "residual", "sum", "product", "split", "input", "output")


@dataclass
class Context:
    kind: str  # "from" | "argument" | "value" | "statement"
    callee: str | None = None
    scope_params: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    written: tuple[str, ...] = ()  # keyword arguments already in the call
    keyword: str = ""  # the keyword whose value is being typed (`act` in `conv(8, act=`)


def _enclosing_header(text: str, offset: int) -> re.Match | None:
    last = None
    for match in _HEADER.finditer(text, 0, offset):
        last = match
    return last


def _params(header: re.Match | None) -> tuple[str, ...]:
    if header is None or not header.group(3):
        return ()
    names = (part.split("=")[0].strip() for part in header.group(3).split(","))
    return tuple(n for n in names if n.isidentifier())


def _open_call(before: str) -> tuple[str, str] | None:
    """(callee, text of its arguments so far) when the cursor is inside `name(...`."""
    depth = 0
    for index in range(len(before) - 1, -1, -1):
        char = before[index]
        if char in "{};":
            return None
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                match = _IDENT_BEFORE.search(before, 0, index)
                return (match.group(1), before[index + 1:]) if match else None
            depth -= 1
    return None


def context_at(text: str, offset: int) -> Context:
    before = text[:offset]
    header = _enclosing_header(text, offset)
    params = _params(header)
    body = before[header.end():] if header else before
    if _FROM.search(before.rsplit("\n", 1)[-1]):
        return Context("from", scope_params=params, labels=tuple(dict.fromkeys(_LABEL.findall(body))))
    opened = _open_call(before)
    if opened is not None:
        callee, args = opened
        written = tuple(re.findall(r"([A-Za-z_]\w*)\s*=", args))
        current = args.rsplit(",", 1)[-1]
        kind = "value" if "=" in current else "argument"
        return Context(kind, callee, params, written=written, keyword=current.split("=")[0].strip() if kind == "value" else "")
    return Context("statement", scope_params=params)


def _signature_of(name: str, definitions: dict[str, syntax.BlockDef]) -> Signature | None:
    layer = layer_signature(name)
    if layer is not None:
        return layer
    return block_signature(definitions[name]) if name in definitions else None


def _item(label: str, kind, detail: str = "", doc: str = "", insert: str | None = None, sort: str = "1"):
    return types.CompletionItem(label=label, kind=kind, detail=detail or None,
                                documentation=types.MarkupContent(types.MarkupKind.Markdown, doc) if doc else None,
                                insert_text=insert, sort_text=f"{sort}{label}")


def complete(text: str, offset: int, definitions: dict[str, syntax.BlockDef]) -> list[types.CompletionItem]:
    ctx = context_at(text, offset)
    K = types.CompletionItemKind
    params = [_item(p, K.Variable, "parameter in scope", sort="0") for p in ctx.scope_params]
    params += [_item(b, K.Variable, "the shape of the block's input", sort="0") for b in BUILTIN_NAMES
               if b not in ctx.scope_params]
    if ctx.kind == "from":
        return [_item(label, K.Reference, "label") for label in ctx.labels] + [
            _item(syntax.INPUT_LABEL, K.Keyword, "the input of the sequence this statement stands in", sort="1")]
    if ctx.keyword == "act" or (ctx.callee == "act" and ctx.kind == "argument"):
        return [_item(a.name, K.EnumMember, f"activation ({a.label})", sort="0") for a in ACTIVATIONS.values()] + params
    if ctx.kind in ("argument", "value"):
        sig = _signature_of(ctx.callee or "", definitions)
        if ctx.kind == "value" or sig is None:
            flags = list(sig.flags) if sig is not None else []
            return params + [_item(f, K.EnumMember, "flag") for f in flags]
        keywords = [_item(f"{name}=", K.Property, f"default {default}" if default is not None else "required",
                          insert=f"{name}=", sort="0")
                    for name, default in sig.params if name not in ctx.written]
        flags = [_item(f, K.EnumMember, f"flag of {sig.name}", sort="2") for f in sig.flags]
        return keywords + flags + params
    items = []
    for name in layer_names():
        sig = layer_signature(name)
        items.append(_item(name, K.Function, sig.label(), sig.summary, sort="1"))
    for name, definition in sorted(definitions.items()):
        if definition.kind == "block":
            sig = block_signature(definition)
            where = definition.span.source.path
            items.append(_item(name, K.Class, sig.label(), (sig.summary + "\n\n" if sig.summary else "") + f"from `{where}`", sort="0"))
    items += [_item(k, K.Keyword, sort="3") for k in _STATEMENT_KEYWORDS if k in KEYWORDS]
    return items + params


def local_definitions(module: syntax.Module | None) -> dict[str, syntax.BlockDef]:
    return {d.name: d for d in module.definitions} if module is not None else {}
