"""Regenerate docs/gallery/: the SVG of every network in specs/*.incp (one box per stage,
and every block opened), of every block defined under specs/, and the README that
lists them. Generic: it finds specs and blocks itself, so re-run it after adding one.

    .venv/bin/python scripts/make_gallery.py

Blocks are drawn as the first spec (in name order) that calls them calls them, so with
that network's arguments and input size; a block no network calls is drawn on a
synthetic input (see commands/render.py). Paths in tooltips are relative to the
repository root. The figure descriptions come from the comments in the specs: a spec's
leading comment, and the comment just above each `block`."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inception_dsl import analyze  # noqa: E402
from inception_dsl.cli import main as cli  # noqa: E402
from inception_dsl.core.diagnostics import DiagnosticSink  # noqa: E402
from inception_dsl.language.program import load_program  # noqa: E402

GALLERY = Path("docs/gallery")
_FIGURE = re.compile(r"Figs?\.\s*\d+(?:\([a-z]\))?")
_SENTENCE_END = re.compile(r"(?<!Fig)(?<!Figs)(?<!al)(?<!e\.g)(?<!i\.e)(?<!vs)\.(\s|$)")


@dataclass(frozen=True)
class Entry:
    svg: Path  # relative to the repository root
    title: str
    description: str
    figures: str
    args: tuple[str, ...]  # render arguments, without -o


def _comment_lines(lines: list[str]) -> list[str]:
    return [line.lstrip("#").strip() for line in lines]


def _first_sentence(text: str) -> str:
    match = _SENTENCE_END.search(text)
    return (text[: match.start() + 1] if match else text).strip()


def _leading_comment(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return _comment_lines(lines)


def _comment_above(text: str, line_number: int) -> list[str]:
    lines = text.splitlines()[: line_number - 1]
    block = []
    for line in reversed(lines):
        if not line.startswith("#"):
            break
        block.insert(0, line)
    return _comment_lines(block)


def _figures(comment: list[str]) -> str:
    """The first figure a comment cites: the network's schema, or the block's figure."""
    match = _FIGURE.search(" ".join(comment))
    return match.group(0) if match else ""


def spec_files() -> list[Path]:
    return sorted(Path("specs").glob("*.incp"))


def block_definitions() -> dict[str, tuple[Path, int]]:
    """Every block defined in any file under specs/: name -> (file, line)."""
    found: dict[str, tuple[Path, int]] = {}
    for path in sorted(Path("specs").rglob("*.incp")):
        program = load_program(path, DiagnosticSink())
        for name, definition in sorted(program.definitions.items()):
            if definition.kind == "block" and Path(definition.span.path) == path:
                found.setdefault(name, (path, definition.span.line))
    return found


def _users(specs: list[Path]) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Block name -> the first spec whose network calls it, and the `-p` options that
    make it call it: a block behind a switch that is off by default (`aux_logits`) is
    found by turning each false-by-default parameter on."""
    users: dict[str, tuple[Path, tuple[str, ...]]] = {}
    for spec in specs:
        result = analyze(spec)
        if not result.ok:
            continue
        variants = [((), result.graph)]
        for name, value in result.graph.params.items():
            if value is False:
                switched = analyze(spec, params={name: True})
                if switched.ok:
                    variants.append((("-p", f"{name}=true"), switched.graph))
        for options, graph in variants:
            for site in graph.blocks.values():
                users.setdefault(site.block, (spec, options))
    return users


def gallery_entries() -> list[Entry]:
    entries = []
    for spec in spec_files():
        comment = _leading_comment(spec.read_text(encoding="utf-8"))
        description = _first_sentence(" ".join(comment)) if comment else f"the network of {spec}"
        figures = _figures(comment)
        entries.append(Entry(GALLERY / f"{spec.stem}.svg", spec.stem, description, figures, (str(spec),)))
        entries.append(Entry(GALLERY / f"{spec.stem}.expanded.svg", f"{spec.stem}, every block opened",
                             f"{spec.stem} with every block opened: each block instance is a dashed cluster, "
                             "repetitions are drawn once", figures, (str(spec), "--expand", "all")))
    users = _users(spec_files())
    for name, (path, line) in sorted(block_definitions().items()):
        comment = _comment_above(path.read_text(encoding="utf-8"), line)
        description = _first_sentence(" ".join(comment)) if comment else f"block `{name}` of {path}"
        spec, options = users.get(name, (path, ()))
        where = f"as called in {spec}" if name in users else "on a synthetic input (no network calls it)"
        if options:
            where += f" with `{' '.join(options)}`"
        entries.append(Entry(GALLERY / "blocks" / f"{name}.svg", name, f"{description} Drawn {where}.",
                             _figures(comment), (str(spec), *options, "--block", name)))
    return entries


def write_readme(entries: list[Entry]) -> str:
    lines = ["# Gallery", "",
             "Every network in `specs/` and every block defined there, drawn by `inception-dsl render`.",
             "Regenerate with `.venv/bin/python scripts/make_gallery.py` (never edit these files by hand).",
             "Hover a box in an SVG to see the spec file and line it comes from.", ""]
    for heading, entries_in in (("Networks", [e for e in entries if e.svg.parent == GALLERY]),
                                ("Blocks", [e for e in entries if e.svg.parent != GALLERY])):
        lines += [f"## {heading}", ""]
        for entry in entries_in:
            figure = f" Paper figure: {entry.figures}." if entry.figures else ""
            link = entry.svg.relative_to(GALLERY).as_posix()
            lines += [f"### {entry.title}", "", f"{entry.description}{figure}", "", f"![{entry.title}]({link})", ""]
    return "\n".join(lines)


def main() -> int:
    os.chdir(ROOT)
    entries = gallery_entries()
    failures = 0
    for entry in entries:
        status = cli(["render", *entry.args, "-o", str(entry.svg)])
        print(f"{entry.svg}: {'ok' if status == 0 else f'FAILED (exit {status})'}")
        failures += status != 0
    kept = {e.svg for e in entries}
    for stale in sorted(GALLERY.rglob("*.svg")):
        if stale not in kept:
            stale.unlink()
            print(f"{stale}: removed (no such spec or block any more)")
    (GALLERY / "README.md").write_text(write_readme(entries), encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
