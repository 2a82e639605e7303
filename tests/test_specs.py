"""The Inception family as specs: each checks clean, has the parameter count of its
reference implementation, and every named stage has the shape the reference model
produces there (forward hooks on timm/torchvision models with random weights)."""

from __future__ import annotations

import re

import pytest

from inception_dsl import analyze
from inception_dsl.passes.analyses.budget import total_params

from .conftest import SPECS

ALL_SPECS = sorted(p.relative_to(SPECS).as_posix() for p in SPECS.glob("*.incp"))

# spec, network parameters -> parameters of the reference model (architectures.md §0)
PARAM_COUNTS = [
    ("v4.incp", {}, 42_679_816),  # timm inception_v4
    ("inception_resnet_v2.incp", {}, 55_843_464),  # timm inception_resnet_v2
    ("inception_resnet_v1.incp", {}, 22_756_328),  # reconstruction, architectures.md §6
    ("v3.incp", {}, 23_834_568),  # torchvision/timm inception_v3(aux_logits=False)
    ("v3.incp", {"aux_logits": True}, 27_161_264),  # ... aux_logits=True
    ("googlenet.incp", {}, 6_624_904),  # torchvision googlenet(aux_logits=False)
    ("googlenet.incp", {"aux_logits": True}, 13_004_888),  # ... both aux heads
    ("resnet50.incp", {}, 25_557_032),  # torchvision resnet50
    ("inception_resnet_v2_paper.incp", {}, 32_433_928),  # our reconciliation of the figures (docs/paper.md)
]


def stage_shapes(graph) -> dict[str, tuple[int, ...]]:
    return {s.name: graph.node(s.output).shape for s in graph.stages}


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_every_spec_checks_clean(spec):
    result = analyze(SPECS / spec)
    assert result.ok and not result.diagnostics, [d.message for d in result.diagnostics]


@pytest.mark.parametrize("spec, params, expected", PARAM_COUNTS, ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_parameter_count_matches_the_reference(spec, params, expected):
    result = analyze(SPECS / spec, params=params)
    assert result.ok, result.diagnostics
    assert total_params(result.graph) == expected


@pytest.mark.parametrize("spec, params, expected", PARAM_COUNTS, ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_built_module_has_the_reference_parameter_count(spec, params, expected):
    import torch

    from inception_dsl.runtime.module import load

    with torch.device("meta"):  # shapes only: nothing is allocated or initialized
        model = load(SPECS / spec, **params)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_inception_resnet_v1_stage_shapes_follow_the_paper():
    shapes = stage_shapes(analyze(SPECS / "inception_resnet_v1.incp").graph)
    assert shapes["stem"] == (256, 35, 35)
    assert shapes["mixed_6a"] == (896, 17, 17)
    assert shapes["mixed_7a"] == (1792, 8, 8)
    assert [name for name in shapes if name.startswith("repeat_")] == (
        [f"repeat_1.{i}" for i in range(5)]
        + [f"repeat_2.{i}" for i in range(10)]
        + [f"repeat_3.{i}" for i in range(5)])


def test_paper_widths_of_inception_resnet_v2_are_rejected_by_the_checker():
    """Fig. 17's 1154-wide residual cannot be added to Reduction-A's 1152 channels."""
    result = analyze(SPECS / "inception_resnet_v2_paper.incp", params={"width_b": 1154})
    assert not result.ok
    assert [d.code.id for d in result.diagnostics if d.level.value == "error"] == ["E202"]
    assert "1154" in result.diagnostics[0].message and "1152" in result.diagnostics[0].message


def test_paper_variant_uses_the_v4_stem_and_the_paper_block_counts():
    shapes = stage_shapes(analyze(SPECS / "inception_resnet_v2_paper.incp").graph)
    assert shapes["stem"] == (384, 35, 35)
    assert sum(n.startswith("inception_resnet_a.") for n in shapes) == 5
    assert sum(n.startswith("inception_resnet_b.") for n in shapes) == 10
    assert sum(n.startswith("inception_resnet_c.") for n in shapes) == 5
    assert shapes["reduction_b"] == (2144, 8, 8)


def test_aux_heads_are_outputs_only_when_enabled():
    for spec, heads in (("v3.incp", ["AuxLogits"]), ("googlenet.incp", ["aux2", "aux1"])):
        plain = analyze(SPECS / spec).graph
        with_aux = analyze(SPECS / spec, params={"aux_logits": True}).graph
        assert [n.attrs["name"] for n in plain.output_nodes()] == ["fc"]
        assert [n.attrs["name"] for n in with_aux.output_nodes()] == ["fc"] + heads
        assert all(n.shape == (1000,) for n in with_aux.output_nodes())


# -- against the reference models ------------------------------------------------------
# spec -> (reference, input size used for the comparison, spec stage -> reference module
# when the names differ). Sizes other than the nominal one exercise the padding and
# rounding rules; they stay small to keep the test fast.
REFERENCES = {
    "v4.incp": ("timm:inception_v4", 171, {}),
    "inception_resnet_v2.incp": ("timm:inception_resnet_v2", 171, {}),
    "v3.incp": ("torchvision:inception_v3", 171, {}),
    "googlenet.incp": ("torchvision:googlenet", 201, {}),
    "resnet50.incp": ("torchvision:resnet50", 161, {}),
}


def pooled(shape: tuple[int, ...]) -> tuple[int, ...]:
    """timm's global pool flattens as it pools; compare (C, 1, 1) as (C,)."""
    return shape[:1] if shape[1:] == (1, 1) else shape


def reference_shapes(model, size: int, modules: dict[str, str]) -> dict[str, tuple[int, ...]]:
    import torch

    found = dict(model.named_modules())
    shapes, handles = {}, []
    for stage, name in modules.items():
        if name in found:
            def record(_module, _inputs, out, stage=stage):
                shapes[stage] = pooled(tuple(out.shape[1:]))
            handles.append(found[name].register_forward_hook(record))
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size, device="meta"))
    for handle in handles:
        handle.remove()
    return shapes


@pytest.mark.parametrize("spec", sorted(REFERENCES))
def test_stage_shapes_equal_the_reference_model(spec):
    from inception_dsl.runtime.interop import build_reference

    source, size, renames = REFERENCES[spec]
    graph = analyze(SPECS / spec, input_shape=(3, size, size)).graph
    ours = stage_shapes(graph)
    modules = {stage: renames.get(stage, stage) for stage in ours}
    import torch

    with torch.device("meta"):  # shapes only: no weights are allocated, no arithmetic is done
        reference = build_reference(source)
    theirs = reference_shapes(reference, size, modules)
    assert {stage: pooled(ours[stage]) for stage in theirs} == theirs
    # every stage the spec names found its reference module; only unlabelled ones (`flatten7`) have none
    unmatched = sorted(set(ours) - set(theirs))
    assert all(re.fullmatch(r"[a-z]+[0-9]+", name) for name in unmatched), unmatched


def test_paper_map_points_at_the_named_definitions():
    """docs/paper.md maps figures to `file:first-last` ranges; each range must start at
    a line naming the definition the table gives, so the map cannot silently go stale."""
    text = (SPECS.parent / "docs" / "paper.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| Fig. ") or line.startswith("| Table")]
    assert len(rows) == 19  # Figs. 3-20 and Table 1
    checked = 0
    for row in rows:
        names = re.findall(r"`([a-z_0-9]+)`", row.rsplit("|", 2)[-2])
        for path, first, last in re.findall(r"`(specs/[\w/]+\.incp):(\d+)(?:-(\d+))?`", row):
            lines = (SPECS.parent / path).read_text(encoding="utf-8").splitlines()
            line = lines[int(first) - 1]
            assert any(re.search(rf"\b{name}\b", line) for name in names), (row, path, first, line)
            if last:  # a whole definition: the range ends at its closing brace
                assert lines[int(last) - 1] == "}", (row, path, last)
            checked += 1
    assert checked >= 22
