"""The resampling examples of docs/language.md (a decoder, a U-Net, a feature pyramid,
ShuffleNet's unit) through every consumer: BN folding next to transposed convs,
upsampling, shuffles, concat and sum skips stays exact (tests/op_checks.py)."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT
from .op_checks import through_everything

BLOCKS = re.findall(r"```incp\n(.*?)```", (ROOT / "docs" / "language.md").read_text(encoding="utf-8"), re.DOTALL)
EXAMPLES = {name: next(b for b in BLOCKS if f"network {name}" in b)
            for name in ("tiny_unet", "tiny_fpn", "tiny_decoder", "shuffle_demo")}


SLOW_EXAMPLES = {"tiny_unet", "tiny_decoder", "tiny_fpn"}  # ~20 s each on a loaded 2-core machine


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_EXAMPLES else n for n in sorted(EXAMPLES)])
def test_docs_example_through_everything(name):
    through_everything(EXAMPLES[name], batch=1, atol=1e-4)
