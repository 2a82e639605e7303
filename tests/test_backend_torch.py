"""The modules load() builds: full-size v4, training/eval behaviour, initialization,
autocast, channels_last, torch.compile, TorchScript, torch.export, ONNX, CUDA."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from inception_dsl import analyze, load
from inception_dsl.cli import main

from .backend_helpers import CODEGEN, ir_state_dict_keys
from .conftest import SPECS

TINY = CODEGEN / "tiny.incp"
FEATURES = CODEGEN / "features.incp"


@pytest.fixture(scope="module")
def v4():
    return load(SPECS / "v4.incp", seed=0).eval()


@pytest.fixture
def tiny():
    return load(TINY, seed=0)


@pytest.mark.slow
def test_v4_parameter_count_and_full_size_forward(v4):
    assert sum(p.numel() for p in v4.parameters()) == 42_679_816
    with torch.no_grad():
        assert v4(torch.randn(1, 3, 299, 299)).shape == (1, 1000)


def test_v4_state_dict_matches_timm_naming_depth(v4):
    keys = v4.state_dict()
    assert keys["features.0.conv.weight"].shape == (32, 3, 3, 3)
    assert keys["features.9.branch1.1.bn.running_var"].shape == (96,)
    assert keys["features.10.branch1.2.conv.weight"].shape == (256, 224, 3, 3)
    assert keys["features.21.branch1_1a.conv.weight"].shape == (256, 384, 1, 3)
    assert keys["last_linear.weight"].shape == (1000, 1536)
    assert getattr(v4.features, "0").bn.eps == 0.001


def test_batchnorm_and_dropout_follow_train_and_eval(tiny):
    x = torch.randn(4, 3, 32, 32)
    bn = tiny.conv0.bn
    tiny.train()
    before = bn.running_mean.clone()
    torch.manual_seed(0)
    first = tiny(x)
    assert not torch.equal(bn.running_mean, before), "training mode updates BatchNorm statistics"
    torch.manual_seed(1)
    assert not torch.equal(first, tiny(x)), "dropout is active in training"
    tiny.eval()
    frozen = bn.running_mean.clone()
    with torch.no_grad():
        assert torch.equal(tiny(x), tiny(x))
    assert torch.equal(bn.running_mean, frozen)


def test_forward_backward_reaches_every_parameter(tiny):
    tiny.train()
    loss = tiny(torch.randn(2, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    missing = [name for name, p in tiny.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = load(TINY, seed=7).state_dict()
    b = load(TINY, seed=7).state_dict()
    c = load(TINY, seed=8).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv0.conv.weight"], c["conv0.conv.weight"])


def test_tf_init_follows_the_slim_arg_scope():
    model = load(TINY, seed=0, init="tf")
    conv = getattr(model.mixed.branch1, "1").conv  # 3x3 conv from 8 channels: fan_in 72
    std = math.sqrt(1.3 * 2 / 72)
    assert conv.weight.abs().max() <= 2 * std + 1e-6
    assert 0.6 * std < conv.weight.std() < 1.1 * std  # a normal cut at 2 sigma has std 0.88 sigma
    assert torch.equal(model.conv0.bn.weight, torch.ones(16))
    assert torch.equal(model.linear7.bias, torch.zeros(5))
    with pytest.raises(ValueError):
        load(TINY, init="xavier")


def test_autocast_bfloat16_on_cpu_is_float32_within_bfloat16_precision(tiny):
    tiny.eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = tiny(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = tiny(x)
    assert out.dtype == torch.bfloat16
    # bfloat16 keeps 8 bits of mantissa: each layer rounds to ~0.4%; a few layers stay within a few percent
    scale = expected.abs().max()
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=0.05 * float(scale))
    assert not torch.equal(out.float(), expected)  # it did run in bfloat16


def test_channels_last_gives_the_same_result(tiny):
    tiny.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = tiny(x)
        tiny.to(memory_format=torch.channels_last)
        assert tiny.conv0.conv.weight.is_contiguous(memory_format=torch.channels_last)
        actual = tiny(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_torch_compile_captures_one_graph(tiny):
    # fullgraph=True fails on any graph break; the eager backend skips code generation,
    # which takes minutes on a shared CPU (the inductor run below is marked slow)
    tiny.eval()
    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(tiny, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), tiny(x))


@pytest.mark.slow
def test_torch_compile_fullgraph_inductor(tiny):
    tiny.eval()
    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(tiny, fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), tiny(x), rtol=1e-4, atol=1e-5)


def test_torchscript(tiny):
    tiny.eval()
    scripted = torch.jit.script(tiny)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), tiny(x))


def test_torchscript_of_a_block_with_optional_layers_and_asymmetric_padding():
    model = load(FEATURES, seed=0).eval()
    block = model.trunk  # `when`, grouped 2x2 conv with TF padding, shortcut
    scripted = torch.jit.script(block)
    x = torch.randn(1, 32, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), block(x))


def test_torch_export(tiny):
    tiny.eval()
    x = torch.randn(2, 3, 32, 32)
    exported = torch.export.export(tiny, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), tiny(x))


@pytest.mark.slow
def test_export_cli_writes_a_checked_onnx_file_that_computes_the_same(tmp_path, capsys, monkeypatch):
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    monkeypatch.chdir(tmp_path)  # without -o, the file is build/<network>.onnx (as compile's build/<network>.py)
    assert main(["export", str(TINY), "--seed", "0"]) == 0
    out = tmp_path / "build" / f"{analyze(TINY).graph.name}.onnx"
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 5]
    assert capsys.readouterr().out.startswith(f"wrote {out.relative_to(tmp_path)}: network ")
    x = torch.randn(1, 3, 32, 32)
    (onnx_out,) = ReferenceEvaluator(model).run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = load(TINY, seed=0).eval()(x).numpy()
    np.testing.assert_allclose(onnx_out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_export_cli_errors(tmp_path, capsys):
    bad = tmp_path / "bad.incp"
    bad.write_text("network n {\n  input 3x8x8\n  conv(8, 9x9, valid)\n}\n")
    assert main(["export", str(bad), "--onnx", str(tmp_path / "bad.onnx")]) == 1
    assert not (tmp_path / "bad.onnx").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    capsys.readouterr()
    assert main(["export", str(TINY), "--onnx", str(blocker / "x.onnx")]) == 2  # the older spelling of -o
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err
    assert main(["export", str(TINY), "-o", str(TINY)]) == 2  # never over an input
    assert "Traceback" not in capsys.readouterr().err


def test_aux_outputs_only_in_training():
    model = load(FEATURES, seed=0)
    x = torch.randn(2, 3, 32, 32)
    model.train()
    main_out, aux = model(x)
    assert main_out.shape == aux.shape == (2, 10)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)


def test_when_false_removes_the_layer_and_keeps_keys_equal_to_the_ir():
    result = analyze(FEATURES, params={"use_extra": False})
    model = load(FEATURES, use_extra=False)
    assert model.trunk.conv1 is None
    assert set(model.state_dict()) == ir_state_dict_keys(result.graph)
    assert model.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_asymmetric_padding_matches_tensorflow_same():
    model = load(FEATURES, seed=0).eval()
    conv = model.trunk.conv0.conv  # 2x2, stride 2, SAME: pad one pixel after, none before
    assert conv.pad_lrtb == [0, 1, 0, 1] and conv.padding == (0, 0)
    assert isinstance(conv, nn.Conv2d)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_to_cuda(tiny):
    model = tiny.to("cuda").eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32, device="cuda")).device.type == "cuda"


@pytest.mark.slow
def test_v4_computes_exactly_what_timm_inception_v4_computes():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("inception_v4", pretrained=False).eval()
    torch.manual_seed(0)
    for module in reference.modules():  # non-trivial BatchNorm statistics, so eps and order matter
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    ours = load(SPECS / "v4.incp").eval()
    assert list(ours.state_dict()) == list(reference.state_dict())  # timm's keys, in timm's order
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 107, 107)  # an odd size: padding and pooling arithmetic must agree
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_deepcopy_and_pickle_within_the_process(tiny):
    import copy
    import io

    tiny.eval()
    x = torch.randn(1, 3, 32, 32)
    buffer = io.BytesIO()
    torch.save(tiny, buffer)
    buffer.seek(0)
    with torch.no_grad():
        assert torch.equal(copy.deepcopy(tiny)(x), tiny(x))
        assert torch.equal(torch.load(buffer, weights_only=False)(x), tiny(x))
