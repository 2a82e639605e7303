"""`inception-dsl COMMAND ...`: the command-line front door.

Each command lives in commands/<name>.py with `add_parser(subparsers)` and
`run(args) -> int`. Exit codes: 0 clean, 1 diagnostics at error severity, 2 usage or
I/O errors (and internal errors, which say they are bugs)."""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import sys

__all__ = ["main", "COMMANDS"]

# command name -> module under inception_dsl.commands
COMMANDS = {
    "check": "check",
    "compile": "compile",
    "export": "export",
    "render": "render",
    "summary": "summary",
    "lint": "lint",
    "fmt": "fmt",
    "convert": "convert",
    "decompile": "decompile",
    "lsp": "lsp",
    "diff": "diff",
    "sweep": "sweep",
    "profile": "profile",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; given the arguments, only of the command they name
    (so `check` imports neither torch nor what `render` or `compile` need)."""
    parser = _Parser(prog="inception-dsl", description="Check, draw and compile Inception-style network specs (.incp).")
    from inception_dsl.core.version import __version__

    parser.add_argument("--version", action="version", version=f"inception-dsl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    named = argv[0] if argv and argv[0] in COMMANDS else None
    for name, module in COMMANDS.items():
        if named in (None, name):
            importlib.import_module(f".commands.{module}", __package__).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # at exit, Python runs the cycle collector over everything still alive (a parsed large
    # spec: a second or more) just before freeing it all anyway
    atexit.unregister(gc.disable)
    atexit.register(gc.disable)
    arguments = sys.argv[1:] if argv is None else argv
    args = build_parser(arguments).parse_args(arguments)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("inception-dsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 - the last line of defence: no tracebacks for users
        import traceback

        print(f"inception-dsl: internal error (this is a bug): {type(error).__name__}: {error}", file=sys.stderr)
        if "--debug" in (argv if argv is not None else sys.argv):
            traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main())
