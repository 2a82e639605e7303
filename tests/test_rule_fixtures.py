"""Per-rule optimizer fixtures in sqlglot's style: tests/cases/rules/<rule>.txt holds small
cases, each a `# title:` line, a network body, `--`, and the IR after that rule alone
(written without source locations: they are not the point here), cases separated by a
blank line. `pytest --update-goldens` rewrites what follows each `--`; read the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from inception_dsl import analyze_text
from inception_dsl.ir import dump
from inception_dsl.passes.rewrites.pipeline import RULES, optimize

CASES = Path(__file__).parent / "cases" / "rules"


def _cases(path: Path) -> list[tuple[list[str], list[str]]]:
    """(title and body lines, expected lines) per case."""
    cases = []
    for chunk in path.read_text(encoding="utf-8").strip("\n").split("\n\n"):
        head, _, expected = chunk.partition("\n--")
        cases.append((head.splitlines(), expected.strip("\n").splitlines()))
    return cases


def _graph(body: list[str]):
    result = analyze_text("network case {\n" + "\n".join(body) + "\n}\n", "case.incp")
    assert result.ok, [d.message for d in result.diagnostics]
    return result.graph


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_rule_fixture(rule, golden):
    path = CASES / f"{rule.__name__}.txt"
    assert path.exists(), f"{path} is missing: a pass needs a few small input/expected cases"
    chunks, changed = [], 0
    for head, _ in _cases(path):
        assert head[0].startswith("# title: "), f"{path}: a case starts with `# title:`"
        graph = _graph(head[1:])
        after = dump(optimize(graph, (rule,))[0], locations=False)
        changed += after != dump(graph, locations=False)
        chunks.append("\n".join(head) + "\n--\n" + after.rstrip("\n"))
    golden(path, "\n\n".join(chunks) + "\n")
    assert changed, f"no case of {path.name} is changed by {rule.__name__}"
