"""The analyses every check runs: `run_analyses` (infer_shapes, then budget)."""

from __future__ import annotations

from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.ir import Graph
from inception_dsl.passes.analyses.budget import budget
from inception_dsl.passes.analyses.infer_shapes import infer_shapes

__all__ = ["infer_shapes", "run_analyses"]


def run_analyses(graph: Graph, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> None:
    """Shape inference, then the budgets (which need shapes)."""
    infer_shapes(graph, sink)
    if not sink.has_errors:
        budget(graph, sink, limits)
