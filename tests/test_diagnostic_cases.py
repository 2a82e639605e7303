"""Golden diagnostics: one small spec per error code under tests/cases/diagnostics/.

Each case `<code>-<slug>.incp` marks the lines that must get a diagnostic with inline
`# expect: E201` comments (several codes may be listed, comma-separated); a first-line
`# limits: name=value, ...` comment lowers resource limits for that case. The test
checks (1) that the emitted (file, line, code) triples are exactly the expected ones and
(2) that the full rendering equals `<case>.diag.golden` (`pytest --update-goldens`).
More cases of one code are `<code>-<slug>.<variant>.incp` (`E207-bad-groups.channel_shuffle.incp`);
docs/diagnostics.md shows the plain `<code>-<slug>` one.
Helper files that cases import live in `_lib/`; an expectation written in one of them
counts when a diagnostic points into that file."""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from inception_dsl import api
from inception_dsl.core import codes
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.commands.report import write_diagnostics

from .conftest import CASES, ROOT

CASE_DIR = CASES / "diagnostics"
CASE_FILES = sorted(CASE_DIR.glob("*.incp"))
EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")
LIMITS_LINE = re.compile(r"^#\s*limits:\s*(.+)$", re.MULTILINE)


def expectations(path: Path) -> set[tuple[str, int, str]]:
    """(relative path, line, code) for every `# expect:` comment of a file."""
    relative = path.relative_to(ROOT).as_posix()
    found = set()
    for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found |= {(relative, number, code.strip()) for code in match.group(1).split(",") if code.strip()}
    return found


def case_limits(path: Path) -> Limits:
    match = LIMITS_LINE.search(path.read_text(encoding="utf-8"))
    if not match:
        return DEFAULT_LIMITS
    values = {}
    for item in match.group(1).split(","):
        name, value = item.split("=")
        values[name.strip()] = int(value)
    return replace(DEFAULT_LIMITS, **values)


def analyze_case(path: Path) -> api.Result:
    """Analyze with a repo-relative path so locations (and goldens) do not depend on
    where the repository is checked out."""
    relative = path.relative_to(ROOT).as_posix()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.analyze(relative, limits=case_limits(path))
    finally:
        os.chdir(cwd)


def emitted(result: api.Result) -> set[tuple[str, int, str]]:
    triples = set()
    for diagnostic in result.diagnostics:
        span = diagnostic.primary_span
        assert span is not None, f"{diagnostic.code.id} has no location: {diagnostic.message}"
        triples.add((span.path, span.line, diagnostic.code.id))
    return triples


def rendered(result: api.Result) -> str:
    stream = io.StringIO()
    write_diagnostics(result.diagnostics, stream, "text")
    return stream.getvalue()


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_emits_exactly_the_expected_diagnostics(path: Path):
    result = analyze_case(path)
    expected = expectations(path)
    for lib_path in {t[0] for t in emitted(result)} - {path.relative_to(ROOT).as_posix()}:
        expected |= expectations(ROOT / lib_path)
    assert expected, f"{path.name} has no `# expect:` comment"
    assert emitted(result) == expected, rendered(result)
    assert not result.ok


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_rendering_matches_golden(path: Path, golden):
    golden(path.with_suffix(".diag.golden"), rendered(analyze_case(path)))


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_file_is_named_after_its_code(path: Path):
    code_id, slug = path.stem.split(".")[0].split("-", 1)
    code = codes.ALL_CODES.get(code_id)
    assert code is not None, f"{path.name}: no code {code_id}"
    assert code.slug == slug, f"{path.name}: the slug of {code_id} is `{code.slug}`"
    assert code_id in {t[2] for t in emitted(analyze_case(path))}, f"{path.name} does not emit {code_id}"


FRONT_END_RANGES = ("E0", "E1", "E2")  # E3xx are backend errors, raised by compile, not by analyze


def test_every_front_end_error_code_has_a_case():
    covered = {p.stem.split("-", 1)[0] for p in CASE_FILES}
    error_codes = {c.id for c in codes.ALL_CODES.values() if c.id.startswith(FRONT_END_RANGES)}
    missing = sorted(error_codes - covered)
    assert not missing, f"no case under tests/cases/diagnostics/ for {missing}"
