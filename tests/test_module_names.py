"""Family 4 of issue 13: names that collide with torch.nn.Module's own attributes. Every
name in dir(nn.Module) (and nn.Sequential's, whose children the chains are), in every
position a spec can give a name: as a label, a concat branch label, a residual body label,
an unlabelled block call (the attribute is the block's name), and a block or network
parameter. Labels and attribute names are refused by `check` with a located E301 (so
compile and load never meet them); parameters are mangled in the generated constructor
and just work."""

from __future__ import annotations

import pytest

import torch
from torch import nn

from inception_dsl.api import analyze_text
from inception_dsl.language.naming import reserved_name
from inception_dsl.runtime.module import loads

NAMES = sorted({n for n in set(dir(nn.Module())) | set(dir(nn.Sequential())) | set(dir(nn.ModuleList()))
                if n.isidentifier()})
KEYWORDS = {"import", "set", "block", "network", "input", "output", "from", "when", "concat", "reduction", "residual",
            "shortcut", "true", "false", "none"}

POSITIONS = {
    "label": "network n {{\n  input 3x8x8\n  {name}: conv(4, 1x1)\n}}\n",
    "branch": "network n {{\n  input 3x8x8\n  concat {{ {name}: conv(4, 1x1); conv(4, 1x1) }}\n}}\n",
    "residual body": "network n {{\n  input 4x8x8\n  residual {{ {name}: conv(4, 1x1) }}\n}}\n",
    "sequence": "network n {{\n  input 3x8x8\n  s: {{ conv(4, 1x1); {name}: relu }}\n}}\n",
    "block name": "block {name} {{ conv(4, 1x1) }}\nnetwork n {{\n  input 3x8x8\n  {name}\n}}\n",
}


def test_every_nn_module_attribute_is_reserved():
    assert all(reserved_name(name) for name in NAMES), [n for n in NAMES if not reserved_name(n)]


def test_every_nn_module_name_as_a_statement_name_is_a_located_check_error():
    failures = []
    for position, template in POSITIONS.items():
        for name in NAMES:
            if name in KEYWORDS:
                continue
            text = template.format(name=name)
            result = analyze_text(text, path="names.incp")
            codes = {(d.code.id, d.primary_span.line) for d in result.diagnostics}
            line = text[: text.index(name, text.index("network") if position == "block name" else 0)].count("\n") + 1
            if result.ok or ("E301", line) not in codes:
                failures.append((position, name, sorted(codes)))
    assert not failures, failures[:10]


@pytest.mark.slow
def test_every_nn_module_name_as_a_parameter_builds_and_runs():
    failures = []
    x = torch.zeros(1, 3, 8, 8)
    for name in NAMES:
        if name in KEYWORDS:
            continue
        text = (f"block b({name} = 4) {{ conv({name}, 1x1) }}\n"
                f"network n({name} = 2) {{\n  input 3x8x8\n  b({name} = {name} * 3)\n}}\n")
        try:
            model = loads(text, params={name: 2})
            shape = tuple(model(x).shape)
        except Exception as error:  # noqa: BLE001 - collect every failing name
            failures.append((name, f"{type(error).__name__}: {error}"))
            continue
        if shape != (1, 6, 8, 8):
            failures.append((name, shape))
    assert not failures, failures[:10]
