"""`inception-dsl compile SPEC [-o OUT.py]`: write the network as standalone PyTorch
source. Never imports torch (the generated file does, when it is run)."""

from __future__ import annotations

import sys
from pathlib import Path

from inception_dsl.core.python_exprs import CodegenError
from inception_dsl.backends.python.source import network_class_name, to_python
from inception_dsl.passes.analyses.budget import total_params
from inception_dsl.commands.report import write_diagnostics
from inception_dsl.commands.common import (OutputRefused, add_spec_options, analyze_args, fail, input_files, report,
                                           write_output)

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compile", help="write the network as a standalone PyTorch .py file",
                                   description="Check a spec, then write it as PyTorch source that needs only torch.")
    add_spec_options(parser)
    parser.add_argument("-o", "--output", metavar="OUT.py", help="where to write (default: build/<network>.py)")
    parser.add_argument("--no-source-comments", action="store_true",
                        help="leave out the `# spec:line` comments")
    parser.add_argument("--optimize", action="store_true",
                        help="write the inference-only optimized network instead (docs/optimize.md)")
    parser.set_defaults(run=run)


def run(args) -> int:
    result = analyze_args(args)
    report(result, args)
    if not result.ok:
        return 1
    try:
        if args.optimize:
            from inception_dsl.backends.python.optimized_source import optimized_class_name, optimized_source

            source, class_name = optimized_source(result), optimized_class_name(result)
        else:
            source = to_python(result, source_comments=not args.no_source_comments)
            class_name = network_class_name(result)
    except CodegenError as error:
        write_diagnostics([error.diagnostic()], sys.stderr, args.format)
        return 1
    output = Path(args.output) if args.output else Path("build") / f"{result.graph.name}.py"
    try:
        write_output(output, source, input_files(result, args.spec))
    except OutputRefused as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {output}: {error.strerror or error}")
    if str(output) != "-":
        print(f"wrote {output}: class {class_name}, {total_params(result.graph):,} parameters")
    return 0
