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
import threading
from typing import Iterator

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from inception_dsl.core.version import __version__
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.program import file_key, load_program
from inception_dsl.lsp.analysis import Analysis, Analyzer, norm
from inception_dsl.lsp.lsp_diagnostics import group_by_file, to_lsp, uri_of
from inception_dsl.lsp.positions import Lines

__all__ = ["IncpLanguageServer", "make_server", "workspace_files", "DEBOUNCE"]

DEBOUNCE = 0.15  # seconds of quiet after an edit before re-checking
MAX_WORKSPACE_FILES = 2000  # .incp files scanned for importers on rename/references
log = logging.getLogger(__name__)


def path_of(uri: str) -> str:
    """The file a `file:` URI names (normalized: `..` resolved); any other URI
    (`untitled:Untitled-1`) is kept as it is, and reads no import (analysis.limits_for)."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return os.path.normpath(path) if path else uri


_DROPPED = object()  # a message answered with an error while it was read


class _Protocol(LanguageServerProtocol):
    """pygls drops a request whose parameters do not fit the method's types (a position
    with line -1 or character "x") without an answer, so the editor waits forever; here it
    is answered with JSON-RPC's Invalid Params error instead."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            ident = data.get("id") if isinstance(data, dict) else None
            if "method" in data and isinstance(ident, (int, str)) and not isinstance(ident, bool):
                method = str(data.get("method"))[:100]
                self._send_response(ident, error=JsonRpcInvalidParams(
                    f"invalid parameters for {method}", data=str(error.__cause__ or error)[:500]).to_response_error())
            return _DROPPED

    def handle_message(self, message):
        if message is not _DROPPED:
            super().handle_message(message)


class IncpLanguageServer(LanguageServer):
    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__("inception-dsl", __version__, protocol_cls=_Protocol)
        self.analyzer = Analyzer(limits)
        self._scan: threading.Event | None = None  # set: the running workspace scan stops
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
        """A closed document: its diagnostics cleared, and everything kept for it released
        (the pending check, its analyses and parses), so that open/close cycles do not grow."""
        task = self._tasks.pop(uri, None)
        if task is not None and not task.done():
            task.cancel()
        for target in {uri} | self._published.pop(uri, set()):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(target, []))
        self.analyzer.forget(path_of(uri))

    def held(self) -> dict[str, int]:
        """How much per-document state the server holds (serverInfo; a closed document holds none)."""
        return {"documents": len(self.workspace.text_documents), "tasks": len(self._tasks),
                "published": len(self._published), **self.analyzer.held()}

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

    async def workspace_programs(self) -> tuple[dict, dict]:
        """Every parsed file and, per main file, the files its program loaded: the open
        documents' analyses and the .incp files under the workspace folders (at most
        MAX_WORKSPACE_FILES, found by a lazy walk). The reading and parsing run in a worker
        thread, so requests go on being answered meanwhile; a newer scan, or the request
        being cancelled, stops this one between two files."""
        modules, importers = {}, {}
        for analysis in self.open_analyses():
            modules.update((norm(key), entry) for key, entry in analysis.program.files.items())
            importers[norm(analysis.path)] = {norm(key) for key in analysis.program.files}
        if self._scan is not None:
            self._scan.set()
        stop = self._scan = threading.Event()
        self.analyzer.roots = self._roots()
        roots, overlay = list(self.analyzer.roots), self.unsaved()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._scan_files, roots, overlay, modules, importers, stop)
        finally:
            stop.set()
        return modules, importers

    def _scan_files(self, roots: list[str], overlay: dict, modules: dict, importers: dict,
                    stop: threading.Event) -> None:
        for path in workspace_files(roots):
            if stop.is_set():
                return
            if path in importers:
                continue
            program = load_program(path, DiagnosticSink(), limits=self.analyzer.limits_for(path),
                                   cache=self.analyzer.cache, overlay=overlay)
            for key, entry in program.files.items():
                modules.setdefault(norm(key), entry)
            importers[path] = {norm(key) for key in program.files}

    def _roots(self) -> list[str]:
        return [path_of(f.uri) for f in self.workspace.folders.values()] or (
            [self.workspace.root_path] if self.workspace.root_path else [])

    def inside_workspace(self, path: str) -> bool:
        """Whether a file lies inside a workspace folder, symlinks resolved (rename edits
        nothing else); with no folder open, any file does."""
        roots = self._roots()
        if not roots:
            return os.path.isabs(path)
        here = os.path.realpath(path)
        return any(os.path.commonpath([here, os.path.realpath(root)]) == os.path.realpath(root) for root in roots)


def workspace_files(roots: list[str], limit: int = MAX_WORKSPACE_FILES) -> Iterator[str]:
    """The .incp files under the folders, found lazily (a folder of `/` costs no more than
    `limit` files): hidden directories skipped, symlinked directories not entered, and a
    symlinked file only when it resolves inside its folder."""
    count = 0
    for root in roots:
        real_root = os.path.realpath(root)
        for directory, subdirectories, files in os.walk(root, followlinks=False):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for name in sorted(files):
                if not name.endswith(".incp") or name.startswith("."):
                    continue
                path = os.path.normpath(os.path.join(directory, name))
                real = os.path.realpath(path)
                if os.path.commonpath([real, real_root]) != real_root or not os.path.isfile(real):
                    continue
                yield path
                count += 1
                if count >= limit:
                    return


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
