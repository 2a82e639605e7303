"""Budgets before work (issue 26, row 2): the token budget is counted before a file is
parsed and stops where it runs out, so the time and memory of a hostile file stay
proportional to the budget, not to its size; the node budget stops elaboration."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

from inception_dsl import api
from inception_dsl.cli import main
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits

from tests.conftest import ROOT

HEAD = "network n {\n  input 3x8x8\n"


def test_a_million_statements_are_refused_before_parsing_in_little_memory():
    text = HEAD + "  relu;\n" * 1_000_000 + "}\n"  # 8 MB: under max_file_bytes
    tracemalloc.start()
    try:
        result = api.analyze_text(text, path="big.incp")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    first = result.diagnostics[0]
    assert first.code.id == "E115" and f"more than {DEFAULT_LIMITS.max_tokens:,} tokens" in first.message
    assert abs(first.primary_span.line - DEFAULT_LIMITS.max_tokens // 2) < 3  # where the budget runs out
    assert peak < 40 * 1024 * 1024, peak  # the text is 8 MB; the parse of it all took ~4 GB


def test_the_budget_covers_imports_and_has_an_option(tmp_path, capsys):
    (tmp_path / "lib.incp").write_text("block b {\n" + "  relu\n" * 40 + "}\n")
    spec = tmp_path / "main.incp"
    spec.write_text('import "lib.incp"\n' + HEAD + "  b\n" * 30 + "}\n")
    assert main(["check", "-q", str(spec)]) == 0
    assert main(["check", "-q", str(spec), "--max-tokens", "60"]) == 1
    err = capsys.readouterr().err
    assert "error[E115]" in err and "lib.incp:" in err  # main's 44 tokens + lib's first 16
    assert api.analyze(spec, limits=Limits(max_tokens=70)).ok is False  # 38 in main, 44 in lib
    assert api.analyze(spec, limits=Limits(max_tokens=82)).ok


def test_runs_of_separators_and_comments_count_once_each():
    assert api.analyze_text(";" * 500_000 + "\n" + HEAD + "  relu\n}\n", limits=Limits(max_tokens=20)).ok
    result = api.analyze_text("# c\n" * 30 + HEAD + "  relu\n}\n", limits=Limits(max_tokens=20))
    assert result.diagnostics[0].code.id == "E115"


def test_eight_mebibytes_of_separators_stay_small():
    """`;(?:\\s*;)+` kept state per repetition in Python's re: 1 GB for 8 MiB of `;` in
    parse._collapse_separators; the token count's pattern must not do the same."""
    # VmHWM: the peak of this process image (ru_maxrss would carry over the forking pytest's size)
    code = ("from inception_dsl.language.parse import _collapse_separators\n"
            "from inception_dsl.language.program import _TOKENS\n"
            "text = ';' * ((8 << 20) - 1024)\n"
            "assert _collapse_separators(text).startswith('; ') and sum(1 for _ in _TOKENS.finditer(text)) == 1\n"
            "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert int(done.stdout.split()[-1]) < 300 * 1024, done.stdout  # KiB: ~60 MB; was over 1 GB


def test_the_node_budget_stops_elaboration():
    text = HEAD + "  { relu; conv(8, 1x1) } x10000\n" * 3 + "}\n"
    result = api.analyze_text(text, limits=Limits(max_nodes=5000))
    assert result.diagnostics[0].code.id == "E115" and "more than 5000 operations" in result.diagnostics[0].message
