"""The language server end to end: the real `inception-dsl lsp` process driven over
stdio by pytest-lsp's client, as an editor would. One server for the module."""

from __future__ import annotations

import asyncio
import random
import shutil
import sys

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from inception_dsl.language.fmt import fmt
from inception_dsl.lsp.lsp_diagnostics import uri_of
from inception_dsl.lsp.positions import Lines

from .conftest import SPECS
from .fuzzing import mutate

pytestmark = pytest.mark.asyncio(loop_scope="module")

BROKEN = """\
block reduce_a {
  reduction {
    conv(384, 3x3, stride=2)
    maxpool(3x3, stride=2, valid)
  }
}

network demo {
  input 384x35x35
  reduce_a
}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp")
    shutil.copytree(SPECS / "blocks", root / "blocks")
    shutil.copy(SPECS / "v4.incp", root / "v4.incp")
    return root


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "inception_dsl", "lsp", "--debounce", "0.02",
                                                                           "--max-nodes", "20000"]))
async def client(lsp_client: LanguageClient, workdir):
    _server["init"] = await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=uri_of(str(workdir)),
        workspace_folders=[t.WorkspaceFolder(uri_of(str(workdir)), "lsp")]))
    yield
    await lsp_client.shutdown_session()


_versions: dict[str, int] = {}
_server: dict = {}


async def open_doc(client: LanguageClient, path, text: str | None = None) -> str:
    uri = uri_of(str(path))
    if text is None:
        text = path.read_text(encoding="utf-8")
    client.diagnostics.pop(uri, None)
    _versions[uri] = 1
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "incp", 1, text)))
    return uri


def change_doc(client: LanguageClient, uri: str, text: str) -> None:
    client.diagnostics.pop(uri, None)
    _versions[uri] += 1
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        t.VersionedTextDocumentIdentifier(uri=uri, version=_versions[uri]), [t.TextDocumentContentChangeWholeDocument(text)]))


async def diagnostics(client: LanguageClient, uri: str, timeout: float = 20.0) -> list[t.Diagnostic]:
    async def wait():
        while uri not in client.diagnostics:
            await asyncio.sleep(0.01)
        return client.diagnostics[uri]

    return await asyncio.wait_for(wait(), timeout)


def position(text: str, needle: str, delta: int = 0) -> t.Position:
    return Lines(text).position(text.index(needle) + delta)


def apply(text: str, edits: list[t.TextEdit]) -> str:
    lines = Lines(text)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:lines.offset(edit.range.start)] + edit.new_text + text[lines.offset(edit.range.end):]
        lines = Lines(text)
    return text


async def test_initialize_announces_the_features(client: LanguageClient):
    caps = _server["init"].capabilities
    assert _server["init"].server_info.name == "inception-dsl"
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.rename_provider and caps.document_formatting_provider and caps.inlay_hint_provider
    assert "(" in caps.completion_provider.trigger_characters
    assert list(caps.code_action_provider.code_action_kinds) == [t.CodeActionKind.QuickFix]


async def test_server_info_and_no_torch_in_the_server(client, workdir):
    text = (workdir / "v4.incp").read_text()
    uri = await open_doc(client, workdir / "v4.incp")
    await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), position(text, "inception_a x4", 3)))
    info = await client.workspace_execute_command_async(t.ExecuteCommandParams("inception-dsl.serverInfo"))
    assert info["torch_imported"] is False and info["rechecks"] >= 1
    assert info["parse_cache"]["misses"] >= 2  # the spec and its import


async def test_hover_in_a_library_shows_the_shapes_of_an_importer(client, workdir):
    (workdir / "sub").mkdir(exist_ok=True)
    main = 'import "../blocks/inception_v4.incp"\nnetwork n3 {\n  input 384x17x17\n  inception_a x2\n}\n'
    (workdir / "sub" / "main3.incp").write_text(main)
    library = workdir / "blocks" / "inception_v4.incp"
    lib_uri = await open_doc(client, library)
    main_uri = await open_doc(client, workdir / "sub" / "main3.incp")
    assert list(await diagnostics(client, main_uri)) == []
    text = library.read_text()
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(lib_uri), position(text, "conv(96, 1x1)", 1)))
    assert "`inception_a.1.branch0`: 384x17x17 → 96x17x17" in hover.contents.value  # from sub/main3.incp


async def test_e201_at_its_range_with_related_information(client, workdir):
    uri = await open_doc(client, workdir / "broken.incp", BROKEN)
    found = await diagnostics(client, uri)
    assert [d.code for d in found] == ["E201"]
    d = found[0]
    assert d.range == t.Range(t.Position(1, 2), t.Position(4, 3))  # `reduction { ... }`
    assert d.severity == t.DiagnosticSeverity.Error and "help: `pad=valid` on the conv" in d.message
    related = sorted(d.related_information, key=lambda r: r.location.range.start.line)
    assert [(r.location.uri, r.location.range) for r in related] == [
        (uri, t.Range(t.Position(2, 4), t.Position(2, 28))), (uri, t.Range(t.Position(3, 4), t.Position(3, 33)))]
    assert "384x18x18" in related[0].message and "384x17x17" in related[1].message


async def test_pad_valid_code_action_clears_the_error(client, workdir):
    uri = await open_doc(client, workdir / "fixme.incp", BROKEN)
    found = await diagnostics(client, uri)
    actions = await client.text_document_code_action_async(t.CodeActionParams(
        t.TextDocumentIdentifier(uri), found[0].range, t.CodeActionContext(found)))
    chosen = next(a for a in actions if "`pad=valid`" in a.title)
    fixed = apply(BROKEN, chosen.edit.changes[uri])
    assert "conv(384, 3x3, stride=2, pad=valid)" in fixed
    change_doc(client, uri, fixed)
    assert list(await diagnostics(client, uri)) == []


async def test_hover_shows_each_instance_shape(client, workdir):
    text = (workdir / "v4.incp").read_text()
    uri = await open_doc(client, workdir / "v4.incp")
    assert list(await diagnostics(client, uri)) == []
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), position(text, "inception_a x4", 3)))
    value = hover.contents.value
    assert "features.9`: 384x35x35 → 384x35x35" in value and "params each: 317,632" in value
    assert "Inception-A" in value  # the comment above the block's definition
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), position(text, "linear(num_classes)", 2)))
    assert "linear(out, bias=true)" in hover.contents.value and "1536 → 1000" in hover.contents.value


async def test_definition_of_an_imported_block(client, workdir):
    text = (workdir / "v4.incp").read_text()
    uri = await open_doc(client, workdir / "v4.incp")
    found = await client.text_document_definition_async(t.DefinitionParams(t.TextDocumentIdentifier(uri), position(text, "inception_b x7", 1)))
    library = workdir / "blocks" / "inception_v4.incp"
    assert found.uri == uri_of(str(library))
    lines = library.read_text().splitlines()
    assert lines[found.range.start.line][found.range.start.character:found.range.end.character] == "inception_b"
    assert lines[found.range.start.line].startswith("block inception_b")
    found = await client.text_document_definition_async(t.DefinitionParams(t.TextDocumentIdentifier(uri), position(text, '"blocks/', 2)))
    assert found.uri == uri_of(str(library))


async def test_completion_of_conv_keyword_arguments(client, workdir):
    text = "block b(width = 64) {\n  conv(\n}\n"
    uri = await open_doc(client, workdir / "typing.incp", text)
    items = await client.text_document_completion_async(t.CompletionParams(t.TextDocumentIdentifier(uri), position(text, "conv(", 5)))
    labels = [i.label for i in items.items]
    assert {"out=", "kernel=", "stride=", "pad=", "groups=", "act="} <= set(labels)
    assert {"valid", "same", "linear"} <= set(labels) and "width" in labels
    text2 = "block b {\n  \n}\n"
    change_doc(client, uri, text2)
    items = await client.text_document_completion_async(t.CompletionParams(t.TextDocumentIdentifier(uri), t.Position(1, 2)))
    by_label = {i.label: i for i in items.items}
    assert by_label["conv"].detail.startswith("conv(out, kernel=1x1") and "b" in by_label


async def test_formatting_gives_the_fmt_layout(client, workdir):
    text = "network n{input 3x32x32\nconv(8,3x3)   # c\n}"
    uri = await open_doc(client, workdir / "ugly.incp", text)
    edits = await client.text_document_formatting_async(t.DocumentFormattingParams(
        t.TextDocumentIdentifier(uri), t.FormattingOptions(2, True)))
    assert apply(text, edits) == fmt(text)


async def test_rename_a_block_across_two_files(client, workdir):
    (workdir / "lib.incp").write_text("# my block\nblock unit(c = 8) { conv(c, 3x3) }\n")
    main = 'import "lib.incp"\n\nnetwork net {\n  input 3x16x16\n  unit\n  again: unit(c=4)\n}\n'
    (workdir / "main.incp").write_text(main)
    uri = await open_doc(client, workdir / "main.incp")
    assert list(await diagnostics(client, uri)) == []
    edit = await client.text_document_rename_async(t.RenameParams(t.TextDocumentIdentifier(uri), position(main, "unit(c=4)"), "cell"))
    lib_uri = uri_of(str(workdir / "lib.incp"))
    assert set(edit.changes) == {uri, lib_uri}
    assert apply(main, edit.changes[uri]) == main.replace("unit", "cell")
    assert apply((workdir / "lib.incp").read_text(), edit.changes[lib_uri]) == "# my block\nblock cell(c = 8) { conv(c, 3x3) }\n"
    refs = await client.text_document_references_async(t.ReferenceParams(
        text_document=t.TextDocumentIdentifier(uri), position=position(main, "  unit\n", 2),
        context=t.ReferenceContext(include_declaration=True)))
    assert len(refs) == 3


async def test_inlay_hints_are_off_until_the_setting_turns_them_on(client, workdir):
    text = (workdir / "v4.incp").read_text()
    uri = await open_doc(client, workdir / "v4.incp")
    whole = t.Range(t.Position(0, 0), Lines(text).position(len(text)))
    assert list(await client.text_document_inlay_hint_async(t.InlayHintParams(t.TextDocumentIdentifier(uri), whole))) == []
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams({"inception-dsl": {"inlayHints": {"shapes": True}}}))
    hints = await client.text_document_inlay_hint_async(t.InlayHintParams(t.TextDocumentIdentifier(uri), whole))
    labels = {h.position.line: h.label for h in hints}
    assert labels[position(text, "inception_a x4").line] == "→ 384x35x35"
    assert labels[position(text, "last_linear").line] == "→ 1000"


HOSTILE = {
    "bytes": "".join(chr(random.Random(7).randrange(1, 0xD7FF)) for _ in range(3000)),
    "nesting": "network n {\n  input 3x8x8\n  " + "{" * 5000 + "relu" + "}" * 5000 + "\n}\n",
    "expressions": "network n(a = " + "(" * 300 + "1" + ")" * 300 + ") { input 3x8x8 }\n",
    "repeats": "block b { conv(8, 1x1) x10000 }\nnetwork n {\n  input 3x8x8\n  b x10000\n}\n",
    "mutated": mutate((SPECS / "v4.incp").read_text(), 3)[0],
}


EXPECTED = {"bytes": "E001", "nesting": "E115", "expressions": "E115", "repeats": "E115"}  # E115: a limit


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_documents_get_diagnostics_and_the_server_lives_on(client, workdir, name):
    uri = await open_doc(client, workdir / f"hostile_{name}.incp", HOSTILE[name])
    found = await diagnostics(client, uri, timeout=30)
    if name != "mutated":
        assert EXPECTED[name] in {d.code for d in found}
    symbols = await client.text_document_document_symbol_async(t.DocumentSymbolParams(t.TextDocumentIdentifier(uri)))
    assert symbols is not None
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(2, 3)))
    assert hover is None or hover.contents.value


async def test_imports_read_the_unsaved_text_of_open_documents(client, workdir):
    lib, main = workdir / "lib2.incp", workdir / "main2.incp"
    lib.write_text("block u2 { relu }\n")
    main.write_text('import "lib2.incp"\nnetwork n2 {\n  input 3x8x8\n  u2\n}\n')
    lib_uri = await open_doc(client, lib)
    main_uri = await open_doc(client, main)
    assert list(await diagnostics(client, main_uri)) == []
    client.diagnostics.pop(main_uri, None)
    change_doc(client, lib_uri, "block v2 { relu }\n")  # not saved: main2 is re-checked against the buffer
    found = await diagnostics(client, main_uri)
    assert [d.code for d in found] == ["E102"] and "`u2`" in found[0].message
    change_doc(client, main_uri, main.read_text().replace("u2", "v2"))
    assert list(await diagnostics(client, main_uri)) == []
