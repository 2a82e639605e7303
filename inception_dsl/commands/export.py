"""`inception-dsl export SPEC [-o OUT.onnx]`: the eval-mode network as ONNX (`--onnx OUT` is
the older spelling of `-o`; the default is build/<network>.onnx),
checked with `onnx.checker` before it is written (atomically). Imports torch."""

from __future__ import annotations

import io
import sys
import tempfile
import warnings
from pathlib import Path

from inception_dsl.commands.common import (OutputRefused, add_spec_options, analyze_args, bounded_int, fail, input_files,
                                           output_problem, report, write_output)

__all__ = ["add_parser", "run", "export_onnx", "MIN_OPSET", "MAX_OPSET"]

MIN_OPSET, MAX_OPSET = 9, 23  # what torch's exporters accept; the written model is checked to carry the asked one


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export the network to ONNX",
                                   description="Build the network (eval mode, random weights) and export it to ONNX.")
    add_spec_options(parser)
    parser.add_argument("-o", "--output", "--onnx", dest="output", metavar="OUT.onnx",
                        help="the ONNX file to write (default: build/<network>.onnx; `--onnx` is the older spelling)")
    parser.add_argument("--opset", type=bounded_int(MIN_OPSET, MAX_OPSET, "--opset"), default=18,
                        help=f"ONNX opset version, {MIN_OPSET} to {MAX_OPSET} (default 18)")
    parser.add_argument("--seed", type=bounded_int(0, 2**64 - 1, "--seed"), default=0,
                        help="weight initialization seed, 0 to 2**64-1 (default 0)")
    parser.set_defaults(run=run)


def export_onnx(model, example, opset: int) -> bytes:
    """Serialized, checked ONNX of `model` traced at `example`. The dynamo exporter
    first; the TorchScript-based one if dynamo fails (older torch, missing onnxscript)."""
    import onnx
    import torch

    errors = []
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "model.onnx"
        for dynamo in (True, False):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with torch.no_grad():
                        torch.onnx.export(model, (example,), str(target), dynamo=dynamo, opset_version=opset,
                                          input_names=["input"], output_names=["output"], verbose=False)
                break
            except Exception as error:  # noqa: BLE001 - try the other exporter, report both if neither works
                errors.append(f"{'dynamo' if dynamo else 'torchscript'} exporter: {type(error).__name__}: {error}")
        else:
            raise RuntimeError("; ".join(errors))
        proto = onnx.load(str(target), load_external_data=True)
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise RuntimeError(f"the exporter wrote opset {written}, not the requested {opset}")
    onnx.checker.check_model(proto, full_check=True)
    buffer = io.BytesIO()
    onnx.save_model(proto, buffer)
    return buffer.getvalue()


def run(args) -> int:
    result = analyze_args(args)
    report(result, args)
    if not result.ok:
        return 1
    output = args.output or str(Path("build") / f"{result.graph.name}.onnx")
    problem = output_problem(output, input_files(result, args.spec)) or (
        "ONNX is binary: `-o -` (stdout) is refused; name a file" if output == "-" else None)
    if problem:  # before minutes of exporting
        return fail(problem)
    import torch

    from inception_dsl.runtime.module import build_module
    from inception_dsl.core.diagnostics import CompileError

    try:
        model = build_module(result, seed=args.seed).eval()
    except CompileError as error:
        print(str(error), file=sys.stderr)
        return 1
    example = torch.zeros((1, *result.graph.input_node.shape))
    try:
        data = export_onnx(model, example, args.opset)
    except Exception as error:  # noqa: BLE001 - exporter failures are reported in one line
        return fail(f"ONNX export failed: {error}")
    try:
        write_output(output, data, input_files(result, args.spec))
    except OutputRefused as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {output}: {error.strerror or error}")
    print(f"wrote {output}: network {result.graph.name}, input 1x{'x'.join(map(str, result.graph.input_node.shape))}, "
          f"opset {args.opset}, {len(data):,} bytes")
    return 0
