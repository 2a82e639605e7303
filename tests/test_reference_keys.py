"""The reference specs carry their reference's state_dict keys (naming.py's rules and the
specs' labels): `model.load_state_dict(reference.state_dict(), strict=True)` works with no
conversion, and the outputs are the reference's (random weights, random BatchNorm
statistics, max |diff| < 1e-4). Inception-v3 matches timm and torchvision at once (their
keys are identical), auxiliary head included."""

from __future__ import annotations

import pytest
import torch

from inception_dsl.runtime.interop import build_reference
from inception_dsl.runtime.module import load

from .conftest import SPECS
from .test_interop import TOLERANCE, outputs, randomize_weights

# source -> (spec, network parameters, aux heads, input size: small, the reference must accept it)
CASES = {
    "timm:inception_v4": ("v4.incp", {}, False, 107),
    "timm:inception_resnet_v2": ("inception_resnet_v2.incp", {}, False, 107),
    "timm:inception_v3": ("v3.incp", {}, False, 107),
    "torchvision:inception_v3": ("v3.incp", {"aux_logits": True}, True, 299),  # the aux head needs 17x17
    "torchvision:googlenet": ("googlenet.incp", {"aux_logits": True}, True, 96),
    "torchvision:resnet50": ("resnet50.incp", {}, False, 64),
    "torchvision:shufflenet_v2_x1_0": ("shufflenet_v2_x1_0.incp", {}, False, 64),
    "torchvision:efficientnet_b0": ("efficientnet_b0.incp", {}, False, 64),
}


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(CASES))
def test_reference_state_dict_loads_strictly_and_gives_the_reference_outputs(source):
    spec, params, aux, size = CASES[source]
    generator = torch.Generator().manual_seed(99)
    with torch.device("meta"):
        reference = build_reference(source, aux_logits=aux)
        ours = load(SPECS / spec, input_shape=(3, size, size), **params)
    reference.to_empty(device="cpu")
    randomize_weights(reference, generator)
    state = reference.state_dict()
    assert set(ours.state_dict()) == set(state)  # the same keys (GoogLeNet registers its aux heads last)
    ours.load_state_dict(state, strict=True, assign=True)
    x = torch.randn(2, 3, size, size, generator=generator)
    theirs, mine = outputs(reference, x, aux=aux), outputs(ours, x, aux=aux)
    assert len(theirs) == len(mine) == {"torchvision:googlenet": 3, "torchvision:inception_v3": 2}.get(source, 1)
    for expected, actual in zip(theirs, mine):
        assert expected.shape == actual.shape == (2, 1000)
        assert 1e-2 < expected.std()  # not constant: every tensor mattered
        assert (expected - actual).abs().max().item() < TOLERANCE
