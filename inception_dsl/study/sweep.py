"""A grid of network parameters, each variant checked in process: `sweep(spec, axes) -> rows`.

The grid is plain data (`Grid`: ordered axes name -> values, an optional filter, an
optional seeded sample), so that it can come from `-p name=v1,v2` flags, a YAML file or
a notebook alike. The spec is read and parsed once; each variant is elaborated and
shape-checked on the loaded program (api.analyze_program) and summarized (backends/summary.totals).
A row is a dict: the variant's parameters, then `output`, `params`, `macs`,
`activation_bytes`, `error_code`, `error` (the first error's code and message; the
counts are None then), and with `measure`, `latency_ms` and `throughput`."""

from __future__ import annotations

import contextlib
import itertools
import random
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from inception_dsl import api
from inception_dsl.backends.summary import totals
from inception_dsl.core.diagnostics import CompileError, DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.program import load_program
from inception_dsl.core.values import Symbol, did_you_mean
from inception_dsl.study.expr import Expr, ExprError, compile_expr

__all__ = ["Grid", "Sweep", "SweepError", "METRICS", "MEASURED", "sweep", "run_sweep", "sort_rows", "variants"]

METRICS = ("output", "params", "macs", "activation_bytes", "error_code", "error")
MEASURED = ("latency_ms", "throughput")
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class SweepError(ValueError):
    """A grid, filter or sort key that cannot be used (a usage error, not a variant's)."""


@dataclass
class Grid:
    axes: dict[str, list[Any]]  # parameter -> values, in order; the grid is their product
    where: str | list[str] | None = None  # filters over any column (study/expr.py), all must hold
    sample: int | None = None  # a random sample of this many grid points ...
    seed: int = 0  # ... drawn with this seed

    @property
    def size(self) -> int:
        total = 1
        for values in self.axes.values():
            total *= len(values)
        return total


@dataclass
class Sweep:
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0  # variants in the grid (or sample)
    interrupted: bool = False
    columns: list[str] = field(default_factory=list)


def variants(grid: Grid) -> Iterator[dict[str, Any]]:
    """The grid's points in order (the product of the axes, the last axis fastest), or a
    seeded sample of them in grid order; never materializes the whole grid."""
    names = list(grid.axes)
    if grid.sample is None or grid.sample >= grid.size:
        for values in itertools.product(*(grid.axes[n] for n in names)):
            yield dict(zip(names, values))
        return
    for index in sorted(random.Random(grid.seed).sample(range(grid.size), grid.sample)):
        point = {}
        for name in reversed(names):
            index, position = divmod(index, len(grid.axes[name]))
            point[name] = grid.axes[name][position]
        yield {n: point[n] for n in names}


def _columns(grid: Grid, measure: bool) -> list[str]:
    clash = sorted(set(grid.axes) & set(METRICS + MEASURED))
    if clash:
        raise SweepError(f"parameter `{clash[0]}` has the name of a result column; sweep cannot tell them apart")
    return list(grid.axes) + list(METRICS[:4]) + (list(MEASURED) if measure else []) + list(METRICS[4:])


def _filter(grid: Grid, columns: list[str]) -> tuple[Callable[[Mapping[str, Any]], Any] | None, bool]:
    """The compiled filter, and whether it reads parameters only (then it runs before
    checking). A filter that fails on a row (`params / 0`, `tag < 1`) is a SweepError
    quoting it, as one that does not compile: a usage error, never an internal one."""
    if not grid.where:
        return None, False
    text = grid.where if isinstance(grid.where, str) else " and ".join(f"({w})" for w in grid.where)
    try:
        expr = compile_expr(text, set(columns))
    except ExprError as error:
        raise SweepError(f"--where {error}") from None
    return partial(_apply, expr), expr.names <= set(grid.axes)


def _apply(expr: Expr, row: Mapping[str, Any]) -> Any:
    try:
        return expr(row)
    except ExprError as error:
        raise SweepError(f"--where {error}") from None


def _total(grid: Grid, limits: Limits) -> int:
    """The variants the sweep will check, refused over `limits.max_variants` before any
    work (a grid of 4 axes of 1,000 values is 10^12 variants: a sample of it is fine)."""
    total = min(grid.sample, grid.size) if grid.sample is not None else grid.size
    if total > limits.max_variants:
        what = f"a sample of {total:,}" if grid.sample is not None else f"a grid of {total:,} variants"
        raise SweepError(f"{what} is over the limit of {limits.max_variants:,} variants (--max-variants); "
                         + ("give a smaller --sample" if grid.sample is not None else
                            "narrow the axes or check a random sample of them with --sample N"))
    return total


def _check_axes(program, grid: Grid, network: str | None) -> None:
    definitions = program.networks()
    definition = next((d for d in definitions if network is None or d.name == network), None)
    if definition is None:
        return  # elaboration reports it, located, on every row
    known = [p.name for p in definition.params]
    for name, values in grid.axes.items():
        if name not in known:
            hint = did_you_mean(name, known) or (f"its parameters: {', '.join(known)}" if known else "it has none")
            raise SweepError(f"network `{definition.name}` has no parameter `{name}`; {hint}")
        if not values:
            raise SweepError(f"parameter `{name}` has no values to sweep")


def _row(result: api.Result, point: Mapping[str, Any], batch: int, dtype: str) -> dict[str, Any]:
    # a symbol (`relu`) reads as its name in a row, so that filters compare it with "relu"
    row: dict[str, Any] = {k: str(v) if isinstance(v, Symbol) else v for k, v in point.items()}
    if result.ok:
        params, macs, memory = totals(result.graph, batch=batch, dtype=DTYPES.get(dtype, dtype))
        main = result.graph.node(result.graph.outputs[0]).shape
        row.update(output="x".join(map(str, main)), params=params, macs=macs, activation_bytes=memory,
                   error_code=None, error=None)
    else:
        first = next((d for d in result.diagnostics if d.level.value == "error"), result.diagnostics[0])
        span = first.primary_span
        where = f" ({span.path}:{span.line}:{span.column})" if span is not None else ""
        row.update(output=None, params=None, macs=None, activation_bytes=None, error_code=first.code.id,
                   error=first.message + where)
    return row


def sort_rows(rows: list[dict[str, Any]], keys: str | None) -> list[dict[str, Any]]:
    """Sorted by comma-separated columns, `-column` descending; missing values (a failed
    variant's counts) last either way."""
    if not keys:
        return rows
    result = list(rows)
    for key in reversed([k.strip() for k in keys.split(",") if k.strip()]):
        descending = key.startswith("-")
        name = key.lstrip("-+")
        if result and name not in result[0]:
            raise SweepError(f"--sort {name}: no such column; columns: {', '.join(result[0])}")
        present = [r for r in result if r.get(name) is not None]
        missing = [r for r in result if r.get(name) is None]
        try:
            present.sort(key=lambda r: r[name], reverse=descending)
        except TypeError:
            present.sort(key=lambda r: str(r[name]), reverse=descending)
        result = present + missing
    return result


Measure = Callable[[api.Result, Mapping[str, Any]], dict[str, Any]]


def run_sweep(spec: str | Path, grid: Grid, *, network: str | None = None, input_shape=None,
              limits: Limits = DEFAULT_LIMITS, batch: int = 1, dtype: str = "fp32", measure: Measure | None = None,
              progress: Callable[[int, int], None] | None = None) -> Sweep:
    """Check every variant of `grid` in process. Ctrl-C (KeyboardInterrupt) stops the sweep
    and keeps the rows finished so far (`interrupted` says so). Raises SweepError for a
    grid that cannot run, CompileError when the spec itself does not read."""
    columns = _columns(grid, measure is not None)
    where, early = _filter(grid, columns)
    total = _total(grid, limits)
    sink = DiagnosticSink()
    program = load_program(spec, sink, limits=limits)
    if sink.has_errors:
        raise CompileError(sink.sorted())
    _check_axes(program, grid, network)
    done = Sweep(total=total, columns=columns)
    try:
        # the collector paused for the whole sweep, not once per variant (not around torch's measuring)
        with api.collector_paused() if measure is None else contextlib.nullcontext():
            for count, point in enumerate(variants(grid), start=1):
                if where is None or not early or where(point):
                    result = api.analyze_program(program, network=network, params=dict(point),
                                                 input_shape=input_shape, limits=limits)
                    row = _row(result, point, batch, dtype)
                    if measure is not None:
                        row.update(measure(result, point) if result.ok else dict.fromkeys(MEASURED))
                    if where is None or early or where(row):
                        done.rows.append(row)
                if progress is not None:
                    progress(count, total)
    except KeyboardInterrupt:
        done.interrupted = True
    return done


def sweep(spec: str | Path, axes: Mapping[str, list[Any]] | None = None, *, where: str | None = None,
          sort: str | None = None, sample: int | None = None, seed: int = 0, network: str | None = None,
          input_shape=None, batch: int = 1, dtype: str = "fp32", measure: bool = False, device: str = "cpu",
          warmup: int = 3, repeats: int = 10, **params: list[Any]) -> list[dict[str, Any]]:
    """The rows of a sweep, for notebooks: `sweep("net.incp", width=[0.5, 1.0], k=range(128, 257, 64))`
    (or `axes={...}`). `measure=True` adds measured forward latency and throughput (imports torch)."""
    grid = Grid({name: list(values) for name, values in {**(axes or {}), **params}.items()}, where, sample, seed)
    timer = None
    if measure:
        from inception_dsl.runtime.measure import variant_timer  # imports torch

        timer = variant_timer(device=device, batch=batch, dtype=dtype, warmup=warmup, repeats=repeats)
    done = run_sweep(spec, grid, network=network, input_shape=input_shape, batch=batch, dtype=dtype, measure=timer)
    return sort_rows(done.rows, sort)
