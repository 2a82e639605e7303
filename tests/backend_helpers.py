"""Helpers shared by the backend tests: the state_dict keys the IR promises, and
importing a generated file as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from inception_dsl.ir import Graph, Op

from .conftest import ROOT

CODEGEN = ROOT / "tests" / "cases" / "codegen"


def ir_state_dict_keys(graph: Graph) -> set[str]:
    """The IR contract: a node `X` owns `X.<entry>` for each state_dict entry its op names
    (`OpKind.weights`: a conv's `weight` and `bias`, a layer scale's `gamma`, ...), and a
    BatchNorm its `num_batches_tracked` too (also one inside a node's module: LeViT's
    attention has `qkv.bn.running_var`, so `qkv.bn.num_batches_tracked`)."""
    keys: set[str] = set()
    for node in graph.nodes():
        keys.update(f"{node.id}.{entry}" for entry in node.op.weights(node))
        keys.update(f"{node.id}.{entry.removesuffix('running_var')}num_batches_tracked"
                    for entry in node.op.weights(node) if entry.endswith(".running_var"))
        if node.op is Op.BN:
            keys.add(f"{node.id}.num_batches_tracked")
    return keys


def import_file(path: Path, name: str):
    """Import a generated .py file under a fresh module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
