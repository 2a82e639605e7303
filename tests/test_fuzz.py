"""Mutation fuzzing of every spec in specs/: whatever the edit, `check` (and `compile`) end in success
(exit 0) or located diagnostics (exit 1), never a traceback, an internal error or a hang.

CI runs a bounded, deterministic set (FUZZ_CASES seeds spread over the specs); the long
profile is `pytest -m fuzz tests/test_fuzz.py` (FUZZ_LONG_CASES, or INCEPTION_DSL_FUZZ_CASES;
change the seed base with INCEPTION_DSL_FUZZ_SEED). A failing case prints its seed, its mutations and the text."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from inception_dsl.cli import main

from .conftest import ROOT, SPECS
from .fuzzing import mutate

FUZZ_CASES = 150
FUZZ_LONG_CASES = 10_000  # issue 13: the long profile runs clean for 10,000 specs
FUZZ_COMPILE_CASES = 24
CASE_SECONDS = 20  # a case that takes longer is a hang
SPEC_FILES = sorted(p.relative_to(SPECS).as_posix() for p in SPECS.rglob("*.incp"))
NETWORK_FOR = {  # a block file is checked through a network that imports it
    path: next((n for n in SPEC_FILES if "/" not in n and f'"{path}"' in (SPECS / n).read_text()), None)
    for path in SPEC_FILES
}
LOCATED = re.compile(r"^ *--> .+:\d+:\d+$", re.MULTILINE)


@pytest.fixture(scope="module")
def spec_tree(tmp_path_factory) -> Path:
    """A copy of specs/ to mutate in place, so relative imports still resolve."""
    root = tmp_path_factory.mktemp("fuzz") / "specs"
    shutil.copytree(SPECS, root)
    return root


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_case(spec_tree: Path, capsys, seed: int, command: str = "check") -> None:
    target = SPEC_FILES[seed % len(SPEC_FILES)]
    network = NETWORK_FOR[target] or target
    original = (SPECS / target).read_text(encoding="utf-8")
    text, mutations = mutate(original, seed)
    path = spec_tree / target
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        argv = ["check", "-q"] if command == "check" else ["compile", "-o", str(spec_tree.parent / "out.py")]
        code = main([*argv, str(spec_tree / network)])
    except _Hang:
        pytest.fail(f"seed {seed}: `check` ran over {CASE_SECONDS}s on {target} after {mutations}:\n{text}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        path.write_text(original, encoding="utf-8")
    err = capsys.readouterr().err
    context = f"seed {seed}, {target} after {mutations}:\n{text}\n--- stderr:\n{err}"
    assert code in (0, 1), context
    assert "Traceback" not in err and "internal error" not in err, context
    if code == 1:
        assert "error[E" in err and LOCATED.search(err), context


@pytest.mark.parametrize("seed", range(FUZZ_CASES))
def test_mutated_specs_give_diagnostics_not_crashes(spec_tree, capsys, seed):
    run_case(spec_tree, capsys, seed)


@pytest.mark.parametrize("seed", range(FUZZ_COMPILE_CASES))
def test_mutated_specs_compile_or_give_diagnostics(spec_tree, capsys, seed):
    """`compile` too: a spec that `check` passes must not crash the backend."""
    run_case(spec_tree, capsys, 7_000_000 + seed, command="compile")


@pytest.mark.fuzz
@pytest.mark.parametrize("command", ["check", "compile"])
def test_long_fuzz_profile(spec_tree, capsys, command):
    base = int(os.environ.get("INCEPTION_DSL_FUZZ_SEED", "1000000"))
    total = int(os.environ.get("INCEPTION_DSL_FUZZ_CASES", FUZZ_LONG_CASES))  # a shorter run: set it lower
    cases = total if command == "check" else total // 5
    for seed in range(base, base + cases):
        run_case(spec_tree, capsys, seed, command=command)


@pytest.mark.parametrize("seed", [3, 17, 29])
def test_mutated_spec_through_a_real_process(tmp_path, seed):
    """The console entry point, as a user runs it: exit status and stderr only."""
    tree = tmp_path / "specs"
    shutil.copytree(SPECS, tree)
    text, mutations = mutate((SPECS / "v4.incp").read_text(encoding="utf-8"), seed)
    (tree / "v4.incp").write_bytes(text.encode("utf-8", "surrogatepass"))
    done = subprocess.run([sys.executable, "-m", "inception_dsl", "check", "-q", str(tree / "v4.incp")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), (mutations, done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, (mutations, done.stderr)


# -- regressions: crashes the fuzzer found, each fixed in the front end -----------------
def check_text(tmp_path, capsys, text: str) -> tuple[int, str]:
    spec = tmp_path / "spec.incp"
    spec.write_text(text, encoding="utf-8")
    code = main(["check", "-q", str(spec)])
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err, err
    return code, err


def test_import_path_with_a_nul_character(tmp_path, capsys):
    code, err = check_text(tmp_path, capsys, 'import "blocks\\x00.incp"\nimport "a\x00b.incp"\nnetwork n { input 3x8x8 }\n')
    assert code == 1 and "error[E003]" in err and "spec.incp:2:1" in err and "NUL character" in err


def test_astronomical_activation_memory_is_reported_not_divided(tmp_path, capsys):
    code, err = check_text(tmp_path, capsys, f"network n {{\n  input 3x{'9' * 200}x9\n  conv(8, 1x1)\n}}\n")
    assert code == 1 and "error[E209]" in err and "over 1,000 TiB" in err


def test_terminal_escapes_in_a_spec_are_not_echoed(tmp_path, capsys):
    code, err = check_text(tmp_path, capsys, 'import "\x1b[2J\x1b[31mevil.incp"\nnetwork n {\n  input 3x8x8\n}\n')
    assert code == 1 and "error[E003]" in err
    assert "\x1b" not in err and "\u241b[2J" in err
    code, err = check_text(tmp_path, capsys, 'network n {\n  input 3x8x8\n  bogus\x07\n}\n')
    assert code == 1 and "error[E001]" in err and "\x07" not in err and "bogus\u2407" in err


def test_import_of_a_symlink_loop(tmp_path, capsys):
    (tmp_path / "loop.incp").symlink_to(tmp_path / "loop.incp")
    code, err = check_text(tmp_path, capsys, 'import "loop.incp"\nnetwork n { input 3x8x8 }\n')
    assert code == 1 and "error[E003]" in err and "spec.incp:1:1" in err


def test_unknown_output_label_after_an_unlabelled_conditional_statement(tmp_path, capsys):
    text = ("block head { global_avgpool; flatten; linear(10) }\n"
            "network n(aux = false) {\n  input 3x8x8\n  stem: conv(8, 3x3)\n"
            "  aux head from stem when aux\n  main: head from stem\n  output main, aux\n}\n")
    code, err = check_text(tmp_path, capsys, text)
    assert code == 1
    assert "spec.incp:5:3" in err and "error[E102]" in err  # `aux` without its colon is a call
    assert "help: a label needs a colon: `aux: head ...`" in err
    assert "spec.incp:7:3" in err and "error[E113]" in err


def test_statements_left_out_by_when_are_still_checked(tmp_path, capsys):
    """Found by fuzzing `compile`: the generated module can switch such a statement on,
    so an unknown `from` label or block in it crashed the backend after `check` passed."""
    text = ("network n(aux = false) {\n  input 3x8x8\n  a: conv(8, 1x1)\n  b: conv(8, 1x1) from nowhere when aux\n"
            "  c: bogus when aux\n  concat { conv(4, 1x1); missing_block when aux }\n}\n")
    code, err = check_text(tmp_path, capsys, text)
    assert code == 1
    assert "spec.incp:4:24" in err and "error[E113]" in err
    assert "spec.incp:5:6" in err and "spec.incp:6:26" in err and err.count("error[E102]") == 2
