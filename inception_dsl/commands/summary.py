"""`inception-dsl summary SPEC [--input CxHxW] [--batch N] [--dtype D] [--format table|json|yaml|csv]
[--depth N]`: parameters, MACs and activation memory per stage, from the IR. Never imports torch."""

from __future__ import annotations

import argparse
import sys

from inception_dsl.backends.summary import DTYPE_BYTES, format_csv, format_json, format_table, format_yaml, to_summary
from inception_dsl.commands.report import FORMATS as DIAGNOSTIC_FORMATS
from inception_dsl.commands.report import write_diagnostics
from inception_dsl.commands.common import add_param_options, analyze_args, parse_dims, whole_number
from inception_dsl.commands.limit_options import add_limit_options

__all__ = ["add_parser", "run"]

_FORMATTERS = {"table": format_table, "json": format_json, "yaml": format_yaml, "csv": format_csv}



def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "summary", help="parameters, MACs and activation memory per stage",
        description="Count parameters, multiply-accumulates (conv and linear, as torch's FlopCounterMode / 2) "
                    "and activation memory per stage, without building the network.")
    # not common.add_spec_options: its --format is the diagnostics' format, here it is the table's
    parser.add_argument("spec", metavar="SPEC", help="a spec file (.incp)")
    parser.add_argument("--network", help="which network of the file (default: the first)")
    add_param_options(parser)
    parser.add_argument("--input", type=parse_dims, metavar="CxHxW", help="override the declared input size")
    parser.add_argument("--batch", type=whole_number(0), default=1, metavar="N", help="batch size (default 1)")
    parser.add_argument("--dtype", choices=sorted(DTYPE_BYTES), default="float32",
                        help="element type for activation memory (default float32)")
    parser.add_argument("--format", choices=tuple(_FORMATTERS), default="table", help="output format (default table)")
    parser.add_argument("--depth", type=whole_number(0), default=0, metavar="N",
                        help="also list statements up to N levels inside each stage")
    parser.add_argument("--diagnostics", choices=DIAGNOSTIC_FORMATS, default="text", help="diagnostic format")
    add_limit_options(parser)
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.batch < 1:
        print("inception-dsl: --batch must be at least 1", file=sys.stderr)
        return 2
    result = analyze_args(args)
    if result.diagnostics:
        write_diagnostics(result.diagnostics, sys.stderr, args.diagnostics)
    if not result.ok:
        return 1
    summary = to_summary(result.graph, depth=args.depth, batch=args.batch, dtype=args.dtype)
    sys.stdout.write(_FORMATTERS[args.format](summary))
    return 0
