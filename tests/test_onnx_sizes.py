"""ONNX export of the layers that follow another tensor's size (issue 23 item 3): TF 'same'
padding at stride 2 on an odd size (the pixel after), max pool with `tf_same`, the mixed
conv (a kernel list), `resize(to=LABEL)`, a channel slice with `from`, `pad_to(input)` and
`resize(input)`, exported by both torch exporters (dynamo and TorchScript) and by
`inception-dsl export`, run by onnxruntime against the torch module."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from inception_dsl import analyze_text
from inception_dsl.cli import main
from inception_dsl.runtime.module import load

SPEC = """network sizes_onnx {
  input 3x33x33
  low: conv(16, 3x3, stride=2, tf_same)
  maxpool(3x3, stride=2, tf_same)
  mix: conv(16, [3x3, 5x5, 7x7], groups=16, act=silu)
  conv(24, 1x1)
  up: resize(to=low, mode=bilinear)
  concat { identity; channels(4, 12) from low }
  conv_transpose(8, 2x2, stride=2)
  pad_to(input)
  full: resize(input)
}
"""


def _run(path, x: torch.Tensor) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x.numpy()})
    return out


def test_the_shapes_are_the_odd_ones():
    graph = analyze_text(SPEC).graph
    assert graph.node("low.pad").shape == (3, 35, 35)  # 2 in all, the odd pixel after
    assert graph.node("low.conv").shape == (16, 17, 17)  # ceil(33 / 2)
    assert graph.node("mix.conv.cat").shape == (16, 9, 9) and graph.node("up").shape == (24, 17, 17)
    assert graph.node("pad_to7").shape == (8, 33, 33)  # 34 cropped to the input's 33


@pytest.mark.slow
@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_both_exporters_compute_what_torch_computes(tmp_path, dynamo):
    spec = tmp_path / "sizes_onnx.incp"
    spec.write_text(SPEC, encoding="utf-8")
    model = load(spec, seed=0).eval()
    x = torch.randn(1, 3, 33, 33)
    with torch.no_grad():
        expected = model(x).numpy()
    out = tmp_path / "m.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(out), dynamo=dynamo, opset_version=18,
                          input_names=["input"], output_names=["output"])
    onnx_out = _run(out, x)
    assert onnx_out.shape == expected.shape == (1, 8, 33, 33)
    np.testing.assert_allclose(onnx_out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_the_export_command_writes_a_file_onnxruntime_runs(tmp_path):
    import onnx

    spec, out = tmp_path / "sizes_onnx.incp", tmp_path / "sizes_onnx.onnx"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["export", str(spec), "-o", str(out), "--seed", "0"]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    x = torch.randn(1, 3, 33, 33)
    with torch.no_grad():
        expected = load(spec, seed=0).eval()(x).numpy()
    np.testing.assert_allclose(_run(out, x), expected, rtol=1e-4, atol=1e-5)
