"""`inception-dsl lsp`: the language server, over stdio (docs/editors.md).
Never imports torch."""

from __future__ import annotations

from inception_dsl.commands.common import fail
from inception_dsl.commands.limit_options import add_limit_options, limits_from_args

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "lsp", help="run the language server (LSP over stdio) for editors",
        description="Serve the Language Server Protocol on stdin/stdout: diagnostics, hover with shapes, "
                    "definition, references, rename, completion, formatting, code actions, inlay hints.")
    parser.add_argument("--stdio", action="store_true", help="use stdin/stdout (the default; accepted for clients that pass it)")
    parser.add_argument("--debounce", type=float, default=None, metavar="SECONDS",
                        help="quiet time after an edit before re-checking (default 0.15)")
    add_limit_options(parser)  # the same resource limits as every command (docs/limits.md)
    parser.set_defaults(run=run)


def run(args) -> int:
    try:
        from inception_dsl.lsp.server import make_server
    except ImportError as error:  # pygls is a dependency; a broken install says so plainly
        return fail(f"the language server needs pygls 2 (pip install 'pygls>=2'): {error}")
    if args.debounce is not None and args.debounce < 0:
        return fail("--debounce must be at least 0")
    server = make_server(limits_from_args(args))
    if args.debounce is not None:
        server.debounce = args.debounce
    server.start_io()
    return 0
