"""docs/gallery holds an SVG for every spec and every block under specs/ (made by
scripts/make_gallery.py). Whether each SVG is up to date is not checked: that would
fail on every unrelated change to a spec's comments or layout."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET

import pytest

from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.program import load_program

from .conftest import ROOT, SPECS

GALLERY = ROOT / "docs" / "gallery"


def _defined_blocks() -> set[str]:
    names = set()
    for path in SPECS.rglob("*.incp"):
        program = load_program(path, DiagnosticSink())
        names |= {name for name, d in program.definitions.items() if d.kind == "block"}
    return names


@pytest.mark.parametrize("spec", sorted(p.stem for p in SPECS.glob("*.incp")))
def test_every_spec_has_its_svgs(spec):
    for name in (f"{spec}.svg", f"{spec}.expanded.svg"):
        path = GALLERY / name
        assert path.exists(), f"{name} missing: run scripts/make_gallery.py"
        ET.parse(path)  # well-formed


def test_every_block_has_its_svg_and_a_readme_line():
    readme = (GALLERY / "README.md").read_text(encoding="utf-8")
    missing = sorted(b for b in _defined_blocks() if not (GALLERY / "blocks" / f"{b}.svg").exists())
    assert not missing, f"no gallery SVG for {missing}: run scripts/make_gallery.py"
    for block in _defined_blocks():
        assert f"(blocks/{block}.svg)" in readme


def test_the_script_lists_exactly_the_specs_and_blocks(monkeypatch):
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "scripts" / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_gallery", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.chdir(ROOT)
    entries = module.gallery_entries()
    blocks = {e.svg.stem for e in entries if e.svg.parent.name == "blocks"}
    assert blocks == _defined_blocks()
    inception_a = next(e for e in entries if e.svg.stem == "inception_a")
    assert inception_a.figures == "Fig. 4" and inception_a.args == ("specs/v4.incp", "--block", "inception_a")
