"""`inception-dsl convert SPEC --from timm:inception_v4 --weights ref.pth -o model.pth`:
carry a timm/torchvision checkpoint over to the module compiled from SPEC.

The layer pairing is derived by interop.convert_state_dict (traced execution orders,
checked layer by layer). Exit 0 written, 1 spec diagnostics or weights that do not fit
(nothing written), 2 usage or I/O errors. Imports torch (a torch-facing command)."""

from __future__ import annotations

import argparse
import io
import os
import re
from inception_dsl.commands.common import (OutputRefused, add_spec_options, analyze_args, fail, input_files,
                                           limits_from, report, write_output)
from inception_dsl.core.files import FileRefused, open_regular

__all__ = ["add_parser", "run"]

# Shortcuts with known specs (any `timm:<model>` or `torchvision:<model>` is accepted).
SOURCES = ("timm:inception_v4", "timm:inception_resnet_v2", "timm:inception_v3",
           "torchvision:inception_v3", "torchvision:googlenet", "torchvision:resnet50", "torchvision:vgg16",
           "torchvision:squeezenet1_1", "torchvision:resnext50_32x4d", "torchvision:densenet121",
           "torchvision:mobilenet_v2")
_SOURCE = re.compile(r"(timm|torchvision):[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="load timm/torchvision weights into a spec's module",
        description="Rename a timm or torchvision state_dict so that the module compiled from SPEC loads it "
                    "(strict). The pairing of layers is derived from both networks, never from a table.")
    add_spec_options(parser, input=False)
    parser.add_argument("--from", dest="source", required=True, type=_source, metavar="LIBRARY:MODEL",
                        help="where the weights come from: `timm:<model>` or `torchvision:<model>` "
                             "(the reference architecture is built and traced to pair the layers), e.g. "
                             + ", ".join(SOURCES))
    parser.add_argument("--weights", required=True, metavar="REF.pth", help="the reference state_dict (torch.save)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.pth",
                        help="where to write the converted state_dict")
    parser.set_defaults(run=run)


def _source(text: str) -> str:
    if not _SOURCE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not `timm:<model>` or `torchvision:<model>`")
    return text


def run(args) -> int:
    limits = limits_from(args)
    try:  # refused before the spec is analyzed: a FIFO, /dev/zero, a directory, a missing file
        os.close(open_regular(args.weights, limits.max_weights_bytes)[0])
    except FileRefused as refused:
        return fail(str(refused))
    result = analyze_args(args)
    report(result, args)
    if not result.ok:
        return 1

    import torch

    from inception_dsl.runtime.checkpoint import CheckpointError, read_checkpoint
    from inception_dsl.runtime.module import build_module
    from inception_dsl.runtime.interop import InteropError, convert_state_dict

    try:
        state_dict = read_checkpoint(args.weights, limits.max_weights_bytes)
    except CheckpointError as error:
        return fail(f"cannot read the weights: {error}")
    with torch.device("meta"):  # no initialization only to be overwritten: the weights are the file's
        model = build_module(result)
    try:
        converted = convert_state_dict(state_dict, source=args.source, model=model)
        model.load_state_dict(converted, strict=True, assign=True)
    except InteropError as error:
        return fail(f"error: the weights do not fit `{args.spec}`: {error}", 1)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    try:
        write_output(args.output, buffer.getvalue(), input_files(result, args.spec, args.weights))
    except OutputRefused as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write `{args.output}`: {error.strerror or error}")
    print(f"{args.output}: {len(converted)} tensors from {args.source}")
    return 0
