"""The VS Code extension (editors/vscode/): its manifest, language configuration and
client agree with the grammar, the language and the server's settings; staging puts the
one grammar (editors/incp.tmLanguage.json) where the manifest says. Building the .vsix
with the official packager needs node and the npm registry (~1 min), so it runs when
INCEPTION_DSL_VSIX=1 and says so otherwise."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import zipfile

import pytest

from .conftest import ROOT

EXTENSION = ROOT / "editors" / "vscode"
MANIFEST = json.loads((EXTENSION / "package.json").read_text())
GRAMMAR = ROOT / "editors" / "incp.tmLanguage.json"


def _build_script():
    spec = importlib.util.spec_from_file_location("build_vsix", ROOT / "scripts" / "build_vsix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifest_declares_the_language_grammar_and_client():
    contributes = MANIFEST["contributes"]
    (language,) = contributes["languages"]
    (grammar,) = contributes["grammars"]
    assert language["id"] == grammar["language"] == "incp" and language["extensions"] == [".incp"]
    assert grammar["scopeName"] == json.loads(GRAMMAR.read_text())["scopeName"]
    assert (EXTENSION / MANIFEST["main"]).is_file() and (EXTENSION / language["configuration"]).is_file()
    assert MANIFEST["dependencies"]["vscode-languageclient"].startswith("^9")
    assert re.fullmatch(r"\^1\.\d+\.\d+", MANIFEST["engines"]["vscode"])
    assert "/syntaxes/" in (EXTENSION / ".gitignore").read_text().split()  # the grammar's copy is never committed


def test_client_settings_are_declared_and_match_the_server():
    properties = MANIFEST["contributes"]["configuration"]["properties"]
    client = (EXTENSION / "extension.js").read_text()
    for key in re.findall(r'config\.get\("([^"]+)"', client):
        assert f"inception-dsl.{key}" in properties, key
    assert properties["inception-dsl.server.command"]["default"] == ["inception-dsl", "lsp"]
    assert properties["inception-dsl.inlayHints.shapes"]["default"] is False
    from inception_dsl.lsp.server import IncpLanguageServer

    server = IncpLanguageServer()
    server.apply_settings({"inception-dsl": {"inlayHints": {"shapes": True}}})  # what synchronize sends
    assert server.inlay_shapes
    commands = {c["command"] for c in MANIFEST["contributes"]["commands"]}
    assert set(re.findall(r'registerCommand\("([^"]+)"', client)) == commands


def test_language_configuration_is_valid():
    config = json.loads((EXTENSION / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"] and ["(", ")"] in config["brackets"]
    for pattern in [config["wordPattern"], *config["folding"]["markers"].values(), *config["indentationRules"].values()]:
        re.compile(pattern)
    assert re.fullmatch(config["wordPattern"], "inception_a") and re.fullmatch(config["wordPattern"], "3x299x299")


def test_staging_copies_the_one_grammar(tmp_path):
    staged = _build_script().stage(tmp_path / "extension")
    copied = staged / MANIFEST["contributes"]["grammars"][0]["path"]
    assert copied.read_bytes() == GRAMMAR.read_bytes()
    assert (staged / "package.json").read_bytes() == (EXTENSION / "package.json").read_bytes()


@pytest.mark.skipif(os.environ.get("INCEPTION_DSL_VSIX") != "1",
                    reason="building the .vsix needs node >= 20 and the npm registry (~1 min): "
                           "run with INCEPTION_DSL_VSIX=1, or `python scripts/build_vsix.py`")
def test_vsix_builds_with_the_official_packager(tmp_path):
    assert shutil.which("npx"), "INCEPTION_DSL_VSIX=1 but npx is not installed"
    assert _build_script().build(tmp_path) == 0
    (vsix,) = tmp_path.glob("*.vsix")
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        assert {"extension/package.json", "extension/extension.js", "extension/syntaxes/incp.tmLanguage.json"} <= names
        assert archive.read("extension/syntaxes/incp.tmLanguage.json") == GRAMMAR.read_bytes()
        assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
