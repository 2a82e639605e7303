"""`summary` and backends/summary.py: totals and per-block figures equal the measured
reference (timm inception_v4, FlopCounterMode), MACs equal torch's own FlopCounterMode
count on the compiled module (inception_dsl.load) for every spec, formats, batch and dtype, no torch import."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest

from inception_dsl import analyze
from inception_dsl.backends.summary import format_csv, format_json, format_table, to_summary
from inception_dsl.cli import main
from inception_dsl.ir import Op

from .conftest import ROOT, SPECS

# /work/shared/reference/architectures.md, Appendix A, "Measured: timm inception_v4 @ 299x299":
# (params, FlopCounterMode FLOPs) per block; MACs are FLOPs / 2.
# Our stages are timm's modules (features.N), so the names are the reference's own.
V4_REFERENCE = {
    "features.0": (928, 38_363_328),  # the stem: features.0-5
    "features.1": (9_280, 398_297_088),
    "features.2": (18_560, 796_594_176),
    "features.3": (55_488, 589_344_768),
    "features.4": (189_312, 1_944_436_736),
    "features.5": (332_160, 812_851_200),
    "features.6": (317_632, 775_219_200),  # the first Inception-A
    "features.10": (2_306_112, 2_194_329_600),  # Reduction-A
    "features.14": (2_936_256, 1_694_529_536),  # the fourth Inception-B
    "features.18": (2_747_392, 1_022_197_760),  # Reduction-B
    "features.21": (4_553_088, 581_959_680),  # the third Inception-C
    "last_linear": (1_537_000, 3_072_000),
}


@pytest.fixture(scope="module")
def v4():
    result = analyze(SPECS / "v4.incp")
    assert result.ok, result.diagnostics
    return result.graph


def test_v4_totals_equal_the_reference(v4):
    summary = to_summary(v4)
    assert summary.params == 42_679_816
    assert summary.macs == 12_253_974_624
    assert summary.flops == 24_507_949_248


def test_v4_per_block_figures_equal_the_reference(v4):
    rows = {row.name: row for row in to_summary(v4).rows}
    for name, (params, flops) in V4_REFERENCE.items():
        assert (rows[name].params, rows[name].macs * 2) == (params, flops), name
    assert rows["features.17"].shape == (1024, 17, 17)


def test_aux_head_is_marked_and_counted():
    # torchvision inception_v3 with its aux head, FlopCounterMode in training mode (reference file)
    summary = to_summary(analyze(SPECS / "v3.incp", params={"aux_logits": True}).graph)
    assert (summary.params, summary.flops) == (27_161_264, 11_437_798_592)
    assert [r.name for r in summary.rows if r.aux] == ["AuxLogits"]
    assert "AuxLogits (aux)" in format_table(summary)


def test_depth_rows_add_up_to_their_stage(v4):
    summary = to_summary(v4, depth=1)
    stage = next(r for r in summary.rows if r.name == "features.4")
    children = [r for r in summary.rows if r.level == 1 and r.name.startswith("features.4.")]
    assert [r.name for r in children] == ["features.4.branch0", "features.4.branch1", "features.4.cat"]
    assert sum(r.params for r in children) == stage.params
    assert sum(r.macs for r in children) == stage.macs
    assert sum(r.activation_bytes for r in children) == stage.activation_bytes
    assert sum(r.params for r in summary.rows if r.level == 0) == summary.params  # no double counting
    deeper = to_summary(v4, depth=2)
    assert any(r.name == "features.4.branch1.3" and r.level == 2 for r in deeper.rows)


def test_batch_scales_macs_and_memory_not_params_and_dtype_scales_memory(v4):
    one, eight = to_summary(v4), to_summary(v4, batch=8, dtype="bfloat16")
    assert eight.params == one.params
    assert eight.macs == 8 * one.macs
    assert eight.activation_bytes == 8 * one.activation_bytes // 2
    elements = sum(n.shape and math.prod(n.shape) for n in v4.nodes() if n.op is not Op.OUTPUT)
    assert one.activation_bytes == 4 * elements


def test_formats_agree(v4):
    summary = to_summary(v4)
    document = json.loads(format_json(summary))
    assert document["total"] == {"params": 42_679_816, "macs": 12_253_974_624, "flops": 24_507_949_248,
                                 "activation_bytes": summary.activation_bytes}
    assert [r["name"] for r in document["rows"]][:3] == ["input", "features.0", "features.1"]
    table = list(csv.DictReader(io.StringIO(format_csv(summary))))
    assert table[-1]["name"] == "total" and int(table[-1]["macs"]) == 12_253_974_624
    assert sum(int(r["params"]) for r in table[:-1]) == 42_679_816
    text = format_table(summary)
    assert "12,253,974,624" in text and "42,679,816" in text and "features.9" in text


def test_cli_formats_and_options(capsys):
    assert main(["summary", str(SPECS / "v4.incp"), "--format", "json", "--batch", "2", "--input", "3x96x96"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["batch"] == 2 and document["input"] == [3, 96, 96]
    assert main(["summary", str(SPECS / "v4.incp"), "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "  features.6.branch2" in out and "total" in out


def test_cli_spec_with_errors_exits_1(tmp_path, capsys):
    spec = tmp_path / "bad.incp"
    spec.write_text("network n {\n  input 3x8x8\n  conv(8, 9x9, valid)\n}\n")
    assert main(["summary", str(spec)]) == 1
    captured = capsys.readouterr()
    assert "error[E2" in captured.err and captured.out == ""


def test_summary_does_not_import_torch():
    code = ("import sys\nfrom inception_dsl.cli import main\n"
            "assert main(['summary', 'specs/v4.incp', '--depth', '2']) == 0\n"
            "assert 'torch' not in sys.modules, 'summary imported torch'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


# -- the summary against the compiled module (inception_dsl.load) --------------------------
SMALL_INPUTS = [(3, 96, 96), (3, 75, 75), (3, 64, 64)]


def _smallest_graph(spec):
    for shape in SMALL_INPUTS:
        result = analyze(spec, input_shape=shape)
        if result.ok:
            return result.graph
    result = analyze(spec)
    assert result.ok, result.diagnostics
    return result.graph


def _module_counts(spec, input_shape):
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    import inception_dsl

    torch.manual_seed(0)
    model = inception_dsl.load(spec, input_shape=input_shape).eval()
    params = sum(p.numel() for p in model.parameters())
    # attention's matrix products are counted: FlopCounterMode sees them on the math SDPA backend
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *input_shape))
    return params, counter.get_total_flops()


LIGHT = {"googlenet", "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_1", "efficientnet_b0"}  # the others: slow


@pytest.mark.parametrize("spec", [p if p.stem in LIGHT else pytest.param(p, marks=pytest.mark.slow)
                                  for p in sorted(SPECS.glob("*.incp"))], ids=lambda p: p.stem)
def test_totals_equal_the_compiled_module(spec):
    graph = _smallest_graph(spec)
    summary = to_summary(graph)
    params, flops = _module_counts(spec, graph.input_node.shape)
    assert params == summary.params
    assert flops == 2 * summary.macs


@pytest.mark.slow
def test_full_size_v4_equals_the_compiled_module(v4):
    params, flops = _module_counts(SPECS / "v4.incp", (3, 299, 299))
    assert (params, flops) == (42_679_816, 24_507_949_248) == (to_summary(v4).params, to_summary(v4).flops)


@pytest.mark.parametrize("spec", ["v4.incp", "inception_resnet_v2.incp", "densenet121.incp", "googlenet.incp"])
def test_totals_equal_the_summary_totals(spec):
    """`sweep` reports summary.totals per variant; they are to_summary's totals."""
    from inception_dsl.backends.summary import totals

    result = analyze(ROOT / "specs" / spec)
    assert result.ok
    graph = result.graph
    for batch, dtype in ((1, "float32"), (3, "bfloat16")):
        summary = to_summary(graph, batch=batch, dtype=dtype)
        assert totals(graph, batch=batch, dtype=dtype) == (summary.params, summary.macs, summary.activation_bytes)
