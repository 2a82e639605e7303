"""Train-step throughput on a GPU: forward + backward in bfloat16 autocast with
channels_last, eager and torch.compile, for every spec in specs/*.incp.

    python benchmarks/gpu_check.py [--batch 32] [--steps 10] [--specs specs/v4.incp ...]
    python benchmarks/gpu_check.py --profile [--batch 32]   # `inception-dsl profile` on the GPU

Prints images/s per spec and mode; both modes run side by side in one process, so
their ratio is meaningful. Exits 0 with a message where no CUDA device is present."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inception_dsl import analyze  # noqa: E402
from inception_dsl.runtime.module import build_module  # noqa: E402


def train_step(model, images, labels) -> None:
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(images)
    logits = out[0] if isinstance(out, tuple) else out
    loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    loss.backward()


def images_per_second(model, batch: int, shape, classes: int, steps: int, warmup: int) -> float:
    images = torch.randn(batch, *shape, device="cuda").to(memory_format=torch.channels_last)
    labels = torch.randint(0, classes, (batch,), device="cuda")
    for _ in range(warmup):
        train_step(model, images, labels)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, images, labels)
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def check(spec: Path, batch: int, steps: int) -> list[str]:
    result = analyze(spec)
    if not result.ok:
        return [f"{spec.name}: does not check ({len(result.diagnostics)} diagnostics)"]
    shape = result.graph.input_node.shape
    classes = result.graph.node(result.graph.outputs[0]).shape[0]
    model = build_module(result, seed=0).cuda().to(memory_format=torch.channels_last).train()
    rows = [f"{spec.name}: eager {images_per_second(model, batch, shape, classes, steps, 2):8.1f} images/s"]
    compiled = torch.compile(model)
    rows.append(f"{spec.name}: torch.compile {images_per_second(compiled, batch, shape, classes, steps, 3):8.1f} images/s")
    return rows


def profile_runs(batch: int) -> int:
    """`profile` of Inception-v4 on the GPU (bf16, eager and optimized; eager compiled per
    stage): per-stage time and the check that the stages add up to the whole forward."""
    from inception_dsl.commands.profile import format_table
    from inception_dsl.runtime.profile import profile

    status = 0
    for options in ({}, {"optimize": True}, {"compile": True}):
        measured = profile(ROOT / "specs" / "v4.incp", device="cuda", batch=batch, dtype="bf16", repeats=20, **options)
        print(format_table(measured), flush=True)
        ratio = measured.stage_seconds / measured.forward_seconds
        print(f"stages / whole forward: {ratio:.3f} ({'ok' if abs(ratio - 1) <= 0.10 else 'MORE THAN 10% APART'})\n")
        status |= abs(ratio - 1) > 0.10
    return int(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--specs", nargs="*", type=Path, default=sorted((ROOT / "specs").glob("*.incp")))
    parser.add_argument("--inference", action="store_true",
                        help="inference vs timm instead (bf16, batch 1 and 256, optimized, MFU): gpu_inference.py")
    parser.add_argument("--profile", action="store_true", help="run `profile` (per-stage time) on the GPU instead")
    args = parser.parse_args(argv)
    if args.inference:
        from gpu_inference import main as inference_main

        return inference_main([])
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to measure (run this on a GPU machine)")
        return 0
    if args.profile:
        return profile_runs(args.batch)
    print(f"gpu_check: {torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}, "
          f"bf16 autocast, channels_last, forward+backward")
    for spec in args.specs:
        for row in check(spec, args.batch, args.steps):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
