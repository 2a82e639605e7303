"""The LSP methods the server answers, each a few lines that ask a feature module."""

from __future__ import annotations

from lsprotocol import types as t
from pygls.exceptions import JsonRpcException

from inception_dsl.core.source import Span
from inception_dsl.lsp import actions, completion, hints, hover, navigation, symbols
from inception_dsl.lsp.analysis import norm
from inception_dsl.lsp.lsp_diagnostics import to_lsp, uri_of
from inception_dsl.lsp.positions import span_range

__all__ = ["register", "rename", "code_actions"]

REQUEST_FAILED = -32803  # LSP's ResponseError code for a request that cannot be done


def _location(ls, target) -> t.Location:
    if isinstance(target, str):  # a file
        return t.Location(uri_of(target), t.Range(t.Position(0, 0), t.Position(0, 0)))
    return t.Location(uri_of(target.path), span_range(target, ls.encoding))


async def _fresh(ls, uri: str):
    """The current text's analysis, and its main module (None while it does not parse)."""
    analysis = await ls.analysis(uri)
    return analysis, (analysis.module if analysis is not None else None)


def _sync(ls) -> None:
    feature = ls.feature

    @feature(t.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls, params: t.DidOpenTextDocumentParams):
        ls.schedule(params.text_document.uri, 0)

    @feature(t.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls, params: t.DidChangeTextDocumentParams):
        for uri in [params.text_document.uri] + ls.importers_of(params.text_document.uri):
            ls.schedule(uri, ls.debounce)

    @feature(t.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls, params: t.DidSaveTextDocumentParams):
        for uri in list(ls.workspace.text_documents):  # files importing the saved one see the change
            ls.schedule(uri, 0)

    @feature(t.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls, params: t.DidCloseTextDocumentParams):
        ls.clear(params.text_document.uri)

    @feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls, params: t.DidChangeConfigurationParams):
        ls.apply_settings(params.settings)


def _reading(ls, guarded) -> None:
    feature = ls.feature

    @feature(t.TEXT_DOCUMENT_HOVER)
    @guarded
    async def on_hover(ls, params: t.HoverParams):
        analysis, module = await _fresh(ls, params.text_document.uri)
        if module is None:
            return None
        lines = ls.lines(params.text_document.uri)
        graphs = ls.graphs_for(analysis.path, analysis.text, analysis)
        found = hover.hover_text(analysis.program, module, lines.offset(params.position), graphs)
        if found is None:
            return None
        return t.Hover(t.MarkupContent(t.MarkupKind.Markdown, found[0]), lines.range(found[1].start, found[1].end))

    @feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded
    async def on_symbols(ls, params: t.DocumentSymbolParams):
        _, module = await _fresh(ls, params.text_document.uri)
        return symbols.document_symbols(module, ls.lines(params.text_document.uri)) if module else []

    @feature(t.TEXT_DOCUMENT_FOLDING_RANGE)
    @guarded
    async def on_folding(ls, params: t.FoldingRangeParams):
        _, module = await _fresh(ls, params.text_document.uri)
        return symbols.folding_ranges(module, ls.lines(params.text_document.uri)) if module else []

    @feature(t.TEXT_DOCUMENT_INLAY_HINT)
    @guarded
    async def on_inlay_hint(ls, params: t.InlayHintParams):
        if not ls.inlay_shapes:
            return []
        analysis, module = await _fresh(ls, params.text_document.uri)
        if module is None:
            return []
        lines = ls.lines(params.text_document.uri)
        graphs = ls.graphs_for(analysis.path, analysis.text, analysis)
        return hints.inlay_hints(module, graphs, lines, lines.offset(params.range.start), lines.offset(params.range.end))


def _navigating(ls, guarded) -> None:
    feature = ls.feature

    @feature(t.TEXT_DOCUMENT_DEFINITION)
    @guarded
    async def on_definition(ls, params: t.DefinitionParams):
        analysis, module = await _fresh(ls, params.text_document.uri)
        if module is None:
            return None
        offset = ls.lines(params.text_document.uri).offset(params.position)
        target = navigation.definition(analysis.program, analysis.path, module, offset)  # honours the import policy
        return _location(ls, target) if target is not None else None

    @feature(t.TEXT_DOCUMENT_REFERENCES)
    @guarded
    async def on_references(ls, params: t.ReferenceParams):
        analysis, module = await _fresh(ls, params.text_document.uri)
        found = navigation.symbol_at(module, ls.lines(params.text_document.uri).offset(params.position)) if module else None
        if found is None:
            return None
        kind, name, _, body = found
        if kind == "label":
            return [_location(ls, s) for s in navigation.rename_spans(kind, name, body, None, {}, {})]
        definition = analysis.program.definitions.get(name)
        modules, importers = await ls.workspace_programs()
        spans = navigation.references(name, norm(definition.span.path) if definition else None, modules, importers,
                                      declaration=params.context.include_declaration)
        return [_location(ls, s) for s in spans]

    @feature(t.TEXT_DOCUMENT_PREPARE_RENAME)
    @guarded
    async def on_prepare_rename(ls, params: t.PrepareRenameParams):
        analysis, module = await _fresh(ls, params.text_document.uri)
        found = navigation.symbol_at(module, ls.lines(params.text_document.uri).offset(params.position)) if module else None
        if found is None or (found[0] == "block" and found[1] not in analysis.program.definitions):
            return None
        return t.PrepareRenamePlaceholder(span_range(found[2], ls.encoding), found[1])

    @feature(t.TEXT_DOCUMENT_RENAME)
    async def on_rename(ls, params: t.RenameParams):
        try:
            return await rename(ls, params)
        except navigation.RenameError as error:
            raise JsonRpcException(str(error), REQUEST_FAILED) from None


def _editing(ls, guarded) -> None:
    feature = ls.feature

    @feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=["(", ",", " ", "="]))
    @guarded
    async def on_completion(ls, params: t.CompletionParams):
        uri = params.text_document.uri
        analysis = await ls.analysis(uri)
        good = ls.analyzer.last_parsed(analysis.path) if analysis is not None else None
        definitions = dict(good.program.definitions) if good is not None else {}
        items = completion.complete(ls.text(uri), ls.lines(uri).offset(params.position), definitions)
        return t.CompletionList(is_incomplete=False, items=items)

    @feature(t.TEXT_DOCUMENT_FORMATTING)
    @guarded
    async def on_formatting(ls, params: t.DocumentFormattingParams):
        uri = params.text_document.uri
        return symbols.format_edits(ls.text(uri), ls.path_of(uri))

    @feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
    @guarded
    async def on_code_action(ls, params: t.CodeActionParams):
        return await code_actions(ls, params)


SERVER_INFO = "inception-dsl.serverInfo"


def _commands(ls) -> None:
    @ls.command(SERVER_INFO)
    def server_info(ls, *args):
        """What the server holds, for status lines and tests: version, the parse cache,
        how many re-checks ran, and whether anything imported torch (nothing should)."""
        import sys

        from inception_dsl.core.version import __version__

        cache = ls.analyzer.cache
        return {"version": __version__, "torch_imported": "torch" in sys.modules, "rechecks": ls.analyzer.runs,
                "parse_cache": {"entries": len(cache), "hits": cache.hits, "misses": cache.misses, "chars": cache.chars},
                "held": ls.held()}


def register(ls, guarded) -> None:
    _commands(ls)
    _sync(ls)
    _reading(ls, guarded)
    _navigating(ls, guarded)
    _editing(ls, guarded)


async def rename(ls, params: t.RenameParams) -> t.WorkspaceEdit:
    analysis, module = await _fresh(ls, params.text_document.uri)
    if module is None:
        raise navigation.RenameError("the file has syntax errors: fix them before renaming")
    found = navigation.symbol_at(module, ls.lines(params.text_document.uri).offset(params.position))
    if found is None:
        raise navigation.RenameError("nothing to rename here (a block or a label)")
    kind, name, _, body = found
    navigation.check_new_name(kind, params.new_name)
    if kind == "block" and params.new_name in analysis.program.definitions:
        raise navigation.RenameError(f"`{params.new_name}` is already defined")
    definition = analysis.program.definitions.get(name)
    modules, importers = await ls.workspace_programs() if kind == "block" else ({}, {})
    spans = navigation.rename_spans(kind, name, body, norm(definition.span.path) if definition else None, modules, importers)
    changes: dict[str, list[t.TextEdit]] = {}
    for span in spans:
        if span.path != analysis.path and not ls.inside_workspace(span.path):
            continue  # never an edit outside the workspace folders (a symlink out of them)
        changes.setdefault(uri_of(span.path), []).append(t.TextEdit(span_range(span, ls.encoding), params.new_name))
    return t.WorkspaceEdit(changes=changes)


async def code_actions(ls, params: t.CodeActionParams) -> list[t.CodeAction]:
    analysis = await ls.analysis(params.text_document.uri)
    if analysis is None:
        return []
    lines = ls.lines(params.text_document.uri)
    start, end = lines.offset(params.range.start), lines.offset(params.range.end)
    wanted = [d for d in analysis.diagnostics if d.primary_span is not None and d.primary_span.path == analysis.path
              and d.primary_span.start <= end and start <= d.primary_span.end]
    found = []
    for fix in actions.fixes(wanted, analysis.program):
        changes: dict[str, list[t.TextEdit]] = {}
        for edit in fix.edits:
            where = span_range(Span(edit.source, edit.start, edit.end), ls.encoding)
            changes.setdefault(uri_of(edit.source.path), []).append(t.TextEdit(where, edit.text))
        found.append(t.CodeAction(title=fix.title, kind=t.CodeActionKind.QuickFix, is_preferred=fix.preferred or None,
                                  diagnostics=[to_lsp(fix.diagnostic, ls.encoding)], edit=t.WorkspaceEdit(changes=changes)))
    return found
