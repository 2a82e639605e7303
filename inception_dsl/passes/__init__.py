"""Passes over the IR, one per file, each a function named after its file
(sqlglot's optimizer layout). `run_analyses` (infer_shapes, then budget) runs on every
check; the rewriting passes listed in passes/optimize.py's `RULES` run only when
optimization is asked for."""

from __future__ import annotations

from inception_dsl.language.diagnostics import DiagnosticSink
from inception_dsl.ir import Graph
from inception_dsl.language.limits import DEFAULT_LIMITS, Limits
from inception_dsl.passes.budget import budget
from inception_dsl.passes.infer_shapes import infer_shapes

__all__ = ["infer_shapes", "run_analyses"]


def run_analyses(graph: Graph, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> None:
    """Shape inference, then the budgets (which need shapes)."""
    infer_shapes(graph, sink)
    if not sink.has_errors:
        budget(graph, sink, limits)
