"""Parsed files kept by content: `ParseCache` maps (path, SHA-256 of the text) to the
parsed module and the diagnostics its parse emitted, so a long-lived process (the
language server, a notebook) re-parses only the files whose text changed.
`program.load_program(..., cache=ParseCache())` uses it for the main file and every import.

A hit returns the SourceFile the module was parsed from (its spans point into it), and
replays the parse's diagnostics into the caller's sink. The cache is bounded in entries
and in characters of text (least recently used entries go first: a language server that
sees many large documents stays within a few hundred MB), `forget` drops a closed
document's parses, and it is safe to share between threads."""

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
    def __init__(self, max_entries: int = 256, max_chars: int = 32 * 1024 * 1024):
        self.max_entries, self.max_chars = max_entries, max_chars  # a parsed character costs ~10 bytes
        self.chars = 0
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
                if key not in self._entries:
                    self.chars += len(source.text)
                self._entries[key] = entry
                while len(self._entries) > 1 and (len(self._entries) > self.max_entries or self.chars > self.max_chars):
                    self.chars -= len(self._entries.popitem(last=False)[1][0].text)
        for diagnostic in entry[2]:
            sink.add(diagnostic)
        return entry[0], entry[1]

    def forget(self, path: str) -> None:
        """Drop every parse of the file at `path` (a document closed in the editor)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == path]:
                self.chars -= len(self._entries.pop(key)[0].text)
