"""Helpers shared by the backend tests: the state_dict keys the IR promises, and
importing a generated file as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from inception_dsl.ir import Graph, Op

from .conftest import ROOT

CODEGEN = ROOT / "tests" / "cases" / "codegen"
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def ir_state_dict_keys(graph: Graph) -> set[str]:
    """The IR contract: a CONV/BN/LINEAR node `X` owns `X.weight` (and the rest)."""
    keys: set[str] = set()
    for node in graph.nodes():
        if node.op in (Op.CONV, Op.LINEAR):
            keys.add(f"{node.id}.weight")
            if node.attrs["bias"]:
                keys.add(f"{node.id}.bias")
        elif node.op is Op.BN:
            keys.update(f"{node.id}.{suffix}" for suffix in BN_KEYS)
    return keys


def import_file(path: Path, name: str):
    """Import a generated .py file under a fresh module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
