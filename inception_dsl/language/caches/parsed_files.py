"""Parsed files kept by content: `ParseCache` maps (path, SHA-256 of the text) to the
parsed module and the diagnostics its parse emitted, so a long-lived process (the
language server, a notebook) re-parses only the files whose text changed.
`program.load_program(..., cache=ParseCache())` uses it for the main file and every import.

A hit returns the SourceFile the module was parsed from (its spans point into it), and
replays the parse's diagnostics into the caller's sink. The cache is bounded (least
recently used entries go first) and safe to share between threads."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import Diagnostic, DiagnosticSink
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile

if TYPE_CHECKING:
    from inception_dsl.language.program import Program

__all__ = ["ParseCache", "ProgramCache"]


class ParseCache:
    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple[str, str], tuple[SourceFile, syntax.Module | None, list[Diagnostic]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def parse(self, source: SourceFile, sink: DiagnosticSink) -> tuple[SourceFile, syntax.Module | None]:
        """`parse(source, sink)`, or the remembered result for the same path and text."""
        key = (source.path, hashlib.sha256(source.text.encode("utf-8", "surrogatepass")).hexdigest())
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if entry is None:
            own = DiagnosticSink()
            module = parse(source, own)
            entry = (source, module, own.diagnostics)
            with self._lock:
                self.misses += 1
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        for diagnostic in entry[2]:
            sink.add(diagnostic)
        return entry[0], entry[1]


class ProgramCache:
    """Loaded programs kept by the texts they were read from, for processes that check one
    spec many times (`api.analyze` in a notebook, a script trying variants): `load` reads
    the spec and its imports again through a `ParseCache` (so every read, import resolution
    and policy check runs again; only parsing is skipped) and, when that yields exactly the
    parsed files of the last load of this path, hands back the earlier `Program`, and with
    it the elaboration templates kept on it (language/caches/block_templates.py). Only loads without any
    diagnostic are kept; bounded (least recently used entries go first); thread-safe."""

    def __init__(self, max_entries: int = 16):
        self.max_entries = max_entries
        self.parses = ParseCache()
        self.hits = 0
        self._entries: OrderedDict[tuple, tuple[tuple, "Program"]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, path, sink: DiagnosticSink, *, text: str | None = None, limits=None) -> "Program":
        from inception_dsl.core.limits import DEFAULT_LIMITS
        from inception_dsl.language.program import load_program

        limits = limits or DEFAULT_LIMITS
        own = DiagnosticSink()
        program = load_program(path, own, text=text, limits=limits, cache=self.parses)
        for diagnostic in own.diagnostics:
            sink.add(diagnostic)
        if own.diagnostics or program.main is None:
            return program
        key = (str(path), limits)
        # a parse-cache hit returns the very module parsed before: identity says "same text"
        fingerprint = (program.root, tuple((name, id(module)) for name, (_, module) in program.files.items()))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == fingerprint:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            self._entries[key] = (fingerprint, program)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return program
