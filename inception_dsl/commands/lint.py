"""`inception-dsl lint SPEC...`: check, then report style and design findings (W1xx).
Directories stand for every .incp file below them. Never imports torch.

Exit codes: 0 no finding at error severity (warnings alone pass, unless
--error-on-warning), 1 an error (a check error, or a finding raised to error in the
configuration), 2 usage, configuration or I/O errors."""

from __future__ import annotations

import io
import sys

from inception_dsl.core.codes import Severity
from inception_dsl.core.diagnostics import Diagnostic
from inception_dsl.lint.config import ConfigError, LintConfig, check_patterns, find_config, load_config
from inception_dsl.lint.linter import lint_spec, spec_files
from inception_dsl.commands.report import write_diagnostics
from inception_dsl.commands.common import OutputRefused, add_spec_options, fail, limits_from, params_from, write_output

__all__ = ["add_parser", "run"]


def _codes(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("lint", help="report design and style problems (W1xx) in specs",
                                   description="Check specs, then run the lint rules (docs/lint.md).")
    add_spec_options(parser, many=True)
    parser.add_argument("--select", type=_codes, default=[], metavar="CODES",
                        help="only these rules (codes, slugs or prefixes, comma-separated); replaces the config's")
    parser.add_argument("--extend-select", type=_codes, default=[], metavar="CODES",
                        help="also these rules (e.g. the W105 hint)")
    parser.add_argument("--ignore", type=_codes, default=[], metavar="CODES", help="skip these rules")
    parser.add_argument("--error-on-warning", action="store_true", help="exit 1 on warnings too (for CI)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.set_defaults(run=run)


def _config(spec: str, args, cache: dict) -> LintConfig:
    pyproject = find_config(spec)
    if pyproject not in cache:
        cache[pyproject] = load_config(pyproject)
    return cache[pyproject].merged(select=args.select, extend_select=args.extend_select, ignore=args.ignore)


def _exit_status(diagnostics: list[Diagnostic], error_on_warning: bool) -> int:
    levels = {d.level for d in diagnostics}
    if Severity.ERROR in levels or (error_on_warning and Severity.WARNING in levels):
        return 1
    return 0


def run(args) -> int:
    try:
        for option in ("select", "extend_select", "ignore"):
            check_patterns(getattr(args, option), f"--{option.replace('_', '-')}")
        cache: dict = {}
        files = spec_files(args.specs)
        configs = [_config(spec, args, cache) for spec in files]
    except ConfigError as error:
        return fail(str(error))
    if not files:
        return fail("no .incp files found in " + ", ".join(args.specs))
    found: dict[tuple, Diagnostic] = {}  # keyed, so a finding in a file two specs import is reported once
    for spec, config in zip(files, configs):
        for diagnostic in lint_spec(spec, config, network=args.network, params=params_from(args),
                                    input_shape=args.input, limits=limits_from(args)):
            found.setdefault((diagnostic.code.id, diagnostic.message, *_where(diagnostic)), diagnostic)
    diagnostics = sorted(found.values(), key=Diagnostic.sort_key)
    buffer = io.StringIO()
    write_diagnostics(diagnostics, buffer, args.format)
    if args.format == "text" and not diagnostics:
        buffer.write(f"no findings in {len(files)} file{'s' if len(files) != 1 else ''}\n")
    try:
        if args.output:
            write_output(args.output, buffer.getvalue(), _read_files(files, limits_from(args)))
        else:
            sys.stdout.write(buffer.getvalue())
    except OutputRefused as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}")
    return _exit_status(diagnostics, args.error_on_warning)


def _read_files(specs: list[str], limits) -> list[str]:
    """The specs and every file they import (an --output among them would be refused)."""
    from inception_dsl.core.diagnostics import DiagnosticSink
    from inception_dsl.language.program import load_program

    found = list(specs)
    for spec in specs:
        found += [name for name in load_program(spec, DiagnosticSink(), limits=limits).files if not name.startswith("<")]
    return found


def _where(diagnostic: Diagnostic) -> tuple:
    span = diagnostic.primary_span
    return (span.path, span.start) if span is not None else (None, None)
