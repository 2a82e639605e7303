"""Measured time per stage (and per block inside it): `profile(spec) -> Profile`.

How time is attributed: **synchronized forward hooks**, not torch.profiler. Every stage of
the network is a submodule whose path is the stage's name (the IR contract), so a
pre-hook and a post-hook on it, each synchronizing the device before reading the clock,
bracket exactly that stage's work, with no trace to parse and no per-operator overhead;
torch.profiler attributes time per operator and would have to be mapped back to modules
through `record_function` ranges that the generated code does not have. The price of
synchronizing is that the device cannot overlap one stage with the next, so the stage
times are compared with an unhooked forward pass measured in the same loop (runs
interleaved, medians reported). The optimized module (`optimize=True`) has one flat
forward with no stage submodules; it is regenerated with a `_stage_mark(stage)` call at
every stage boundary (backends/python/forward.py), and the time between marks goes to
the stage. With `compile=True` each stage submodule is compiled on its own (the marks
of an optimized module split its compiled forward at the same boundaries), so the
attribution stays per stage; whole-network compilation could fuse across stages."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inception_dsl import api
from inception_dsl.backends.diagram.compare import statement_of
from inception_dsl.runtime.measure import prepare, resolve_device, synchronize

__all__ = ["StageTime", "Profile", "profile", "profile_result"]


@dataclass
class StageTime:
    name: str
    kind: str
    level: int  # 0 a stage, 1.. a block instance inside it
    seconds: float  # median over the timed runs
    macs: int
    params: int
    measured: bool = True  # False: no submodule to hook (a functional statement)
    statement: str = ""  # the statement it belongs to (the instances of `x N` share one)

    @property
    def flops_per_second(self) -> float:
        return 2 * self.macs / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Profile:
    network: str
    device: str
    batch: int
    dtype: str
    optimize: bool
    compile: bool
    forward_seconds: float  # median of the unhooked forward passes
    hooked_seconds: float  # median of the hooked passes, end to end
    stage_seconds: float  # median over the hooked passes of the sum of the stages' times
    runs: int
    stages: list[StageTime] = field(default_factory=list)
    forward_runs: list[float] = field(default_factory=list)  # each unhooked pass, in order
    stage_sum_runs: list[float] = field(default_factory=list)  # each hooked pass's stage sum, interleaved with them


class _Clock:
    """Accumulates synchronized wall time per name during one forward pass."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.enabled = False
        self.totals: dict[str, float] = {}
        self.starts: dict[str, float] = {}
        self.current: str | None = None
        self.since = 0.0

    def now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def start(self, name: str) -> None:
        if self.enabled:
            self.starts[name] = self.now()

    def stop(self, name: str) -> None:
        if self.enabled and name in self.starts:
            self.totals[name] = self.totals.get(name, 0.0) + self.now() - self.starts.pop(name)

    def mark(self, stage: str | None) -> None:
        """For a flat forward: the time since the previous mark goes to the previous stage."""
        if not self.enabled:
            return
        now = self.now()
        if self.current is not None:
            self.totals[self.current] = self.totals.get(self.current, 0.0) + now - self.since
        self.current, self.since = stage, now


def _targets(graph, depth: int) -> list[tuple[str, str, int]]:
    """(name, kind, level): the stages (main path; auxiliary heads do not run in eval) in
    order, each followed by the block instances nested in it up to `depth` levels."""
    stages = [s for s in graph.stages if not s.aux]
    inside: dict[str, list[tuple[str, str, int]]] = {s.name: [] for s in stages}
    if depth > 0:
        for scope, site in graph.blocks.items():
            stage = next((s.name for s in stages if scope.startswith(s.name + ".")), None)
            if stage is None:
                continue
            parts = scope[len(stage) + 1:].split(".")
            level = 1 + sum(1 for i in range(1, len(parts)) if f"{stage}.{'.'.join(parts[:i])}" in graph.blocks)
            if level <= depth:
                inside[stage].append((scope, site.block, level))
    return [row for s in stages for row in [(s.name, s.kind, 0)] + inside[s.name]]


def _counts(graph, batch: int, names: set[str]) -> dict[str, tuple[int, int]]:
    """MACs (for the batch) and parameters of each target, summed over the nodes inside it."""
    from inception_dsl.backends.summary import node_macs
    from inception_dsl.ir import param_count

    totals = {name: [0, 0] for name in names}
    for node in graph.nodes():
        inputs = graph.inputs(node.id)
        channels = graph.node(inputs[0]).shape[0] if inputs and graph.node(inputs[0]).shape else None
        macs, params = node_macs(graph, node) * batch, param_count(node, channels)
        keys = {node.stage} | {".".join(node.id.split(".")[:i]) for i in range(1, node.id.count(".") + 1)}
        for key in keys & names:
            totals[key][0] += macs
            totals[key][1] += params
    return {name: (macs, params) for name, (macs, params) in totals.items()}


def _hook_stages(model: nn.Module, targets, clock: _Clock, compile_stages: bool) -> set[str]:
    """Hooks on each target's submodule (compiled first, with compile); returns the
    targets that have no submodule of their own."""
    missing = set()
    for name, _, level in targets:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            missing.add(name)
            continue
        if compile_stages and level == 0:
            parent, _, attr = name.rpartition(".")
            module = torch.compile(module)
            setattr(model.get_submodule(parent) if parent else model, attr, module)
        module.register_forward_pre_hook(lambda m, args, n=name: clock.start(n))
        module.register_forward_hook(lambda m, args, out, n=name: clock.stop(n))
    return missing


def _mark_stages(result: api.Result, model: nn.Module, clock: _Clock, compile_module: bool) -> nn.Module:
    """The optimized module, its forward regenerated with a mark at each stage boundary."""
    from inception_dsl.runtime.graph_module import optimize_graph_module

    weights = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    module = optimize_graph_module(result.graph, weights, stage_marks=True)
    module._stage_mark = torch.compiler.disable(clock.mark) if compile_module else clock.mark
    return torch.compile(module) if compile_module else module


def _once(model: nn.Module, x: torch.Tensor, clock: _Clock, hooked: bool) -> tuple[float, dict[str, float]]:
    clock.totals, clock.starts, clock.current = {}, {}, None
    clock.enabled = hooked
    start = clock.now()
    model(x)
    end = clock.now()
    clock.enabled = False
    return end - start, dict(clock.totals)


def _run(model: nn.Module, x: torch.Tensor, clock: _Clock, warmup: int, repeats: int):
    """Unhooked and hooked passes interleaved (so that both see the same machine load)."""
    plain, hooked, per_name = [], [], {}
    with torch.inference_mode():
        for _ in range(warmup):
            _once(model, x, clock, True)
            _once(model, x, clock, False)
        for _ in range(repeats):
            plain.append(_once(model, x, clock, False)[0])
            seconds, totals = _once(model, x, clock, True)
            hooked.append(seconds)
            for name, value in totals.items():
                per_name.setdefault(name, []).append(value)
    return plain, hooked, per_name


def profile_result(result: api.Result, *, device: str = "cpu", batch: int = 1, dtype: str = "fp32",
                   optimize: bool = False, compile: bool = False, depth: int = 0, warmup: int = 3,
                   repeats: int = 10, seed: int = 0) -> Profile:
    """`profile` for an analysis result (CompileError if it has errors)."""
    from inception_dsl.runtime.module import build_module

    graph = api.require(result)
    target = resolve_device(device)
    clock = _Clock(target)
    model = build_module(result, seed=seed)
    targets = _targets(graph, 0 if (optimize or compile) else depth)
    if optimize:
        model = _mark_stages(result, model.eval(), clock, compile)
        missing: set[str] = set()
    else:
        missing = _hook_stages(model, targets, clock, compile)
    model, x = prepare(model, graph.input_node.shape, device=target, batch=batch, dtype=dtype)
    plain, hooked, per_name = _run(model, x, clock, warmup, repeats)
    top = [name for name, _, level in targets if level == 0]
    sums = [sum(per_name.get(name, [0.0] * repeats)[run] for name in top) for run in range(repeats)]
    counts = _counts(graph, batch, {name for name, _, _ in targets})
    stages = [StageTime(name, kind, level, statistics.median(per_name.get(name, [0.0])), *counts[name],
                        measured=name not in missing, statement=statement_of(graph, name) if level == 0 else "")
              for name, kind, level in targets]
    return Profile(graph.name, str(target), batch, dtype, optimize, compile, statistics.median(plain),
                   statistics.median(hooked), statistics.median(sums), repeats, stages, plain, sums)


def profile(spec: str | Path, *, network: str | None = None, params: dict[str, Any] | None = None,
            input_shape: tuple[int, ...] | None = None, device: str = "cpu", batch: int = 1, dtype: str = "fp32",
            optimize: bool = False, compile: bool = False, depth: int = 0, warmup: int = 3,
            repeats: int = 10) -> Profile:
    """Run the compiled network and attribute measured time to its stages (and blocks up to
    `depth`), beside each one's MACs; `Profile.forward_seconds` is the unhooked forward."""
    result = api.analyze(spec, network=network, params=params, input_shape=input_shape)
    return profile_result(result, device=device, batch=batch, dtype=dtype, optimize=optimize, compile=compile,
                          depth=depth, warmup=warmup, repeats=repeats)
