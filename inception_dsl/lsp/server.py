"""The protocol side: a pygls LanguageServer whose handlers ask the feature modules.

Documents are analysed from their unsaved text, `DEBOUNCE` seconds after the last
change (the first analysis on open is immediate), in a worker thread so that a slow
document never blocks the connection; a request waits for the analysis of the text it
was made on. Every handler is guarded: a failure is logged to the client and answered
with nothing, never a dead server."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from inception_dsl.core.version import __version__
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.program import file_key, load_program
from inception_dsl.lsp.analysis import Analysis, Analyzer, norm
from inception_dsl.lsp.lsp_diagnostics import group_by_file, to_lsp, uri_of
from inception_dsl.lsp.positions import Lines

__all__ = ["IncpLanguageServer", "make_server", "DEBOUNCE"]

DEBOUNCE = 0.15  # seconds of quiet after an edit before re-checking
MAX_WORKSPACE_FILES = 2000  # .incp files scanned for importers on rename/references
log = logging.getLogger(__name__)


def path_of(uri: str) -> str:
    path = to_fs_path(uri)
    return os.path.normpath(path) if path else uri


class IncpLanguageServer(LanguageServer):
    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__("inception-dsl", __version__)
        self.analyzer = Analyzer(limits)
        self.debounce = DEBOUNCE
        self.inlay_shapes = False
        self._tasks: dict[str, asyncio.Future] = {}
        self._published: dict[str, set[str]] = {}

    # -- settings: `inlayHints.shapes` (initializationOptions, or the `inception-dsl` section of the settings)
    def apply_settings(self, settings) -> None:
        if isinstance(settings, dict):
            section = settings.get("inception-dsl", settings)
            hints = section.get("inlayHints", {}) if isinstance(section, dict) else {}
            if isinstance(hints, dict) and "shapes" in hints:
                self.inlay_shapes = bool(hints["shapes"])

    @staticmethod
    def path_of(uri: str) -> str:
        return path_of(uri)

    # -- analysis
    @property
    def encoding(self) -> str:
        return str(getattr(self.workspace, "position_encoding", None) or "utf-16")

    def text(self, uri: str) -> str:
        return self.workspace.get_text_document(uri).source

    def lines(self, uri: str) -> Lines:
        return Lines(self.text(uri), self.encoding)

    def schedule(self, uri: str, delay: float) -> None:
        previous = self._tasks.get(uri)
        if previous is not None and not previous.done():
            previous.cancel()
        self._tasks[uri] = asyncio.ensure_future(self._check(uri, delay))

    async def _check(self, uri: str, delay: float) -> Analysis | None:
        if delay:
            await asyncio.sleep(delay)
        try:
            analysis = await self.analysis(uri)
        except Exception as error:  # noqa: BLE001 - a front-end bug must not kill the document's checking
            log.exception("inception-dsl: checking %s failed", uri)
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Error, f"inception-dsl: internal error (a bug) checking {uri}: {type(error).__name__}: {error}"))
            return None
        if analysis is not None:
            self.publish(uri, analysis)
        return analysis

    async def analysis(self, uri: str) -> Analysis | None:
        """The analysis of the document's current text."""
        try:
            text = self.text(uri)
        except Exception:  # noqa: BLE001 - not open
            return None
        loop = asyncio.get_running_loop()
        self.analyzer.roots = self._roots()  # the import policy's project root: the workspace folder
        return await loop.run_in_executor(None, self.analyzer.analyze, path_of(uri), text, self.unsaved())

    def unsaved(self) -> dict[str, str]:
        """The text of every open document by resolved path: imports read it, not the disk."""
        found = {}
        for uri, document in list(self.workspace.text_documents.items()):
            found[file_key(path_of(uri))] = document.source
        return found

    def importers_of(self, uri: str) -> list[str]:
        """Open documents whose last analysis loaded this one (re-checked when it changes)."""
        path = path_of(uri)
        return [other for other in list(self.workspace.text_documents) if other != uri
                and (a := self.analyzer.last(path_of(other))) is not None and a.file(path) is not None]

    def publish(self, uri: str, analysis: Analysis) -> None:
        main = path_of(uri)
        grouped = group_by_file(analysis.diagnostics, main)
        own = [to_lsp(d, self.encoding) for d in grouped.pop(os.path.normpath(main), [])]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, own))
        open_paths = {path_of(u) for u in self.workspace.text_documents}
        others = {uri_of(p): ds for p, ds in grouped.items() if p not in open_paths}
        for other, found in others.items():
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(other, [to_lsp(d, self.encoding) for d in found]))
        for stale in self._published.get(uri, set()) - set(others):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(stale, []))
        self._published[uri] = set(others)
        if analysis.config_error:
            self.window_log_message(types.LogMessageParams(types.MessageType.Warning, analysis.config_error))

    def clear(self, uri: str) -> None:
        for target in {uri} | self._published.pop(uri, set()):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(target, []))
        self.analyzer.forget(path_of(uri))

    # -- what other files say
    def open_analyses(self) -> list[Analysis]:
        found = []
        for uri in list(self.workspace.text_documents):
            analysis = self.analyzer.last(path_of(uri))
            if analysis is not None:
                found.append(analysis)
        return found

    def graphs_for(self, path: str, text: str, own: Analysis) -> list:
        """The graphs that elaborated this file's statements: its own networks, and those
        of open documents that import it with the same text."""
        graphs = list(own.graphs)
        for other in self.open_analyses():
            entry = other.file(path)
            if other is not own and entry is not None and entry[0].text == text:
                graphs.extend(other.graphs)
        return graphs

    def workspace_programs(self) -> tuple[dict, dict]:
        """Every parsed file and, per main file, the files its program loaded: the open
        documents' analyses and the .incp files under the workspace folders."""
        modules, importers = {}, {}
        for analysis in self.open_analyses():
            modules.update((norm(key), entry) for key, entry in analysis.program.files.items())
            importers[norm(analysis.path)] = {norm(key) for key in analysis.program.files}
        for path in self._workspace_files():
            if path in importers:
                continue
            self.analyzer.roots = self._roots()
            program = load_program(path, DiagnosticSink(), limits=self.analyzer.limits_for(path), cache=self.analyzer.cache,
                                   overlay=self.unsaved())
            for key, entry in program.files.items():
                modules.setdefault(norm(key), entry)
            importers[path] = {norm(key) for key in program.files}
        return modules, importers

    def _roots(self) -> list[str]:
        return [path_of(f.uri) for f in self.workspace.folders.values()] or (
            [self.workspace.root_path] if self.workspace.root_path else [])

    def _workspace_files(self) -> list[str]:
        roots = self._roots()
        found = []
        for root in roots:
            for path in sorted(Path(root).rglob("*.incp")):
                if len(found) >= MAX_WORKSPACE_FILES:
                    return found
                if path.is_file() and not any(part.startswith(".") for part in path.parts):
                    found.append(os.path.normpath(str(path)))
        return found


def guarded(handler):
    """Answer None (and log) instead of failing: a bug in one feature must not take the
    server down or flood the client with errors."""

    @functools.wraps(handler)
    async def run(ls: IncpLanguageServer, params):
        try:
            return await handler(ls, params)
        except Exception as error:  # noqa: BLE001 - the server's last line of defence
            log.exception("inception-dsl: %s failed", handler.__name__)
            ls.window_log_message(types.LogMessageParams(types.MessageType.Error,
                                                         f"inception-dsl: {handler.__name__} failed: {type(error).__name__}: {error}"))
            return None

    return run


def make_server(limits: Limits = DEFAULT_LIMITS) -> IncpLanguageServer:
    from inception_dsl.lsp import features

    server = IncpLanguageServer(limits)
    features.register(server, guarded)

    @server.feature(types.INITIALIZE)
    def on_initialize(ls, params: types.InitializeParams):
        ls.apply_settings(params.initialization_options)

    return server
