"""The decompiler's channel slices: `x[:, a:b]`, `narrow`, and the parts of `chunk`/`split`
read separately are `channels(a, b)`; ReXNet's shortcut added into the first channels is
`concat { sum { channels(0, c); identity from input }; channels(c, out) }`. Each network
compiles back to the same function (tests/decompile_slice_models.py)."""

from __future__ import annotations

import pytest

from inception_dsl.decompiler import DecompileError, InternalError, decompile
from inception_dsl.decompiler.verify import verify
from tests import decompile_models, decompile_slice_models as models


def _exact(model, shape=(3, 8, 8), *, strict=True) -> str:
    result = decompile(model, shape)
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok and checked.strict == strict and checked.max_error < 1e-5, checked.message
    return result.text


def test_a_shortcut_added_into_a_channel_slice_is_a_sum_inside_a_concat():
    text = _exact(decompile_models.SliceAdd())
    assert "  conv: conv(5, 1x1, bn=false, act=identity)\n  concat {\n" \
           "    sum { channels(0, 3); identity from input }\n    channels(3, 5)\n  }\n" in text


def test_the_shortcut_of_an_intermediate_tensor_reads_its_label():
    text = _exact(models.MidShortcut())
    assert "  c1: conv(4, 1x1, bn=false, act=identity)\n  relu\n" in text
    assert "sum { channels(0, 4); identity from c1 }\n    channels(4, 7)\n" in text


def test_partial_shortcuts_in_a_block_take_in_channels():
    text = _exact(models.partial_shortcuts())
    assert "block partial_shortcut(out) {" in text
    assert "sum { channels(0, in_channels); identity from input }\n    channels(in_channels, out)\n" in text
    assert "partial_shortcut(6)\n    partial_shortcut(9)\n    partial_shortcut(12)\n" in text


def test_narrow_is_a_channels_statement():
    text = _exact(models.Narrowed())
    assert "  conv: conv(8, 3x3, bn=false, act=identity)\n  channels(2, 6)\n  head: conv(6, 1x1" in text


def test_slices_of_one_tensor_concatenated_out_of_order():
    text = _exact(models.Swapped())
    assert "concat {\n    channels(5, 8)\n    channels(0, 5)\n  }" in text


def test_chunk_parts_concatenated_out_of_order_are_channels_not_split():
    text = _exact(models.ChunkSwap())
    assert "split" not in text.split("network")[1]
    assert "_: { channels(4, 8); b: conv(4, 3x3, bn=false, act=identity) }\n    channels(0, 4)\n" in text


def test_split_parts_through_named_layers_keep_their_names():
    text = _exact(models.SplitSum())  # strict: c1 and c2 are the reference's names
    assert "_: { channels(0, 3); c1: conv(6, 1x1" in text
    assert "_: { part1_0: channels(3, 8); c2: conv(6, 3x3" in text  # two `0`s in one scope would clash (E111)


def test_one_read_part_of_a_split():
    text = _exact(models.OnePart())
    assert "  conv: conv(8, 1x1, bn=false, act=identity)\n  channels(4, 6)\n  c1: conv(6, 1x1" in text


def test_a_part_read_twice_and_a_part_never_read():
    text = _exact(models.SliceTwice())
    assert "  channels(0, 4)\n  _: product {\n    a: conv(4, 1x1, bn=false, act=identity)\n    identity\n  }" in text


def test_a_split_concatenated_in_order_is_still_split():
    text = decompile(decompile_models.Modern(), (3, 16, 16)).text
    assert "split(2) {" in text and "channels(" not in text


def test_res2net_scales_read_their_parts_from_the_label():
    text = _exact(models.Res2Scales())  # each part added to the last scale's output, the last one concatenated
    assert "  c: conv(16, 1x1, bn=false, act=identity)\n  channels(0, 4)\n  s0: conv(4, 3x3" in text
    assert "  sum {\n    identity\n    channels(4, 8) from c\n  }\n  s1: conv(4, 3x3" in text
    assert "  concat {\n    identity from s0\n    identity from s1\n    identity\n    channels(12, 16) from c\n  }" in text


def test_what_stays_not_series_parallel_is_refused_located_not_an_internal_error():
    with pytest.raises(DecompileError) as caught:
        decompile(models.Crossed(), (3, 8, 8))
    assert not isinstance(caught.value, InternalError)
    assert [r.missing for r in caught.value.refusals] == [
        "a graph that is not series-parallel (a tensor read by two branches)"]
    assert "tests.decompile_slice_models.Crossed" in str(caught.value)


def test_a_refusal_around_a_split_names_what_is_left_once_the_parts_are_channels():
    with pytest.raises(DecompileError) as caught:
        decompile(models.ChunkCrossed(), (3, 8, 8))
    assert [r.missing for r in caught.value.refusals] == [  # not "a split whose parts are not concatenated"
        "a graph that is not series-parallel (a tensor read by two branches)"]


@pytest.mark.slow
def test_rexnet_round_trips_by_name():
    result = decompile("timm:rexnet_100")
    assert "    sum { channels(0, in_channels); identity from input }\n" in result.text
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok and checked.strict, checked.message


@pytest.mark.slow
def test_res2net_round_trips():
    result = decompile("timm:res2net50_26w_4s")
    assert "      channels(p * 3, out) from tap1\n" in result.text
    checked = verify(result.text, result.model, result.input_shape)
    assert checked.ok, checked.message  # convs.0, bns.0: no label says them, the converter pairs
