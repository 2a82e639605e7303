"""Proof of equality: a timm/torchvision model with random weights (BatchNorm statistics
randomized too, so that every tensor matters), its state_dict converted into the module
compiled from our spec, the same outputs on the same input (float32, max abs diff < 1e-4).
Auxiliary heads are compared as well where the spec has them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inception_dsl.runtime.module import load
from inception_dsl.runtime.interop import InteropError, build_reference, convert_state_dict, execution_order

from .conftest import SPECS

TOLERANCE = 1e-4

# source -> (spec, network parameters, build the reference with its aux head(s))
CASES = {
    "timm:inception_v4": ("v4.incp", {}, False),
    "timm:inception_resnet_v2": ("inception_resnet_v2.incp", {}, False),
    "timm:inception_v3": ("v3.incp", {}, False),
    "torchvision:inception_v3": ("v3.incp", {"aux_logits": True}, True),
    "torchvision:googlenet": ("googlenet.incp", {"aux_logits": True}, True),
    "torchvision:resnet50": ("resnet50.incp", {}, False),
}
INPUT_SIZE = {"googlenet.incp": 224, "resnet50.incp": 224}  # the others: 299


def randomize_weights(model: nn.Module, generator: torch.Generator) -> None:
    """Random weights at a scale that keeps activations near 1 through 100+ layers (timm's
    v3 init, std 0.1 everywhere, drives its logits to 1e13, where an absolute tolerance
    means nothing), and random BatchNorm statistics: fresh BatchNorm layers are the
    identity in eval mode, so a converter that swapped or dropped them would go unnoticed."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, fan_in ** -0.5, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1, generator=generator)
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))


def outputs(model: nn.Module, x: torch.Tensor, *, aux: bool) -> list[torch.Tensor]:
    """The model's outputs in eval mode; with aux, every output of the training path,
    taken with only the top-level module flagged as training (BatchNorm and Dropout stay
    in eval mode), which is how torchvision and our modules decide to run aux heads."""
    model.eval()
    model.training = aux
    try:
        with torch.no_grad():
            result = model(x)
    finally:
        model.eval()
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(CASES))
def test_converted_weights_give_the_reference_outputs(source):
    spec, params, aux = CASES[source]
    size = INPUT_SIZE.get(spec, 299)
    generator = torch.Generator().manual_seed(1234)
    # both networks are built on the meta device (no initialization to pay for), then the
    # reference gets its random weights and ours takes the converted tensors themselves
    with torch.device("meta"):
        reference = build_reference(source, aux_logits=aux)
        ours = load(SPECS / spec, **params)
    reference.to_empty(device="cpu")
    randomize_weights(reference, generator)

    converted = convert_state_dict(reference.state_dict(), source=source, model=ours)
    ours.load_state_dict(converted, strict=True, assign=True)

    x = torch.randn(1, 3, size, size, generator=generator)
    theirs, mine = outputs(reference, x, aux=aux), outputs(ours, x, aux=aux)
    assert len(theirs) == len(mine) == {"torchvision:googlenet": 3, "torchvision:inception_v3": 2}.get(source, 1)
    # torchvision returns (logits, aux2, aux1) for GoogLeNet and (logits, aux) for v3: the
    # specs' `output` statements list their heads in the same order
    for expected, actual in zip(theirs, mine):
        assert expected.shape == actual.shape == (1, 1000)
        assert 1e-2 < expected.std() and expected.abs().max() < 1e3  # neither constant nor exploded
        assert (expected - actual).abs().max().item() < TOLERANCE


@pytest.mark.slow
def test_googlenet_aux_heads_run_in_a_different_order_than_they_are_registered():
    """The reason the pairing traces execution instead of reading registration order."""
    reference = build_reference("torchvision:googlenet", aux_logits=True)
    registered = [n for n, m in reference.named_modules() if isinstance(m, nn.Conv2d)]
    executed = [layer.name for layer in execution_order(reference, 96) if layer.role == "conv"]
    assert sorted(registered) == sorted(executed) and registered != executed
    assert executed[executed.index("inception4a.branch4.1.conv") + 1] == "aux1.conv.conv"


@pytest.mark.slow
def test_a_mismatch_names_the_first_layers_that_disagree():
    reference = build_reference("torchvision:googlenet")
    ours = load(SPECS / "googlenet.incp", num_classes=10)
    with pytest.raises(InteropError) as error:
        convert_state_dict(reference.state_dict(), source="torchvision:googlenet", model=ours)
    message = str(error.value)
    assert "the reference runs `fc` (linear: bias (1000,), weight (1000, 1024))" in message
    assert "the model runs `fc` (linear: bias (10,), weight (10, 1024))" in message


@pytest.mark.slow
def test_aux_weights_are_dropped_for_a_spec_without_aux_heads():
    """Checkpoints of torchvision's v3 and GoogLeNet carry their aux heads; like
    torchvision's loader with aux_logits=False, the conversion leaves them out."""
    reference = build_reference("torchvision:googlenet", aux_logits=True)
    ours = load(SPECS / "googlenet.incp")  # without aux heads
    converted = convert_state_dict(reference.state_dict(), source="torchvision:googlenet", model=ours)
    ours.load_state_dict(converted, strict=True)
    assert torch.equal(ours.state_dict()["fc.weight"], reference.state_dict()["fc.weight"])


@pytest.mark.slow
def test_when_dropping_aux_weights_does_not_help_the_first_disagreement_is_reported():
    reference = build_reference("torchvision:googlenet", aux_logits=True)
    ours = load(SPECS / "googlenet.incp", num_classes=10)
    with pytest.raises(InteropError, match=r"layer 42 disagrees: the reference runs `aux1.conv.conv` \(conv: weight "
                                           r"\(128, 512, 1, 1\)\) where the model runs `inception4b.branch1.conv`"):
        convert_state_dict(reference.state_dict(), source="torchvision:googlenet", model=ours)


def test_extra_layers_at_the_end_are_reported_by_count():
    from inception_dsl.runtime.interop import Layer, pair_layers

    conv = Layer("a", "conv", (("weight", (8, 3, 1, 1)),))
    head = Layer("fc", "linear", (("bias", (10,)), ("weight", (10, 8))))
    with pytest.raises(InteropError, match="the reference has 1 weighted layers and the model 2; the first one "
                                           "without a partner is the model's `fc`"):
        pair_layers([conv], [conv, head])


def test_weights_of_another_architecture_are_refused_before_tracing():
    ours = load(SPECS / "resnet50.incp")
    with pytest.raises(InteropError, match="not a torchvision:resnet50 state_dict: missing"):
        convert_state_dict({"conv1.weight": torch.zeros(64, 3, 7, 7)}, source="torchvision:resnet50", model=ours)
    with pytest.raises(InteropError, match="unknown weight source 'keras:resnet50'"):
        convert_state_dict({}, source="keras:resnet50", model=ours)


@pytest.mark.slow
def test_convert_command_writes_weights_that_load_strictly(tmp_path, capsys):
    from inception_dsl.cli import main

    reference = build_reference("torchvision:googlenet")
    randomize_weights(reference, torch.Generator().manual_seed(7))
    torch.save(reference.state_dict(), tmp_path / "ref.pth")
    out = tmp_path / "ours.pth"
    argv = ["convert", str(SPECS / "googlenet.incp"), "--from", "torchvision:googlenet",
            "--weights", str(tmp_path / "ref.pth"), "-o", str(out)]
    assert main(argv) == 0
    ours = load(SPECS / "googlenet.incp")
    ours.load_state_dict(torch.load(out, weights_only=True), strict=True)
    assert torch.equal(ours.state_dict()["inception4a.branch4.1.bn.running_var"],
                       reference.state_dict()["inception4a.branch4.1.bn.running_var"])

    # weights that do not fit: exit 1, the first disagreeing layers named, nothing written
    refused = tmp_path / "refused.pth"
    assert main(argv[:-1] + [str(refused), "-p", "num_classes=10"]) == 1
    assert "the model runs `fc` (linear: bias (10,)" in capsys.readouterr().err
    assert not refused.exists()


def test_convert_command_reports_unreadable_weights_with_exit_2(tmp_path, capsys):
    from inception_dsl.cli import main

    (tmp_path / "junk.pth").write_text("not a checkpoint")
    argv = ["convert", str(SPECS / "resnet50.incp"), "--from", "torchvision:resnet50", "-o", str(tmp_path / "o.pth")]
    assert main(argv + ["--weights", str(tmp_path / "junk.pth")]) == 2
    assert main(argv + ["--weights", str(tmp_path / "missing.pth")]) == 2
    err = capsys.readouterr().err
    assert "not a PyTorch checkpoint" in err and "cannot find" in err and "Traceback" not in err
    assert not (tmp_path / "o.pth").exists()


@pytest.mark.slow
def test_a_target_that_registers_out_of_running_order_is_paired_by_execution():
    """torchvision's own GoogLeNet as the target: its registration order (aux heads last)
    does not pair, so the conversion falls back to the order it runs its layers in."""
    generator = torch.Generator().manual_seed(3)
    source = build_reference("torchvision:googlenet", aux_logits=True)
    randomize_weights(source, generator)
    target = build_reference("torchvision:googlenet", aux_logits=True)
    converted = convert_state_dict(source.state_dict(), source="torchvision:googlenet", model=target)
    assert all(torch.equal(converted[key], value) for key, value in source.state_dict().items())


SUM_SPEC = """network n {
  input 3x16x16
  stem: conv(8, 3x3)
  mid: conv(8, 3x3)
  sum { conv(8, 1x1, linear); { conv(8, 3x3, linear); conv(8, 1x1, linear) } from stem; conv(8, 3x3, linear) }
  sum { conv(8, 1x1, linear) from stem; conv(8, 1x1, linear) }
}
"""


class _SumsInAnotherOrder(nn.Module):
    """SUM_SPEC as a hand-written reference that adds the branches of both sums in another
    order than the spec writes them; the second sum's two branches have the same shapes
    and read different tensors (`stem` and the first sum), so only what they read tells
    them apart."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.mid = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.a, self.c = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 1))
        self.from_sum, self.from_stem = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)

    def forward(self, x):
        stem = self.stem(x)
        mid = self.mid(stem)
        first = self.c(mid) + self.b(stem) + self.a(mid)
        return self.from_sum(first) + self.from_stem(stem)


def test_a_sum_whose_branches_the_reference_runs_in_another_order_converts():
    """issue 27: a sum is commutative, so its branches may be written in any order; the
    layers are then paired by what each reads (runtime/layer_trace.py)."""
    from inception_dsl import loads

    reference = _SumsInAnotherOrder().eval()
    randomize_weights(reference, torch.Generator().manual_seed(5))
    ours = loads(SUM_SPEC).eval()
    ours.load_state_dict(convert_state_dict(model=ours, reference=reference), strict=True)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max() < TOLERANCE
    assert torch.equal(ours.state_dict()["sum3.branch0.weight"], reference.from_stem.weight)


@pytest.mark.slow
def test_references_are_built_without_downloading_anything():
    """issue 27: torchvision's segmentation builders default `weights_backbone` to ImageNet
    weights; every `weights*` argument is None, and a builder that would still fetch a
    file gets a clear InteropError instead of a URLError."""
    import torchvision

    from inception_dsl.runtime.interop import _no_downloads

    reference = build_reference("torchvision:lraspp_mobilenet_v3_large", num_classes=21)
    assert type(reference).__name__ == "LRASPP"
    with pytest.raises(InteropError, match=r"would download https://\S+; inception-dsl .* never fetches a URL"):
        with _no_downloads("torchvision:resnet18"):
            torchvision.models.get_model("resnet18", weights="DEFAULT")
    assert torchvision.models._api.load_state_dict_from_url.__name__ == "load_state_dict_from_url"  # restored


@pytest.mark.slow
def test_convert_reports_a_segmentation_checkpoint_that_does_not_fit_without_a_traceback(tmp_path, capsys):
    from inception_dsl.cli import main

    reference = build_reference("torchvision:lraspp_mobilenet_v3_large", num_classes=21)
    torch.save(reference.state_dict(), tmp_path / "lraspp.pth")
    out = tmp_path / "out.pth"
    argv = ["convert", str(SPECS / "mobilenet_v3_large.incp"), "--from", "torchvision:lraspp_mobilenet_v3_large",
            "--weights", str(tmp_path / "lraspp.pth"), "-o", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "the weights do not fit" in err and "internal error" not in err and "URLError" not in err
    assert not out.exists()
