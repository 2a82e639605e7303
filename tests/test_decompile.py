"""`inception-dsl decompile`: networks written as specs that compile back to the same
function (weights loaded by name, strict), and bad input refused with located reasons."""

from __future__ import annotations

import pytest

from inception_dsl.cli import main
from inception_dsl.decompiler import DecompileError, decompile
from inception_dsl.decompiler.verify import verify
from inception_dsl.language.fmt import fmt
from tests import decompile_models as models


@pytest.fixture(scope="module")
def tiny():
    return decompile(models.Tiny(), (3, 32, 32))


def test_a_small_network_round_trips_by_name(tiny):
    checked = verify(tiny.text, tiny.model, tiny.input_shape)
    assert checked.ok and checked.strict and checked.max_error < 1e-5, checked.message


def test_the_spec_has_blocks_parameters_and_repeats(tiny):
    text = tiny.text
    assert "block unit(out, stride = 2) {" in text  # one block, parameters where instances differ
    assert "unit(32, stride=1) x2" in text  # a run of identical calls folded
    assert "fc1: conv(in_channels // 4, 1x1, bn=false, act=identity)" in text  # what every instance agrees on
    assert "stem: conv(16, 3x3, stride=2)" in text  # conv + BatchNorm + ReLU module is the conv unit
    assert "product {" in text and "residual {" in text and "concat {" in text
    assert "# tests.decompile_models.Unit (tests/decompile_models.py:" in text  # the source of each block
    assert fmt(text) == text


def test_the_spec_is_fmt_and_lint_clean(tiny, tmp_path):
    path = tmp_path / "tiny.incp"
    path.write_text(tiny.text)
    assert main(["fmt", "--check", str(path)]) == 0
    assert main(["lint", str(path)]) == 0


def test_verify_names_the_first_stage_that_differs(tiny):
    wrong = tiny.text.replace("pool: maxpool(3x3)", "pool: avgpool(3x3)")
    assert wrong != tiny.text
    checked = verify(wrong, models.Tiny(), (3, 32, 32))
    assert not checked.ok and checked.first_difference == "mixed"
    assert "`mixed`" in checked.message


def test_a_missing_word_is_refused_with_its_place():
    with pytest.raises(DecompileError) as caught:
        decompile(models.NoWord(), (3, 16, 16))
    message = str(caught.value)
    assert "cumsum" in message and "tests.decompile_models.NoWord" in message
    assert "tests/decompile_models.py:" in message  # the line that calls it
    assert [r.missing for r in caught.value.refusals] == ["torch function `cumsum`"]


def test_partial_marks_the_gap():
    result = decompile(models.NoWord(), (3, 16, 16), partial=True)
    assert "GAP: `(network)`" in result.text and len(result.refusals) == 1


def test_data_dependent_control_flow_is_refused():
    with pytest.raises(DecompileError, match="control flow depends on the data"):
        decompile(models.DataDependent(), (3, 8, 8))


def test_an_output_that_is_not_a_tensor_is_refused():
    with pytest.raises(DecompileError, match="returns a tuple of 2, not a tensor"):
        decompile(models.TwoOutputs(), (3, 8, 8))


def test_cli_exit_codes_and_no_partial_file(tmp_path, capsys):
    out = tmp_path / "out.incp"
    assert main(["decompile", "tests.decompile_models:NoWord", "--input", "3x16x16", "-o", str(out)]) == 1
    assert not out.exists()
    assert "cumsum" in capsys.readouterr().err
    assert main(["decompile", "tests.decompile_models:broken", "--input", "3x16x16", "-o", str(out)]) == 1
    assert "cannot construct `tests.decompile_models:broken`: RuntimeError: this model needs a config file" in \
        capsys.readouterr().err and not out.exists()
    assert main(["decompile", "tests.decompile_models:DataDependent", "--input", "3x8x8", "-o", str(out)]) == 1
    assert not out.exists()
    assert main(["decompile", "tests.decompile_models:NoWord", "--input", "3x16x16", "--partial", "-o", str(out)]) == 0
    assert "GAP" in out.read_text()


def test_cli_needs_an_input_shape_when_the_model_has_none(tmp_path, capsys):
    assert main(["decompile", "tests.decompile_models:tiny", "-o", str(tmp_path / "x.incp")]) == 1
    assert "--input" in capsys.readouterr().err


def test_cli_verify(tmp_path, capsys):
    out = tmp_path / "tiny.incp"
    assert main(["decompile", "tests.decompile_models:Tiny", "--input", "3x32x32", "--verify", "-o", str(out)]) == 0
    assert "verified: outputs agree" in capsys.readouterr().err
    assert out.read_text().startswith("# Decompiled from tests.decompile_models:Tiny")


@pytest.mark.slow
@pytest.mark.parametrize("source", ["timm:resnet18", "torchvision:mobilenet_v2", "timm:regnetx_002", "timm:repvgg_a0",
                                    "torchvision:resnet50", "timm:inception_v4", "timm:inception_resnet_v2",
                                    "torchvision:googlenet", "torchvision:shufflenet_v2_x1_0",
                                    "torchvision:convnext_tiny", "torchvision:efficientnet_b0",
                                    # fixed in issue 25's second round: a keyword label (fasternet), timm's Linear
                                    # (hardcorenas), branch order (mobileone, cspnext: the converter's data flow),
                                    # a dict {'out': x} (torchvision's segmentation)
                                    "timm:fasternet_t0", "timm:hardcorenas_b", "timm:mobileone_s1",
                                    "timm:cspnext_tiny", "torchvision:deeplabv3_mobilenet_v3_large",
                                    "timm:ese_vovnet19b_dw"])
def test_reference_networks_round_trip(source):
    result = decompile(source)
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok, checked.message


def test_channel_split_shuffle_and_channels_last_blocks_round_trip():
    result = decompile(models.Modern(), (3, 16, 16))
    text = result.text
    assert "split(2) {" in text and "channel_shuffle(2)" in text
    assert "layernorm(eps=1e-06)" in text and "layer_scale(init=1e-06)" in text
    assert "shuffle: shuffle_unit x2" in text and "blocks: channels_last_block x2" in text
    checked = verify(text, result.model, result.input_shape)
    assert checked.ok, checked.message


def test_densenet_layers_reading_every_earlier_output_round_trip():
    result = decompile(models.small_densenet(), (3, 32, 32))
    assert "    dense_layer\n  } x3" in result.text  # a DenseNet block: one repeated concat
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok, checked.message


def test_a_running_sum_of_branches_is_one_sum():
    result = decompile(models.multi_branch(), (3, 12, 12))
    assert "_: sum {" in result.text or "sum {" in result.text
    assert result.text.count("sum {") == 1  # ((0 + a) + b) + c + d: one four-way sum
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok, checked.message


def test_a_spec_that_fails_check_is_refused_located():
    from inception_dsl.decompiler.guard import InternalError, checked_text

    unparsed = ("# timm.models.fasternet.PatchMerging (timm/models/fasternet.py:181), e.g. `stages.1.downsample`\n"
                "block patch_merging {\n  reduction: conv(8, 2x2, stride=2)\n}\n\n"
                "network n {\n  input 3x8x8\n  patch_merging\n}\n")
    with pytest.raises(InternalError) as caught:
        checked_text(unparsed, "<decompiled n>")
    message = str(caught.value)
    assert "<decompiled n>:3:12: error[E001]" in message and "`reduction: conv(8, 2x2, stride=2)`" in message
    assert "in block `patch_merging`, from timm.models.fasternet.PatchMerging (timm/models/fasternet.py:181)" in message
    mismatched = "block bad {\n  sum {\n    conv(8, 3x3, stride=2)\n    identity\n  }\n}\n\nnetwork n {\n  input 8x8x8\n  bad\n}\n"
    with pytest.raises(InternalError, match=r"<decompiled n>:2:3: error\[E210\]: sum branches disagree"):
        checked_text(mismatched, "<decompiled n>")
    assert checked_text(mismatched, "<decompiled n>", complete=False)  # --partial with gaps: it must parse


def _round_trips(result, *, strict: bool) -> None:
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok and checked.strict == strict, checked.message


def test_members_named_like_keywords_and_timm_linear():
    result = decompile(models.Named(), (3, 8, 8))
    assert "reduction:" not in result.text and "split:" not in result.text  # unlabelled: `reduction` is a keyword
    assert "fc: linear(4)" in result.text  # timm's Linear is the word `linear`, not a torch function
    _round_trips(result, strict=False)  # the weights pair through the converter


def test_module_list_members_keep_their_names():
    result = decompile(models.ListNet(), (3, 16, 16))
    assert "  blocks: {\n    unit(8) x2\n    unit(16, stride=2)\n  }" in result.text
    assert "  convs: {\n    conv(16, 1x1, bn=false, act=identity)\n" in result.text
    _round_trips(result, strict=True)


def test_a_dict_with_only_out_is_decompiled_and_aux_is_refused_by_name():
    result = decompile(models.Segmenter(), (3, 16, 16))
    assert "resize(to=input, mode=bilinear)" in result.text  # size=x.shape[-2:] (upsample(4) before resize landed)
    assert "backbone: intermediate_layer_getter" in result.text
    _round_trips(result, strict=True)
    with pytest.raises(DecompileError, match=r"returns a dict \(keys out, aux\).*build the model without `aux`"):
        decompile(models.Segmenter(aux=True), (3, 16, 16))


@pytest.mark.slow
def test_gcvit_is_refused_not_written_broken():
    result = decompile("timm:gcvit_xxtiny", partial=True)  # its text did not parse (a `reduction:` label)
    assert result.refusals and "linear on a grid" in {r.missing for r in result.refusals}
    assert fmt(result.text) == result.text  # it parses: the gaps are marked, the labels are names


def test_a_concat_of_the_input_and_every_step_reads_from_labels():
    result = decompile(models.small_vovnet(), (3, 16, 16))
    text = result.text
    assert "      identity from input\n      identity from tap1\n      identity from tap2\n      identity\n" in text
    assert "  concat {\n    identity from input\n    identity from tap1\n    identity\n  }" in text  # no tensors: no `_`
    _round_trips(result, strict=False)


def test_a_slice_of_every_channel_is_no_statement():
    result = decompile(models.ghost_modules(), (3, 8, 8))
    assert "ghost_module" in result.text
    _round_trips(result, strict=True)


def test_timm_tf_same_layers_are_tf_same():
    result = decompile(models.tf_same_layers(), (3, 15, 15))
    assert "conv(8, 3x3, stride=2, tf_same, bn=false, act=identity)" in result.text
    assert "conv(8, 2x2, stride=2, tf_same, bn=false, act=identity)" in result.text
    assert "maxpool(3x3, stride=2, tf_same)" in result.text and "avgpool(2x2, stride=2, tf_same)" in result.text
    _round_trips(result, strict=True)


def test_a_module_returning_a_tensor_and_sizes_is_that_tensor():
    result = decompile(models.Embedded(), (3, 8, 8))
    assert "patch_embed: size_too" in result.text
    _round_trips(result, strict=True)


def test_a_vision_transformer_is_written_in_tokens():
    result = decompile(models.small_vit(), (3, 32, 32))
    text = result.text
    assert "  proj: conv(32, 8x8, stride=8, valid, bn=false, act=identity)\n  to_tokens\n" in text
    assert "  cls_token: class_token\n  reg_token: class_token(2)\n  pos_embed: pos_embed\n" in text
    assert "attn: attention(2)" in text and "ls1: layer_scale(init=1e-05)" in text
    assert text.count("residual(act=identity) {") == 2 and "token(0)" in text
    _round_trips(result, strict=False)  # residual0/residual1 (and class_token's `token`): the converter pairs


def test_a_gap_before_a_brace_is_separated_before_its_comment():
    from inception_dsl.decompiler.emit import separated

    lines = ["  identity  # GAP: `x` (X, f.py:1): no language word for y", "  {", "  relu x2", "  {"]
    assert separated(lines) == ["  identity;  # GAP: `x` (X, f.py:1): no language word for y", "  {", "  relu x2;", "  {"]


def test_a_bug_while_structuring_is_an_internal_error_not_a_traceback(monkeypatch):
    from inception_dsl.decompiler import InternalError
    from inception_dsl.decompiler.structure import Structurer

    def broken(self, call):
        raise AttributeError("'LinearNorm' object has no attribute 'in_features'")

    monkeypatch.setattr(Structurer, "body", broken)
    with pytest.raises(InternalError, match="internal error .* AttributeError: 'LinearNorm'"):
        decompile(models.Named(), (3, 8, 8))
