"""Inference throughput on a GPU, ours against timm: bfloat16, channels_last, batch 1
and 256; eager, optimized (inception_dsl.optimize) and torch.compile; with MFU against
a peak of 790 TFLOP/s (dense bf16, the figure the project uses for an H200).

    python benchmarks/gpu_inference.py [--batches 1,256] [--steps 20]
    python benchmarks/gpu_check.py --inference        # the same

Identical weights on both sides (interop.convert_state_dict); variants interleaved,
medians of CUDA-event timings. Exits 0 with a message where no CUDA device is present."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAIRS = {"specs/v4.incp": "inception_v4", "specs/inception_resnet_v2.incp": "inception_resnet_v2"}
PEAK_FLOPS = 790e12


def forward_flops(graph) -> int:
    """Multiply-adds x 2 of one forward pass of one image, from the IR's shapes."""
    from inception_dsl.ir import Op

    total = 0
    for node in graph.nodes():
        if node.op is Op.CONV:
            (source,) = graph.inputs(node.id)
            kh, kw = node.attrs["kernel"]
            in_channels = graph.node(source).shape[0] // node.attrs["groups"]
            out_channels, height, width = node.shape
            total += 2 * out_channels * height * width * in_channels * kh * kw
        elif node.op is Op.LINEAR:
            (source,) = graph.inputs(node.id)
            total += 2 * graph.node(source).shape[0] * node.attrs["out_features"]
    return total


def median_seconds(model, x, steps: int) -> float:
    import torch

    times = []
    for _ in range(steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        model(x)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return statistics.median(times)


def variants(spec: str, timm_name: str):
    import timm
    import torch

    import inception_dsl
    from inception_dsl.runtime.interop import convert_state_dict

    torch.manual_seed(0)
    reference = timm.create_model(timm_name, pretrained=False).eval()
    ours = inception_dsl.load(ROOT / spec).eval()
    weights = convert_state_dict(reference.state_dict(), source=f"timm:{timm_name}", model=ours)
    ours.load_state_dict(weights)
    optimized = inception_dsl.optimize(ROOT / spec, weights)

    def prepare(model):
        return model.to("cuda", dtype=torch.bfloat16, memory_format=torch.channels_last)

    eager = {"timm": prepare(reference), "ours": prepare(ours), "optimized": prepare(optimized)}
    compiled = {f"{name}+compile": torch.compile(model) for name, model in eager.items() if name != "ours"}
    return {**eager, **compiled}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,256")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_inference: no CUDA device here; nothing to measure (run this on a GPU machine)")
        return 0
    from inception_dsl import api

    print(f"gpu_inference: {torch.cuda.get_device_name()}, torch {torch.__version__}, bf16, channels_last, "
          f"median of {args.steps}; MFU against {PEAK_FLOPS / 1e12:.0f} TFLOP/s")
    for spec, timm_name in PAIRS.items():
        if not (ROOT / spec).exists():
            print(f"{timm_name}: {spec} does not exist; skipped")
            continue
        flops = forward_flops(api.require(api.analyze(ROOT / spec)))
        models = variants(spec, timm_name)
        for batch in [int(b) for b in args.batches.split(",")]:
            x = torch.randn(batch, 3, 299, 299, device="cuda", dtype=torch.bfloat16)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                for model in models.values():  # warm-up, and compilation
                    model(x), model(x)
                seconds = {name: median_seconds(model, x, args.steps) for name, model in models.items()}
            for name, value in seconds.items():
                baseline = seconds["timm+compile" if name.endswith("+compile") else "timm"]
                print(f"{timm_name:20} batch {batch:4} {name:18} {batch / value:9.1f} images/s  "
                      f"{baseline / value:5.2f}x timm  MFU {flops * batch / value / PEAK_FLOPS * 100:5.1f}%",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
