"""The Python source backend and the `compile` command: golden files, determinism,
state_dict keys equal to the IR's parameter nodes, standalone files, CLI errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from inception_dsl import CompileError, analyze, analyze_text, load, loads
from inception_dsl.backends.python.source import to_python
from inception_dsl.cli import main

from .backend_helpers import CODEGEN, import_file, ir_state_dict_keys
from .conftest import ROOT, SPECS

ALL_SPECS = sorted(SPECS.glob("*.incp")) + sorted(CODEGEN.glob("*.incp"))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda p: p.stem)
def test_state_dict_keys_are_the_ir_parameter_nodes(spec):
    result = analyze(spec)
    assert result.ok, result.diagnostics
    model = load(spec)
    assert set(model.state_dict()) == ir_state_dict_keys(result.graph)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda p: p.stem)
def test_generated_source_compiles_and_is_deterministic(spec):
    first = to_python(analyze(spec))
    second = to_python(analyze(spec))
    assert first == second
    compile(first, str(spec), "exec")
    assert str(ROOT) not in first, "generated code must not embed absolute paths"


@pytest.mark.parametrize("name", ["features", "tiny", "symbolic", "init"])
def test_codegen_golden(name, golden):
    source = to_python(analyze(_relative(CODEGEN / f"{name}.incp")))
    golden(CODEGEN / f"{name}.py.golden", source)


def test_v4_golden(golden):
    golden(CODEGEN / "v4.py.golden", to_python(analyze(_relative(SPECS / "v4.incp"))))


def test_parameterized_block_is_one_class():
    source = to_python(analyze(SPECS / "v4.incp"))
    assert source.count("class InceptionA(") == 1
    assert "def __init__(self, in_channels: int, *, k: int, l: int, m: int, n: int):" in source
    assert '_splice(self, 6, _repeat(4, getattr(self, "5").out_channels, InceptionA))' in source  # features.6-9
    assert "x = torch.cat((x0, x1, x2, x3), 1)" in source
    assert "def __init__(self, *, num_classes: int = 1000, dropout: float = 0.2):" in source


def test_compile_twice_gives_identical_bytes(tmp_path, capsys):
    out = tmp_path / "v4.py"
    assert main(["compile", str(SPECS / "v4.incp"), "-o", str(out)]) == 0
    first = out.read_bytes()
    assert main(["compile", str(SPECS / "v4.incp"), "-o", str(out)]) == 0
    assert out.read_bytes() == first
    assert "42,679,816 parameters" in capsys.readouterr().out


def test_compiled_file_equals_load_module(tmp_path):
    spec = CODEGEN / "features.incp"
    out = tmp_path / "features_gen.py"
    assert main(["compile", str(spec), "-o", str(out)]) == 0
    module = import_file(out, "features_gen")
    torch.manual_seed(3)
    generated = module.Features().eval()
    loaded = load(spec, seed=3).eval()
    assert {k: v.shape for k, v in generated.state_dict().items()} == \
        {k: v.shape for k, v in loaded.state_dict().items()}
    for key, value in generated.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(generated(x), loaded(x))


@pytest.mark.slow
def test_compiled_v4_runs_where_inception_dsl_is_not_importable(tmp_path):
    out_dir = tmp_path / "x"
    assert main(["compile", str(SPECS / "v4.incp"), "-o", str(out_dir / "v4.py")]) == 0
    site_packages = str(Path(torch.__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path[:0] = [{site_packages!r}, {str(out_dir)!r}]\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('inception_dsl') is None, 'inception_dsl is importable'\n"
        "import v4\n"
        "model = v4.InceptionV4()\n"
        "print(sum(p.numel() for p in model.parameters()))\n"
    )
    # -S: no site hooks, so the editable install of inception_dsl is not on the path
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": os.environ.get("PATH", "")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42679816"


def test_compile_default_output_is_build_network(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", str(CODEGEN / "tiny.incp")]) == 0
    assert (tmp_path / "build" / "tiny.py").is_file()
    assert "build/tiny.py" in capsys.readouterr().out


def test_compile_with_errors_writes_nothing_and_keeps_existing_file(tmp_path, capsys):
    spec = tmp_path / "bad.incp"
    spec.write_text("network n {\n  input 3x8x8\n  conv(8, 9x9, valid)\n}\n")
    out = tmp_path / "out.py"
    out.write_text("previous contents\n")
    assert main(["compile", str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:3:3" in err and "E203" in err
    assert out.read_text() == "previous contents\n"
    assert main(["compile", str(spec), "-o", str(tmp_path / "new.py")]) == 1
    assert not (tmp_path / "new.py").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_compile_unwritable_path_exits_2_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["compile", str(CODEGEN / "tiny.incp"), "-o", str(blocker / "out.py")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and "Traceback" not in err


def test_compile_max_params_refuses_v4_with_the_estimate(tmp_path, capsys):
    out = tmp_path / "v4.py"
    assert main(["compile", str(SPECS / "v4.incp"), "--max-params", "1000", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "E208" in err and "42,679,816" in err
    assert not out.exists()


def test_load_raises_compile_error_before_building():
    with pytest.raises(CompileError) as info:
        loads("network n {\n  input 3x8x8\n  concat { conv(8, 3x3, stride=2); maxpool(3x3, stride=2, valid) }\n}\n")
    assert any(d.code.id == "E201" for d in info.value.diagnostics)


def test_parameter_overrides_reach_the_module():
    model = load(CODEGEN / "tiny.incp", num_classes=3)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_reserved_attribute_name_is_a_located_error():
    text = "network n {\n  input 3x8x8\n  training: conv(8, 1x1)\n}\n"
    assert not analyze_text(text).ok  # check refuses it too: what check accepts, load builds (issue 13)
    with pytest.raises(CompileError) as info:
        loads(text)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code.id == "E301" and diagnostic.primary_span.line == 3


def test_spec_text_is_escaped_in_comments():
    text = '# evil """ \\ comment\nblock b { conv(4, 1x1) }\nnetwork n {\n  input 3x8x8\n  b\n}\n'
    source = to_python(analyze_text(text, path='odd"""name.incp'))
    compile(source, "<test>", "exec")
    assert '"""' not in source.replace('"""', "", source.count('"""') - source.count('"""evil'))  # sanity
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)
    assert namespace["B"].__doc__ == "Block `b` (odd'''name.incp:2): evil ''' / comment"


def test_python_keywords_and_builtins_are_mangled():
    text = "block lambda_(list = 4, self = 2) { conv(list * self, 1x1) }\n" \
           "network class_(in_channels = 3) {\n  input 3x8x8\n  lambda_(list=in_channels)\n}\n"
    model = loads(text)
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 6, 8, 8)


@pytest.mark.parametrize(("spec", "params", "shape"), [
    (CODEGEN / "symbolic.incp", {}, None),
    (CODEGEN / "symbolic.incp", {"flag": True, "k2": 3}, None),
    (CODEGEN / "features.incp", {"use_extra": False}, None),
    pytest.param(SPECS / "googlenet.incp", {"aux_logits": True}, (3, 96, 96), marks=pytest.mark.slow),
    pytest.param(SPECS / "v4.incp", {}, (3, 96, 96), marks=pytest.mark.slow),
    (CODEGEN / "pooling.incp", {}, None),
    (CODEGEN / "from_input.incp", {}, None),
], ids=["symbolic", "symbolic-flag", "features-no-extra", "googlenet-aux", "v4", "pooling", "from-input"])
def test_generated_module_agrees_with_the_ir_graph_backend(spec, params, shape):
    """Two independent backends, one from the AST and one from the IR, same weights."""
    from inception_dsl.runtime.graph_module import GraphModule

    result = analyze(spec, params=params, input_shape=shape)
    ours = load(spec, seed=0, input_shape=shape, **params).eval()
    reference = GraphModule(result.graph, state_dict=ours.state_dict()).eval()
    x = torch.randn(2, *result.graph.input_node.shape)
    with torch.no_grad():
        expected = reference(x)
        assert torch.equal(ours(x), expected[0] if isinstance(expected, (tuple, list)) else expected)


def test_compile_reports_unsupported_constructs_as_located_diagnostics(tmp_path, capsys):
    spec = tmp_path / "reserved.incp"
    spec.write_text("network n {\n  input 3x8x8\n  training: conv(8, 1x1)\n}\n")
    out = tmp_path / "out.py"
    assert main(["compile", str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E301]" in err and f"{spec}:3:3" in err and "Traceback" not in err
    assert not out.exists()


def test_parameter_names_that_clash_are_mangled_consistently_at_call_sites():
    text = ("block Tiny(list = 4, InceptionA = 2, in_channels = 1) { conv(list * InceptionA + in_channels, 1x1) }\n"
            "network n {\n  input 3x8x8\n  Tiny(list=3, InceptionA=1, in_channels=2)\n}\n")
    assert loads(text)(torch.zeros(1, 3, 8, 8)).shape == (1, 5, 8, 8)


def test_flatten_size_comes_from_the_checked_input_and_says_so(tmp_path, capsys):
    spec = tmp_path / "flat.incp"
    spec.write_text("network flat(classes = 2) {\n  input 3x8x8\n  conv(4, 3x3, stride=2)\n  flatten\n"
                    "  linear(classes)\n}\n")
    small, large = tmp_path / "small.py", tmp_path / "large.py"
    assert main(["compile", str(spec), "-o", str(small)]) == 0
    assert main(["compile", str(spec), "--input", "3x16x16", "-p", "classes=7", "-o", str(large)]) == 0
    assert "nn.Linear(64, classes)" in small.read_text()
    text = large.read_text()
    assert "nn.Linear(256, classes)" in text and "x 64 grid positions" in text
    assert "def __init__(self, *, classes: int = 7):" in text
    module = import_file(large, "flat_large")
    assert module.Flat()(torch.zeros(1, 3, 16, 16)).shape == (1, 7)


UNREACHED_HEAD = """\
block head(n) {
  conv(8, 3x3, valid)
  flatten
  fc: linear(n)
}

network tapped(aux = false) {
  input 3x8x8
  stem: conv(16, 3x3, stride=2, valid)
  aux: head(5) from stem when aux
  global_avgpool
  flatten
  fc: linear(10)
  output fc, aux
}
"""


def _compiled_beside_loaded(text: str, stem: str, tmp_path):
    """The checked spec's standalone source imported as a module, its network class built, and
    load()'s network, both with the same seed: (module, generated, loaded), in eval mode."""
    result = analyze_text(text, f"{stem}.incp")
    assert result.ok, result.diagnostics
    out = tmp_path / f"{stem}_gen.py"
    out.write_text(to_python(result), encoding="utf-8")
    module = import_file(out, f"{stem}_gen")
    torch.manual_seed(0)
    generated = getattr(module, stem.capitalize())().eval()
    torch.manual_seed(0)
    return module, generated, loads(text, path=f"{stem}.incp").eval()


def test_flatten_left_out_by_when_compiles_exact_and_refuses_the_parameters_that_reach_it(tmp_path):
    # check accepts this network (the head is left out), so compile must too: the class is
    # exact for the checked parameters and says clearly why it cannot be built with aux=True.
    module, generated, loaded = _compiled_beside_loaded(UNREACHED_HEAD, "tapped", tmp_path)
    assert set(generated.state_dict()) == set(loaded.state_dict())
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(generated(x), loaded(x))
    with pytest.raises(ValueError, match=r"tapped.incp:3 was not part of the network when this file was compiled \(its input grid"):
        module.Tapped(aux=True)
    assert loads(UNREACHED_HEAD, path="tapped.incp", aux=True).train()(x)[1].shape == (2, 5)


@pytest.mark.parametrize("statement", [
    "conv(16 // (k - 1), 1x1)",    # valid only where the condition holds
    "head(16 // (k - 1))",          # the same, through a block's arguments
    "avgpool(3x3, 2, 3)",           # invalid for every parameter value, but never reached
    "conv(8, 3x3, bogus=1)",
])
def test_statements_left_out_by_when_never_make_compile_refuse_what_check_accepted(statement, tmp_path):
    text = f"""\
block head(n) {{
  conv(n, 3x3)
}}

network guarded(k = 1) {{
  input 3x8x8
  stem: conv(16, 3x3)
  extra: {statement} when k != 1
  global_avgpool
}}
"""
    module, generated, loaded = _compiled_beside_loaded(text, "guarded", tmp_path)
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(generated(x), loaded(x))
    with pytest.raises(ValueError, match=r"guarded.incp:8 was not part of the network when this file was compiled"):
        module.Guarded(k=3)


def test_flatten_after_global_pooling_knows_its_grid_where_the_ir_has_none():
    """A head that `when` leaves out of the checked network: the grid after global pooling
    is (1, 1) whatever comes in (derived from the shape rules of the pooling's node)."""
    text = ("block head(n) {\n  conv(8, 5x5, valid)\n  global_avgpool\n  flatten\n  fc: linear(n)\n}\n"
            "network net(aux = false) {\n  input 4x9x9\n  s: conv(8, 1x1)\n  h: head(3) from s when aux\n"
            "  output s, h\n}\n")
    source = to_python(analyze_text(text))
    assert "nn.Linear(8, n)" in source and "_unreached" not in source


def test_from_input_reads_the_input_of_the_sequence_it_stands_in():
    """issue 27: `from input` instead of a dummy `inp: identity` statement."""
    ours = load(CODEGEN / "from_input.incp", seed=0).eval()
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        inner = ours.b.conv1(ours.b.conv0(x))
        assert torch.equal(ours.b.sum2(inner, x), inner + ours.b.sum2.branch1(x))
        y = ours.single(ours.b(x))
        assert torch.equal(y, 2 * ours.b(x))
        assert torch.equal(ours.nested(y), getattr(ours.nested, "0")(y) * y)


def test_generated_sequences_index_like_nn_sequential():
    """issue 27: `model.features[i]`, as timm and torchvision users write it."""
    from inception_dsl import loads

    model = loads("network n {\n  input 3x8x8\n  features: { conv(4, 1x1); conv(8, 3x3); last: conv(8, 1x1) }\n"
                  "  global_avgpool\n}\n").eval()
    features = model.features
    assert len(features) == 3 and list(features) == [features[0], features[1], features[2]]
    assert features[0] is getattr(features, "0") and features[-1] is features.last
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(features[:](x), features(x))
        assert torch.equal(features[1:](features[0](x)), features(x))
        assert torch.equal(torch.jit.script(model)(x), model(x))  # the indexing methods do not get in the way
