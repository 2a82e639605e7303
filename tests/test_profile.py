"""`profile`: measured time per stage, beside MACs (CLI, API, chart, render --heat time)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import torch

import inception_dsl
from inception_dsl.cli import main

SMALL = """network small(width = 32) {
  input 3x64x64
  conv(width, 3x3, stride=2)
  body: conv(2 * width, 3x3) x3
  pool: maxpool(3x3, stride=2)
  head: conv(4 * width, 3x3)
  global_avgpool
  flatten
  classifier: linear(10)
}
"""


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.incp"
    path.write_text(SMALL)
    return str(path)


@pytest.fixture
def one_thread():
    # two threads on a shared two-core machine wait on each other whenever one is preempted
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ratio(profile) -> float:
    # On a loaded machine most passes are stretched by preemption (4 ms slices against a
    # 4 ms forward); the fastest pass of each kind is the one that ran undisturbed.
    return min(profile.stage_sum_runs) / min(profile.forward_runs)


@pytest.mark.parametrize("optimize", [False, True])
def test_stage_times_sum_to_the_whole_forward(small, one_thread, optimize):
    for _ in range(3):  # a few tries: the machine is shared
        profile = inception_dsl.profile(small, repeats=30, warmup=3, optimize=optimize)
        if abs(_ratio(profile) - 1) <= 0.10:
            break
    assert abs(_ratio(profile) - 1) <= 0.10, (profile.forward_runs, profile.stage_sum_runs)
    names = [s.name for s in profile.stages]
    assert names[:4] == ["conv0", "body.0", "body.1", "body.2"] and "classifier" in names
    assert all(s.seconds > 0 for s in profile.stages if s.level == 0)
    head = next(s for s in profile.stages if s.name == "head")
    assert head.macs == 128 * 64 * 9 * 16 * 16 and head.flops_per_second == pytest.approx(2 * head.macs / head.seconds)


def test_depth_times_blocks_inside_stages(tmp_path, one_thread):
    spec = tmp_path / "nested.incp"
    spec.write_text("block unit(c) {\n  conv(c, 1x1)\n  conv(c, 3x3)\n}\n\nblock pair {\n  first: unit(c=8)\n  second: unit(c=16)\n}\n\n"
                    "network n {\n  input 3x16x16\n  stage: pair x2\n  global_avgpool\n}\n")
    profile = inception_dsl.profile(str(spec), depth=1, repeats=3, warmup=1)
    rows = [(s.name, s.level, s.kind) for s in profile.stages]
    assert rows[:3] == [("stage.0", 0, "pair"), ("stage.0.first", 1, "unit"), ("stage.0.second", 1, "unit")]
    by_name = {s.name: s for s in profile.stages}
    assert by_name["stage.0.first"].macs + by_name["stage.0.second"].macs == by_name["stage.0"].macs


def test_cli_table_json_chart_and_heat(small, tmp_path, capsys, one_thread):
    chart = tmp_path / "chart.svg"
    assert main(["profile", small, "--repeats", "3", "--warmup", "1", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "network small, cpu, batch 1, fp32, eager" in out and "GFLOP/s" in out and "body.2" in out
    svg = ET.parse(chart).getroot()
    assert svg.tag.endswith("svg") and "body" in chart.read_text() and "share of MACs" in chart.read_text()
    assert main(["profile", small, "--repeats", "3", "--warmup", "1", "--format", "json", "--batch", "2"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["batch"] == 2 and document["stages"][0]["name"] == "conv0"
    saved = tmp_path / "profile.json"
    saved.write_text(json.dumps(document))
    dot = tmp_path / "heat.dot"
    assert main(["render", small, "--heat", "time", "--heat-from", str(saved), "-o", str(dot)]) == 0
    assert "fillcolor=\"#ff" in dot.read_text()
    assert main(["render", small, "--heat", "time", "-o", str(dot)]) == 0  # measures in process


def test_usage_and_spec_errors(small, tmp_path, capsys):
    if not torch.cuda.is_available():
        assert main(["profile", small, "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert main(["profile", small, "--chart", str(tmp_path / "x.png")]) == 2
    bad = tmp_path / "bad.incp"
    bad.write_text("network n {\n  input 3x8x8\n  conv(8, 9x9, valid)\n}\n")
    assert main(["profile", str(bad)]) == 1
    assert "bad.incp:3:" in capsys.readouterr().err
