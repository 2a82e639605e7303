"""Nothing in a spec (names, labels, parameters, comments, the file's own path) can
inject code into the generated Python or statements into the generated DOT, and a
failing command never touches an existing output file."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inception_dsl.cli import main

PAYLOAD = '__import__("os").system("touch PWNED")'
HOSTILE_FILE_NAME = f'evil"""\n{PAYLOAD}\n"""\'\'\'"]; injected [label="x.incp'
HOSTILE_SPEC = f"""# \"\"\" ; {PAYLOAD} ; \"\"\"
block __import__(self = 8, torch = 2) {{   # \\ \" ''' {PAYLOAD}
  class: conv(self, 1x1)
  lambda: conv(torch * 4, 3x3)
  None: relu
}}
block exec {{ concat {{ self: conv(4, 1x1); torch: conv(4, 1x1); nn: {{ F: conv(4, 1x1) }} }} }}
network evil_net(forward = 8) {{
  input 3x8x8
  super: __import__(forward, 2)
  x: exec
  cls: residual(scale=0.5) {{ conv(12, 1x1, linear) }}
  global_avgpool
  flatten
  head: linear(5)
}}
"""
# functools, re and torch.utils.checkpoint: the prelude's timm API (set_grad_checkpointing, group_matcher)
ALLOWED_IMPORTS = {"__future__", "collections", "functools", "math", "re", "typing", "torch", "torch.nn",
                   "torch.nn.functional", "torch.utils.checkpoint"}
DANGEROUS_CALLS = {"__import__", "exec", "eval", "compile", "open", "system", "popen", "remove", "unlink"}


@pytest.fixture
def hostile_spec(tmp_path) -> Path:
    spec = tmp_path / HOSTILE_FILE_NAME
    spec.write_text(HOSTILE_SPEC, encoding="utf-8")
    return spec


def called_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "hook":
                continue  # the prelude's forward_intermediates removes its own forward hooks: hook.remove()
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def test_generated_python_contains_no_injected_code(hostile_spec, tmp_path, capsys):
    out = tmp_path / "evil_net.py"
    assert main(["compile", str(hostile_spec), "-o", str(out)]) == 0, capsys.readouterr().err
    source = out.read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= ALLOWED_IMPORTS, imported
    assert not called_names(tree) & DANGEROUS_CALLS  # the payload is in comments and docstrings only
    assert "touch PWNED" in source


@pytest.mark.slow
def test_generated_module_runs_without_side_effects(hostile_spec, tmp_path, capsys):
    out = tmp_path / "evil_net.py"
    assert main(["compile", str(hostile_spec), "-o", str(out)]) == 0, capsys.readouterr().err
    script = ("import sys, torch; sys.path.insert(0, '.'); import evil_net as m; net = m.EvilNet().eval(); "
              "print(tuple(net(torch.zeros(1, 3, 8, 8)).shape)); "
              "print(sorted(k for k in net.state_dict() if k.endswith('conv.weight'))[:3])")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "(1, 5)"
    assert "'super.class.conv.weight'" in done.stdout  # labels stay the state_dict keys
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_loading_in_process_has_no_side_effects(hostile_spec, tmp_path, monkeypatch):
    from inception_dsl import load

    monkeypatch.chdir(tmp_path)
    model = load(hostile_spec, seed=0).eval()
    assert {"super.class.conv.weight", "x.self.conv.weight", "x.nn.F.conv.weight"} <= set(model.state_dict())
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_dot_output_contains_no_injected_statements(hostile_spec, tmp_path, capsys):
    out = tmp_path / "evil.dot"
    assert main(["render", str(hostile_spec), "-o", str(out), "--expand", "all"]) == 0, capsys.readouterr().err
    done = subprocess.run(["dot", "-Tplain", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    nodes = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("node ")]
    assert nodes and "injected" not in nodes


# -- outputs are written atomically: an error leaves the old file as it was ------------
BAD_SPEC = "network n {\n  input 3x8x8\n  concat { conv(8, 3x3, stride=2); conv(8, 3x3) }\n}\n"
RESERVED_LABEL_SPEC = "network n {\n  input 3x8x8\n  training: conv(8, 1x1)\n}\n"


@pytest.mark.parametrize("command, suffix, text", [
    ("compile", ".py", BAD_SPEC), ("compile", ".py", RESERVED_LABEL_SPEC), ("render", ".dot", BAD_SPEC),
], ids=["compile-shape-error", "compile-backend-error", "render-shape-error"])
def test_failing_command_leaves_an_existing_output_untouched(tmp_path, capsys, command, suffix, text):
    spec = tmp_path / "bad.incp"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / f"existing{suffix}"
    out.write_text("ORIGINAL CONTENT\n", encoding="utf-8")
    assert main([command, str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E" in err and "Traceback" not in err
    assert out.read_text(encoding="utf-8") == "ORIGINAL CONTENT\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.incp", out.name]  # no temporary left behind


def test_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    spec = tmp_path / "ok.incp"
    spec.write_text("network n {\n  input 3x8x8\n  conv(8, 1x1)\n}\n", encoding="utf-8")
    (tmp_path / "taken").mkdir()
    code = main(["compile", str(spec), "-o", str(tmp_path / "taken")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "internal error" not in err, err
    assert (tmp_path / "taken").is_dir() and not list((tmp_path / "taken").iterdir())
