"""The language server under a long session and a large workspace (issue 26): the real
`inception-dsl lsp` process driven over stdio, as an editor would.

    .venv/bin/python benchmarks/lsp_soak.py                      # both, the issue's sizes
    .venv/bin/python benchmarks/lsp_soak.py --cycles 300 --files 100   # shorter

* memory: the server's resident memory (VmRSS) before and after N open / hover / close
  cycles of distinct 400 KB documents (a small network and a long comment each, so that
  the cycle is cheap and what is kept of a closed document shows). Goal: within 60 MB of
  the start after 900 cycles (it grew 65 -> 428 MB, about a document per cycle).
* latency: a "find references" over a workspace of N specs of ~55 KB each (every one
  imports the file that defines the block, so the scan reads and parses them all) is
  sent, and 0.5 s later a hover on another open document; the hover's latency and the
  references' time are printed. Goal: the hover within 1 s while the scan runs (it was
  unanswered after 150 s: the scan ran on the server's event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lsprotocol import types as t  # noqa: E402
from pytest_lsp import LanguageClient, client_capabilities  # noqa: E402
from pytest_lsp.client import make_test_lsp_client  # noqa: E402

from inception_dsl.lsp.lsp_diagnostics import uri_of  # noqa: E402

LIB = "block shared { conv(8, 1x1) }\n"


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _start(workspace: Path) -> LanguageClient:
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "inception_dsl", "lsp", "--debounce", "0", cwd=str(ROOT))
    await client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=uri_of(str(workspace)),
        workspace_folders=[t.WorkspaceFolder(uri_of(str(workspace)), "ws")]))
    return client


async def _published(client: LanguageClient, uri: str, timeout: float = 120) -> None:
    async def wait():
        while uri not in client.diagnostics:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


def _document(index: int, size: int = 400_000) -> str:
    body = f"network d{index} {{\n  input 3x8x8\n  conv(8, 3x3)\n  relu\n}}\n"
    line = f"# document {index}: " + "x" * 60 + "\n"
    return body + line * ((size - len(body)) // len(line))


async def soak(cycles: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        client = await _start(workspace)
        pid = client._server.pid
        uri = uri_of(str(workspace / "warm.incp"))
        client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "incp", 1, _document(-1))))
        await _published(client, uri)
        client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
        start, started = _rss_mb(pid), time.perf_counter()
        marks = []
        for index in range(cycles):
            uri = uri_of(str(workspace / f"doc{index}.incp"))
            client.diagnostics.pop(uri, None)
            client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "incp", 1, _document(index))))
            await _published(client, uri)
            await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(2, 3)))
            client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
            if (index + 1) % max(1, cycles // 6) == 0:
                marks.append(f"{index + 1}: {_rss_mb(pid):.0f} MB")
        info = await client.workspace_execute_command_async(t.ExecuteCommandParams("inception-dsl.serverInfo"))
        end = _rss_mb(pid)
        print(f"memory: {cycles} open/hover/close cycles of 400 KB documents in {time.perf_counter() - started:.0f} s; "
              f"server RSS {start:.0f} MB -> {end:.0f} MB ({end - start:+.0f} MB; goal within 60 MB)")
        print("  along the way: " + ", ".join(marks))
        print(f"  held afterwards: {info['held']}, parse cache {info['parse_cache']}")
        await client.shutdown_session()


async def latency(files: int, wait: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        (workspace / "lib.incp").write_text(LIB)
        body = "  shared\n  relu\n" * 3000  # ~55 KB
        for index in range(files):
            (workspace / f"spec{index}.incp").write_text(
                f'import "lib.incp"\nnetwork s{index} {{\n  input 3x8x8\n{body}}}\n')
        other = workspace / "other.incp"
        other.write_text("network o {\n  input 3x8x8\n  conv(8, 3x3)\n}\n")
        client = await _start(workspace)
        lib_uri, other_uri = uri_of(str(workspace / "lib.incp")), uri_of(str(other))
        for uri, path in ((lib_uri, workspace / "lib.incp"), (other_uri, other)):
            client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "incp", 1, path.read_text())))
            await _published(client, uri)
        started = time.perf_counter()
        references = asyncio.ensure_future(client.text_document_references_async(t.ReferenceParams(
            text_document=t.TextDocumentIdentifier(lib_uri), position=t.Position(0, 8),
            context=t.ReferenceContext(include_declaration=True))))
        await asyncio.sleep(0.5)
        asked = time.perf_counter()
        hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(other_uri), t.Position(2, 3)))
        hovered = time.perf_counter() - asked
        if not wait:  # the hover is what is measured; the server is stopped mid-scan
            print(f"latency: hover answered in {hovered * 1000:.0f} ms (goal under 1 s; answered: {hover is not None}) "
                  f"while find-references scanned {files} files of ~55 KB (still running after "
                  f"{time.perf_counter() - started:.1f} s: {not references.done()})")
            client._server.kill()
            return
        found = await references
        total = time.perf_counter() - started
        print(f"latency: hover answered in {hovered * 1000:.0f} ms (goal under 1 s; answered: {hover is not None}) "
              f"while find-references scanned {files} files of ~55 KB; references: {len(found or [])} locations "
              f"in {total:.1f} s; hover answered before references: {hovered + 0.5 < total}")
        await client.shutdown_session()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=900)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--only", choices=["memory", "latency"])
    parser.add_argument("--wait", action="store_true", help="wait for the references too (minutes on a loaded machine)")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.only != "latency":
        asyncio.run(soak(args.cycles))
    if args.only != "memory":
        asyncio.run(latency(args.files, args.wait))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
