"""Options and helpers shared by the commands."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from inception_dsl import api
from inception_dsl.core.limits import Limits
from inception_dsl.commands.limit_options import add_limit_options, limits_from_args
from inception_dsl.commands.report import FORMATS, write_diagnostics
from inception_dsl.core.values import Symbol

__all__ = ["add_spec_options", "add_param_options", "params_from", "analyze_args", "parse_dims", "write_atomic",
           "write_output", "OutputRefused", "output_problem", "input_files", "bounded_int", "fail", "report"]


def parse_dims(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CxHxW like 3x299x299, got {text!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected CxHxW like 3x299x299, got {text!r}")
    return dims


def whole_number(minimum: int = 0):
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {value}")
        return value

    return parse


def parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    return name.strip(), param_value(raw.strip())


def param_value(raw: str) -> Any:
    """A `-p` value: true/false, an integer, a number, a "quoted string", else a name
    (a Symbol, as a bare name in the spec). The front end validates the result
    (values.outside_value_problem): `inf`, `nan` and names that are not identifiers are
    refused there with a diagnostic, for the CLI and the Python API alike."""
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    if raw[:1].isdigit() or raw[:1] in "+-.":
        for kind in (int, float):
            try:
                return kind(raw)
            except ValueError:
                pass
    return Symbol(raw)


def add_spec_options(parser: argparse.ArgumentParser, *, many: bool = False, input: bool = True) -> None:
    if many:
        parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (.incp)")
    else:
        parser.add_argument("spec", metavar="SPEC", help="a spec file (.incp)")
    parser.add_argument("--network", help="which network of the file (default: the first, or the parameter file's)")
    add_param_options(parser)
    if input:
        parser.add_argument("--input", type=parse_dims, metavar="CxHxW", help="override the declared input size")
    parser.add_argument("--format", choices=FORMATS, default="text", help="diagnostic format (default: text)")
    add_limit_options(parser)  # --max-params, --max-nodes, --max-activation-memory, ...
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def add_param_options(parser: argparse.ArgumentParser) -> None:
    """`-p NAME=VALUE` and `--params-file FILE.yaml`, for every command that takes a spec."""
    parser.add_argument("--param", "-p", action="append", type=parse_param, default=[], metavar="NAME=VALUE",
                        help="override a network parameter (repeatable), e.g. -p num_classes=10; "
                             "wins over --params-file")
    parser.add_argument("--params-file", action="append", default=[], metavar="FILE.yaml",
                        help="network parameters from a YAML file (repeatable, merged in order): "
                             "`name: value` lines, optionally `network: NAME` and `input: CxHxW`")


def params_from(args) -> list:
    """The parameter sources of a command line for api.analyze: the files in order, then -p."""
    return [*getattr(args, "params_file", []), dict(getattr(args, "param", []))]


def limits_from(args) -> Limits:
    return limits_from_args(args)


def analyze_args(args, spec: str | None = None) -> api.Result:
    return api.analyze(
        spec or args.spec,
        network=args.network,
        params=params_from(args),
        input_shape=getattr(args, "input", None),
        limits=limits_from(args),
    )


def report(result: api.Result, args, stream=None) -> None:
    if result.diagnostics:
        write_diagnostics(result.diagnostics, stream or sys.stderr, args.format)


def fail(message: str, code: int = 2) -> int:
    print(f"inception-dsl: {message}", file=sys.stderr)
    return code


def bounded_int(low: int, high: int, what: str):
    """An argparse type: an integer in [low, high] (a seed beyond 2**64 or an opset of
    999 is a usage error, not a traceback from deep inside torch)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high}, got {text}")
        return value

    return parse


class OutputRefused(ValueError):
    """An output path that must not be written (one of the inputs; `-` for binary data)."""


def input_files(result: api.Result | None, *paths: str | Path) -> list[str]:
    """The files a command read: the given paths and, with a result, every spec it parsed."""
    found = [str(p) for p in paths if p is not None]
    if result is not None:
        found += [name for name in result.program.files if not name.startswith("<")]
    return found


def output_problem(path: str | Path, inputs) -> str | None:
    """Why `path` must not be written, or None: it is one of `inputs` (compared after
    resolving symlinks, and by inode where both exist)."""
    target = os.path.realpath(path)
    for name in inputs:
        same = os.path.realpath(name) == target
        try:
            same = same or os.path.samefile(name, path)
        except OSError:
            pass
        if same:
            return f"the output `{path}` is the input `{name}`; write somewhere else"
    return None


def write_output(path: str | Path, data: str | bytes, inputs=()) -> None:
    """Write a command's output: `-` is stdout for text (binary output refuses it), a path
    that is one of the inputs is refused, anything else is written atomically.
    Raises OutputRefused or OSError."""
    if str(path) == "-":
        if isinstance(data, bytes):
            raise OutputRefused("this output is binary: `-o -` (stdout) is only for text formats; name a file")
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    problem = output_problem(path, inputs)
    if problem:
        raise OutputRefused(problem)
    write_atomic(path, data)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write through a temporary file in the same directory, then rename: an error or an
    interrupt never leaves a half-written or clobbered file. A symlink is written
    through (its target is replaced and the link kept), as open() would. Raises OSError."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": "\n"})) as f:
            f.write(data)
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        # (the existing file's mode when replacing one, otherwise 0666 less the umask)
        os.chmod(tmp, _target_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _target_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
