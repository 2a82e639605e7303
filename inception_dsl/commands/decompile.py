"""`inception-dsl decompile SOURCE -o OUT.incp [--input CxHxW] [--partial] [--verify]`:
a PyTorch network (`timm:NAME`, `torchvision:NAME`, `package.module:callable`) as a spec.

Exit 0 written (and, with --verify, the round trip agrees), 1 the model does not build or
trace, the language lacks a word (every gap listed, located; nothing written unless
--partial), or --verify finds a difference (the first differing stage named), 2 usage or
I/O errors. Imports torch (a torch-facing command)."""

from __future__ import annotations

import sys

from inception_dsl.commands.common import OutputRefused, fail, parse_dims, write_output

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "decompile", help="write a PyTorch network (timm, torchvision, your own) as a spec",
        description="Trace a PyTorch network and write it as a readable spec: one block per module class, "
                    "parameters where instances differ, labels that keep the state_dict's names. What the "
                    "language cannot express is refused, located (module, class, file:line, missing word).")
    parser.add_argument("source", metavar="SOURCE",
                        help="`timm:NAME`, `torchvision:NAME`, or `package.module:callable` (no required arguments)")
    parser.add_argument("-o", "--output", metavar="OUT.incp", default="-", help="where to write the spec (default: stdout)")
    parser.add_argument("--input", type=parse_dims, metavar="CxHxW",
                        help="the input shape, when the model does not declare one (timm's input_size does)")
    parser.add_argument("--partial", action="store_true",
                        help="write what can be expressed, the gaps marked `identity  # GAP: ...`")
    parser.add_argument("--verify", action="store_true",
                        help="compile the spec, load the reference's weights into it and compare outputs (exit 1 on "
                             "a difference, naming the first stage that differs)")
    parser.add_argument("--name", help="the network's name (default: from SOURCE)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from inception_dsl.decompiler import DecompileError, decompile

    if args.input is not None and len(args.input) != 3:
        return fail("--input takes CxHxW (three sizes)")
    try:
        result = decompile(args.source, input_shape=args.input, partial=args.partial, name=args.name)
    except DecompileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for refusal in result.refusals:
        print(f"gap: {refusal.describe()}", file=sys.stderr)
    code = 0
    if args.verify and result.ok:
        from inception_dsl.decompiler.verify import verify

        checked = verify(result.text, result.model, result.input_shape)
        if checked.ok:
            how = "by name, strict" if checked.strict else "through the converter"
            print(f"verified: outputs agree (max relative difference {checked.max_error:.2g}; weights loaded {how})",
                  file=sys.stderr)
        else:
            print(f"error: the round trip differs: {checked.message}", file=sys.stderr)
            code = 1
    try:
        write_output(args.output, result.text)
    except OutputRefused as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write `{args.output}`: {error.strerror or error}")
    if args.output != "-":
        print(f"wrote {args.output}: network {result.name}, {result.text.count(chr(10))} lines"
              + (f", {len(result.refusals)} gap(s)" if result.refusals else ""), file=sys.stderr)
    return code
