"""Command-line options for every resource limit of limits.Limits (`--max-nodes`,
`--max-activation-memory 8GiB`, ...). Each option is named after its field, so adding a
field to Limits and a line to LIMIT_OPTIONS makes it reachable from every command."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields

from inception_dsl.core.limits import DEFAULT_LIMITS, Limits

__all__ = ["LIMIT_OPTIONS", "add_limit_options", "limits_from_args", "parse_count", "parse_bytes"]

_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_AMOUNT = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def _amount(text: str, what: str) -> int:
    match = _AMOUNT.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"expected {what} like 1000, 50M or 8GiB, got {text!r}")
    value = int(float(match.group(1).replace("_", "")) * _UNITS[unit])
    if value < 1:
        raise argparse.ArgumentTypeError(f"a limit must be at least 1, got {text!r}")
    return value


def parse_count(text: str) -> int:
    """`1000`, `50M` (decimal suffixes), `2_000_000`."""
    return _amount(text, "a count")


def parse_bytes(text: str) -> int:
    """`4096`, `512MiB`, `8GiB`, `2GB`."""
    return _amount(text, "a size")


# Limits field -> (option, parser, help)
LIMIT_OPTIONS: dict[str, tuple[str, object, str]] = {
    "max_file_bytes": ("--max-file-bytes", parse_bytes, "refuse spec files larger than this"),
    "max_tokens": ("--max-tokens", parse_count,
                   "refuse specs (with their imports) of more tokens: names, numbers, symbols, comments"),
    "max_nesting": ("--max-nesting", parse_count, "refuse brackets nested deeper than this"),
    "max_import_depth": ("--max-import-depth", parse_count, "refuse imports nested deeper than this"),
    "max_repeat": ("--max-repeat", parse_count, "refuse one `xN` repetition larger than this"),
    "max_call_depth": ("--max-call-depth", parse_count, "refuse blocks calling blocks deeper than this"),
    "max_nodes": ("--max-nodes", parse_count, "refuse networks that expand to more operations"),
    "max_params": ("--max-params", parse_count, "refuse networks with more parameters"),
    "max_activation_bytes": ("--max-activation-memory", parse_bytes,
                             "refuse networks whose float32 activations for one sample need more memory"),
    "max_yaml_bytes": ("--max-yaml-bytes", parse_bytes, "refuse parameter and grid files (YAML) larger than this"),
    "max_weights_bytes": ("--max-weights-bytes", parse_bytes,
                          "refuse weights files (--weights, pretrained=) larger than this"),
    "max_variants": ("--max-variants", parse_count,
                     "refuse sweeps of more variants (the grid's product without --sample, or --sample N)"),
    "import_root": ("--import-root", str, "imports must resolve inside this directory"),
}

assert set(LIMIT_OPTIONS) == {f.name for f in fields(Limits)}, "every limit needs a command-line option"


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resource limits (docs/limits.md)")
    for name, (option, parse, text) in LIMIT_OPTIONS.items():
        default = getattr(DEFAULT_LIMITS, name)
        if default is None:  # --import-root
            group.add_argument(option, dest=name, type=parse, default=None, metavar="DIR",
                               help=f"{text} (default: the directory of the spec named on the command line)")
            continue
        group.add_argument(option, dest=name, type=parse, default=default, metavar="N",
                           help=f"{text} (default {default:,})")


def limits_from_args(args: argparse.Namespace) -> Limits:
    return Limits(**{name: getattr(args, name, getattr(DEFAULT_LIMITS, name)) for name in LIMIT_OPTIONS})
