"""docs/gallery holds an SVG for every spec and every block under specs/ (made by
scripts/make_gallery.py), each as `render` draws it today: a stale SVG fails (slow test).
The source line numbers in the tooltips are left out of the comparison, so moving a
statement or adding a comment to a spec does not make its picture stale."""

from __future__ import annotations

import importlib.util
import re
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


def _make_gallery(monkeypatch):
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "scripts" / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_gallery", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.chdir(ROOT)
    return module


def _without_lines(svg: str) -> str:
    return re.sub(r"\.incp:\d+", ".incp", svg)


@pytest.mark.slow
def test_every_svg_is_what_render_draws_today(monkeypatch, tmp_path):
    module = _make_gallery(monkeypatch)
    stale = []
    for index, entry in enumerate(module.gallery_entries()):
        fresh = tmp_path / f"{index}.svg"
        assert module.cli(["render", *entry.args, "-o", str(fresh)]) == 0
        if _without_lines(fresh.read_text(encoding="utf-8")) != _without_lines(entry.svg.read_text(encoding="utf-8")):
            stale.append(str(entry.svg))
    assert stale == [], f"stale gallery SVGs (run scripts/make_gallery.py): {stale}"


def test_the_comparison_ignores_only_line_numbers():
    assert _without_lines('title="specs/v4.incp:20&#10;x"') == _without_lines('title="specs/v4.incp:12&#10;x"')
    assert _without_lines('title="specs/v4.incp:20&#10;x"') != _without_lines('title="specs/v3.incp:20&#10;x"')


def test_the_script_lists_exactly_the_specs_and_blocks(monkeypatch):
    module = _make_gallery(monkeypatch)
    entries = module.gallery_entries()
    blocks = {e.svg.stem for e in entries if e.svg.parent.name == "blocks"}
    assert blocks == _defined_blocks()
    inception_a = next(e for e in entries if e.svg.stem == "inception_a")
    assert inception_a.figures == "Fig. 4" and inception_a.args == ("specs/v4.incp", "--block", "inception_a")
