"""`compile --optimize`: the optimized graph as standalone PyTorch source.

The file defines one inference-only class whose submodules are named as
`inception_dsl.optimize()` names them, so the weights come from
`inception_dsl.optimize(spec, unoptimized_state_dict).state_dict()` and load with
`strict=True`. Torch-free here (the generated file imports torch when it runs)."""

from __future__ import annotations

from inception_dsl.ir import Graph, Node
from inception_dsl.passes.rewrites.pipeline import optimize
from inception_dsl.backends.python.source import Checked, network_class_name
from inception_dsl.backends.python.forward import attribute_names, generate_forward

__all__ = ["optimized_source", "optimized_class_name"]


def optimized_class_name(result: Checked) -> str:
    return network_class_name(result) + "Optimized"


def optimized_source(result: Checked, *, channels_last: bool = True) -> str:
    graph, _ = optimize(result.require())
    attr_of = attribute_names(graph)
    name = optimized_class_name(result)
    forward = generate_forward(graph, attr_of, channels_last=channels_last, inference_only=True)
    lines = [
        f'"""Inference-only `{graph.name}`, optimized by inception-dsl (BatchNorm folded, sibling convs',
        "fused, residual scales folded, dropout and auxiliary heads removed"
        + (", channels_last" if channels_last else "") + ").",
        "",
        "Weights: inception_dsl.optimize(SPEC, unoptimized_state_dict).state_dict(); needs only torch.\"\"\"",
        "",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        "",
        f"class {name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    lines += [f"        self.{attr_of[node_id]} = {_layer(graph, graph.node(node_id))}" for node_id in attr_of]
    if channels_last:
        lines.append("        self.to(memory_format=torch.channels_last)")
    lines += [
        "        super().train(False)",
        "",
        "    def train(self, mode=True):",
        "        if mode:",
        "            raise RuntimeError('this module is inference-only: BatchNorm is folded into the convs')",
        "        return super().train(False)",
        "",
    ]
    lines += ["    " + line if line else "" for line in forward.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


def _layer(graph: Graph, node: Node) -> str:
    (source,) = graph.inputs(node.id)
    return node.op.module(node, graph.node(source).shape[0])
