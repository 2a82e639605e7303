"""Decompile the references of the hand-written specs and compare: spec lines against the
hand-written spec (with the block files it imports), time to decompile, and the round trip.

    nice python benchmarks/decompile_bench.py                 # every reference below
    python benchmarks/decompile_bench.py torchvision:resnet50  # one (ResNet-50: 25.6 M parameters)

The time is decompile alone (build the model, trace twice, structure, write, fmt), measured
in this process; `verify` (compile, load the weights, compare) is timed apart."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = {
    "timm:inception_v4": "v4.incp", "timm:inception_resnet_v2": "inception_resnet_v2.incp",
    "torchvision:googlenet": "googlenet.incp", "torchvision:resnet50": "resnet50.incp",
    "torchvision:mobilenet_v2": "mobilenet_v2.incp", "torchvision:efficientnet_b0": "efficientnet_b0.incp",
    "torchvision:convnext_tiny": "convnext_tiny.incp", "torchvision:shufflenet_v2_x1_0": "shufflenet_v2_x1_0.incp",
    "torchvision:squeezenet1_1": "squeezenet1_1.incp", "torchvision:vgg16": "vgg16.incp",
    "torchvision:densenet121": "densenet121.incp", "torchvision:mobilenet_v3_large": "mobilenet_v3_large.incp",
    "torchvision:regnet_y_400mf": "regnet_y_400mf.incp", "torchvision:resnext50_32x4d": "resnext50_32x4d.incp",
    "torchvision:inception_v3": "v3.incp", "timm:legacy_xception": "legacy_xception.incp",
    "timm:resnet18": None, "timm:regnetx_002": None, "timm:rexnet_100": None, "timm:repvgg_a0": None,
    "timm:ese_vovnet19b_dw": None,
}


def handwritten_lines(spec: str) -> int:
    """The spec's lines and those of the block files it imports (once each)."""
    seen, todo, total = set(), [ROOT / "specs" / spec], 0
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_text()
        total += text.count("\n")
        todo += [path.parent / name for name in re.findall(r'^import "([^"]+)"', text, re.M)]
    return total


def row(source: str, spec: str | None) -> str:
    from inception_dsl.decompiler import DecompileError, decompile
    from inception_dsl.decompiler.verify import verify

    start = time.perf_counter()
    try:
        result = decompile(source)
    except DecompileError as error:
        return f"| {source} | refused: {str(error).splitlines()[1].strip()[:120]} |  |  |  |  |"
    seconds = time.perf_counter() - start
    lines = result.text.count("\n")
    hand = handwritten_lines(spec) if spec else None
    start = time.perf_counter()
    checked = verify(result.text, result.model, result.input_shape)
    check_seconds = time.perf_counter() - start
    status = ("exact" + (", by name" if checked.strict else ", converter")) if checked.ok else checked.message[:80]
    ratio = f"{lines / hand:.2f}" if hand else ""
    params = sum(p.numel() for p in result.model.parameters())
    return (f"| {source} | {status} | {lines} | {hand or ''} | {ratio} | {params / 1e6:.1f} M | {seconds:.1f} | "
            f"{check_seconds:.1f} |")


def main(argv: list[str]) -> int:
    sources = argv or list(REFERENCES)
    print("| model | round trip | spec lines | hand-written | ratio | params | decompile (s) | verify (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for source in sources:
        print(row(source, REFERENCES.get(source)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
