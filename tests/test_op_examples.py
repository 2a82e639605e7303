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


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docs_example_through_everything(name):
    through_everything(EXAMPLES[name], batch=1, atol=1e-4)
