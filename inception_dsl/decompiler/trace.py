"""Run a network once and record what it computes, as a tree of module calls.

The tracer works at the dispatch level, like the weight converter (runtime/interop.py):
global module hooks follow which module is running, and a torch function mode records
every torch function called on a traced tensor outside a *word module* (a module that
one language word stands for: a Conv2d, a BatchNorm, a pool, an activation; see
`words.is_word_module`). A word module is recorded whole, as one event. Because the
network really runs, shape-dependent Python (`if x.shape[-1] > 7`) is no obstacle;
control flow that depends on the data is found by running twice on different inputs
and comparing what ran (`TraceError` when they differ).

A `Call` is one module call: its events and nested calls in execution order, the refs
of the tensors it received and the ref of the tensor it returned. A `Ref` is
(event index, output index). Imports torch."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from inception_dsl.decompiler.located import short_path

__all__ = ["Call", "Event", "TraceError", "Ref", "main_output", "trace"]

Ref = tuple[int, int]  # (event index, output index); event -1 is the network input
INPUT: Ref = (-1, 0)


class TraceError(ValueError):
    """The network cannot be traced: it fails to run, returns no tensor, or its control
    flow depends on the data."""


@dataclass
class Event:
    """One recorded operation: a word module's call or a torch function."""

    index: int
    target: Any  # the nn.Module (a word module) or the torch function
    path: str  # the word module's qualified name, or the enclosing module's
    inputs: list[Any]  # per flattened argument: a Ref, ("param", name, tensor), ("const", value)
    args: Any  # the positional arguments with tensors replaced by their position in `inputs`
    kwargs: dict
    shapes: list[tuple[int, ...]]  # one per tensor output
    in_shapes: list[tuple[int, ...]] = field(default_factory=list)  # of the traced tensor inputs, in order
    site: str = ""  # file:line of the Python line that called a torch function
    layout: str = "nchw"  # of its first input: "nhwc" after a permute to channels-last (set by structure.py)
    sized_by: list[tuple[Ref, tuple[int, ...]]] = field(default_factory=list)  # interpolate/pad: Call.shape_reads

    @property
    def in_shape(self) -> tuple[int, ...] | None:
        return self.in_shapes[0] if self.in_shapes else None

    @property
    def is_module(self) -> bool:
        return isinstance(self.target, nn.Module)

    def tensor_inputs(self) -> list[Ref]:
        return [value for value in self.inputs if isinstance(value, tuple) and len(value) == 2
                and isinstance(value[0], int)]

    def signature(self) -> tuple:
        """What ran, for comparing two traces."""
        target = type(self.target).__name__ if self.is_module else getattr(self.target, "__name__", repr(self.target))
        return (target, self.path, tuple(map(str, self.tensor_inputs())), tuple(self.shapes))


@dataclass
class Call:
    """One call of a module that is not a word: what ran inside it, in order."""

    module: nn.Module
    path: str
    inputs: list[Ref] = field(default_factory=list)
    output: Ref | None = None
    items: list["Call | Event"] = field(default_factory=list)
    shape_reads: list[tuple[Ref, tuple[int, ...]]] = field(default_factory=list)  # `t.shape`, `t.size()` so far


class _Recorder(TorchFunctionMode):
    def __init__(self, model: nn.Module, is_word: Callable[[nn.Module], bool]):
        super().__init__()
        self.names = {}
        for name, module in model.named_modules(remove_duplicate=False):
            self.names.setdefault(id(module), name)
        self.params = {}
        for name, tensor in list(model.named_parameters(remove_duplicate=False)) + list(
                model.named_buffers(remove_duplicate=False)):
            self.params.setdefault(id(tensor), (name, tensor))
        self.is_word = is_word
        self.events: list[Event] = []
        self.producers: dict[int, Ref] = {}
        self.keep: list[Any] = []  # every traced tensor stays alive, so no id is reused
        self.stack: list[Call] = []
        self.inside_word = 0

    # -- tensors ---------------------------------------------------------------------
    def ref(self, value) -> Any:
        ref = self.producers.get(id(value))
        if ref is not None:
            return ref
        if id(value) in self.params:
            name, tensor = self.params[id(value)]
            return ("param", name, tensor)
        return ("const", value)

    def encode(self, args, kwargs) -> tuple[list, Any, dict]:
        inputs: list = []

        def swap(value):
            if isinstance(value, torch.Tensor):
                inputs.append(self.ref(value))
                return _Slot(len(inputs) - 1)
            if isinstance(value, (list, tuple)):
                return type(value)(swap(v) for v in value) if not hasattr(value, "_fields") else value
            return value

        return inputs, swap(tuple(args)), {k: swap(v) for k, v in (kwargs or {}).items()}

    def record(self, target, path: str, args, kwargs, output) -> None:
        outputs = [value for value in tree_flatten(output)[0] if isinstance(value, torch.Tensor)]
        if not outputs:
            return
        in_shapes = [tuple(t.shape) for t in tree_flatten((args, kwargs))[0]
                     if isinstance(t, torch.Tensor) and id(t) in self.producers]
        inputs, args, kwargs = self.encode(args, kwargs)
        if not any(isinstance(v, tuple) and isinstance(v[0], int) for v in inputs):
            params = [v for v in inputs if v[0] == "param"]
            if len(params) == 1 and len(outputs) == 1 and getattr(target, "__name__", "") in _VIEWS:
                self.params[id(outputs[0])] = (params[0][1], params[0][2])  # a view of a parameter
                self.keep.append(outputs[0])
            return  # computed from constants only: a constant to whoever reads it
        event = Event(len(self.events), target, path, inputs, args, kwargs, [tuple(t.shape) for t in outputs],
                      in_shapes)
        if getattr(target, "__name__", "") in _SIZED:  # the sizes it may follow (F.interpolate(size=y.shape[-2:]))
            event.sized_by = list(self.stack[-1].shape_reads)
        self.events.append(event)
        self.stack[-1].items.append(event)
        for position, tensor in enumerate(outputs):
            self.producers[id(tensor)] = (event.index, position)
            self.keep.append(tensor)

    # -- hooks -------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        if not self.inside_word and self.stack and isinstance(output, (torch.Size, int)) and args and \
                getattr(func, "__name__", "") in ("__get__", "size") and isinstance(args[0], torch.Tensor) and \
                id(args[0]) in self.producers:
            self.stack[-1].shape_reads.append((self.producers[id(args[0])], tuple(args[0].shape)))
        if not self.inside_word and self.stack:
            self.record(func, self.stack[-1].path, args, kwargs, output)
            if self.events and self.events[-1].target is func and not self.events[-1].site:
                self.events[-1].site = _caller()
        return output

    def pre_hook(self, module, args):
        if self.inside_word or not self.stack or id(module) not in self.names:
            self.inside_word += bool(self.inside_word)
            return
        if self.is_word(module):
            self.inside_word = 1
            return
        call = Call(module, self.names[id(module)], [self.ref(a) for a in tree_flatten(args)[0]
                                                    if isinstance(a, torch.Tensor)])
        self.stack[-1].items.append(call)
        self.stack.append(call)

    def post_hook(self, module, args, output):
        if self.inside_word > 1:
            self.inside_word -= 1
            return
        if self.inside_word == 1:
            self.inside_word = 0
            self.record(module, self.names[id(module)], args, {}, output)
            return
        if not self.stack or id(module) not in self.names or self.stack[-1].module is not module:
            return
        call = self.stack.pop()
        if main_output(output) is not None:  # torchvision's IntermediateLayerGetter returns {'out': x}
            call.output = self.ref(main_output(output))


@dataclass(frozen=True)
class _Slot:
    """Where a tensor argument stood: its position in Event.inputs."""

    position: int


def _run(model: nn.Module, x: torch.Tensor, is_word) -> tuple[Call, list[Event], Any]:
    recorder = _Recorder(model, is_word)
    root = Call(model, "", [INPUT])
    recorder.stack.append(root)
    recorder.producers[id(x)] = INPUT
    pre = nn.modules.module.register_module_forward_pre_hook(recorder.pre_hook)
    post = nn.modules.module.register_module_forward_hook(recorder.post_hook)
    try:
        with torch.no_grad(), recorder:
            output = model.forward(x)
    finally:
        pre.remove()
        post.remove()
    main = main_output(output)
    if main is not None:
        root.output = recorder.ref(main)
    return root, recorder.events, output


def main_output(output) -> torch.Tensor | None:
    """The tensor a spec computes: the output, or the one tensor among what it returns (the
    `out` entry of the dict torchvision's segmentation models return without their auxiliary
    head; timm's patch embeddings return the grid's size beside the tokens, constants at the
    traced input size)."""
    if isinstance(output, torch.Tensor):
        return output
    tensors = [value for value in tree_flatten(output)[0] if isinstance(value, torch.Tensor)]
    return tensors[0] if len(tensors) == 1 else None


def trace(model: nn.Module, input_shape: tuple[int, ...], is_word) -> tuple[Call, list[Event]]:
    """The call tree of one forward pass at batch 1 (eval mode), checked against a second
    pass on other data."""
    model.eval()
    generator = torch.Generator().manual_seed(0)
    first = torch.randn((1, *input_shape), generator=generator)
    try:
        root, events, output = _run(model, first, is_word)
    except TraceError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of the user's forward is reported
        raise TraceError(f"the forward pass fails on a 1x{'x'.join(map(str, input_shape))} input: "
                         f"{type(error).__name__}: {_first_line(error)}") from None
    if isinstance(output, Mapping) and "out" in output and main_output(output) is None:
        others = ", ".join(f"`{key}`" for key in output if key != "out")
        raise TraceError(f"the forward pass returns {_describe(output)}: a spec has one output, and the decompiler "
                         f"writes the `out` path only when it is the only entry; build the model without {others} "
                         f"(torchvision's segmentation models: aux_loss=False, their default)")
    if main_output(output) is None:
        raise TraceError(f"the forward pass returns {_describe(output)}, not a tensor: a spec has one output tensor")
    if root.output is None or root.output[0] < 0:
        raise TraceError("the output does not depend on the input")
    _, again, _ = _run(model, torch.randn((1, *input_shape), generator=generator) * 3 + 1, is_word)
    ours = [e.signature() for e in events]
    theirs = [e.signature() for e in again]
    if ours != theirs:
        at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        where = events[at].path if at < len(events) else again[at].path
        raise TraceError(f"control flow depends on the data: two inputs of the same shape run different "
                         f"operations from operation {at} on (in `{where or 'the network'}`)")
    return root, events


_VIEWS = {"reshape", "view", "unsqueeze", "squeeze", "flatten", "expand", "expand_as", "__getitem__", "to",
          "contiguous", "type_as", "float"}
_SIZED = {"interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pad"}
_SKIP = (os.sep + "torch" + os.sep, os.sep + "decompiler" + os.sep)


def _caller() -> str:
    """file:line of the innermost frame outside torch and this package."""
    frame = sys._getframe(2)
    while frame is not None and any(part in frame.f_code.co_filename for part in _SKIP):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{short_path(frame.f_code.co_filename)}:{frame.f_lineno}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _describe(value) -> str:
    if isinstance(value, dict):
        return f"a {type(value).__name__} (keys {', '.join(map(str, list(value)[:4]))})"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"
