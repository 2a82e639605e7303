"""timm's model API on compiled networks, and the networks as timm models: features_only
shapes equal timm's, reset_classifier in the loaded module and the standalone file,
resolve_data_config reads our pretrained_cfg, training through timm's optimizer factory
and EMA, DDP under torchrun on a registered spec, pretrained weights through timm's own
loader and from local .pth/.safetensors files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

timm = pytest.importorskip("timm")

import inception_dsl.timm as incp_timm  # noqa: E402  (registers specs/)
from inception_dsl import analyze_text, load  # noqa: E402
from inception_dsl.cli import main  # noqa: E402

from .backend_helpers import CODEGEN  # noqa: E402
from .conftest import SPECS  # noqa: E402

TINY = CODEGEN / "tiny.incp"


@pytest.fixture(scope="module")
def tiny_name():
    return incp_timm.register_spec(TINY, name="incp_test_tiny")[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2", "inception_v3"])
def test_features_only_matches_timm(name):
    with torch.device("meta"):  # shapes only
        ours = timm.create_model(f"incp_{name}", features_only=True)
        theirs = timm.create_model(name, features_only=True)
        x = torch.empty(1, 3, 299, 299)
        assert [f.shape for f in ours(x)] == [f.shape for f in theirs(x)]
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    assert ours.feature_info.reduction() == theirs.feature_info.reduction()
    assert ours.feature_info.module_name() == theirs.feature_info.module_name()


def test_out_indices_select_feature_maps():
    with torch.device("meta"):
        model = load(SPECS / "v4.incp", features_only=True, out_indices=(1, 4))
        shapes = [f.shape for f in model(torch.empty(2, 3, 299, 299))]
    assert shapes == [(2, 160, 73, 73), (2, 1536, 8, 8)]
    assert model.feature_info.reduction() == [4, 32]
    with pytest.raises(ValueError, match="out_indices"):
        load(SPECS / "v4.incp", features_only=True, out_indices=(7,), input_shape=(3, 75, 75))


def test_inferred_taps_and_head_of_a_spec_without_metadata():
    model = load(TINY, seed=0)
    # the last stage at each nominal reduction (conv0 is 15x15 too); a repetition by its statement
    assert model.feature_info == [{"num_chs": 24, "reduction": 2, "module": "res"},
                                  {"num_chs": 40, "reduction": 4, "module": "reduction3"}]
    assert model.get_classifier() is model.linear7 and model.num_classes == 5 and model.num_features == 40
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.forward_head(model.forward_features(x)), model(x))
        assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 40)


def _standalone(tmp_path: Path, spec: Path):
    out = tmp_path / "net.py"
    assert main(["compile", str(spec), "-o", str(out)]) == 0
    module_spec = importlib.util.spec_from_file_location("standalone_net", out)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_reset_classifier_in_loaded_and_standalone(tmp_path):
    standalone = _standalone(tmp_path, TINY)
    for model in (load(TINY, seed=0), standalone.Tiny()):
        model.reset_classifier(10)
        assert model.num_classes == 10 and model.get_classifier().out_features == 10
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        model.reset_classifier(0, global_pool="")
        assert model(torch.randn(2, 3, 32, 32)).shape[1:] == (40, 7, 7)  # unpooled features
        model.reset_classifier(7, global_pool="max")
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
        with pytest.raises(ValueError):
            model.reset_classifier(3, global_pool="")


def test_resolve_data_config_uses_the_specs_pretrained_cfg():
    from timm.data import resolve_data_config

    with torch.device("meta"):
        model = timm.create_model("incp_inception_v4")
    config = resolve_data_config({}, model=model)
    assert config["input_size"] == (3, 299, 299) and config["interpolation"] == "bicubic"
    assert config["mean"] == (0.5, 0.5, 0.5) and config["std"] == (0.5, 0.5, 0.5) and config["crop_pct"] == 0.875
    assert model.pretrained_cfg["first_conv"] == "features.0.conv"
    assert model.pretrained_cfg["classifier"] == "last_linear"


def test_metadata_settings_are_checked_where_written():
    body = 'network n {\n  input 3x8x8\n  conv0: conv(4, 1x1)\n  global_avgpool\n  flatten\n  linear(2)\n}\n'
    for setting, code in (('set feature_taps = ("conv0", "nope")', "E113"), ("set mean = 3", "E105"),
                          ('set interpolation = "cubic"', "E105"), ('set classifier = "fc"', "E113"),
                          ('set reference = "hub:x"', "E105")):
        found = {(d.code.id, d.primary_span.line) for d in analyze_text(setting + "\n" + body, "m.incp").diagnostics}
        assert found == {(code, 1)}, setting


def test_create_model_kwargs_reach_the_network(tiny_name):
    model = timm.create_model(tiny_name, num_classes=3, in_chans=1)
    assert model.get_classifier().out_features == 3 and model.num_classes == 3
    assert model.conv0.conv.in_channels == 1 and model(torch.randn(2, 1, 32, 32)).shape == (2, 3)
    with pytest.raises(TypeError, match="drop_path_rate"):
        timm.create_model(tiny_name, drop_path_rate=0.1)  # tiny has no such parameter
    with torch.device("meta"):
        assert timm.create_model("incp_inception_v4", drop_rate=0.3).head_drop.p == 0.3  # its `dropout`


@pytest.mark.slow
def test_training_with_timm_optimizer_and_ema(tiny_name):
    from timm.optim import create_optimizer_v2
    from timm.utils import ModelEmaV3

    torch.manual_seed(0)
    model = timm.create_model(tiny_name, num_classes=5)
    optimizer = create_optimizer_v2(model, "adamw", lr=1e-2, weight_decay=0.05)
    ema = ModelEmaV3(model, decay=0.9)
    images, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 5, (8,))
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ema.update(model)
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    ema_weight, weight = ema.module.get_classifier().weight, model.get_classifier().weight
    assert not torch.equal(ema_weight, weight)


DDP_SCRIPT = """
import sys, torch, torch.distributed as dist, timm
from timm.optim import create_optimizer_v2
import inception_dsl.timm as incp_timm
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.set_num_threads(1)
name = incp_timm.register_spec(sys.argv[1], name="incp_ddp_tiny")[0]
torch.manual_seed(0)
model = timm.create_model(name, num_classes=5)
ddp = torch.nn.parallel.DistributedDataParallel(model)
optimizer = create_optimizer_v2(ddp, "sgd", lr=0.1)
generator = torch.Generator().manual_seed(100 + rank)
for _ in range(2):
    images, labels = torch.randn(4, 3, 32, 32, generator=generator), torch.randint(0, 5, (4,), generator=generator)
    loss = torch.nn.functional.cross_entropy(ddp(images), labels)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
torch.save({k: p.detach() for k, p in model.named_parameters()}, f"{sys.argv[2]}/rank{rank}.pt")
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_torchrun_ddp_on_a_registered_spec(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    done = subprocess.run([*torchrun, "--nproc_per_node=2", "--standalone", str(script), str(TINY), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[k], rank1[k]) for k in rank0)


@pytest.fixture(scope="module")
def v3_checkpoint(tmp_path_factory):
    """A "pretrained" timm inception_v3 checkpoint: random weights, written locally."""
    torch.manual_seed(3)
    reference = timm.create_model("inception_v3")
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp("ckpt") / "inception_v3.pth"
    torch.save(reference.state_dict(), path)
    return path, reference.state_dict()


@pytest.mark.slow
def test_pretrained_from_local_pth_and_safetensors(v3_checkpoint, tmp_path):
    from safetensors.torch import save_file

    path, state = v3_checkpoint
    model = load(SPECS / "v3.incp", pretrained=path, source="timm:inception_v3")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    safe = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(safe))
    model = load(SPECS / "v3.incp", pretrained=safe, num_classes=10)  # a 10-way head stays initialized
    assert torch.equal(model.state_dict()["Mixed_7c.branch_pool.conv.weight"], state["Mixed_7c.branch_pool.conv.weight"])
    assert model.fc.weight.shape == (10, 2048)


@pytest.mark.slow
def test_pretrained_in_one_line_goes_through_timms_own_loader(v3_checkpoint, monkeypatch):
    """Nothing can be downloaded here: timm's loader entry is replaced by one that reads the
    local checkpoint and records the call, which shows the path is timm's own."""
    import timm.models._builder as builder

    path, state = v3_checkpoint
    calls = []

    def fake_load_pretrained(model, pretrained_cfg=None, num_classes=1000, in_chans=3, **kwargs):
        calls.append(pretrained_cfg["architecture"])
        model.load_state_dict(torch.load(path, weights_only=True))

    monkeypatch.setattr(builder, "load_pretrained", fake_load_pretrained)
    model = load(SPECS / "v3.incp", pretrained="timm:inception_v3")
    assert calls == ["inception_v3"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    registered = timm.create_model("incp_inception_v3", pretrained=True)
    assert calls == ["inception_v3", "inception_v3"]
    assert torch.equal(registered.fc.weight, state["fc.weight"])
