"""`layernorm`, `layer_scale` and `drop_path` (ops/layernorm.py, ops/layer_scale.py,
ops/drop_path.py): exactly timm's LayerNorm2d / LayerScale2d / DropPath and torch's
nn.LayerNorm, with timm's parameter names (`weight`, `bias`, `gamma`), through every
consumer (tests/op_checks.py), on CxHxW and flat tensors, in eval and in training."""

from __future__ import annotations

import pytest
import torch
from timm.layers import DropPath, LayerNorm2d, LayerScale, LayerScale2d
from torch import nn

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.backends.python.source import to_python
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph
from inception_dsl.runtime.graph_module import GraphModule

from .op_checks import through_everything


def _timm(module: nn.Module, model: nn.Module, prefix: str) -> nn.Module:
    """`module` holding the loaded model's tensors under `prefix` (timm's own names)."""
    module.load_state_dict({k[len(prefix) + 1:]: v for k, v in model.state_dict().items() if k.startswith(prefix + ".")})
    return module.eval()


def test_layernorm_is_timm_layernorm2d_on_a_grid_and_nn_layernorm_on_features():
    text = "network n {\n  input 6x4x5\n  c: conv(6, 1x1)\n  ln: layernorm(eps=1e-6)\n  flatten\n  fl: layernorm\n}\n"

    def reference(model, x):
        y = _timm(LayerNorm2d(6, eps=1e-6), model, "ln")(model.c(x)).flatten(1)
        return _timm(nn.LayerNorm(120), model, "fl")(y)

    model = through_everything(text, reference, labels=("LayerNorm\\n6x4x5",), atol=0)
    with torch.no_grad():  # random affine parameters: the same computation, bit for bit
        for parameter in (model.ln.weight, model.ln.bias, model.fl.weight, model.fl.bias):
            parameter.uniform_(-1, 1)
        x = torch.randn(2, 6, 4, 5)
        assert torch.equal(model(x), reference(model, x))
    assert {k for k in model.state_dict() if not k.startswith("c.")} == {"ln.weight", "ln.bias", "fl.weight", "fl.bias"}


def test_layer_scale_is_timm_layerscale_with_its_gamma():
    text = "network n {\n  input 6x3x3\n  ls: layer_scale(0.5)\n  flatten\n  fs: layer_scale\n}\n"

    def reference(model, x):
        y = _timm(LayerScale2d(6, 0.5), model, "ls")(x).flatten(1)
        return _timm(LayerScale(54), model, "fs")(y)

    model = through_everything(text, reference, labels=("LayerScale\\n6x3x3",), atol=0)
    assert model.ls.gamma.shape == (6,) and torch.all(model.ls.gamma == 0.5)
    assert torch.all(model.fs.gamma == torch.tensor(1e-6))
    assert set(model.state_dict()) == {"ls.gamma", "fs.gamma"}


@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
def test_drop_path_is_timms_per_sample_drop_in_training_and_the_identity_in_eval(p):
    text = f"network n {{\n  input 3x4x4\n  dp: drop_path({p})\n  flatten\n  fd: drop_path({p})\n}}\n"
    model = through_everything(text, lambda model, x: x.flatten(1), labels=(f"DropPath ({p:g})",), atol=0)
    flat = GraphModule(analyze_text(text).graph)
    x = torch.randn(16, 3, 4, 4)
    outputs = []
    for module in (nn.Sequential(DropPath(p), nn.Flatten(1), DropPath(p)), model, flat):
        torch.manual_seed(7)
        outputs.append(module.train()(x))
    assert torch.equal(outputs[1], outputs[0]) and torch.equal(outputs[2], outputs[0])
    kept = outputs[0].ne(0).any(1)
    if 0 < p < 1:  # some samples dropped whole, the others scaled by 1/(1-p) at each of the two
        assert 0 < kept.sum() < 16
    assert kept.all() if p == 0 else not kept.any() if p == 1 else True
    torch.testing.assert_close(outputs[0][kept], x.flatten(1)[kept] / (1 - p) ** 2)


BLOCK = """block stage(p, s) {
  residual(act=identity) {
    conv(in_channels, 7x7, groups=in_channels, bn=false)
    layernorm(eps=1e-6)
    conv(4 * in_channels, 1x1, bn=false, act=gelu)
    conv(in_channels, 1x1, linear)
    layer_scale(s)
    drop_path(p)
  }
}

network convnext_like {
  input 8x7x7
  a: stage(0.1, 1e-6)
  b: stage(p=0.2, s=0.5)
}
"""


def test_a_convnext_block_with_parameters_flows_through_everything():
    """Block parameters reach the standalone source (the prelude classes, with timm's
    parameter names); the optimizer drops the drop path."""
    source = to_python(analyze_text(BLOCK))
    for text in ("class LayerNorm2d(nn.LayerNorm):", "class LayerScale(nn.Module):", "class DropPath(nn.Module):",
                 "LayerNorm2d(in_channels, eps=1e-06)", "LayerScale(in_channels, init=s)", "DropPath(p)"):
        assert text in source, text
    model = through_everything(BLOCK)
    keys = set(model.state_dict())
    assert {"a.layernorm1.weight", "a.layernorm1.bias", "a.layer_scale4.gamma", "b.layer_scale4.gamma"} <= keys
    assert torch.all(model.b.layer_scale4.gamma == 0.5) and model.b.drop_path5.drop_prob == 0.2
    optimized, _ = optimize_graph(analyze_text(BLOCK).graph)
    assert "drop_path" not in {node.op.value for node in optimized.nodes()}


@pytest.mark.parametrize("call, code, message", [
    ("layernorm(eps=0)", "E112", "eps must be a number in"),
    ("layer_scale(init=relu)", "E101", "unknown name `relu`"),
    ("drop_path(1.5)", "E112", "the drop-path probability must be a number in [0, 1]"),
    ("drop_path", "E104", "needs its `p` argument"),
])
def test_bad_arguments_are_located(call, code, message):
    result = analyze_text(f"network n {{\n  input 3x8x8\n  {call}\n}}")
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code.id, diagnostic.primary_span.line) == (code, 3)
    assert message in diagnostic.message


def test_groupnorm_is_nn_groupnorm_on_a_grid_and_on_features():
    text = "network n {\n  input 6x3x4\n  gn: groupnorm(3)\n  flatten\n  fg: groupnorm(8, eps=1e-3)\n}\n"

    def reference(model, x):
        y = _timm(nn.GroupNorm(3, 6), model, "gn")(x).flatten(1)
        return _timm(nn.GroupNorm(8, 72, eps=1e-3), model, "fg")(y)

    model = through_everything(text, reference, labels=("GroupNorm (3)\\n6x3x4",), atol=0)
    assert set(model.state_dict()) == {"gn.weight", "gn.bias", "fg.weight", "fg.bias"}
    source = to_python(analyze_text(text))
    assert "nn.GroupNorm(3, in_channels)" in source and "nn.GroupNorm(8, in_channels * 12, eps=0.001)" in source


def test_groupnorm_groups_must_divide_the_channels_with_the_nearest_divisors_as_help():
    result = analyze_text("network n {\n  input 3x8x8\n  conv(12, 1x1)\n  groupnorm(5)\n}")
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code.id, diagnostic.primary_span.line) == ("E207", 4)
    assert diagnostic.message == "groupnorm groups=5 must divide its 12 input channels"
    assert diagnostic.help == "`groupnorm(4)` or `groupnorm(6)`: the divisors of 12 nearest 5"
    big = analyze_text("network n {\n  input 3x8x8\n  groupnorm(4)\n}")
    assert big.diagnostics[0].help == "`groupnorm(3)`: the divisors of 3 nearest 4"


def test_compile_optimize_writes_the_new_modules_and_loads_the_optimized_weights():
    from inception_dsl.backends.python.optimized_source import optimized_class_name, optimized_source
    from inception_dsl.runtime.graph_module import optimize_graph_module

    text = ("network n {\n  input 4x5x5\n  relu\n  ls: layer_scale(0.5)\n  ln: layernorm\n  gn: groupnorm(2)\n"
            "  drop_path(0.3)\n  conv(4, 1x1)\n}\n")
    result = analyze_text(text)
    model = through_everything(text)
    namespace: dict = {}
    exec(compile(optimized_source(result), "<optimized>", "exec"), namespace)  # noqa: S102 - our own codegen
    standalone = namespace[optimized_class_name(result)]()
    optimized = optimize_graph_module(result.graph, model.state_dict())
    standalone.load_state_dict(optimized.state_dict(), strict=True)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(standalone(x), model(x), rtol=1e-5, atol=1e-5)


def test_the_generated_modules_script_and_compute_the_same():
    text = ("network n {\n  input 4x5x5\n  conv(4, 1x1, act=hardswish)\n  layernorm\n  layer_scale(0.5)\n"
            "  drop_path(0.2)\n  groupnorm(2)\n  elu(0.5)\n  global_avgpool\n  flatten\n  layernorm\n"
            "  layer_scale\n  drop_path(0.1)\n}\n")
    model = inception_dsl.loads(text).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))
