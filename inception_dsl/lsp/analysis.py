"""One document's analysis, as the server keeps it: the program (every parsed file),
the checked graph of each network in the file, and its diagnostics (check errors, or
lint findings once it checks clean, with `# noqa` and `[tool.inception-dsl]` applied).

`Analyzer.analyze(path, text)` is what the server calls after each (debounced) edit.
It re-checks only what changed: an unchanged text whose imports are unchanged on disk
returns the previous analysis; otherwise only files whose text is new are parsed
(language/caches/parsed_files.ParseCache keeps the rest by content hash), then the networks are
elaborated and shape-checked again. Works from unsaved text: `path` only names the
document and anchors its relative imports."""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from inception_dsl.ir import Graph
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import Diagnostic, DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.caches.parsed_files import ParseCache
from inception_dsl.language.program import NO_IMPORTS, Program, file_key, load_program
from inception_dsl.core.source import SourceFile
from inception_dsl.lint.config import ConfigError, LintConfig, find_config, load_config
from inception_dsl.lint.linter import check_networks, lint_findings

__all__ = ["Analysis", "Analyzer", "norm"]


@functools.lru_cache(maxsize=4096)
def norm(path: str) -> str:
    """One spelling per file: imports are named as written (`dir/../blocks/x.incp`),
    documents by their URI's path."""
    return os.path.normpath(path)


@dataclass
class Analysis:
    path: str
    text: str
    program: Program
    graphs: list[Graph]
    diagnostics: list[Diagnostic]
    config_error: str | None = None
    stamps: dict[str, object] = field(default_factory=dict)  # imported file -> mtime or unsaved text when read

    @property
    def source(self) -> SourceFile | None:
        return self.program.main

    @property
    def module(self) -> syntax.Module | None:
        return self.program.main_module

    def file(self, path: str) -> tuple[SourceFile, syntax.Module] | None:
        """The parsed file at `path`, however the import spelled it."""
        return next((entry for key, entry in self.program.files.items() if norm(key) == norm(path)), None)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        return None


def _stamp(path: str, overlay: Mapping[str, str]):
    """What says an imported file changed: its unsaved text when open, else its mtime."""
    unsaved = overlay.get(file_key(path))
    return ("unsaved", unsaved) if unsaved is not None else _mtime(path)


class Analyzer:
    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self.cache = ParseCache()
        self._last: dict[str, Analysis] = {}
        self._parsed: dict[str, Analysis] = {}
        self._configs: dict[tuple[Path, float | None], LintConfig] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.runs = 0  # full re-checks done (tests and the benchmark read it)
        self.roots: list[str] = []  # workspace folders: imports may reach anywhere inside the one holding a file

    def limits_for(self, path: str) -> Limits:
        """The limits, with the workspace folder that holds `path` as the import root
        (docs/hardening.md). A document outside every workspace folder, or one that is not
        a file (`untitled:`), reads no import at all: nothing outside the workspace is read
        for it. With no workspace folder (a single file open), its project is the root."""
        if self.limits.import_root is not None:
            return self.limits
        if not os.path.isabs(path):
            return dataclasses.replace(self.limits, import_root=NO_IMPORTS)
        here = os.path.realpath(path)
        for root in sorted(self.roots, key=len, reverse=True):
            resolved = os.path.realpath(root)
            if os.path.commonpath([here, resolved]) == resolved:
                return dataclasses.replace(self.limits, import_root=resolved)
        return dataclasses.replace(self.limits, import_root=NO_IMPORTS) if self.roots else self.limits

    def _lock(self, path: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def analyze(self, path: str, text: str, overlay: Mapping[str, str] | None = None) -> Analysis:
        """One document at a time per path; documents are analysed independently, so a
        slow one (a spec near the limits) does not hold up the others. `overlay`: the
        unsaved text of other open documents by resolved path (used for imports)."""
        overlay = {k: v for k, v in (overlay or {}).items() if k != file_key(path)}
        with self._lock(path):
            previous = self._last.get(path)
            if previous is not None and previous.text == text and self._unchanged(previous, overlay):
                return previous
            analysis = self._run(path, text, overlay)
            self._last[path] = analysis
            if analysis.module is not None:
                self._parsed[path] = analysis
            return analysis

    def held(self) -> dict[str, int]:
        return {"analyses": len(self._last), "parsed": len(self._parsed), "locks": len(self._locks),
                "parses": len(self.cache)}

    def last(self, path: str) -> Analysis | None:
        return self._last.get(path)

    def last_parsed(self, path: str) -> Analysis | None:
        """The latest analysis of `path` whose text parsed (completion reads its blocks
        while the text being typed does not parse)."""
        return self._parsed.get(path)

    def forget(self, path: str) -> None:
        """Release what a closed document held: its analyses, its parses, its lock."""
        with self._lock(path):
            self._last.pop(path, None)
            self._parsed.pop(path, None)
            self.cache.forget(path)
        with self._guard:
            self._locks.pop(path, None)

    def _unchanged(self, analysis: Analysis, overlay: Mapping[str, str]) -> bool:
        return all(_stamp(p, overlay) == stamp for p, stamp in analysis.stamps.items())

    def _config(self, path: str) -> LintConfig:
        pyproject = find_config(path)
        key = (pyproject, _mtime(str(pyproject)) if pyproject else None)
        if key not in self._configs:
            self._configs[key] = load_config(pyproject)
        return self._configs[key]

    def _run(self, path: str, text: str, overlay: Mapping[str, str]) -> Analysis:
        self.runs += 1
        sink = DiagnosticSink()
        limits = self.limits_for(path)
        program = load_program(path, sink, text=text, limits=limits, cache=self.cache, overlay=overlay)
        graphs: list[Graph] = []
        findings: list[Diagnostic] = []
        config_error = None
        if not sink.has_errors and program.main_module is not None:
            graphs = check_networks(program, sink, limits=self.limits, partial=True)
            if not sink.has_errors:
                try:  # no configuration is read from outside the workspace either
                    config = self._config(path) if limits.import_root != NO_IMPORTS else LintConfig()
                except (ConfigError, OSError) as error:
                    config, config_error = LintConfig(), str(error)
                findings = lint_findings(program, graphs, config)
        stamps = {p: _stamp(p, overlay) for p in program.files if p != path}
        diagnostics = sorted(sink.diagnostics + findings, key=Diagnostic.sort_key)
        return Analysis(path, text, program, graphs, diagnostics, config_error, stamps)
