"""The pipeline in a few lines: read -> parse -> elaborate -> analyses -> backend.

    >>> from inception_dsl import api
    >>> result = api.analyze("specs/v4.incp")
    >>> result.ok, result.graph.node("output").shape
    (True, (1000,))

Every stage can be called on its own (program.load_program, elaborate.elaborate,
passes.run_analyses); `analyze` is what `check`, `render`, `summary` and the backends
start from. Nothing here imports torch."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inception_dsl.core.diagnostics import CompileError, Diagnostic, DiagnosticSink
from inception_dsl.language.elaborate import elaborate
from inception_dsl.ir import Graph, fmt_shape, verify
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.params_file import ParamsArg, merge_param_sets, read_params
from inception_dsl.passes.analyses import run_analyses
from inception_dsl.language.caches.programs import ProgramCache
from inception_dsl.language.program import Program

if TYPE_CHECKING:  # notebook.py is imported only when a result is displayed (startup of `check`)
    from inception_dsl.notebook import BlockView

__all__ = ["PROGRAMS", "Result", "collector_paused", "analyze", "analyze_program", "analyze_text", "build_graph", "require", "show"]


# specs analyzed in this process, by the texts they were read from: a spec checked again
# (a variant, in a notebook) is not parsed again, and its elaboration templates are reused
PROGRAMS = ProgramCache()


@dataclass(repr=False)
class Result:
    program: Program
    graph: Graph | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.graph is not None and not any(d.level.value == "error" for d in self.diagnostics)

    def require(self) -> Graph:
        """The graph of a clean result, or CompileError carrying the diagnostics."""
        if not self.ok:
            raise CompileError([d for d in self.diagnostics if d.level.value == "error"] or self.diagnostics)
        return self.graph

    def __repr__(self) -> str:
        """One line (`print(result)`, a notebook's text/plain): the network and its size, or
        the errors; the program, graph and diagnostics are attributes."""
        from inception_dsl.passes.analyses.budget import total_params

        path = self.program.main.path if self.program.main is not None else "<text>"
        errors = [d for d in self.diagnostics if d.level.value == "error"]
        if errors:
            first = errors[0]
            where = f" at {first.primary_span.path}:{first.primary_span.line}" if first.primary_span is not None else ""
            return f"<Result {path}: {len(errors)} error{'s' * (len(errors) != 1)}, first {first.code.id}{where}>"
        if self.graph is None:
            return f"<Result {path}: no network>"
        graph = self.graph
        shapes = [n.shape for n in graph.output_nodes() if n.shape is not None]
        warned = len(self.diagnostics)
        return (f"<Result {path}: network {graph.name}, input {fmt_shape(graph.input_node.shape)}, "
                f"output {', '.join(fmt_shape(s) for s in shapes) or '?'}, {total_params(graph):,} parameters"
                + (f", {warned} warning{'s' * (warned != 1)}" if warned else "") + ">")

    # -- rich display in Jupyter (inception_dsl/notebook.py): diagram, summary table, diagnostics
    def block(self, name: str):
        """One block of the network, as first called there (displays as its diagram and table)."""
        from inception_dsl.notebook import BlockView

        return BlockView.of(self, name)

    def _repr_html_(self) -> str:
        from inception_dsl.notebook import result_html

        return result_html(self)

    def _repr_svg_(self) -> str | None:
        from inception_dsl.notebook import result_svg

        return result_svg(self)

    def _repr_markdown_(self) -> str:
        from inception_dsl.notebook import result_markdown

        return result_markdown(self)


def analyze(
    path: str | Path,
    *,
    text: str | None = None,
    network: str | None = None,
    params: ParamsArg = None,
    input_shape: tuple[int, ...] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Result:
    """Load, elaborate and shape-check one network. Diagnostics come back sorted. A spec
    whose files did not change since it was last analyzed in this process is not parsed
    again and shares that load's `Program` (`PROGRAMS`, language/caches/parsed_files.py).

    `params` overrides network parameters: a mapping, the path of a YAML parameter file,
    or a list of those merged in order (language/params_file.py); `network` and
    `input_shape` win over what the files say."""
    with collector_paused():
        sink = DiagnosticSink()
        sets = read_params(params, sink, limits)
        program = PROGRAMS.load(path, sink, text=text, limits=limits)
        if sink.has_errors:
            return Result(program, None, sink.sorted())
        return _check(program, sets, sink, network, input_shape, limits)


def analyze_program(
    program: Program,
    *,
    network: str | None = None,
    params: ParamsArg = None,
    input_shape: tuple[int, ...] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Result:
    """Elaborate and shape-check one network of an already loaded (error-free) program:
    what `analyze` does after reading the spec, for callers that check many variants of
    one spec (`sweep`)."""
    with collector_paused():
        sink = DiagnosticSink()
        sets = read_params(params, sink, limits)
        if sink.has_errors:
            return Result(program, None, sink.sorted())
        return _check(program, sets, sink, network, input_shape, limits)


@contextmanager
def collector_paused():
    """The front end makes many small objects and frees few until its result is dropped, so
    Python's cycle collector would walk the growing heap again and again for nothing (half
    the elaboration time of a 10,000-block spec). It is paused for one analysis (or a
    sweep of them); the objects of a graph hold no cycles, and are freed as they go."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            # what was made meanwhile goes straight to the oldest generation: else the first
            # young collection would walk all of it at once (seconds after a 10,000-block spec)
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def _check(program: Program, sets, sink: DiagnosticSink, network, input_shape, limits: Limits) -> Result:
    graph = None
    binding = merge_param_sets(program, sets, sink, network=network, input_shape=input_shape)
    if binding is not None:
        # shapes are checked even after elaboration errors: the parts that elaborated
        # (everything upstream of a failed statement) still get their shape errors reported
        graph = build_graph(program, sink, network=binding.network, params=binding.overrides,
                            input_shape=binding.input_shape, limits=limits, after_errors=True)
    return Result(program, graph if not sink.has_errors else None, sink.sorted())


def build_graph(program: Program, sink: DiagnosticSink, *, network: str | None = None,
                params: dict[str, Any] | None = None, input_shape: tuple[int, ...] | None = None,
                limits: Limits = DEFAULT_LIMITS, after_errors: bool = False) -> Graph | None:
    """Elaborate one network of a loaded program, verify the IR and run the analyses
    (shapes, budgets). A graph that elaborates with errors (in the sink, from earlier
    stages too) is verified by no one: with `after_errors` it is still shape-checked as
    far as it elaborated and returned, else the answer is None, as when no graph came out."""
    graph = elaborate(program, sink, network=network, overrides=params, input_shape=input_shape, limits=limits)
    if graph is None:
        return None
    if not sink.has_errors:
        verify(graph, "IR after elaboration")
    elif not after_errors:
        return None
    run_analyses(graph, sink, limits)
    return graph


def analyze_text(text: str, path: str = "<input>", **kwargs) -> Result:
    return analyze(path, text=text, **kwargs)


def require(result: Result) -> Graph:
    """The graph of a clean result, or CompileError carrying the diagnostics."""
    return result.require()


def show(spec: str | Path, block: str | None = None, **kwargs) -> Result | BlockView:
    """A quick look at a spec: a path to a .incp file, or the text of one (as written in
    a notebook cell). Returns what Jupyter displays: the result, or one of its blocks."""
    text = None
    if isinstance(spec, str) and ("\n" in spec or "{" in spec or not Path(spec).is_file()):
        text, path = spec, kwargs.pop("path", "<cell>")
    else:
        path = str(spec)
    result = analyze(path, text=text, **kwargs)
    if block is None:
        return result
    from inception_dsl.notebook import BlockView

    return BlockView.of(result, block)
