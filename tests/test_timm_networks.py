"""timm's model API network by network, against timm's own models (random weights,
`timm.create_model(name, pretrained=False)`): features_only maps, forward_features,
forward_intermediates, reset_classifier's head and parameter count; and the API every
compiled network has: set_grad_checkpointing (real checkpointing, gradients unchanged),
group_matcher (timm's layer-decay grouping), `set head` and its diagnostics."""

from __future__ import annotations

import pytest
import torch

timm = pytest.importorskip("timm")

from inception_dsl import analyze_text, load  # noqa: E402

from .backend_helpers import CODEGEN  # noqa: E402
from .conftest import SPECS  # noqa: E402

NETWORKS = [("convnext_tiny", "convnext_tiny"), ("efficientnet_b0", "efficientnet_b0"),
            ("swin_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224"),
            ("mobilenet_v3_large", "mobilenetv3_large_100"), ("res2net50_26w_4s", "res2net50_26w_4s")]


def _pair(spec: str, name: str, **kwargs):
    with torch.device("meta"):  # shapes only
        return load(SPECS / f"{spec}.incp", **kwargs), timm.create_model(name, pretrained=False, **kwargs)


@pytest.mark.parametrize("spec, name", NETWORKS)
def test_features_only_and_forward_features_equal_timms(spec, name):
    ours, theirs = _pair(spec, name, features_only=True)
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    assert ours.feature_info.reduction() == theirs.feature_info.reduction()
    with torch.device("meta"):
        x = torch.empty(2, 3, 224, 224)
        assert [f.shape for f in ours(x)] == [f.shape for f in theirs(x)]
        ours, theirs = _pair(spec, name)
        assert ours.forward_features(x).shape == theirs.forward_features(x).shape
        assert (ours.num_features, ours.head_hidden_size) == (theirs.num_features, theirs.head_hidden_size)


@pytest.mark.parametrize("spec, name", NETWORKS)
def test_forward_intermediates_equal_timms(spec, name):
    ours, theirs = _pair(spec, name)
    with torch.device("meta"):
        x = torch.empty(1, 3, 224, 224)
        for kwargs in ({}, {"indices": 2}, {"indices": [0, -1]}):
            final, found = ours.forward_intermediates(x, **kwargs)
            final_t, found_t = theirs.forward_intermediates(x, **kwargs)
            assert [f.shape for f in found] == [f.shape for f in found_t], kwargs
            assert final.shape == final_t.shape, kwargs
        early = ours.forward_intermediates(x, indices=[1], stop_early=True, intermediates_only=True)
        assert [f.shape for f in early] == [f.shape for f in theirs.forward_intermediates(
            x, indices=[1], stop_early=True, intermediates_only=True)]
        only = ours.forward_intermediates(x, indices=3, intermediates_only=True, output_fmt="NHWC")
        assert [f.shape for f in only] == [f.permute(0, 2, 3, 1).shape for f in
                                           theirs.forward_intermediates(x, indices=3, intermediates_only=True)]
    with pytest.raises(ValueError, match="out of range"):
        ours.forward_intermediates(x, indices=[len(ours.feature_info)])


@pytest.mark.parametrize("spec, name, shape", [("convnext_tiny", "convnext_tiny", (768, 7, 7)),
                                               ("mobilenet_v3_large", "mobilenetv3_large_100", (1280, 7, 7))])
def test_reset_classifier_without_pooling_gives_timms_unpooled_head(spec, name, shape):
    """ConvNeXt keeps its head's norm on the unpooled maps; MobileNetV3's 960 -> 1280 head
    layer runs at every position, as timm's 1x1 head conv."""
    ours, theirs = _pair(spec, name)
    for model in (ours, theirs):
        model.reset_classifier(0, global_pool="")
    with torch.device("meta"):
        x = torch.empty(1, 3, 224, 224)
        assert ours(x).shape == theirs(x).shape == (1, *shape)
        assert ours.forward_head(ours.forward_features(x), pre_logits=True).shape == \
            theirs.forward_head(theirs.forward_features(x), pre_logits=True).shape


def test_mobilenet_head_layer_without_pooling_is_the_same_linear_at_every_position():
    model = load(SPECS / "mobilenet_v3_large.incp", seed=0, input_shape=(3, 64, 64)).eval()
    x = torch.randn(2, 3, 64, 64)
    keys = set(model.state_dict())
    with torch.no_grad():
        features = model.forward_features(x)
        pre = model.forward_head(features, pre_logits=True)
        model.reset_classifier(0, global_pool="")
        assert set(model.state_dict()) == keys - {"classifier.3.weight", "classifier.3.bias"}
        maps = model(x)
        assert maps.shape == (2, 1280, 2, 2)
        at = torch.nn.functional.hardswish(model.classifier[0].weight @ features[:, :, 1, 0].T + model.classifier[0].bias[:, None])
        torch.testing.assert_close(maps[:, :, 1, 0], at.T)
        model.reset_classifier(0, global_pool="avg")  # back to pooled features and a plain linear
        assert type(model.classifier[0]) is torch.nn.Linear
        torch.testing.assert_close(model(x), pre)
        with pytest.raises(ValueError, match="removed together with the classifier"):
            model.reset_classifier(3, global_pool="")


@pytest.mark.parametrize("spec, name", NETWORKS)
def test_reset_classifier_replaces_only_timms_classifier(spec, name):
    ours, theirs = _pair(spec, name)
    for model in (ours, theirs):
        model.reset_classifier(10)
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in theirs.parameters())
    assert ours.num_classes == 10 and ours.get_classifier().out_features == 10
    if spec == "mobilenet_v3_large":
        assert count == 4_214_842 and ours.classifier[0].out_features == 1280  # the 1280-wide layer stays


def test_mobilenet_pre_logits_are_the_1280_features_and_head_equals_forward():
    model = load(SPECS / "mobilenet_v3_large.incp", seed=0, input_shape=(3, 64, 64)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        features = model.forward_features(x)
        assert torch.equal(model.forward_head(features), model(x))
        pre = model.forward_head(features, pre_logits=True)
        assert pre.shape == (2, 1280)
        assert torch.equal(model.classifier[3](pre), model(x))


def test_grad_checkpointing_recomputes_each_stage_and_keeps_gradients():
    torch.manual_seed(0)
    model = load(SPECS / "mobilenet_v3_large.incp", seed=0, input_shape=(3, 64, 64))
    x = torch.randn(2, 3, 64, 64)

    def gradients():
        calls.clear()
        model.zero_grad()
        model(x).square().sum().backward()
        return {k: p.grad.clone() for k, p in model.named_parameters()}

    calls = []
    inner = model.get_submodule("features.2.bneck_body.conv1")  # a module inside a stage: run again in backward when checkpointed
    inner.register_forward_hook(lambda *args: calls.append(1))
    model.eval()  # BN running statistics would differ between a forward and its recomputation
    plain, plain_calls = gradients(), len(calls)
    model.set_grad_checkpointing()
    checkpointed, checkpointed_calls = gradients(), len(calls)
    assert model.grad_checkpointing and (plain_calls, checkpointed_calls) == (1, 2)
    assert plain.keys() == checkpointed.keys()
    assert all(torch.allclose(plain[k], checkpointed[k], rtol=1e-5, atol=1e-7) for k in plain)
    with torch.no_grad():
        calls.clear()
        model(x)
        assert len(calls) == 1  # no checkpoint without gradients
    model.set_grad_checkpointing(False)
    gradients()
    assert len(calls) == 1


def test_group_matcher_groups_stem_stages_and_head_in_order():
    from timm.models import group_parameters

    with torch.device("meta"):
        model = load(SPECS / "convnext_tiny.incp")
    groups = group_parameters(model, model.group_matcher())
    names = [name for name, _ in model.named_parameters()]
    assert sorted(n for group in groups.values() for n in group) == sorted(names)  # every parameter, once
    ordered = [groups[i] for i in sorted(groups)]
    assert all(n.startswith("features.0.") for n in ordered[0])  # the stem first (conv and norm, as timm's)
    assert all(n.startswith(("norm.", "fc.")) for n in ordered[-1])  # the head last
    assert any(n.startswith("features.7.") for n in ordered[-2])
    from timm.optim import param_groups_layer_decay

    decayed = param_groups_layer_decay(model, layer_decay=0.75)
    assert len({g["lr_scale"] for g in decayed}) == len(groups)
    stages = group_parameters(model, model.group_matcher(coarse=True))
    assert (len(groups), len(stages)) == (20, 6)  # stem, 18 blocks or 4 stages, head (timm's convnext_tiny)


def _timm_names(ours: torch.nn.Module, theirs: torch.nn.Module, source: str) -> dict[str, str]:
    """Our parameter name -> timm's, through the converter: each of timm's tensors is
    filled with its own index before conversion, and read back from ours."""
    from inception_dsl.runtime.interop import convert_state_dict

    names = dict(enumerate((name for name, _ in theirs.named_parameters()), 1))
    with torch.no_grad():
        for index, (_, tensor) in enumerate(theirs.named_parameters(), 1):
            tensor.fill_(index)
    converted = convert_state_dict(theirs.state_dict(), model=ours, source=source)
    return {name: names[int(converted[name].flatten()[0])] for name, _ in ours.named_parameters()}


@pytest.mark.slow
@pytest.mark.parametrize("spec, name", NETWORKS + [("resnet50", "resnet50"), ("resnext50_32x4d", "resnext50_32x4d")])
def test_group_matcher_fine_and_coarse_group_as_timms(spec, name):
    """The same parameters in the same groups, in the same order, as timm's own model
    gives with its group_matcher, block by block and stage by stage (ConvNeXt's downsample
    with its stage's first block; EfficientNet's head conv with its last block; Swin's
    patch merging with its stage's first block, each block of a repeated shifted pair its
    own group). timm's coarse Swin groups alone leave the final norm with the head, where
    ours keep it with the last stage (as EfficientNet's head conv)."""
    from timm.models import group_parameters

    ours, theirs = load(SPECS / f"{spec}.incp"), timm.create_model(name, pretrained=False)
    timm_name = _timm_names(ours, theirs, f"timm:{name}")
    for coarse in (False, True):
        mine = group_parameters(ours, ours.group_matcher(coarse=coarse))
        expected = group_parameters(theirs, theirs.group_matcher(coarse=coarse))
        mine_named = [sorted(timm_name[n] for n in mine[i]) for i in sorted(mine)]
        expected_named = [sorted(expected[i]) for i in sorted(expected)]
        if coarse and spec.startswith("swin"):
            norm = ["norm.bias", "norm.weight"]
            mine_named = mine_named[:-2] + [sorted(set(mine_named[-2]) - set(norm)), sorted(mine_named[-1] + norm)]
        assert mine_named == expected_named, (spec, coarse)
    assert len(mine) < len(group_parameters(ours, ours.group_matcher(coarse=False)))


def test_set_head_names_where_the_head_starts_and_is_checked():
    body = ('{}network n {{\n  input 3x8x8\n  conv0: conv(4, 1x1)\n  pool: global_avgpool\n  norm: layernorm\n'
            '  flatten\n  fc: linear(2)\n}}\n')
    for setting, line, code, message in (('set head = "nope"', 1, "E113", "no top-level statement"),
                                         ('set classifier = "conv0"\nset head = "pool"', 2, "E113", "after the classifier"),
                                         ('set head = 3', 1, "E105", "cannot be the integer")):
        found = analyze_text(body.format(setting + "\n"), "m.incp").diagnostics
        assert [(d.code.id, d.primary_span.line) for d in found] == [(code, line)], setting
        assert message in found[0].message, (setting, found[0].message)
    text = body.format('set head = "pool"\n')
    assert not analyze_text(text, "m.incp").diagnostics
    from inception_dsl import loads

    model = loads(text, seed=0)
    assert model.forward_features(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)
    model.reset_classifier(0, global_pool="")
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)  # the head's norm on unpooled features
    default = loads(body.format(""), seed=0)
    assert default.forward_features(torch.randn(1, 3, 8, 8)).shape == (1, 4, 1, 1)  # the search stops at the norm


def test_the_api_is_in_the_standalone_file_too(tmp_path):
    from .test_timm_api import _standalone

    model = _standalone(tmp_path, CODEGEN / "tiny.incp").Tiny()
    final, found = model.forward_intermediates(torch.randn(1, 3, 32, 32))
    assert [f.shape[1] for f in found] == [info["num_chs"] for info in model.feature_info] and final.shape[1] == 40
    model.set_grad_checkpointing()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert model.group_matcher()["stem"] == r"^(?:conv0)(?:\.|$)"


TORCHVISION_SPECS = ["resnet50", "googlenet", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_large",
                     "regnet_y_400mf", "shufflenet_v2_x1_0"]


@pytest.mark.parametrize("spec", TORCHVISION_SPECS)
def test_resolve_data_config_gives_torchvisions_preprocessing(spec):
    """timm's eval transform from our pretrained_cfg resizes, crops and normalizes as the
    transforms of torchvision's DEFAULT weights for the spec's reference."""
    import torchvision
    from timm.data import create_transform, resolve_data_config

    with torch.device("meta"):
        model = load(SPECS / f"{spec}.incp")
    reference = torchvision.models.get_model_weights(spec).DEFAULT.transforms()
    steps = create_transform(**resolve_data_config({}, model=model)).transforms
    resize, crop, normalize = steps[0], steps[1], steps[-1]
    assert [resize.size, crop.size] == [reference.resize_size[0], tuple(reference.crop_size * 2)]
    assert resize.interpolation == reference.interpolation
    assert normalize.mean.tolist() == pytest.approx(reference.mean) and normalize.std.tolist() == pytest.approx(reference.std)
