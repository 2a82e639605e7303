"""The census: how much of timm and torchvision the language says exactly.

    nice python benchmarks/coverage.py                      # every family; writes docs/coverage.md
    python benchmarks/coverage.py --models timm:resnet18 torchvision:alexnet --out /tmp/c.md

One model per timm family (the smallest by parameter count of each `model_entrypoint`
module in timm.models._registry, counted on the meta device) and every torchvision
classification and segmentation model, each decompiled in its own subprocess with a time
limit (`--timeout`, default 240 s), offline (pretrained=False). A model that decompiles
is compiled back and checked against the reference with its weights (decompile
--verify). Status: `exact` (outputs agree), `parameters only` (the weights load, the
outputs differ), `refused` (the words it lacks), `trace failed` (it does not build, run or
trace), `timeout`, `error` (a bug of ours: the decompiled spec does not compile).
Results are cached by model in a JSON file (`--cache`, default build/coverage.json), so
an interrupted census goes on where it stopped; `--fresh` ignores the cache."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("exact", "parameters only", "refused", "trace failed", "timeout", "error")


def timm_families() -> list[str]:
    from timm.models import _registry

    return sorted(_registry._module_to_models)


def torchvision_models() -> list[str]:
    import torchvision

    models = torchvision.models
    return [f"torchvision:{name}" for name in sorted(models.list_models(module=models))
            + sorted(models.list_models(module=models.segmentation))]


def smallest_in_family(family: str) -> str:
    """The family's model with the fewest parameters, counted without allocating."""
    import timm
    import torch

    best = None
    names = timm.list_models(module=family)
    for name in [n for n in names if not n.startswith("test_")] or names:  # timm's test_* are toys
        try:
            with torch.device("meta"):
                model = timm.create_model(name, pretrained=False)
        except Exception:  # noqa: BLE001 - a model that does not build here is skipped
            continue
        count = sum(p.numel() for p in model.parameters())
        if best is None or count < best[0]:
            best = (count, name)
    if best is None:
        raise RuntimeError(f"no model of timm family {family} builds")
    return f"timm:{best[1]}"


def measure(source: str) -> dict:
    """Decompile and verify one model (runs in the worker subprocess)."""
    from inception_dsl.decompiler import DecompileError, decompile
    from inception_dsl.decompiler.verify import verify

    start = time.perf_counter()
    try:
        result = decompile(source, partial=True)
    except DecompileError as error:
        return {"status": "trace failed", "detail": str(error).splitlines()[0][:300],
                "seconds": round(time.perf_counter() - start, 2)}
    seconds = round(time.perf_counter() - start, 2)
    row = {"lines": result.text.count("\n"), "seconds": seconds,
           "params": sum(p.numel() for p in result.model.parameters())}
    if result.refusals:
        missing = sorted({r.missing for r in result.refusals})
        return {**row, "status": "refused", "missing": missing, "detail": result.refusals[0].describe()[:300]}
    try:
        checked = verify(result.text, result.model, result.input_shape)
    except Exception as error:  # noqa: BLE001 - the spec does not compile: our bug, reported as such
        return {**row, "status": "error", "detail": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
    if checked.ok:
        return {**row, "status": "exact", "strict": checked.strict}
    status = "parameters only" if "do not carry over" not in checked.message else "error"
    return {**row, "status": status, "detail": checked.message[:300]}


def worker(target: str) -> None:
    if target.startswith("family:"):
        family = target.partition(":")[2]
        try:
            source = smallest_in_family(family)
        except Exception as error:  # noqa: BLE001
            print(json.dumps({"model": family, "status": "trace failed", "detail": str(error)[:300]}))
            return
    else:
        family, source = None, target
    row = measure(source)
    print(json.dumps({"model": source, **({"family": family} if family else {}), **row}))


def run_one(target: str, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, __file__, "--worker", target], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"model": target, "status": "timeout", "seconds": round(time.perf_counter() - start, 1),
                "detail": f"over {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"model": target, "status": "trace failed", "detail": f"the worker died: {tail[:300]}"}
    return json.loads(lines[-1])


def ranked_missing(rows: list[dict]) -> list[tuple[str, int, int]]:
    """(word, models needing it, models it alone would unlock), most needed first."""
    needed: Counter = Counter()
    alone: Counter = Counter()
    for row in rows:
        missing = row.get("missing") or []
        needed.update(missing)
        if len(missing) == 1:
            alone[missing[0]] += 1
    return sorted(((word, count, alone[word]) for word, count in needed.items()),
                  key=lambda item: (-item[2], -item[1], item[0]))


def summary_line(rows: list[dict]) -> str:
    counts = Counter(row["status"] for row in rows)
    parts = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    families = [row for row in rows if row.get("family")]
    exact = sum(row["status"] == "exact" for row in families)
    return (f"**{len(rows)} models: {parts}.** Of {len(families)} timm families, {exact} round-trip exactly "
            f"from `decompile timm:NAME` alone.")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def report(rows: list[dict], versions: str, pending: int = 0) -> str:
    lines = ["# Coverage: timm and torchvision, decompiled", "",
             "Every timm family (its smallest model) and every torchvision classification and segmentation",
             "model, decompiled with `inception-dsl decompile` and, where that succeeds, compiled back and",
             "compared with the reference on its own (randomized) weights. Reproduce with",
             "`nice python benchmarks/coverage.py` (results cached in build/coverage.json; `--fresh` starts over).",
             f"Versions: {versions}.", "", summary_line(rows)]
    if pending:
        lines.append(f"\n{pending} model(s) not measured yet (the census was stopped; run it again to go on).")
    lines += ["", "## Missing words, ranked", "",
              "A word's rank is the number of models it alone would make expressible, then how many need it.", "",
              "| missing word or feature | models that need it | models it alone unlocks |", "|---|---:|---:|"]
    lines += [f"| {_cell(word)} | {count} | {alone} |" for word, count, alone in ranked_missing(rows)]
    lines += ["", "## Models", "", "| family | model | status | missing words / detail | spec lines | time (s) |",
              "|---|---|---|---|---:|---:|"]
    for row in rows:
        detail = ", ".join(row.get("missing") or []) or row.get("detail", "")
        if row["status"] == "exact":
            detail = "weights load by name (strict)" if row.get("strict") else "weights through the converter"
        lines.append(f"| {row.get('family') or row['model'].partition(':')[0]} | {_cell(row['model'])} | {row['status']} | "
                     f"{_cell(detail)} | {row.get('lines', '')} | {row.get('seconds', '')} |")
    return "\n".join(lines) + "\n"


def _versions() -> str:
    import timm
    import torch
    import torchvision

    return f"torch {torch.__version__}, timm {timm.__version__}, torchvision {torchvision.__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="only these (`timm:NAME`, `family:NAME`, `torchvision:NAME`)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "coverage.md"))
    parser.add_argument("--cache", default=str(ROOT / "build" / "coverage.json"))
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per model")
    parser.add_argument("--fresh", action="store_true", help="ignore cached results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    targets = args.models or _interleaved([f"family:{f}" for f in timm_families()], torchvision_models())
    cache_path = Path(args.cache)
    cache = {} if args.fresh or not cache_path.exists() else json.loads(cache_path.read_text())
    versions = _versions()
    for n, target in enumerate(targets, 1):
        if target not in cache:
            cache[target] = run_one(target, args.timeout)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True))
            row = cache[target]
            print(f"[{n}/{len(targets)}] {row['model']}: {row['status']} {row.get('seconds', '')}", flush=True)
        rows = [cache[t] for t in targets if t in cache]
        Path(args.out).write_text(report(rows, versions, len(targets) - len(rows)))
    print(summary_line([cache[t] for t in targets]))
    return 0


def _interleaved(a: list[str], b: list[str]) -> list[str]:
    out = []
    for i in range(max(len(a), len(b))):
        out += ([a[i]] if i < len(a) else []) + ([b[i]] if i < len(b) else [])
    return out


if __name__ == "__main__":
    sys.exit(main())
