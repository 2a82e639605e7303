"""The language server against hostile editors and workspaces (issue 26, rows 3, 6, 8, 10,
11, 12): malformed requests get JSON-RPC errors, nothing outside the workspace folders is
read for a document or edited by a rename, non-file URIs stay as they are, closed
documents release what they held, and a references scan does not hold up a hover."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
import pytest_lsp
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from inception_dsl.lsp.lsp_diagnostics import uri_of
from inception_dsl.lsp.server import workspace_files

from .test_lsp import diagnostics as _diagnostics

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIB = "block shared { conv(8, 1x1) }\n"
MAIN = 'import "lib.incp"\nnetwork n {\n  input 3x8x8\n  shared\n}\n'


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile_lsp")
    workspace, outside = base / "ws", base / "outside"
    workspace.mkdir()
    outside.mkdir()
    (workspace / "lib.incp").write_text(LIB)
    (workspace / "main.incp").write_text(MAIN)
    (outside / "secret.incp").write_text("block secret_words { relu }\n")
    # a symlink in the workspace to a file outside that calls the block: neither scanned nor edited
    (outside / "user.incp").write_text('import "lib.incp"\nnetwork u {\n  input 3x8x8\n  shared\n}\n')
    (workspace / "link.incp").symlink_to(outside / "user.incp")
    for index in range(40):  # a workspace to scan
        (workspace / f"many{index}.incp").write_text(
            f'import "lib.incp"\nnetwork m{index} {{\n  input 3x8x8\n' + "  shared\n  relu\n" * 400 + "}\n")
    return base


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "inception_dsl", "lsp",
                                                                           "--debounce", "0.02"]))
async def client(lsp_client: LanguageClient, tree):
    workspace = tree / "ws"
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=uri_of(str(workspace)),
        workspace_folders=[t.WorkspaceFolder(uri_of(str(workspace)), "ws")]))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, uri: str, text: str) -> None:
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "incp", 1, text)))


async def _info(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(t.ExecuteCommandParams("inception-dsl.serverInfo"))


# row 10
@pytest.mark.parametrize("position", [{"line": -1, "character": 0}, {"line": 0, "character": "x"},
                                      {"line": 2**40, "character": 0}, None, "nonsense"])
async def test_malformed_requests_are_answered_with_errors(client, tree, position):
    uri = uri_of(str(tree / "ws" / "main.incp"))
    await _open(client, uri, MAIN)
    params = {"textDocument": {"uri": uri}, "position": position}
    typed = client.protocol.get_message_type
    client.protocol.get_message_type = lambda method: None  # send the dict as it is, as a hostile editor would
    try:
        with pytest.raises(JsonRpcException) as caught:
            await asyncio.wait_for(client.protocol.send_request_async("textDocument/hover", params), 30)
    finally:
        client.protocol.get_message_type = typed
    assert caught.value.code == -32602
    assert await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(3, 3)))


# row 11
@pytest.mark.parametrize("where", ["outside", "dotdot"])
async def test_a_document_outside_the_workspace_reads_no_import(client, tree, where):
    if where == "outside":
        uri = uri_of(str(tree / "outside" / "evil.incp"))
    else:
        uri = uri_of(str(tree / "ws")) + "/../outside/evil2.incp"
    text = 'import "secret.incp"\nnetwork e {\n  input 3x8x8\n  secret_words\n}\n'
    await _open(client, uri, text)
    found = await _diagnostics(client, uri, 60)
    messages = " ".join(d.message for d in found)
    assert "imports are not read for this document" in messages and "E010" in {d.code for d in found}, messages
    definition = await client.text_document_definition_async(
        t.DefinitionParams(t.TextDocumentIdentifier(uri), t.Position(0, 10)))
    assert not definition  # no location in the file the import names


async def test_definition_of_a_refused_import_points_nowhere(client, tree):
    uri = uri_of(str(tree / "ws" / "escape.incp"))
    await _open(client, uri, 'import "../outside/secret.incp"\nnetwork x {\n  input 3x8x8\n  relu\n}\n')
    assert "E010" in {d.code for d in await _diagnostics(client, uri, 60)}
    definition = await client.text_document_definition_async(
        t.DefinitionParams(t.TextDocumentIdentifier(uri), t.Position(0, 12)))
    assert not definition
    inside = uri_of(str(tree / "ws" / "main.incp"))
    await _open(client, inside, MAIN)
    found = await client.text_document_definition_async(t.DefinitionParams(t.TextDocumentIdentifier(inside), t.Position(0, 10)))
    assert found and found.uri.endswith("/ws/lib.incp")  # an import that was read still has one


# row 12
async def test_untitled_documents_keep_their_uri(client):
    uri = "untitled:Untitled-1"
    await _open(client, uri, 'import "lib.incp"\nnetwork u {\n  input 3x8x8\n  conv(8, 3x3\n}\n')
    found = await _diagnostics(client, uri, 60)
    assert found and not any(u.startswith("file:") and "untitled" in u for u in client.diagnostics)
    await _open(client, "untitled:Untitled-2", MAIN)
    assert "imports are not read" in " ".join(d.message for d in await _diagnostics(client, "untitled:Untitled-2", 60))


# row 8 (and the scan of row 3)
async def test_rename_never_edits_through_a_symlink_out_of_the_workspace(client, tree):
    uri = uri_of(str(tree / "ws" / "lib.incp"))
    await _open(client, uri, LIB)
    edit = await asyncio.wait_for(client.text_document_rename_async(
        t.RenameParams(t.TextDocumentIdentifier(uri), t.Position(0, 8), "common")), 300)
    files = set(edit.changes)
    assert uri in files and uri_of(str(tree / "ws" / "main.incp")) in files and len(files) > 10
    assert not any("link.incp" in f or "outside" in f for f in files), files


async def test_the_workspace_walk_is_lazy_and_stays_inside(tree, tmp_path):  # the module is marked asyncio
    found = list(workspace_files([str(tree / "ws")], limit=5))
    assert len(found) == 5
    every = list(workspace_files([str(tree / "ws")]))
    assert not any(p.endswith("link.incp") for p in every) and len(every) == 42
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)  # a symlinked folder is not entered
    (tmp_path / "a.incp").write_text(LIB)
    assert list(workspace_files([str(tmp_path)])) == [str(tmp_path / "a.incp")]
    walk = workspace_files(["/"], limit=3)  # a workspace folder of `/`: three files, not the whole disk
    assert len(list(walk)) <= 3


# row 3
@pytest.mark.slow
async def test_a_hover_is_answered_while_a_references_scan_runs(client, tree):
    uri = uri_of(str(tree / "ws" / "main.incp"))
    await _open(client, uri, MAIN)
    await _diagnostics(client, uri, 60)
    for index in range(40):  # new text on disk: the scan parses every file again
        path = tree / "ws" / f"many{index}.incp"
        path.write_text(path.read_text() + f"# edit {os.getpid()}\n")
    order = []

    async def references():
        await client.text_document_references_async(t.ReferenceParams(
            text_document=t.TextDocumentIdentifier(uri), position=t.Position(3, 3),
            context=t.ReferenceContext(include_declaration=True)))
        order.append("references")

    async def hover():
        await asyncio.sleep(0.3)  # the scan has started
        found = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(3, 3)))
        assert found is not None
        order.append("hover")

    await asyncio.wait_for(asyncio.gather(references(), hover()), 600)
    assert order == ["hover", "references"]


# row 6
async def test_closed_documents_release_what_they_held(client, tree):
    before = (await _info(client))["held"]
    for index in range(30):
        uri = uri_of(str(tree / "ws" / f"cycle{index}.incp"))
        text = f"network c{index} {{\n  input 3x8x8\n" + "  relu\n" * (200 + index) + "}\n"
        await _open(client, uri, text)
        await _diagnostics(client, uri, 60)
        await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(2, 3)))
        client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
    after = (await _info(client))["held"]
    assert after == before, (before, after)
