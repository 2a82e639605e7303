"""Family 1 of issue 13: every value that reaches generated Python is a literal made by
`core/literals.py::py_literal`, whatever it holds and whichever path brings it
(`-p`, `load(params=...)`, `loads`, spec defaults, `set`, strings), through `compile`,
`compile --optimize`, `load`, `export --onnx`. Hostile values never run and never leave
anything but literals at the places values are written."""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inception_dsl.core.literals import py_literal, py_string
from inception_dsl.cli import main
from inception_dsl.core.values import Symbol

MARKER = "PWNED"
PAYLOADS = [
    f'x" + str(__import__("os").system("touch {MARKER}")) + "',
    f"x' + str(__import__('os').system('touch {MARKER}')) + '",
    f'"""\n__import__("os").system("touch {MARKER}")\n"""',
    f"\\\"); __import__('os').system('touch {MARKER}'); (\"",
    f"a\nimport os; os.system('touch {MARKER}')\n",
    "\u202e\u009b\x1b[31m\x07\x00\ud800 end",
    "{0.__class__}",
]

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
_scalars = (st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=30) | _names.map(Symbol))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4).map(tuple), max_leaves=12)


def _plain(value):
    return value.name if isinstance(value, Symbol) else tuple(map(_plain, value)) if isinstance(value, tuple) else value


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(_values)
def test_py_literal_is_a_literal_equal_to_its_value(value):
    text = py_literal(value)
    assert text.isascii() and "\n" not in text
    assert _only_literals(ast.parse(text, mode="eval").body)
    back = ast.literal_eval(text)
    assert back == _plain(value) or (isinstance(value, float) and math.copysign(1, value) == math.copysign(1, back))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_becomes_one_line_of_ascii_that_reads_back_equal(text):
    literal = py_string(text)
    assert literal.isascii() and "\n" not in literal and literal.startswith('"') and literal.endswith('"')
    assert ast.literal_eval(literal) == text


class _Evil(int):
    def __repr__(self):
        return "__import__('os').system('touch PWNED')"


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), _Evil(3), object(), [1], {"a": 1},
                                   b"bytes", 1j, (1, float("nan"))])
def test_py_literal_refuses_what_has_no_literal(value):
    with pytest.raises((TypeError, ValueError)):
        py_literal(value)


def _only_literals(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.Tuple):
        return all(_only_literals(item) for item in node.elts)
    return False


def _defaults(source: str) -> list[ast.AST]:
    """Every default value of every generated __init__ (where parameter values are written)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            found += [d for d in node.args.kw_defaults + node.args.defaults if d is not None]
    return found


# an unused parameter carries any value into the generated signature unchanged
SPEC = """set bn_eps = 0.001
block b(s = "q\\"uote\\\\", k = 4) { conv(k, 3x3) }
network n(mode = 1, size = 8) {
  input 3x16x16
  b(k = size)
  global_avgpool
  flatten
  linear(3)
}
"""


@pytest.fixture
def spec(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "n.incp"
    path.write_text(SPEC, encoding="utf-8")
    return path


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_strings_from_the_python_api_are_literals(spec, payload):
    from inception_dsl.api import analyze
    from inception_dsl.backends.python.source import to_python
    from inception_dsl.runtime.module import load

    for params in ({"mode": payload}, {"mode": Symbol("relu"), "size": 8}, {"mode": (payload, 1.5, -2)}):
        source = to_python(analyze(spec, params=params))
        assert all(_only_literals(d) for d in _defaults(source))
        model = load(spec, params=params, seed=0)
        assert sum(p.numel() for p in model.parameters()) > 0
    assert not (spec.parent / MARKER).exists()


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("command", [["compile"], ["compile", "--optimize"]])
def test_hostile_parameters_from_the_command_line_never_run(spec, capsys, payload, command):
    out = spec.parent / "out.py"
    for raw in (payload, f'"{payload}"'):
        code = main(command + [str(spec), "-o", str(out), "-p", f"mode={raw}"])
        capsys.readouterr()
        assert code in (0, 1)
        if code == 0:
            source = out.read_text(encoding="utf-8")
            assert all(_only_literals(d) for d in _defaults(source))
            compile(source, str(out), "exec")
            out.unlink()
    assert not (spec.parent / MARKER).exists()


@pytest.mark.slow
def test_a_hostile_parameter_through_export_onnx_never_runs(spec, capsys):
    pytest.importorskip("onnx")
    out = spec.parent / "n.onnx"
    for payload in PAYLOADS[:2]:
        code = main(["export", str(spec), "--onnx", str(out), "-p", f'mode="{payload}"'])
        assert code == 0, capsys.readouterr().err
    assert not (spec.parent / MARKER).exists()


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e999", "-1e999", "9" * 5000, "1e13"])
def test_non_finite_and_huge_numbers_are_refused_with_a_located_diagnostic(spec, capsys, raw):
    assert main(["compile", str(spec), "-o", "out.py", "-p", f"size={raw}"]) == 1
    err = capsys.readouterr().err
    assert "n.incp:" in err and "Traceback" not in err
    assert not os.path.exists("out.py")


@pytest.mark.parametrize("text", ["set bn_eps = 1e999", "set bn_momentum = 1e400", "network m(k = 1e999) { input 3x8x8\n conv(8) }",
                                  "network m { input 3x8x8\n conv(8, 1x1) \n residual(scale=1e999) { conv(8) } }"])
def test_non_finite_literals_in_a_spec_are_refused(tmp_path, capsys, text):
    path = tmp_path / "s.incp"
    path.write_text(text + "\nnetwork z { input 3x8x8\n conv(8) }\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "E115" in err and "s.incp:" in err


@pytest.mark.parametrize("value", [float("inf"), float("nan"), object(), [1, 2], _Evil(3), 10**13, "x" * 5000,
                                   Symbol("a b"), Symbol('x"+1+"')])
def test_values_that_are_not_values_of_the_language_are_refused_by_load(spec, value):
    from inception_dsl.core.diagnostics import CompileError
    from inception_dsl.runtime.module import load

    with pytest.raises(CompileError, match="E105|cannot be"):
        load(spec, params={"mode": value})


# -- family 5: load()/loads() keywords never shadow network parameters ------------------
OWN_KEYWORDS = ["network", "init", "seed", "input_shape", "limits", "optimize", "weights"]


@pytest.mark.parametrize("name", OWN_KEYWORDS + ["path", "spec", "text", "params"])
def test_a_network_parameter_named_like_a_keyword_of_load_goes_through_params(tmp_path, name):
    from inception_dsl.runtime.module import load, loads

    text = f"network n({name} = 4) {{\n  input 3x8x8\n  conv({name}, 1x1)\n}}\n"
    path = tmp_path / "n.incp"
    path.write_text(text, encoding="utf-8")
    for model in (load(path, params={name: 6}), loads(text, params={name: 6})):
        assert model(__import__("torch").zeros(1, 3, 8, 8)).shape[1] == 6
    if name in OWN_KEYWORDS:
        value = {"network": "n", "init": "tf", "seed": 1, "input_shape": (3, 8, 8), "optimize": True}.get(name)
        if value is not None:
            with pytest.raises(TypeError, match=f"params=.*{name}"):
                load(path, **{name: value})
            model = load(path, params={name: 6}, **{name: value})  # both: no ambiguity
            assert model(__import__("torch").zeros(1, 3, 8, 8)).shape[1] == 6
    elif name != "params":
        assert load(path, **{name: 5})(__import__("torch").zeros(1, 3, 8, 8)).shape[1] == 5
    if name == "path":  # a keyword of loads() only
        with pytest.raises(TypeError, match="params="):
            loads(text, path="elsewhere.incp")


def test_a_parameter_given_twice_or_params_of_the_wrong_type_is_a_type_error(tmp_path):
    from inception_dsl.runtime.module import load

    path = tmp_path / "n.incp"
    path.write_text("network n(k = 4) {\n  input 3x8x8\n  conv(k, 1x1)\n}\n", encoding="utf-8")
    with pytest.raises(TypeError, match="given twice"):
        load(path, params={"k": 2}, k=3)
    with pytest.raises(TypeError, match="params must be a dict"):
        load(path, params=[("k", 2)])
