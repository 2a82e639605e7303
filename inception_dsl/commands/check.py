"""`inception-dsl check SPEC... [--input CxHxW]`: shapes of every stage, or diagnostics.
Never imports torch."""

from __future__ import annotations

import sys

from inception_dsl.core.shapes import shape_data
from inception_dsl.ir import Op, dump, fmt_shape, to_data
from inception_dsl.passes.analyses.budget import total_params
from inception_dsl.commands.report import STRUCTURED, write_diagnostics, write_document
from inception_dsl.commands.common import add_spec_options, analyze_args, report

__all__ = ["add_parser", "run", "stage_table", "EMIT"]

EMIT = ("stages", "ir", "ir-optimized")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("check", help="check shapes; print each stage's output shape",
                                   description="Parse, elaborate and shape-check specs without building them.")
    add_spec_options(parser, many=True)
    parser.add_argument("--quiet", "-q", action="store_true", help="print diagnostics only")
    parser.add_argument("--emit", choices=EMIT, default="stages",
                        help="what to print for a clean spec: the stage table (default), the IR one line per node "
                             "(`ir`), or the IR after the inference optimizer's passes (`ir-optimized`); with "
                             "--format json or yaml, the IR as one document (a mapping per node)")
    parser.set_defaults(run=run)


def stage_table(graph) -> list[tuple[str, str, str]]:
    return [(name, kind, text) for name, kind, text, _ in _stages(graph)]


def _stages(graph) -> list[tuple[str, str, str, object]]:
    """(name, kind, shape text, shape) of each stage."""
    rows = []
    for stage in graph.stages:
        shape = graph.node(stage.output).shape if stage.output in graph else None
        rows.append((stage.name + (" (aux)" if stage.aux else ""), stage.kind, fmt_shape(shape), shape))
    return rows


def _emitted(graph, emit: str):
    """The graph `--emit ir` prints, or the optimized one (the rewrites, imported only then)."""
    if emit == "ir":
        return graph
    from inception_dsl.passes.rewrites.pipeline import optimize

    return optimize(graph)[0]


def _counts(graph) -> str:
    conv = sum(1 for n in graph.nodes() if n.op is Op.CONV)
    transposed = sum(1 for n in graph.nodes() if n.op is Op.CONV_TRANSPOSE)
    linear = sum(1 for n in graph.nodes() if n.op is Op.LINEAR)
    bn = sum(1 for n in graph.nodes() if n.op is Op.BN)
    kinds = f"{conv} conv, " + (f"{transposed} transposed conv, " if transposed else "") + f"{linear} linear"
    return (f"{conv + transposed + linear} weighted layers ({kinds}), {bn} batchnorm, "
            f"{len(graph)} ops, {total_params(graph):,} parameters")


def _follows(graph, shown: int = 4) -> str:
    """The layers whose output size follows another tensor's (or the input's) at run time:
    exact above at the declared input, computed in forward at any other."""
    found = [f"`{node.statement or node.id}` {node.op.follows(node.attrs)}" for node in graph.nodes() if node.op.follows]
    if not found:
        return ""
    more = f"; and {len(found) - shown} more" if len(found) > shown else ""
    return f"  sizes that follow a tensor at run time: {'; '.join(found[:shown])}{more}\n"


def run(args) -> int:
    status = 0
    documents = []
    sarif = args.format == "sarif"  # one SARIF log for all specs, on stdout
    single = args.format in STRUCTURED  # one document for all specs, not one per spec
    collected = []
    for spec in args.specs:
        result = analyze_args(args, spec)
        if single:
            collected.extend(result.diagnostics)
        else:
            report(result, args)
        if not result.ok:
            status = 1
            continue
        if sarif:
            continue
        graph = result.graph
        if single and args.emit != "stages":
            documents.append(to_data(_emitted(graph, args.emit)))
            continue
        if single:
            documents.append({
                "spec": spec, "network": graph.name,
                "input": list(graph.input_node.shape),
                "stages": [{"name": n, "kind": k, "shape": s, "dims": shape_data(d)} for n, k, s, d in _stages(graph)],
                "outputs": {graph.node(o).attrs["name"]: shape_data(graph.node(o).shape) for o in graph.outputs},
                "params": total_params(graph),
            })
            continue
        if args.quiet:
            continue
        if args.emit != "stages":
            sys.stdout.write(dump(_emitted(graph, args.emit)))
            continue
        out = sys.stdout
        out.write(f"{spec}: network {graph.name}, input {fmt_shape(graph.input_node.shape)}\n")
        rows = stage_table(graph)
        width = max([len(r[0]) for r in rows] + [5])
        kind_width = max([len(r[1]) for r in rows] + [5])
        out.write(f"  {'stage'.ljust(width)}  {'block'.ljust(kind_width)}  output\n")
        for name, kind, shape in rows:
            out.write(f"  {name.ljust(width)}  {kind.ljust(kind_width)}  {shape}\n")
        for output in graph.output_nodes():
            label = "output" + (f" {output.attrs['name']} (aux, training only)" if output.attrs["aux"] else "")
            out.write(f"  {label}: {fmt_shape(output.shape)}\n")
        out.write(f"  {_counts(graph)}\n")
        out.write(_follows(graph))
    if sarif:
        write_diagnostics(collected, sys.stdout, "sarif")
    elif single and (collected or status):
        write_diagnostics(collected, sys.stderr, args.format)
    if documents:
        write_document(documents if len(documents) > 1 else documents[0], sys.stdout, args.format)
    return status
