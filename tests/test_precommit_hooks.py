"""The published pre-commit hooks: well formed, and their entries are commands our
CLI accepts, failing on an unformatted or lint-dirty spec and passing on clean ones."""

from __future__ import annotations

import re
import shlex

import yaml

from inception_dsl.cli import main

from .conftest import ROOT, SPECS

HOOKS = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def run_hook(hook_id: str, *files) -> int:
    argv = shlex.split(HOOKS[hook_id]["entry"])
    assert argv[0] == "inception-dsl"
    return main(argv[1:] + [str(f) for f in files])


def test_hooks_are_declared_for_incp_files():
    assert set(HOOKS) == {"inception-dsl-lint", "inception-dsl-fmt"}
    for hook in HOOKS.values():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert re.search(hook["files"], "specs/v4.incp") and not re.search(hook["files"], "setup.py")


def test_hooks_pass_on_clean_specs(tmp_path, capsys):
    assert run_hook("inception-dsl-lint", SPECS / "v4.incp") == 0
    spec = tmp_path / "clean.incp"
    spec.write_text("network n {\n  input 3x8x8\n  conv(8, 3x3)  # a comment\n}\n")
    assert run_hook("inception-dsl-fmt", spec) == 0
    assert run_hook("inception-dsl-lint", spec) == 0


def test_hooks_fail_on_a_dirty_spec(tmp_path, capsys):
    spec = tmp_path / "dirty.incp"
    spec.write_text("network n {\n  input 3x8x8\n    conv(8, 3x3, bias=true)\n}\n")
    assert run_hook("inception-dsl-lint", spec) == 1
    assert run_hook("inception-dsl-fmt", spec) == 1
    assert spec.read_text().startswith("network n {\n  input 3x8x8\n    conv")  # --check writes nothing
