"""Loaded programs kept by the texts they were read from (`ProgramCache`, `api.PROGRAMS`):
a spec checked again with unchanged files is not loaded again, and its elaboration
templates (block_templates.py) are reused."""

from __future__ import annotations

import threading
from collections import OrderedDict

from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS
from inception_dsl.language.caches.parsed_files import ParseCache
from inception_dsl.language.program import Program, load_program

__all__ = ["ProgramCache"]


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
        self._entries: OrderedDict[tuple, tuple[tuple, Program]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, path, sink: DiagnosticSink, *, text: str | None = None, limits=None) -> Program:
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
