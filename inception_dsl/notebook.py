"""Rich display in Jupyter, without building the network (no torch): an analysis result
shows its diagram (SVG, drawn by Graphviz's `dot` when it is installed) and its
summary table; a block within it (`result.block("inception_a")`) shows that block the
way `render --block` draws it, with its statements' table; diagnostics render as the
terminal shows them, HTML-escaped.

    import inception_dsl
    inception_dsl.show("specs/v4.incp")                    # or the text of a spec
    inception_dsl.show(spec_text, block="inception_a")
    result = inception_dsl.analyze("specs/v4.incp"); result.block("reduction_a")
"""

from __future__ import annotations

import functools
import html
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.diagram.drawing import View
from inception_dsl.backends.summary import Row, Summary, format_table, to_summary
from inception_dsl.core.diagnostics import Diagnostic, render_full
from inception_dsl.ir import Graph, fmt_shape

__all__ = ["Analysis", "BlockView", "svg", "result_html", "result_markdown", "result_svg"]


class Analysis(Protocol):
    """What is displayed: an `api.Result` (api.py imports this module to display its
    results, and `show` lives there; this module needs no more of it than this)."""

    graph: Graph | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool: ...


DOT_TIMEOUT = 60  # seconds; a drawing of a spec within the limits takes well under one


@functools.lru_cache(maxsize=32)
def svg(dot_source: str) -> str | None:
    """The SVG Graphviz draws from DOT text, without the XML prologue (for inlining);
    None when `dot` is not installed or fails. Remembered: Jupyter asks an object for its
    SVG and its HTML, which both hold the drawing."""
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.decode("utf-8", "replace")
    start = text.find("<svg")
    return text[start:] if done.returncode == 0 and start >= 0 else None


def _diagnostics_html(result: Analysis) -> str:
    if not result.diagnostics:
        return ""
    text = "\n\n".join(render_full(d) for d in result.diagnostics)
    return f'<pre class="inception-dsl-diagnostics">{html.escape(text)}</pre>'


def _cells(row: Row | None, summary: Summary) -> list[str]:
    if row is None:
        return ["total", "", "", f"{summary.params:,}", f"{summary.macs:,}", _mib(summary.activation_bytes)]
    shape = fmt_shape(row.shape)
    name = "\u00a0\u00a0" * row.level + row.name + (" (aux)" if row.aux else "")
    return [name, row.kind, shape, f"{row.params:,}", f"{row.macs:,}", _mib(row.activation_bytes)]


def _mib(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"


HEADER = ("name", "kind", "output", "params", "MACs", "activations")


def table_html(summary: Summary) -> str:
    head = "".join(f"<th>{h}</th>" for h in HEADER)
    body = ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r, summary)) + "</tr>" for r in summary.rows]
    total = "<tr><th>" + "</th><th>".join(html.escape(c) for c in _cells(None, summary)) + "</th></tr>"
    caption = html.escape(f"network {summary.network}, input {'x'.join(map(str, summary.input))}, batch "
                          f"{summary.batch}, {summary.dtype}")
    return (f'<table class="inception-dsl-summary"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody><tfoot>{total}</tfoot></table>")


def table_markdown(summary: Summary) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * 3 + "---:|" * 3]
    for cells in [_cells(r, summary) for r in summary.rows] + [_cells(None, summary)]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _figure(dot_source: str) -> str:
    drawn = svg(dot_source)
    if drawn is None:
        return "<p><em>(install Graphviz to see the diagram)</em></p>"
    return f'<div class="inception-dsl-diagram">{drawn}</div>'


def result_svg(result: Analysis) -> str | None:
    return svg(to_dot(result.graph)) if result.ok else None


def result_html(result: Analysis) -> str:
    if not result.ok:
        return _diagnostics_html(result)
    summary = to_summary(result.graph)
    return _diagnostics_html(result) + _figure(to_dot(result.graph)) + table_html(summary)


def result_markdown(result: Analysis) -> str:
    if not result.ok:
        text = "\n\n".join(render_full(d) for d in result.diagnostics).replace("```", "`\u200b``")
        return f"```\n{text}\n```"
    return table_markdown(to_summary(result.graph))


@dataclass
class BlockView:
    """One block of an analysed network, as its first instance there was elaborated."""

    result: Analysis
    name: str
    scope: str

    @classmethod
    def of(cls, result: Analysis, name: str) -> "BlockView":
        if not result.ok:
            raise ValueError("the spec has errors: " + "; ".join(d.message for d in result.diagnostics[:3]))
        scope = next((s for s, site in result.graph.blocks.items() if site.block == name), None)
        if scope is None:
            used = sorted({site.block for site in result.graph.blocks.values()})
            raise KeyError(f"network `{result.graph.name}` does not call a block `{name}`"
                           + (f"; it calls {', '.join(used)}" if used else ""))
        return cls(result, name, scope)

    def summary(self) -> Summary:
        """The block's statements (one row each) and its totals."""
        graph = self.result.graph
        stage = next(s.name for s in graph.stages if self.scope == s.name or self.scope.startswith(s.name + "."))
        level = len(self.scope.split(".")) - len(stage.split(".")) + 1
        whole = to_summary(graph, depth=level)
        rows = [r for r in whole.rows if r.name.startswith(self.scope + ".") and r.level == level]
        summary = Summary(f"{self.name} ({self.scope})", self.input_shape(), whole.batch, whole.dtype)
        summary.rows = [Row(r.name[len(self.scope) + 1:], r.kind, 0, r.shape, r.params, r.macs, r.activation_bytes) for r in rows]
        summary.params = sum(r.params for r in rows)
        summary.macs = sum(r.macs for r in rows)
        summary.activation_bytes = sum(r.activation_bytes for r in rows)
        return summary

    def input_shape(self) -> tuple[int, ...]:
        graph, prefix = self.result.graph, self.scope + "."
        for node in graph.nodes():
            if node.id.startswith(prefix):
                outside = [i for i in graph.inputs(node.id) if not i.startswith(prefix)]
                if outside:
                    return graph.node(outside[0]).shape
        return graph.input_node.shape

    def dot(self) -> str:
        return to_dot(self.result.graph, View(scope=self.scope), title=self.name)

    def _repr_svg_(self) -> str | None:
        return svg(self.dot())

    def _repr_html_(self) -> str:
        return _figure(self.dot()) + table_html(self.summary())

    def _repr_markdown_(self) -> str:
        return table_markdown(self.summary())

    def __str__(self) -> str:
        return format_table(self.summary())
