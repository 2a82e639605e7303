"""Every spec in specs/: the optimized module (all passes, channels_last) computes what
the unoptimized one computes in eval mode, within 1e-4 in float32, with non-trivial
BatchNorm statistics so that folding is really exercised."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inception_dsl import api
from inception_dsl.runtime.graph_module import GraphModule, InferenceOnlyError
from inception_dsl.runtime.optimized_module import optimize

from .conftest import SPECS
from .test_optimize_passes import randomized

SPEC_FILES = sorted(SPECS.glob("*.incp"))
SMALL_INPUTS = [(3, 75, 75), (3, 96, 96), (3, 139, 139), (3, 224, 224)]


def _small_graph(path: Path):
    """The spec at the smallest input size it accepts (its declared size last)."""
    for shape in SMALL_INPUTS + [None]:
        result = api.analyze(path, input_shape=shape)
        if result.ok:
            return result.graph
    pytest.fail(f"{path.name} does not check at any of {SMALL_INPUTS} nor at its own input size")


# no BatchNorm, no dropout or drop path at inference, no layer scale after a conv: every pass leaves it as it is
NOTHING_TO_OPTIMIZE = {"vit_tiny_patch16_224", "swin_tiny_patch4_window7_224", "caformer_s18"}


@pytest.mark.slow
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_optimized_equals_unoptimized(path):
    graph = _small_graph(path)
    torch.manual_seed(0)
    reference = randomized(GraphModule(graph)).eval()
    optimized = optimize(reference)
    x = torch.randn(2, *graph.input_node.shape)
    with torch.no_grad():
        expected, actual = reference(x), optimized(x)
    assert actual.is_contiguous() or actual.dim() == 2
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    if path.stem not in NOTHING_TO_OPTIMIZE:
        assert len(optimized.ir_graph) < len(graph)  # the passes found something to do


@pytest.mark.slow
def test_v4_at_full_size_fuses_and_folds():
    graph = api.require(api.analyze(SPECS / "v4.incp"))
    torch.manual_seed(0)
    module = optimize(SPECS / "v4.incp", GraphModule(graph).ir_state_dict())
    ops = [node.op.name for node in module.ir_graph.nodes()]
    assert "BN" not in ops and "DROPOUT" not in ops
    assert ops.count("SLICE") > 0
    # a conv + BN becomes one Conv2d with a bias; the fused 1x1 of Inception-A is 96+64+64 wide
    assert module.features_6_fused.out_channels == 224
    assert module.features_0_conv.bias is not None
    assert module.features_0_conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_an_optimized_module_refuses_training_mode():
    module = optimize(SPECS / "googlenet.incp", input_shape=(3, 75, 75))
    assert not module.training
    with pytest.raises(InferenceOnlyError, match="inference-only"):
        module.train()
    module.eval()  # still allowed


def test_missing_weights_are_named():
    graph = api.require(api.analyze(SPECS / "googlenet.incp", input_shape=(3, 75, 75)))
    weights = GraphModule(graph).ir_state_dict()
    first_conv = next(key for key in weights if key.endswith(".weight"))
    del weights[first_conv]
    with pytest.raises(KeyError, match=first_conv.replace(".", r"\.")):
        optimize(SPECS / "googlenet.incp", weights, input_shape=(3, 75, 75))


def test_a_foreign_module_without_its_graph_is_refused():
    with pytest.raises(TypeError, match="spec"):
        optimize(torch.nn.Conv2d(3, 3, 1))


def test_a_compiled_files_module_is_refused_with_the_call_that_works(tmp_path):
    """A module of the standalone file carries no checked graph: the TypeError writes the
    optimize(spec, state_dict, network=..., parameters) call, and that call works."""
    from .backend_helpers import CODEGEN, import_file
    from inception_dsl.backends.python.source import to_python

    out = tmp_path / "tiny_compiled.py"
    out.write_text(to_python(api.analyze(CODEGEN / "tiny.incp")), encoding="utf-8")
    model = randomized(import_file(out, "tiny_compiled_optimize").Tiny(num_classes=3)).eval()
    with pytest.raises(TypeError) as refused:
        optimize(model)
    assert ('call optimize("path/to/tiny.incp", model.state_dict(), network=\'tiny\', num_classes=...) with the '
            'network parameters the model was built with') in str(refused.value)
    optimized = optimize(CODEGEN / "tiny.incp", model.state_dict(), network="tiny", num_classes=3)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(optimized(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_load_with_optimize_matches_load_in_eval_mode():
    import inception_dsl

    torch.manual_seed(0)
    plain = randomized(inception_dsl.load(SPECS / "googlenet.incp", input_shape=(3, 75, 75))).eval()
    optimized = inception_dsl.optimize(SPECS / "googlenet.incp", plain.state_dict(), input_shape=(3, 75, 75))
    torch.manual_seed(1)
    direct = inception_dsl.load(SPECS / "googlenet.incp", input_shape=(3, 75, 75), optimize=True, seed=3)
    assert isinstance(direct, GraphModule) and not direct.training
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        torch.testing.assert_close(optimized(x), plain(x), rtol=1e-4, atol=1e-4)
        reference = inception_dsl.load(SPECS / "googlenet.incp", input_shape=(3, 75, 75), seed=3).eval()
        torch.testing.assert_close(direct(x), reference(x), rtol=1e-4, atol=1e-4)
