"""`inception-dsl sweep SPEC -p name=v1,v2 -p name=range(a,b[,step]) [--grid GRID.yaml] ...`: check every
variant of a grid of network parameters in process (study/sweep.py) and print one row per
variant: table, csv or json. Exit 0 when the sweep ran (failed variants are rows with
their error code), 1 when the spec itself has errors, 2 usage errors, 130 interrupted
(the rows finished so far are printed first). Imports torch only with --measure."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from typing import Any

from inception_dsl.backends.summary import _bytes_text
from inception_dsl.commands.common import fail, limits_from, parse_dims, parse_param, whole_number
from inception_dsl.commands.limit_options import add_limit_options
from inception_dsl.commands.report import FORMATS as DIAGNOSTIC_FORMATS
from inception_dsl.commands.report import write_diagnostics
from inception_dsl.core.diagnostics import CompileError, DiagnosticSink
from inception_dsl.language.params_file import GridFile, check_grid, load_grid
from inception_dsl.language.program import load_program
from inception_dsl.study.sweep import Grid, SweepError, run_sweep, sort_rows

__all__ = ["add_parser", "run", "parse_axis", "format_rows"]

_RANGE = re.compile(r"range\(\s*(-?\d+)\s*,\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?\)\Z")
MAX_AXIS = 100_000


def parse_axis(text: str) -> tuple[str, list[Any]]:
    """`name=v1,v2,...` or `name=range(a,b[,step])` (b excluded, as Python's range); each
    value is read as `-p name=value` reads it."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2 or NAME=range(A,B), got {text!r}")
    name, raw = (part.strip() for part in text.split("=", 1))
    match = _RANGE.match(raw)
    if match:
        start, stop, step = int(match[1]), int(match[2]), int(match[3] or 1)
        if step == 0:
            raise argparse.ArgumentTypeError(f"{text!r}: range step must not be 0")
        if len(range(start, stop, step)) > MAX_AXIS:
            raise argparse.ArgumentTypeError(f"{text!r}: more than {MAX_AXIS:,} values")
        values = list(range(start, stop, step))
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r}: the range is empty")
        return name, values
    if raw.startswith("range("):
        raise argparse.ArgumentTypeError(f"expected range(START, STOP[, STEP]) with whole numbers, got {raw!r}")
    values = [parse_param(f"{name}={item.strip()}") for item in raw.split(",")]
    return values[0][0], [value for _, value in values]



def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="check a grid of network parameters: one row per variant",
        description="Check every variant of a grid of network parameters in process (the cartesian product of "
                    "the -p axes, or a seeded sample of it): one row per variant with its parameters, output shape, "
                    "parameters, MACs and activation memory, or its first error code and message. "
                    "--where filters and --sort orders on any column.")
    parser.add_argument("spec", metavar="SPEC", help="a spec file (.incp)")
    parser.add_argument("--network", help="which network of the file (default: the first)")
    parser.add_argument("--param", "-p", action="append", type=parse_axis, default=[], metavar="NAME=V1,V2|range(A,B[,S])",
                        help="an axis of the grid (repeatable); a single value fixes the parameter")
    parser.add_argument("--grid", metavar="GRID.yaml",
                        help="axes from a YAML file: `name: [v1, v2]` or `name: {range: [a, b, step]}`, `where:` "
                             "filters, optionally `network:` and `input:` (docs/language.md); -p axes win over its axes")
    parser.add_argument("--input", type=parse_dims, metavar="CxHxW", help="override the declared input size")
    parser.add_argument("--sample", type=whole_number(1), metavar="N", help="check a random sample of N grid points")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of --sample (default 0)")
    parser.add_argument("--where", metavar="EXPR",
                        help='keep rows where EXPR holds, e.g. "macs < 5e9 and not error" (columns, numbers, '
                             "strings, + - * / // %%, comparisons, and/or/not, in, abs/min/max/round)")
    parser.add_argument("--sort", metavar="KEY[,KEY]", help="sort by columns; --sort=-KEY for descending (failed rows last)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.add_argument("--batch", type=whole_number(1), default=1, metavar="N", help="batch size (activations, --measure)")
    parser.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="element type (activation memory, --measure)")
    parser.add_argument("--measure", action="store_true",
                        help="also build each variant and time its forward pass (imports torch)")
    parser.add_argument("--device", default="cpu", help="with --measure: cpu or cuda (default cpu)")
    parser.add_argument("--warmup", type=int, default=3, metavar="N", help="with --measure: untimed passes")
    parser.add_argument("--repeats", type=whole_number(1), default=10, metavar="N", help="with --measure: timed passes")
    parser.add_argument("--diagnostics", choices=DIAGNOSTIC_FORMATS, default="text", help="diagnostic format")
    add_limit_options(parser)
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def _progress():
    """A progress bar on stderr when it is a terminal (rich), else nothing."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("sweep", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                   console=Console(stderr=True))
    task = bar.add_task("sweep", total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


def _timer(args):
    if not args.measure:
        return None
    from inception_dsl.runtime.measure import variant_timer  # torch: only with --measure

    return variant_timer(device=args.device, batch=args.batch, dtype=args.dtype, warmup=args.warmup,
                         repeats=args.repeats)


def _grid_file(args) -> tuple[GridFile | None, int | None]:
    """The --grid file, read and checked against the spec's network; (None, 1) after
    writing its located diagnostics."""
    if not args.grid:
        return None, None
    sink = DiagnosticSink()
    limits = limits_from(args)
    grid_file = load_grid(args.grid, sink, limits)
    if grid_file is not None:
        program = load_program(args.spec, sink, limits=limits)
        if not sink.has_errors:
            check_grid(program, grid_file, sink, network=args.network)
    if sink.has_errors:
        write_diagnostics(sink.sorted(), sys.stderr, args.diagnostics)
        return None, 1
    return grid_file, None


def run(args) -> int:
    axes = dict(args.param)
    if len(axes) != len(args.param):
        return fail("a parameter is given twice with -p: give all its values in one -p NAME=V1,V2")
    grid_file, status = _grid_file(args)
    if status is not None:
        return status
    where: list[str] = [] if grid_file is None else [w.value for w in grid_file.where]
    if grid_file is not None:
        axes = {**{name: list(values) for name, values in grid_file.axes.items()}, **axes}
        args.network = args.network or (grid_file.network.value if grid_file.network else None)
        args.input = args.input or (grid_file.input.value if grid_file.input else None)
    grid = Grid(axes, where + ([args.where] if args.where else []) or None, args.sample, args.seed)
    try:
        timer = _timer(args)
    except ValueError as error:
        return fail(str(error))
    bar, progress = _progress()
    try:
        if bar is not None:
            bar.start()
        done = run_sweep(args.spec, grid, network=args.network, input_shape=args.input, limits=limits_from(args),
                         batch=args.batch, dtype=args.dtype, measure=timer, progress=progress)
        rows = sort_rows(done.rows, args.sort)
    except CompileError as error:
        write_diagnostics(error.diagnostics, sys.stderr, args.diagnostics)
        return 1
    except SweepError as error:
        return fail(str(error))
    finally:
        if bar is not None:
            bar.stop()
    sys.stdout.write(format_rows(rows, done.columns, args.format))
    if done.interrupted:
        return fail(f"interrupted: {len(done.rows)} rows from the variants checked before Ctrl-C", 130)
    return 0


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column == "activation_bytes":
        return _bytes_text(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_rows(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> str:
    """Rows as an aligned table, CSV or a JSON list."""
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2, default=str) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if r.get(c) is None else r.get(c) for c in columns] for r in rows])
        return out.getvalue()
    shown = [c for c in columns if c != "error_code"]
    body = [[_cell(c, r.get(c)) if c != "error" else _error_cell(r) for c in shown] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in body]) for i, c in enumerate(shown)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(shown, widths)).rstrip()]
    lines += ["  ".join(v.rjust(w) if _numeric(shown[i]) else v.ljust(w) for i, (v, w) in enumerate(zip(line, widths)))
              .rstrip() for line in body]
    lines.append(f"{len(rows)} rows, {sum(1 for r in rows if r.get('error_code'))} with errors")
    return "\n".join(lines) + "\n"


def _error_cell(row: dict[str, Any]) -> str:
    return f"error[{row['error_code']}]: {row['error']}" if row.get("error_code") else ""


def _numeric(column: str) -> bool:
    return column in ("params", "macs", "activation_bytes", "latency_ms", "throughput")
