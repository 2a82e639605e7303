"""One check that a spec using a layer word flows through everything (the tests of the
ops in inception_dsl/ops/ share it): check, `load()` (the standalone source) against a
torch reference, its state_dict keys against the IR's, the flat forward (GraphModule) and
`optimize()` (each pass alone, then all of them in both memory formats) against `load()`,
the summary's parameters and MACs against the module and torch's FlopCounterMode, the
diagram's labels, `fmt` round trip and lint."""

from __future__ import annotations

from typing import Callable

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import inception_dsl
from inception_dsl import analyze_text
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.summary import to_summary
from inception_dsl.language.fmt import fmt
from inception_dsl.lint.linter import lint_spec
from inception_dsl.passes.rewrites.pipeline import RULES
from inception_dsl.runtime.graph_module import GraphModule, optimize_graph_module

from .test_optimize_passes import randomized

Reference = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]


def signature(graph):
    return [(n.id, n.op, n.attrs, n.shape) for n in graph.nodes()]


def through_everything(text: str, reference: Reference | None = None, *, labels: tuple[str, ...] = (),
                       batch: int = 2, atol: float = 1e-5) -> torch.nn.Module:
    """Run `text` (one network) through every consumer; returns the loaded eval module."""
    result = analyze_text(text, "op.incp")
    assert result.ok, [d.message for d in result.diagnostics]
    graph = result.graph
    torch.manual_seed(0)
    model = randomized(inception_dsl.loads(text, path="op.incp")).eval()
    owned = {f"{node.id}.{name}" for node in graph.nodes() for name in node.op.weights(node)}
    assert {k for k in model.state_dict() if not k.endswith("num_batches_tracked")} == owned  # the IR contract
    x = torch.randn(batch, *graph.input_node.shape)
    with torch.no_grad():
        y = model(x)
        if reference is not None:
            torch.testing.assert_close(y, reference(model, x), rtol=0, atol=atol)
        flat = GraphModule(graph, state_dict=model.state_dict()).eval()
        torch.testing.assert_close(flat(x), y, rtol=0, atol=atol)
        variants = [((rule,), False) for rule in RULES] + [(RULES, False), (RULES, True)]
        for rules, channels_last in variants:  # each pass alone, then all of them in both memory formats
            optimized = optimize_graph_module(graph, model.state_dict(), rules=rules, channels_last=channels_last)
            torch.testing.assert_close(optimized(x), y, rtol=1e-4, atol=1e-4)
    _counts_agree(model, graph, x[:1])
    dot = to_dot(graph)
    for label in labels:
        assert label in dot, f"{label!r} not in the diagram"
    formatted = fmt(text, "op.incp")
    assert signature(analyze_text(formatted, "op.incp").graph) == signature(graph)
    assert fmt(formatted, "op.incp") == formatted
    assert not [d for d in lint_spec("op.incp", text=text) if d.code.id.startswith("E")]
    return model


def _counts_agree(model: torch.nn.Module, graph, x: torch.Tensor) -> None:
    """Attention's two matrix products are counted: FlopCounterMode sees them on the math
    SDPA backend (the fused CPU kernel is invisible to it)."""
    summary = to_summary(graph)
    assert sum(p.numel() for p in model.parameters()) == summary.params
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert counter.get_total_flops() == 2 * summary.macs


def exports_to_onnx_alike(text: str, tmp_path, input_shape: tuple[int, ...]) -> None:
    """`inception-dsl export --onnx` of `text` checks with onnx and computes what `load()`
    computes, run by onnx's reference evaluator."""
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    from inception_dsl.cli import main
    from inception_dsl.runtime.module import load

    spec, out = tmp_path / "op.incp", tmp_path / "op.onnx"
    spec.write_text(text, encoding="utf-8")
    assert main(["export", str(spec), "--onnx", str(out), "--seed", "0"]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    x = torch.randn(1, *input_shape)
    (onnx_out,) = ReferenceEvaluator(model).run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = load(spec, seed=0).eval()(x).numpy()
    np.testing.assert_allclose(onnx_out, expected, rtol=1e-4, atol=1e-5)
