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

from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import Diagnostic, DiagnosticSink
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile

__all__ = ["ParseCache"]


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
