"""Optimized transformer and MetaFormer networks against timm's eager models, side by side
in one process: ViT-Ti/16 and EfficientFormer-L1 (and, with --all, PoolFormer-S12,
CAFormer-S18 and Swin-T; with --swin, Swin-T alone), CPU, float32, batch 8, 224x224.

    .venv/bin/python benchmarks/transformer_bench.py             # ViT-Ti/16, EfficientFormer-L1
    .venv/bin/python benchmarks/transformer_bench.py --all --runs 11
    .venv/bin/python benchmarks/transformer_bench.py --swin      # swin_tiny_patch4_window7_224

Both sides hold identical weights: timm's random init, carried into ours by
interop.convert_state_dict, then `optimize()` (the generated flat forward; attention with
F.scaled_dot_product_attention as timm's fused path; Swin's window attention through it with
the relative position bias and the shift mask as attn_mask, where timm's Swin runs its
explicit softmax path). The cases run interleaved round by
round after a warm-up, and the median is reported. Ratio = timm time / our time (above 1:
ours is faster; the goal is 1.0). Outputs are compared before timing. Denormals are
flushed on both sides, as in benchmarks/bench.py."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

import inception_dsl  # noqa: E402
from bench import interleaved  # noqa: E402
from inception_dsl.runtime.interop import build_reference, convert_state_dict  # noqa: E402
from inception_dsl.runtime.optimized_module import optimize  # noqa: E402

NETWORKS = ("vit_tiny_patch16_224", "efficientformer_l1", "poolformer_s12", "caformer_s18",
            "swin_tiny_patch4_window7_224")
SHORT = 2  # the default run: the first two
TARGET = 1.0


def measure(name: str, batch: int, runs: int) -> tuple[float, float, float]:
    """(our median, timm's median, max |diff| / max(1, max |out|)) in seconds."""
    torch.manual_seed(0)
    reference = build_reference(f"timm:{name}")
    spec = ROOT / "specs" / f"{name}.incp"
    weights = convert_state_dict(reference.state_dict(), source=f"timm:{name}", model=inception_dsl.load(spec))
    ours = optimize(spec, weights, channels_last=False)
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        expected = reference(x)
        error = (expected - ours(x)).abs().max().item() / max(1.0, expected.abs().max().item())
        if error > 1e-4:
            raise SystemExit(f"{name}: optimized output differs by {error:g}; not benchmarking wrong code")
        times = interleaved({"ours": lambda: ours(x), "timm": lambda: reference(x)}, runs)
    return times["ours"], times["timm"], error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--all", action="store_true", help="also PoolFormer-S12, CAFormer-S18 and Swin-T")
    parser.add_argument("--swin", action="store_true", help="Swin-T (swin_tiny_patch4_window7_224) alone")
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    load = "/".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"batch {args.batch}, 3x224x224, float32, CPU ({os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}, torch {torch.__version__}), median of {args.runs} interleaved runs; "
          f"load average {load} before")
    print("| network | optimized (ours) | timm eager | ratio | max rel diff | target |")
    print("|---|---:|---:|---:|---:|---|")
    for name in NETWORKS if args.all else NETWORKS[-1:] if args.swin else NETWORKS[:SHORT]:
        ours, theirs, error = measure(name, args.batch, args.runs)
        ratio = theirs / ours
        verdict = "met" if ratio >= TARGET else f"missed by {(1 - ratio / TARGET) * 100:.1f}%"
        print(f"| {name} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms | {ratio:.2f}x | {error:.1e} | "
              f"{TARGET:g}x: {verdict} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
