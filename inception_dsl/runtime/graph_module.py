"""Build an nn.Module straight from an IR graph (optimized or not), with a generated
flat forward (backends/python/forward.py), and `optimize_graph_module`: the inference
optimizer on a graph and a state_dict (passes/rewrites/pipeline.py + weight recipes +
channels_last). `optimize()` from a spec or a model is in runtime/optimized_module.py.

Submodules are named after node ids with dots replaced by underscores
(`inception_a.0.fused` -> `inception_a_0_fused`); `ir_state_dict()` gives the
state_dict under node-id keys, as the IR contract names them."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from inception_dsl.ir import Graph
from inception_dsl.passes.rewrites.pipeline import RULES
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph
from inception_dsl.backends.python.forward import generate_forward
from inception_dsl.runtime.recipes import evaluate_recipes

__all__ = ["GraphModule", "optimize_graph_module", "without_counters", "InferenceOnlyError"]


class InferenceOnlyError(RuntimeError):
    """An optimized module was put in training mode."""


class GraphModule(nn.Module):
    """An nn.Module whose forward is generated from an IR graph."""

    def __init__(self, graph: Graph, *, channels_last: bool = False, inference_only: bool = False,
                 state_dict: Mapping[str, torch.Tensor] | None = None) -> None:
        """With `state_dict` (IR keys) the module takes those tensors as they are, and
        skips random initialisation."""
        super().__init__()
        self.ir_graph = graph
        self.inference_only = inference_only
        self.channels_last = channels_last
        self.attr_of: dict[str, str] = {}
        with torch.device("cpu" if state_dict is None else "meta"):
            for node in graph.nodes():
                if node.op.has_weights:
                    self.attr_of[node.id] = self._attribute_name(node.id)
                    self.add_module(self.attr_of[node.id], _layer(graph, node))
        if state_dict is not None:
            self.load_ir_state_dict(state_dict, assign=True)
            for module in self.modules():  # BN step counters are not part of an IR state_dict
                for name, buffer in module.named_buffers(recurse=False):
                    if buffer.is_meta:
                        module._buffers[name] = torch.zeros_like(buffer, device="cpu")
        self.code = generate_forward(graph, self.attr_of, channels_last=channels_last, inference_only=inference_only)
        namespace: dict[str, Any] = {"torch": torch, "F": F}
        exec(compile(self.code, f"<inception_dsl.forward:{graph.name}>", "exec"), namespace)  # noqa: S102 - our own codegen
        self._generated_forward = namespace["forward"]
        if channels_last:
            self.to(memory_format=torch.channels_last)
        if inference_only:
            super().train(False)

    def _attribute_name(self, node_id: str) -> str:
        name = node_id.replace(".", "_")
        if name in self.attr_of.values():
            raise ValueError(f"node ids collide once dots are replaced: {node_id!r} -> {name!r}")
        return name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._generated_forward(self, x)

    def train(self, mode: bool = True) -> "GraphModule":
        if mode and self.inference_only:
            raise InferenceOnlyError(
                "an optimized module is inference-only (BatchNorm is folded into the convs, dropout and "
                "auxiliary heads are gone); train the module from inception_dsl.load(...) and optimize its "
                "state_dict afterwards")
        return super().train(mode)

    def ir_state_dict(self) -> dict[str, torch.Tensor]:
        """The state_dict under IR keys (`<node id>.weight`), without BN's step counters."""
        by_attr = {attr: node_id for node_id, attr in self.attr_of.items()}
        result = {}
        for key, value in self.state_dict().items():
            attr, _, name = key.partition(".")
            if name != "num_batches_tracked":
                result[f"{by_attr[attr]}.{name}"] = value
        return result

    def load_ir_state_dict(self, state_dict: Mapping[str, torch.Tensor], *, assign: bool = False) -> None:
        """Load tensors keyed by IR ids; every parameter and buffer must be present."""
        owned = {f"{node_id}.{name}": f"{attr}.{name}" for node_id, attr in self.attr_of.items()
                 for name in self.ir_graph.node(node_id).op.weights(self.ir_graph.node(node_id))}
        converted = {}
        for key, value in state_dict.items():  # a weight's name may have dots (attention's `qkv.weight`)
            node_id, _, name = key.rpartition(".")
            converted[owned.get(key) or f"{self.attr_of[node_id]}.{name}"] = value
        missing, unexpected = self.load_state_dict(converted, strict=False, assign=assign)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")


def _layer(graph: Graph, node) -> nn.Module:
    """The node's module, built from the constructor its op writes (the same text the
    standalone `compile --optimize` file contains)."""
    (source,) = graph.inputs(node.id)
    in_shape = graph.node(source).shape
    if in_shape is None:
        raise ValueError(f"{node.id}: the graph has no shapes; run the analyses (api.analyze) first")
    return eval(node.op.module(node, in_shape[0]), {"__builtins__": {}}, {"nn": nn, "torch": torch})  # noqa: S307 - our own codegen


def optimize_graph_module(graph: Graph, state_dict: Mapping[str, torch.Tensor], *, channels_last: bool = True,
                          rules: tuple = RULES) -> GraphModule:
    """`optimize` for a shape-checked graph and the unoptimized model's state_dict (IR keys)."""
    optimized, recipes = optimize_graph(graph, rules)
    return GraphModule(optimized, channels_last=channels_last, inference_only=True,
                       state_dict=evaluate_recipes(recipes, without_counters(state_dict)))


def without_counters(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state_dict without BatchNorm's step counters (not part of an IR state_dict)."""
    return {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
