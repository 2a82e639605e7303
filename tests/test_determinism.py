"""The same spec gives byte-identical outputs (generated Python, DOT, JSON, SARIF)
across runs and across PYTHONHASHSEED values: each command runs in fresh processes
with different hash seeds, and the bytes are compared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

HASH_SEEDS = ("0", "1", "4242")
BAD_SPEC = ("block unit { concat { conv(8, 3x3, stride=2); conv(8, 3x3) } }\n"
            "network n {\n  input 3x16x16\n  unit x2\n  conv(0, 1x1)\n  bogus\n  c: relu\n  c: relu\n}\n")

# name -> (arguments after the command's spec, output file or None for stdout, spec)
COMMANDS = {
    "compile": (["compile", "specs/v4.incp", "-o", "{out}/v4.py"], "v4.py", None),
    "render-dot": (["render", "specs/inception_resnet_v2.incp", "-o", "{out}/irv2.dot", "--expand", "all"],
                   "irv2.dot", None),
    "check-json": (["check", "specs/v3.incp", "--format", "json"], None, None),
    "summary-json": (["summary", "specs/v4.incp", "--format", "json"], None, None),
    "diagnostics-json": (["check", "{bad}", "--format", "json"], None, BAD_SPEC),
    "diagnostics-sarif": (["check", "{bad}", "--format", "sarif"], None, BAD_SPEC),
    "lint-sarif": (["lint", "specs/googlenet.incp", "--format", "sarif"], None, None),
}


def run_once(name: str, seed: str, tmp_path: Path) -> bytes:
    arguments, out_file, bad_text = COMMANDS[name]
    out = tmp_path / f"{name}-{seed}"
    out.mkdir()
    bad = tmp_path / "bad.incp"
    if bad_text is not None and not bad.exists():
        bad.write_text(bad_text, encoding="utf-8")
    argv = [a.format(out=out, bad=bad) for a in arguments]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "inception_dsl", *argv], cwd=ROOT, env=env,
                          capture_output=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr.decode()
    assert b"Traceback" not in done.stderr
    if out_file is None:
        return done.stdout + b"\n--- stderr\n" + done.stderr
    return (out / out_file).read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_output_is_byte_identical_across_hash_seeds(name, tmp_path):
    outputs = {seed: run_once(name, seed, tmp_path) for seed in HASH_SEEDS}
    first = outputs[HASH_SEEDS[0]]
    assert len(first) > 100
    for seed, output in outputs.items():
        assert output == first, f"{name}: output with PYTHONHASHSEED={seed} differs"
