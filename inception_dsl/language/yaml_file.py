"""Reading a YAML file (parameter files, sweep grids) without trusting it.

* Only regular files are read, at most `Limits.max_yaml_bytes` (core/files.py: a
  directory, a FIFO or a device such as /dev/zero is refused from `fstat` of the opened
  descriptor).
* The text must be UTF-8; the first bad byte is reported at its line and column.
* The document is *composed* (YAML's node tree, with marks) by PyYAML's SafeLoader, never
  constructed: no tag can run code, and only the tags of `yaml.safe_load`'s core schema
  for strings, numbers, booleans, null, sequences and mappings are accepted
  (`!!python/...`, `!!binary`, `!!timestamp`, sets and merge keys are refused where they stand).
* Plain scalars are resolved by YAML 1.2's core schema, not PyYAML's YAML 1.1 rules: `1:20`
  is the string "1:20" (1.1 reads 80, base 60), `yes`/`no`/`on`/`off` are strings (1.1:
  booleans), `017` is seventeen (1.1: octal 15), `1_000` is a string; only `true`/`false`,
  `null`/`~`, decimal, `0o`/`0x` integers and decimal floats (`.inf`, `.nan`) are typed.
  An explicitly tagged scalar (`!!int 1:20`) must have its tag's core form, else it is
  refused where it stands.
* Nesting is bounded by `Limits.max_nesting`, checked before each level is composed (so
  `[[[[...` cannot exhaust the Python stack), and the *expanded* size of the document,
  an alias counting as the whole node it stands for, by `MAX_YAML_NODES`: a "billion
  laughs" document is refused at the alias that passes the bound, after composing a
  few thousand nodes. An alias to a node that contains it is refused too.

Every problem is a diagnostic located in the YAML file; nothing raises."""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from inception_dsl.core import codes
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.files import FileRefused, read_regular
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.core.source import SourceFile, Span

__all__ = ["YamlDocument", "read_yaml", "parse_yaml", "scalar_value", "span_of", "MAX_YAML_NODES", "kind_of"]

MAX_YAML_NODES = 10_000  # nodes after alias expansion; a parameter file has a few dozen
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {_CORE + "seq", _CORE + "map"}
# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), tag -> form
_CORE_FORMS = {tag: re.compile(rf"(?:{form})\Z") for tag, form in (
    (_CORE + "null", r"~|null|Null|NULL|"),
    (_CORE + "bool", r"true|True|TRUE|false|False|FALSE"),
    (_CORE + "int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"),
    (_CORE + "float", r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"),
)}


@dataclass
class YamlDocument:
    source: SourceFile
    root: Node | None  # None for an empty document


def span_of(source: SourceFile, node: Node) -> Span:
    start = node.start_mark.index
    end = max(start, node.end_mark.index)
    if isinstance(node, (MappingNode, SequenceNode)) and end > start:
        end = start + 1  # point at where the collection starts, not at all of it
    return Span(source, start, end)


def kind_of(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a scalar"


def read_yaml(path: str | Path, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> YamlDocument | None:
    """Read and compose a YAML file; None after emitting a located diagnostic."""
    display = str(path)
    anchor = Span(SourceFile(display, ""), 0, 0)
    data = _read_regular_file(display, anchor, sink, limits.max_yaml_bytes)
    if data is None:
        return None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0  # not text: columns count after it
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        before = SourceFile(display, data[bom : bom + error.start].decode("utf-8", "replace"))
        where = bom + error.start
        sink.emit(codes.BAD_ENCODING, f"`{display}` is not UTF-8 text (byte {where} is {data[where]:#04x})",
                  Span(before, len(before.text), len(before.text)), "this byte", help="save the file as UTF-8")
        return None
    return parse_yaml(text, display, sink, limits)


def _read_regular_file(display: str, anchor: Span, sink: DiagnosticSink, max_bytes: int) -> bytes | None:
    try:
        return read_regular(display, max_bytes)
    except FileRefused as refused:
        if refused.reason == "size":
            sink.emit(codes.FILE_TOO_LARGE, refused.message, anchor, help="raise the limit with --max-yaml-bytes")
        else:
            sink.emit(codes.FILE_NOT_FOUND, refused.message, anchor,
                      help="give the path of a .yaml file" if refused.reason == "kind" else None)
        return None


class _Refused(Exception):
    def __init__(self, code, message: str, mark, help: str | None = None):
        super().__init__(message)
        self.code, self.message, self.mark, self.help = code, message, mark, help


def _core_resolvers() -> dict:
    """PyYAML's implicit-resolver table (first character -> [(tag, regexp)]) for the
    YAML 1.2 core schema, in the order that decides: null, bool, int, float."""
    table: dict = {}
    for tag, form in _CORE_FORMS.items():
        for first in [*"~nNtTfF0123456789-+.", None]:  # None: the empty scalar
            table.setdefault(first, []).append((tag, form))
    table["<"] = [(_CORE + "merge", re.compile(r"<<\Z"))]  # not core: kept so that `_tags_ok` refuses it
    return table


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth and expanded size as it goes, and whose
    resolver types plain scalars by the YAML 1.2 core schema."""

    yaml_implicit_resolvers = _core_resolvers()

    def __init__(self, text: str, max_depth: int, max_nodes: int):
        super().__init__(text)
        self._max_depth, self._max_nodes = max_depth, max_nodes
        self._depth = self._total = 0
        self._weights: dict[int, int] = {}

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                weight = self._weights.get(id(node))
                if weight is None:
                    raise _Refused(codes.LIMIT_EXCEEDED, f"the alias `*{event.anchor}` refers to a node that contains it",
                                   event.start_mark, help="YAML parameter files cannot be recursive")
                self._grow(weight, event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self._max_depth:
            raise _Refused(codes.LIMIT_EXCEEDED, f"YAML nests deeper than the limit of {self._max_depth}",
                           self.peek_event().start_mark, help="raise the limit with --max-nesting")
        before = self._total
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._grow(1, node.start_mark)
        self._weights[id(node)] = self._total - before
        return node

    def _grow(self, weight: int, mark) -> None:
        self._total += weight
        if self._total > self._max_nodes:
            raise _Refused(codes.LIMIT_EXCEEDED,
                           f"the YAML document expands to more than {self._max_nodes} values (aliases counted in full)",
                           mark, help="write the values out; aliases that multiply a document are refused")


def parse_yaml(text: str, display: str, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> YamlDocument | None:
    """Compose one YAML document from text, bounded and checked for unsafe tags."""
    source = SourceFile(display, text)
    loader = None
    try:
        loader = _BoundedLoader(text, limits.max_nesting, MAX_YAML_NODES)  # the reader checks characters here
        root = loader.get_single_node()
    except _Refused as refused:
        sink.emit(refused.code, refused.message, _mark_span(source, refused.mark), help=refused.help)
        return None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(str(p) for p in (error.context, error.problem) if p) or "not valid YAML"
        sink.emit(codes.SYNTAX, f"`{display}` is not valid YAML: {message}", _mark_span(source, mark), "here")
        return None
    except yaml.reader.ReaderError as error:
        at = Span(source, error.position, error.position + 1)
        char = error.character if isinstance(error.character, int) else ord(str(error.character)[:1] or "\0")
        sink.emit(codes.BAD_ENCODING, f"`{display}` contains the character U+{char:04X}, which YAML does not allow",
                  at, "here", help="YAML text cannot contain control characters other than tab and newline")
        return None
    except yaml.YAMLError as error:  # any other refusal of the YAML library
        sink.emit(codes.SYNTAX, f"`{display}` is not valid YAML: {error}", Span(source, 0, 0))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    document = YamlDocument(source, root)
    return document if root is None or _tags_ok(document, sink) else None


def _mark_span(source: SourceFile, mark) -> Span:
    if mark is None:
        return Span(source, 0, 0)
    index = min(mark.index, len(source.text))
    return Span(source, index, min(index + 1, len(source.text)))


def _tags_ok(document: YamlDocument, sink: DiagnosticSink) -> bool:
    """Every node's tag is in the safe core schema (visiting each shared node once)."""
    seen: set[int] = set()
    stack = [document.root]
    ok = True
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        allowed = _SCALAR_TAGS if isinstance(node, ScalarNode) else _COLLECTION_TAGS
        if node.tag in _CORE_FORMS and not _CORE_FORMS[node.tag].fullmatch(node.value):
            tag = node.tag.replace(_CORE, "!!")
            sink.emit(codes.BAD_ARG_TYPE, f"`{node.value}` is not written as YAML 1.2 writes a `{tag}`",
                      span_of(document.source, node), "not this type",
                      help="write it as the core schema does (true/false, 17, 0o17, 0x11, 1.5, .inf, null), "
                      "or drop the tag")
            ok = False
            continue
        if node.tag not in allowed:
            tag = node.tag.replace(_CORE, "!!")
            sink.emit(codes.BAD_ARG_TYPE, f"the YAML tag `{tag}` is not allowed here", span_of(document.source, node),
                      "unsupported tag", help="only strings, numbers, booleans, null, lists and mappings are read; "
                      "quote the value to make it a string")
            ok = False
            continue
        if isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))
    return ok


def scalar_value(node: ScalarNode) -> Any:
    """The value of a scalar node whose tag `_tags_ok` accepted, by the YAML 1.2 core
    schema: str, int, float, bool or None (no constructor of PyYAML's runs)."""
    tag, text = node.tag.replace(_CORE, ""), node.value
    if tag == "null":
        return None
    if tag == "bool":
        return text.lower() == "true"
    if tag == "int":
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)
    if tag == "float":
        lowered = text.lower().lstrip("+")
        if lowered in (".inf", "-.inf", ".nan"):
            return {".inf": math.inf, "-.inf": -math.inf}.get(lowered, math.nan)
        return float(text)
    return text
