"""`inception-dsl diff A.incp [B.incp]`: compare two elaborated networks statement by
statement (study/diff.py). Also two networks of one file (`--network-a/-b`) or two
parameter sets (`--param-a/-b`). Exit status as diff(1): 0 the same, 1 different, 2
errors (a spec that does not check, unreadable files, usage). Never imports torch."""

from __future__ import annotations

import argparse
import os
import sys

from inception_dsl import api
from inception_dsl.commands.common import add_param_options, fail, limits_from, params_from, parse_dims, parse_param
from inception_dsl.commands.limit_options import add_limit_options
from inception_dsl.commands.report import FORMATS as DIAGNOSTIC_FORMATS
from inception_dsl.commands.report import write_diagnostics
from inception_dsl.study.diff import diff_graphs
from inception_dsl.study.diff_format import format_json, format_text

__all__ = ["add_parser", "run", "side_options", "analyze_sides"]


def side_options(parser: argparse.ArgumentParser) -> None:
    """The options that pick the two networks (shared with `render --diff`)."""
    parser.add_argument("--network", help="which network of each file (default: the first)")
    parser.add_argument("--network-a", metavar="NAME", help="which network of A")
    parser.add_argument("--network-b", metavar="NAME", help="which network of B")
    add_param_options(parser)  # -p and --params-file: both sides
    parser.add_argument("--param-a", action="append", type=parse_param, default=[], metavar="NAME=VALUE",
                        help="override a network parameter of A only (repeatable)")
    parser.add_argument("--param-b", action="append", type=parse_param, default=[], metavar="NAME=VALUE",
                        help="override a network parameter of B only (repeatable)")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "diff", help="compare two networks: stages, shapes, params, MACs, layers",
        description="Compare two elaborated networks: statements aligned by name and block, each with its output "
                    "shape, parameters and MACs on both sides, and the layers added, removed or changed inside. "
                    "B defaults to A (compare two networks or parameter sets of one file). "
                    "Exit status 0 the same, 1 different, 2 errors.")
    parser.add_argument("spec_a", metavar="A", help="a spec file (.incp)")
    parser.add_argument("spec_b", metavar="B", nargs="?", help="a spec file (default: A)")
    side_options(parser)
    parser.add_argument("--input", type=parse_dims, metavar="CxHxW", help="override the input size of both")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the text output (default: only on a terminal, and not with NO_COLOR)")
    parser.add_argument("--diagnostics", choices=DIAGNOSTIC_FORMATS, default="text", help="diagnostic format")
    add_limit_options(parser)
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def analyze_sides(args) -> tuple[api.Result, api.Result]:
    spec_b = args.spec_b or args.spec_a
    results = []
    for spec, network, extra in ((args.spec_a, args.network_a, args.param_a), (spec_b, args.network_b, args.param_b)):
        results.append(api.analyze(spec, network=network or args.network, params=[*params_from(args), dict(extra)],
                                   input_shape=args.input, limits=limits_from(args)))
    return results[0], results[1]


def _colour(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def run(args) -> int:
    a, b = analyze_sides(args)
    for result in (a, b):
        if result.diagnostics:
            write_diagnostics(result.diagnostics, sys.stderr, args.diagnostics)
    if not (a.ok and b.ok):
        return fail("cannot compare: a spec has errors (above)")
    result = diff_graphs(a.graph, b.graph, path_a=args.spec_a, path_b=args.spec_b or args.spec_a)
    text = format_json(result) if args.format == "json" else format_text(result, colour=_colour(args.color))
    sys.stdout.write(text)
    return 0 if result.same else 1
