"""Build an nn.Module straight from an IR graph (optimized or not), with a generated
flat forward (backends/python/forward.py), and `optimize_graph_module`: the inference
optimizer on a graph and a state_dict (passes/rewrites/pipeline.py + weight recipes +
channels_last). `optimize()` from a spec or a model is in runtime/optimized_module.py.

Submodules are named after node ids with dots replaced by underscores
(`inception_a.0.fused` -> `inception_a_0_fused`); `ir_state_dict()` gives the
state_dict under node-id keys, as the IR contract names them."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from inception_dsl.ir import Graph
from inception_dsl.passes.rewrites.pipeline import RULES
from inception_dsl.passes.rewrites.pipeline import optimize as optimize_graph
from inception_dsl.backends.python.forward import attribute_names, generate_forward
from inception_dsl.core.literals import py_literal
from inception_dsl.backends.python.names import Namespace, camel, safe_text
from inception_dsl.runtime.generated import execute
from inception_dsl.runtime.recipes import evaluate_recipes

__all__ = ["GraphModule", "optimize_graph_module", "without_counters", "ir_shapes", "InferenceOnlyError"]


class InferenceOnlyError(RuntimeError):
    """An optimized module was put in training mode."""


class GraphModule(nn.Module):
    """An nn.Module whose forward is generated from an IR graph. `GraphModule(graph, ...)`
    gives an instance of a class generated for the graph (`<Network>Optimized` or
    `<Network>Graph`, a subclass of this one, executed by runtime/generated.py), whose
    `forward` is an ordinary method in a source file that `inspect`, TorchScript and
    pickle can read; the instance pickles and deep-copies as every generated class does."""

    def __new__(cls, graph: Graph | None = None, *, channels_last: bool = False, inference_only: bool = False,
                state_dict: Mapping[str, torch.Tensor] | None = None, stage_marks: bool = False) -> "GraphModule":
        if cls is GraphModule:
            cls = _forward_class(graph, channels_last, inference_only, stage_marks)
        return super().__new__(cls)

    def __init__(self, graph: Graph, *, channels_last: bool = False, inference_only: bool = False,
                 state_dict: Mapping[str, torch.Tensor] | None = None, stage_marks: bool = False) -> None:
        """With `state_dict` (IR keys) the module takes those tensors as they are, and
        skips random initialisation. `stage_marks`: the forward calls `self._stage_mark`
        at each stage boundary (runtime/profile.py)."""
        super().__init__()
        self.ir_graph = graph
        self.inference_only = inference_only
        self.channels_last = channels_last
        self.attr_of = attribute_names(graph)
        with torch.device("cpu" if state_dict is None else "meta"):
            for node_id, attr in self.attr_of.items():
                self.add_module(attr, _layer(graph, graph.node(node_id)))
        if state_dict is not None:
            self.load_ir_state_dict(state_dict, assign=True)
            self._rebuild_computed_buffers(graph)
            for module in self.modules():  # BN step counters are not part of an IR state_dict
                for name, buffer in module.named_buffers(recurse=False):
                    if buffer.is_meta:
                        module._buffers[name] = torch.zeros_like(buffer, device="cpu")
        self.code = type(self).code
        if channels_last:
            self.to(memory_format=torch.channels_last)
        if inference_only:
            super().train(False)

    def _rebuild_computed_buffers(self, graph: Graph) -> None:
        """Non-persistent buffers that a layer computes when it is built (a relative position
        index, a shifted-window mask) are in no state_dict: built on the meta device, they
        are computed again on the CPU."""
        for node_id, attr in self.attr_of.items():
            layer = getattr(self, attr)
            computed = [(name, buffer) for name, buffer in layer.named_buffers()
                        if buffer.is_meta and not name.endswith("num_batches_tracked")]
            if computed:
                fresh = dict(_layer(graph, graph.node(node_id)).named_buffers())
                for name, _ in computed:
                    owner, _, leaf = name.rpartition(".")
                    layer.get_submodule(owner)._buffers[leaf] = fresh[name]

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
            if not name.endswith("num_batches_tracked"):
                result[f"{by_attr[attr]}.{name}"] = value
        return result

    def load_ir_state_dict(self, state_dict: Mapping[str, torch.Tensor], *, assign: bool = False) -> None:
        """Load tensors keyed by IR ids; every parameter and buffer must be present."""
        owned = {f"{node_id}.{name}": f"{attr}.{name}" for node_id, attr in self.attr_of.items()
                 for name in self.ir_graph.node(node_id).op.weights(self.ir_graph.node(node_id))}
        converted = {}
        for key, value in state_dict.items():  # a weight's name may have dots (attention's `qkv.weight`)
            converted[owned.get(key) or self._attribute_key(key)] = value
        missing, unexpected = self.load_state_dict(converted, strict=False, assign=assign)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")


    def _attribute_key(self, key: str) -> str:
        """`<attr>.<name>` of an IR key that no op names (a BatchNorm's step counter, also of
        one inside a node's module: attention's `qkv.bn.num_batches_tracked`)."""
        node_id, name = key, ""
        while node_id not in self.attr_of and "." in node_id:
            node_id, _, last = node_id.rpartition(".")
            name = f"{last}.{name}" if name else last
        return f"{self.attr_of[node_id]}.{name}"


def _forward_class(graph: Graph, channels_last: bool, inference_only: bool, stage_marks: bool) -> type:
    """The GraphModule subclass whose forward is the graph's flat forward."""
    code = generate_forward(graph, attribute_names(graph), channels_last=channels_last,
                            inference_only=inference_only, stage_marks=stage_marks)
    name = Namespace().create(camel(graph.name) + ("Optimized" if inference_only else "Graph"))
    lines = [f'"""The flat forward of `{safe_text(graph.name)}`, generated by inception-dsl."""', "",
             "import torch", "import torch.nn.functional as F", "",
             "from inception_dsl.runtime.graph_module import GraphModule", "", "",
             f"class {name}(GraphModule):", f"    code = {py_literal(code)}", ""]
    lines += ["    " + line if line else "" for line in code.rstrip("\n").split("\n")]
    return execute("\n".join(lines) + "\n", graph.name)[name]


def _layer(graph: Graph, node) -> nn.Module:
    """The node's module, built from the constructor its op writes (the same text the
    standalone `compile --optimize` file contains)."""
    (source,) = graph.inputs(node.id)
    in_shape = graph.node(source).shape
    if in_shape is None:
        raise ValueError(f"{node.id}: the graph has no shapes; run the analyses (api.analyze) first")
    return eval(node.op.module(node, in_shape[0]), {"__builtins__": {}}, {"nn": nn, "torch": torch})  # noqa: S307 - our own codegen


def optimize_graph_module(graph: Graph, state_dict: Mapping[str, torch.Tensor], *, channels_last: bool = True,
                          rules: tuple = RULES, stage_marks: bool = False) -> GraphModule:
    """`optimize` for a shape-checked graph and the unoptimized model's state_dict (IR keys)."""
    optimized, recipes = optimize_graph(graph, rules)
    return GraphModule(optimized, channels_last=channels_last, inference_only=True, stage_marks=stage_marks,
                       state_dict=evaluate_recipes(recipes, without_counters(state_dict)))


def ir_shapes(graph: Graph) -> dict[str, torch.Tensor]:
    """The graph's IR state_dict on the meta device: each tensor's shape and dtype, no data."""
    shapes = {}
    with torch.device("meta"):
        for node_id in attribute_names(graph):
            for key, value in _layer(graph, graph.node(node_id)).state_dict().items():
                if not key.endswith("num_batches_tracked"):
                    shapes[f"{node_id}.{key}"] = value
    return shapes


def without_counters(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state_dict without BatchNorm's step counters (not part of an IR state_dict)."""
    return {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
