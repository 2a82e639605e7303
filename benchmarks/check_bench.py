"""How long `inception-dsl check` takes as a whole process, next to the fastest way to
shape-check the same network without this tool: import timm, build the model on the
`meta` device and run a forward pass on a meta tensor (no memory, no arithmetic).

Both are measured the same way in the same run: a fresh process per repetition,
wall-clock, median of --runs. Usage:

    .venv/bin/python benchmarks/check_bench.py [--runs 5] [--no-timm] [--only vit_tiny_patch16_224.incp]

The parser tables are cached on disk after the first run (see parse._cache_file); one
warm-up run per spec is made before timing, and `--cold` times with the cache off."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.incp"))
TIMM_MODELS = {"v4.incp": "inception_v4", "inception_resnet_v2.incp": "inception_resnet_v2", "v3.incp": "inception_v3",
               "vit_tiny_patch16_224.incp": "vit_tiny_patch16_224", "poolformer_s12.incp": "poolformer_s12",
               "caformer_s18.incp": "caformer_s18", "efficientformer_l1.incp": "efficientformer_l1",
               "levit_128s.incp": "levit_128s"}
TIMM_SCRIPT = """
import sys, torch, timm
name, size = sys.argv[1], int(sys.argv[2])
with torch.device("meta"):
    model = timm.create_model(name, pretrained=False)
    out = model(torch.empty(1, 3, size, size))
assert out.shape == (1, 1000), out.shape
"""
TIMM_INPUT = {"inception_v3": 299, "inception_v4": 299, "inception_resnet_v2": 299, "vit_tiny_patch16_224": 224,
              "poolformer_s12": 224, "caformer_s18": 224, "efficientformer_l1": 224, "levit_128s": 224}


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    return elapsed


def median_of(command: list[str], runs: int, env: dict[str, str], warmup: bool = True) -> float:
    if warmup:
        timed(command, env)
    return statistics.median(timed(command, env) for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-timm", action="store_true", help="time `check` only")
    parser.add_argument("--cold", action="store_true", help="disable the parser cache (INCEPTION_DSL_NO_CACHE=1)")
    parser.add_argument("--only", nargs="+", metavar="SPEC", help="these specs only (file names, like vit_tiny_patch16_224.incp)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.cold:
        env["INCEPTION_DSL_NO_CACHE"] = "1"
    python = sys.executable
    print(f"median of {args.runs} fresh processes each; parser cache {'off' if args.cold else 'on'}")
    print(f"{'spec':36} {'check':>8} {'timm meta':>10} {'timm/check':>11}")
    check_times = []
    for spec in [s for s in SPECS if args.only is None or s.name in args.only]:
        relative = spec.relative_to(ROOT).as_posix()
        check = median_of([python, "-m", "inception_dsl", "check", "-q", relative], args.runs, env)
        check_times.append(check)
        model = TIMM_MODELS.get(spec.name)
        if model and not args.no_timm:
            meta = median_of([python, "-c", TIMM_SCRIPT, model, str(TIMM_INPUT[model])], args.runs, env)
            print(f"{relative:36} {check:7.3f}s {meta:9.3f}s {meta / check:10.1f}x")
        else:
            print(f"{relative:36} {check:7.3f}s {'':>10} {'':>11}")
    print(f"slowest check: {max(check_times):.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
