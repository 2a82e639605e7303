"""`inception-dsl profile SPEC [--device cpu|cuda] [--batch N] [--dtype fp32|bf16]
[--optimize] [--compile]`: run the compiled network and attribute measured time to its
stages (and blocks, --depth), beside MACs and achieved FLOP/s (runtime/profile.py).
Table or JSON on stdout, `--chart OUT.svg` a bar chart of time and MACs per statement.
Exit 0 measured, 1 the spec has errors, 2 usage errors (no such device, ...)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from inception_dsl.backends.diagram.bars import bar_chart
from inception_dsl.commands.common import (OutputRefused, add_param_options, analyze_args, fail, input_files, parse_dims,
                                           whole_number, write_output)
from inception_dsl.commands.limit_options import add_limit_options
from inception_dsl.commands.report import FORMATS as DIAGNOSTIC_FORMATS
from inception_dsl.commands.report import write_diagnostics

__all__ = ["add_parser", "run", "format_table", "format_json", "chart"]



def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "profile", help="measure where the time goes: per stage time, MACs, FLOP/s",
        description="Build the network, run it on this machine and attribute the measured time of a forward pass "
                    "to its stages (synchronized forward hooks; see docs/performance.md), beside each stage's MACs "
                    "and the FLOP/s it achieves. Imports torch.")
    # not common.add_spec_options: its --format is the diagnostics' format, here it is the table's
    parser.add_argument("spec", metavar="SPEC", help="a spec file (.incp)")
    parser.add_argument("--network", help="which network of the file (default: the first)")
    add_param_options(parser)
    parser.add_argument("--input", type=parse_dims, metavar="CxHxW", help="override the declared input size")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--batch", type=whole_number(1), default=1, metavar="N", help="batch size (default 1)")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="element type (default fp32)")
    parser.add_argument("--optimize", action="store_true", help="profile the inference-optimized module")
    parser.add_argument("--compile", action="store_true", help="torch.compile each stage (or the optimized forward)")
    parser.add_argument("--depth", type=whole_number(0), default=0, metavar="N",
                        help="also time block instances nested up to N levels (eager, unoptimized only)")
    parser.add_argument("--warmup", type=whole_number(0), default=3, metavar="N", help="untimed passes first (default 3)")
    parser.add_argument("--repeats", type=whole_number(1), default=10, metavar="N", help="timed passes (default 10)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    parser.add_argument("--chart", metavar="OUT.svg", help="write a bar chart of time and MACs per statement")
    parser.add_argument("--diagnostics", choices=DIAGNOSTIC_FORMATS, default="text", help="diagnostic format")
    add_limit_options(parser)
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.chart and not args.chart.lower().endswith(".svg"):
        return fail("--chart writes SVG: give a file name ending in .svg")
    result = analyze_args(args)
    if result.diagnostics:
        write_diagnostics(result.diagnostics, sys.stderr, args.diagnostics)
    if not result.ok:
        return 1
    from inception_dsl.runtime.profile import profile_result  # torch, only now

    try:
        measured = profile_result(result, device=args.device, batch=args.batch, dtype=args.dtype,
                                  optimize=args.optimize, compile=args.compile, depth=args.depth,
                                  warmup=args.warmup, repeats=args.repeats)
    except ValueError as error:
        return fail(str(error))
    if args.chart:
        try:
            write_output(args.chart, chart(measured), input_files(result, args.spec))
        except OutputRefused as error:
            return fail(str(error))
        except OSError as error:
            return fail(f"cannot write `{args.chart}`: {error.strerror or error}")
    sys.stdout.write(format_json(measured) if args.format == "json" else format_table(measured))
    return 0


def _mode(p) -> str:
    return ("optimized" if p.optimize else "eager") + (", compiled" if p.compile else "")


def format_table(p) -> str:
    header = ("stage", "kind", "time ms", "share", "MACs", "GFLOP/s")
    body = []
    for s in p.stages:
        share = s.seconds / p.stage_seconds if p.stage_seconds else 0.0
        time_text = f"{s.seconds * 1000:.3f}" if s.measured else "-"
        body.append(("  " * s.level + s.name, s.kind, time_text, f"{share:.1%}" if s.level == 0 else "",
                     f"{s.macs:,}", f"{s.flops_per_second / 1e9:.1f}" if s.measured else "-"))
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells) -> str:
        return "  ".join([cells[0].ljust(widths[0]), cells[1].ljust(widths[1])] +
                         [c.rjust(w) for c, w in zip(cells[2:], widths[2:])]).rstrip()

    title = (f"network {p.network}, {p.device}, batch {p.batch}, {p.dtype}, {_mode(p)}; medians of {p.runs} runs")
    footer = (f"forward {p.forward_seconds * 1000:.3f} ms (no hooks); stages sum {p.stage_seconds * 1000:.3f} ms "
              f"({p.stage_seconds / p.forward_seconds:.0%} of the forward)" if p.forward_seconds else "")
    rule = "-" * len(line(header))
    return "\n".join([title, line(header), rule, *map(line, body), rule, footer]) + "\n"


def format_json(p) -> str:
    document = {k: v for k, v in asdict(p).items() if k != "stages"}
    document["stages"] = [{**asdict(s), "flops_per_second": s.flops_per_second} for s in p.stages]
    return json.dumps(document, indent=2) + "\n"


def chart(p) -> str:
    """Time and MACs per statement (the instances of `x N` summed)."""
    rows: dict[str, list] = {}
    for s in p.stages:
        if s.level == 0:
            row = rows.setdefault(s.statement or s.name, [0.0, 0])
            row[0] += s.seconds
            row[1] += s.macs
    title = f"{p.network}: measured time and MACs per stage ({p.device}, batch {p.batch}, {p.dtype}, {_mode(p)})"
    return bar_chart([(name, seconds, macs) for name, (seconds, macs) in rows.items()], title=title)
