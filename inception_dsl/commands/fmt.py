"""`inception-dsl fmt SPEC... [--check] [--diff]`: rewrite specs in the canonical
layout (inception_dsl/language/fmt.py), in place and atomically. Directories stand for every
.incp file below them; `-` formats standard input to standard output. Never imports torch.

Exit codes: 0 done (or, with --check/--diff, nothing would change), 1 a file would
change (--check/--diff) or does not parse, 2 usage or I/O errors."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from inception_dsl.core.diagnostics import CompileError, DiagnosticSink
from inception_dsl.core.limits import DEFAULT_LIMITS
from inception_dsl.lint.linter import spec_files
from inception_dsl.language.program import read_source
from inception_dsl.commands.report import FORMATS, write_diagnostics
from inception_dsl.commands.common import fail, write_atomic

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("fmt", help="format specs in the canonical layout",
                                   description="Format .incp files in place (comments are kept).")
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec files or directories; `-` reads standard input")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    parser.add_argument("--stdin-filename", default="<stdin>", metavar="PATH",
                        help="the path to show in diagnostics when formatting standard input (`fmt -`)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="diagnostic format (default: text)")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def _diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    return "".join(lines)


def _stdin(args) -> int:
    """`fmt -`: standard input to standard output, for editors' format-on-save."""
    from inception_dsl.language.fmt import fmt

    text = sys.stdin.read()
    try:
        formatted = fmt(text, args.stdin_filename)
    except CompileError as error:
        write_diagnostics(error.diagnostics, sys.stderr, args.format)
        return 1
    if args.diff:
        sys.stdout.write(_diff(args.stdin_filename, text, formatted))
    elif not args.check:
        sys.stdout.write(formatted)
    return 1 if (args.check or args.diff) and formatted != text else 0


def run(args) -> int:
    from inception_dsl.language.fmt import fmt

    if args.specs == ["-"]:
        return _stdin(args)
    files = spec_files(args.specs)
    if not files:
        return fail("no .incp files found in " + ", ".join(args.specs))
    status, changed = 0, []
    for path in files:
        sink = DiagnosticSink()
        source = read_source(Path(path), path, sink, None, DEFAULT_LIMITS)
        if source is None:
            write_diagnostics(sink.sorted(), sys.stderr, args.format)
            status = max(status, 1)
            continue
        try:
            formatted = fmt(source.text, path)
        except CompileError as error:
            write_diagnostics(error.diagnostics, sys.stderr, args.format)
            status = max(status, 1)
            continue
        if formatted == source.text:
            continue
        changed.append(path)
        if args.diff:
            sys.stdout.write(_diff(path, source.text, formatted))
        if args.check and not args.diff:
            print(f"would reformat {path}", file=sys.stderr)
        if args.check or args.diff:
            status = max(status, 1)
            continue
        try:
            write_atomic(path, formatted)
        except OSError as error:
            return fail(f"cannot write {path}: {error.strerror or error}")
        print(f"reformatted {path}", file=sys.stderr)
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    print(f"{len(changed)} file{'s' if len(changed) != 1 else ''} {verb}, "
          f"{len(files) - len(changed)} unchanged", file=sys.stderr)
    return status
