"""Every `incp` code block in README.md and docs/*.md is checked: it must be clean, or
produce exactly the codes its `# expect: CODE` lines name (on those lines).

Shell examples fenced as ```sh run``` and Python examples fenced as ```python run``` are run
too, from the repository root, and must exit 0 (```sh run slow```, ```python run slow```: the
same, marked `slow`, for a block that takes more than a few seconds)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from inception_dsl import analyze_text

from .conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_INCP = re.compile(r"```incp\n(.*?)```", re.S)
_RUN = re.compile(r"```sh run( slow)?\n(.*?)```", re.S)
_PYTHON_RUN = re.compile(r"```python run( slow)?\n(.*?)```", re.S)
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z]\d{3}(?:\s*,\s*[A-Z]\d{3})*)")


def _blocks(pattern):
    for doc in DOCS:
        if not doc.exists():
            continue
        text = doc.read_text(encoding="utf-8")
        for index, match in enumerate(pattern.finditer(text)):
            line = text[: match.start()].count("\n") + 2
            marks = [pytest.mark.slow] if match.lastindex == 2 and match.group(1) else []
            yield pytest.param(doc, line, match.group(match.lastindex), id=f"{doc.relative_to(ROOT)}:{line}", marks=marks)


@pytest.mark.parametrize("doc, line, code", list(_blocks(_INCP)))
def test_incp_examples_check_as_documented(doc, line, code):
    expected = set()
    for number, text in enumerate(code.splitlines(), start=1):
        for match in _EXPECT.finditer(text):
            expected |= {(number, c.strip()) for c in match.group(1).split(",")}
    result = analyze_text(code, f"{doc.name}:{line}")
    found = {(d.primary_span.line, d.code.id) for d in result.diagnostics if d.primary_span is not None}
    if not expected:
        assert result.ok, "\n".join(d.message for d in result.diagnostics)
    else:
        assert found == expected


def test_docs_contain_examples():
    assert len(list(_blocks(_INCP))) >= 3


@pytest.mark.parametrize("doc, line, script", list(_blocks(_RUN)))
def test_runnable_shell_examples(doc, line, script, tmp_path):
    bindir = Path(sys.executable).parent
    # as in an activated environment (the docs say to activate it): its scripts come first
    env = {**os.environ, "PATH": os.pathsep.join([str(bindir), os.environ.get("PATH", "")])}
    for command in [c for c in script.splitlines() if c.strip() and not c.startswith("#")]:
        argv = shlex.split(command)
        if argv[0] == "python" or (bindir / argv[0]).exists():
            argv[0] = str(bindir / argv[0])
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def test_the_tutorials_mistake_gives_the_output_it_shows(tmp_path):
    """issue 27: the reader saves step 1's spec, makes step 3's one-line change and runs the
    command shown; the output (line numbers included) is the one the tutorial quotes."""
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    spec = _INCP.search(text).group(1)
    change = re.search(r"```diff\n(.*?)```", text, re.S).group(1).splitlines()
    before = "\n".join(line[1:] for line in change if not line.startswith("+"))
    after = "\n".join(line[1:] for line in change if not line.startswith("-"))
    assert before in spec
    (tmp_path / "tiny_irn.incp").write_text(spec.replace(before, after), encoding="utf-8")
    shown = re.search(r"```\n\$ (inception-dsl check tiny_irn\.incp)\n(.*?)```", text, re.S)
    argv = shlex.split(shown.group(1))
    argv[0] = str(Path(sys.executable).parent / argv[0])
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", shown.group(2))


@pytest.mark.parametrize("doc, line, code", list(_blocks(_PYTHON_RUN)))
def test_runnable_python_examples(doc, line, code):
    """Python examples fenced as ```python run``` run as written, from the repository root,
    in a fresh interpreter (the README's snippet: issue 27)."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{doc.name}:{line}\n{done.stdout}\n{done.stderr}"


def test_the_readme_snippet_is_run():
    assert any(doc.name == "README.md" for doc, *_ in (p.values for p in _blocks(_PYTHON_RUN)))


def test_diagnostics_reference_is_generated_from_the_registry():
    done = subprocess.run([sys.executable, "scripts/gen_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_backend_error_e301_is_located_and_writes_nothing(tmp_path):
    """E301 comes from the Python backend, not the checker, so it has no case under
    tests/cases/diagnostics/: a label that would shadow nn.Module.forward."""
    spec = tmp_path / "reserved.incp"
    spec.write_text("network n {\n  input 3x8x8\n  forward: conv(8, 1x1)\n}\n")
    out = tmp_path / "reserved.py"
    done = subprocess.run([str(Path(sys.executable).parent / "inception-dsl"), "compile", str(spec), "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert f"{spec}:3:3" in done.stderr and "error[E301]" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
