"""`inception-dsl render SPEC -o OUT.{svg,png,pdf,dot}`: draw a network, or one block.

DOT text comes from backends.dot.to_dot; only this command runs Graphviz's `dot` to turn
it into svg/png/pdf. Never imports torch. Exit 0 drawn, 1 diagnostics (nothing written),
2 usage errors or a missing Graphviz."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from inception_dsl import api
from inception_dsl.backends.diagram.compare import heat_fill, side_by_side
from inception_dsl.backends.diagram.dot import to_dot
from inception_dsl.backends.summary import to_summary
from inception_dsl.study.diff import diff_graphs
from inception_dsl.backends.diagram.drawing import View, scope_names
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.files import read_regular
from inception_dsl.language.program import load_program
from inception_dsl.language.metadata import BLOCK_VIEW
from inception_dsl.core.values import did_you_mean
from inception_dsl.commands.common import (OutputRefused, add_spec_options, analyze_args, fail, input_files, limits_from,
                                           params_from, parse_dims, parse_param, report, write_output)

__all__ = ["add_parser", "run", "block_view", "FORMATS"]

FORMATS = ("svg", "png", "pdf", "dot")
GRAPHVIZ_HELP = ("Graphviz's `dot` program is needed for .{fmt} output (install Graphviz: "
                 "`apt-get install graphviz`, `brew install graphviz` or https://graphviz.org/download/), "
                 "or write .dot instead")
# Input sizes tried, in order, for a block that the spec's network does not use.
DEFAULT_BLOCK_INPUTS = ((3, 35, 35), (384, 35, 35), (1024, 17, 17), (1536, 8, 8), (3, 299, 299))
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VALUE = re.compile(r"(-?[0-9]+(\.[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(x[0-9]+)+)\Z")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "render", help="draw a network or one block (svg, png, pdf, dot)",
        description="Draw a network top to bottom, one box per stage, or a single block like the paper's figures.")
    add_spec_options(parser, input=False)
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="output file: .svg, .png, .pdf or .dot (default: build/<network>.svg; with --block, "
                             "build/<block>.svg; with --diff, build/<network>-diff.svg)")
    parser.add_argument("--input", type=parse_dims, metavar="CxHxW",
                        help="input size (the network's; with --block, the block's)")
    parser.add_argument("--block", metavar="NAME", help="draw this block alone")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="with --block: an argument of the block (repeatable), e.g. --arg k=192")
    parser.add_argument("--expand", nargs="+", default=["none"], metavar="all|none|NAME",
                        help="open blocks: all, none, or block names / instance paths (default none)")
    parser.add_argument("--depth", type=int, default=0, metavar="N", help="open blocks nested up to N levels")
    parser.add_argument("--no-fold", action="store_true", help="draw every repetition of `x N` statements")
    parser.add_argument("--diff", metavar="B", help="draw SPEC (left) and the spec B (right) side by side, "
                        "statements only in SPEC red, only in B green, changed yellow (see `inception-dsl diff`)")
    parser.add_argument("--diff-network", metavar="NAME", help="with --diff: which network of B")
    parser.add_argument("--diff-param", action="append", type=parse_param, default=[], metavar="NAME=VALUE",
                        help="with --diff: override a network parameter of B (repeatable; B also gets each -p)")
    parser.add_argument("--heat", choices=("time", "macs", "params"),
                        help="colour each stage by its share of measured time (runs `profile`, imports torch), "
                             "of MACs or of parameters")
    parser.add_argument("--heat-from", metavar="PROFILE.json",
                        help="with --heat time: stage times from `inception-dsl profile --format json` instead of "
                             "measuring")
    parser.set_defaults(run=run)


def run(args) -> int:
    fmt = Path(args.output).suffix.lower().lstrip(".") if args.output else "svg"
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        return fail(f"cannot tell the format of `{args.output}`: use one of {', '.join('.' + f for f in FORMATS)}")
    if args.depth < 0:
        return fail("--depth must be at least 0")
    if args.arg and not args.block:
        return fail("--arg needs --block")
    dot_program = shutil.which("dot")
    if fmt != "dot" and dot_program is None:
        return fail(GRAPHVIZ_HELP.format(fmt=fmt))
    conflict = _conflicting_options(args)
    if conflict:
        return fail(conflict)
    if args.diff:
        return _run_diff(args, fmt, dot_program)
    if args.block:
        outcome = block_view(args)
        if isinstance(outcome, int):
            return outcome
        result, scope = outcome
        view, title = View(scope=scope), args.block
    else:
        result = analyze_args(args)
        expand = frozenset(args.expand) - {"none"}
        view, title = View(expand=expand, depth=args.depth, fold=not args.no_fold), None
    report(result, args)
    if not result.ok:
        if args.block and scope_is_synthetic(result, args.block):
            fail(f"note: the call of `{args.block}` above is the one `render --block` adds after the end of the file; "
                 "give the block's arguments with --arg NAME=VALUE and its input with --input CxHxW")
        return 1
    unknown = _unknown_expand_names(result.graph, view.expand - {"all"})
    if unknown:
        return fail(unknown)
    fill = None
    if args.heat:
        fill = _heat_fill(args, result, view)
        if isinstance(fill, int):
            return fill
    source = to_dot(result.graph, view, title=title or result.graph.name, fill=fill)
    output = args.output or str(Path("build") / f"{args.block or result.graph.name}.svg")
    return _write(output, fmt, source, dot_program, input_files(result, args.spec))


def _conflicting_options(args) -> str | None:
    if args.diff and (args.block or args.heat):
        return "--diff draws whole networks: it does not combine with --block or --heat"
    if (args.diff_network or args.diff_param) and not args.diff:
        return "--diff-network and --diff-param need --diff"
    if args.heat_from and args.heat != "time":
        return "--heat-from needs --heat time"
    return None


def _run_diff(args, fmt: str, dot_program: str | None) -> int:
    a = analyze_args(args)
    b = api.analyze(args.diff, network=args.diff_network or args.network,
                    params=[*params_from(args), dict(args.diff_param)], input_shape=args.input,
                    limits=limits_from(args))
    for result in (a, b):
        report(result, args)
    if not (a.ok and b.ok):
        return 1
    result = diff_graphs(a.graph, b.graph, path_a=args.spec, path_b=args.diff)
    statuses_a = {s.name_a: s.status for s in result.stages if s.name_a is not None and s.status != "same"}
    statuses_b = {s.name_b: s.status for s in result.stages if s.name_b is not None and s.status != "same"}
    view = View(expand=frozenset(args.expand) - {"none"}, depth=args.depth, fold=not args.no_fold)
    source = side_by_side(a.graph, b.graph, statuses_a, statuses_b, view=view,
                          title_a=f"A: {args.spec} ({a.graph.name})", title_b=f"B: {args.diff} ({b.graph.name})")
    output = args.output or str(Path("build") / f"{a.graph.name}-diff.svg")
    return _write(output, fmt, source, dot_program, input_files(a, args.spec) + input_files(b, args.diff))


def _heat_fill(args, result: api.Result, view: View):
    """The fill colours for --heat, or an exit status."""
    graph = result.graph
    if args.heat != "time":
        summary = to_summary(graph)
        values = {row.name: float(row.macs if args.heat == "macs" else row.params) for row in summary.rows}
    elif args.heat_from:
        values = _stage_times(args.heat_from, limits_from(args).max_file_bytes)  # a profile is a few KiB
        if isinstance(values, str):
            return fail(values)
    else:
        from inception_dsl.runtime.profile import profile_result  # imports torch: only here

        values = {row.name: row.seconds for row in profile_result(result).stages}
    return heat_fill(graph, values, fold=view.fold)


def _stage_times(path: str, max_bytes: int) -> dict[str, float] | str:
    try:
        document = json.loads(read_regular(path, max_bytes).decode("utf-8"))
        return {str(row["name"]): float(row["seconds"]) for row in document["stages"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        return f"--heat-from {path}: not a profile written by `inception-dsl profile --format json` ({error})"


def _unknown_expand_names(graph, names: frozenset[str]) -> str | None:
    """A message for `--expand` names that match no block, statement or instance."""
    known = set().union(*(scope_names(graph, scope) for scope in graph.blocks))
    for name in sorted(names - known):
        hint = did_you_mean(name, known)
        return f"--expand {name}: no block, statement or instance has that name" + (f"; {hint}" if hint else "")
    return None


def _write(output: str, fmt: str, source: str, dot_program: str | None, inputs: list[str]) -> int:
    if fmt == "dot":
        data: str | bytes = source
    else:
        try:
            done = subprocess.run([dot_program, f"-T{fmt}"], input=source.encode("utf-8"),
                                  capture_output=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return fail(f"Graphviz failed: {error}")
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return fail(f"Graphviz failed: {message[-1] if message else f'exit status {done.returncode}'}")
        data = done.stdout
    try:
        write_output(output, data, inputs)
    except OutputRefused as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write `{output}`: {error.strerror or error}")
    if output != "-":
        print(f"wrote {output}")
    return 0


def scope_is_synthetic(result: api.Result, block: str) -> bool:
    """Whether a failed block view came from the network that `_synthetic_view` appends."""
    return result.graph is None and any(
        label.span is not None and label.span.text().startswith(block) and BLOCK_VIEW in label.span.source.text
        for d in result.diagnostics for label in d.labels)


def _block_args(raw: list[str]) -> list[tuple[str, str]] | int:
    pairs = []
    for item in raw:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _NAME.match(name) or not _VALUE.match(value):
            return fail(f"--arg expects NAME=VALUE with a number, a name or a size like 3x3, got {item!r}")
        pairs.append((name, value))
    return pairs


def block_view(args) -> tuple[api.Result, str] | int:
    """The graph to draw for `--block`, and the scope of the block instance in it.
    A block that the spec's network calls is drawn as it is first called there (its
    arguments and input size); otherwise it is called alone on a synthetic input."""
    pairs = _block_args(args.arg)
    if isinstance(pairs, int):
        return pairs
    sink = DiagnosticSink()
    program = load_program(args.spec, sink, limits=limits_from(args))
    if sink.has_errors:
        report(api.Result(program, None, sink.sorted()), args)
        return 1
    blocks = sorted(name for name, d in program.definitions.items() if d.kind == "block")
    if args.block not in blocks:
        hint = did_you_mean(args.block, blocks) or (f"blocks: {', '.join(blocks)}" if blocks else "it defines no blocks")
        return fail(f"`{args.spec}` has no block named `{args.block}`; {hint}")
    if not pairs and args.input is None and program.networks():
        result = api.analyze(args.spec, network=args.network, params=params_from(args), limits=limits_from(args))
        files = getattr(args, "params_file", [])
        if any(d.primary_span is not None and d.primary_span.path in files for d in result.diagnostics):
            report(result, args)  # a broken parameter file is an error here too, not a reason to draw the block alone
            return 1
        if result.ok:
            scope = next((s for s, site in result.graph.blocks.items() if site.block == args.block), None)
            if scope is not None:
                return result, scope
    return _synthetic_view(args, program.main.text, pairs)


def _synthetic_view(args, text: str, pairs: list[tuple[str, str]]) -> tuple[api.Result, str]:
    """Call the block alone in a network appended to the spec's own text, so that spans
    inside the file (and its imports and settings) stay exactly where they are."""
    call = args.block + (f"({', '.join(f'{k}={v}' for k, v in pairs)})" if pairs else "")
    inputs = [args.input] if args.input is not None else list(DEFAULT_BLOCK_INPUTS)
    first = None
    for shape in inputs:
        network = f"\nnetwork {BLOCK_VIEW} {{\n  input {'x'.join(map(str, shape))}\n  {call}\n}}\n"
        result = api.analyze(args.spec, text=text + network, network=BLOCK_VIEW, limits=limits_from(args))
        if result.ok:
            return result, args.block
        first = first or result
    return first, args.block
