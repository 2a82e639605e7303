"""The census: how much of timm and torchvision the language says exactly.

    nice python benchmarks/coverage.py                      # every family; writes docs/coverage.md
    python benchmarks/coverage.py --models timm:resnet18 torchvision:alexnet --out /tmp/c.md

One model per timm family (the smallest by parameter count of each `model_entrypoint`
module in timm.models._registry, counted on the meta device) and every torchvision
classification and segmentation model, each decompiled in its own subprocess with a time
limit (`--timeout`, default 240 s; the worker process is reused from model to model and
replaced when one runs over), offline (pretrained=False). A model that decompiles
is compiled back and checked against the reference with its weights (decompile
--verify). Status: `exact` (outputs agree), `parameters only` (the weights load, the
outputs differ), `unverified` (a spec that compiles, whose weights neither load by name nor pair in order through
the converter, so the outputs could not be compared), `refused` (the words it lacks), `trace failed` (it does not build, run or
trace), `timeout`, `error` (a bug of ours: the decompiled spec does not compile).
Results are cached by model in a JSON file (`--cache`, default build/coverage.json), so
an interrupted census goes on where it stopped; `--fresh` ignores the cache, `--rerun refused
error` measures those rows again (`--rerun "channel slice"`: the rows that miss a word that landed)."""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("exact", "parameters only", "unverified", "refused", "trace failed", "timeout", "error")


def timm_families() -> list[str]:
    from timm.models import _registry

    return sorted(_registry._module_to_models)


def torchvision_models() -> list[str]:
    """Classification then segmentation, each smallest first (counted on the meta device)."""
    import torch
    import torchvision

    models = torchvision.models

    def size(name: str) -> int:
        try:
            with torch.device("meta"):
                model = models.get_model(name, weights=None, **(
                    {"weights_backbone": None} if name in models.list_models(module=models.segmentation) else {}))
            return sum(p.numel() for p in model.parameters())
        except Exception:  # noqa: BLE001 - measured (and reported) later
            return 0

    groups = (models.list_models(module=models), models.list_models(module=models.segmentation))
    return [f"torchvision:{name}" for group in groups for name in sorted(group, key=lambda n: (size(n), n))]


_SMALL = ("atto", "femto", "pico", "nano", "tiny", "mini", "small", "xxs", "xs", "lite", "_s", "b0", "18", "050",
          "035", "_t", "light", "_100", "_002", "_004")


def _size_hint(name: str) -> tuple:
    """Names that say small first (`atto`, `tiny`, `_050`, ...), then shorter names."""
    return (-sum(word in name for word in _SMALL), len(name), name)


def smallest_in_family(family: str, candidates: int = 16) -> str:
    """The family's model with the fewest parameters (counted on the meta device, without
    allocating) among its `candidates` likeliest small ones by name (timm's test_* toys
    only when there is nothing else)."""
    import timm
    import torch

    best = None
    names = timm.list_models(module=family)
    names = sorted([n for n in names if not n.startswith("test_")] or names, key=_size_hint)[:candidates]
    for name in names:
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
    from inception_dsl.decompiler import DecompileError, InternalError, decompile
    from inception_dsl.decompiler.verify import verify

    start = time.perf_counter()
    try:
        result = decompile(source, partial=True)
    except InternalError as error:  # the spec it wrote fails check: a bug of ours
        return {"status": "error", "detail": str(error).splitlines()[0][:300],
                "seconds": round(time.perf_counter() - start, 2)}
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
    status = "parameters only" if "do not carry over" not in checked.message else "unverified"
    return {**row, "status": status, "detail": checked.message[:300]}


def measure_target(target: str) -> dict:
    if target.startswith("family:"):
        family = target.partition(":")[2]
        try:
            source = smallest_in_family(family)
        except Exception as error:  # noqa: BLE001
            return {"model": family, "family": family, "status": "trace failed", "detail": str(error)[:300]}
    else:
        family, source = None, target
    return {"model": source, **({"family": family} if family else {}), **measure(source)}


def serve() -> None:
    """The worker: one target per stdin line, one JSON line per result on stdout (torch,
    timm and torchvision are imported once, not per model)."""
    import torch

    torch.set_num_threads(1)  # the census runs beside other work, niced
    for line in sys.stdin:
        target = line.strip()
        if target:
            print(json.dumps(measure_target(target)), flush=True)


class Workers:
    """One worker subprocess at a time, replaced when a model runs over its time or kills it."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        return subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)

    def run(self, target: str) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = self.start()
        start = time.perf_counter()
        self.process.stdin.write(target + "\n")
        self.process.stdin.flush()
        while True:
            left = self.timeout - (time.perf_counter() - start)
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            if not ready:
                self.stop()
                return {"model": target, "status": "timeout", "seconds": round(time.perf_counter() - start, 1),
                        "detail": f"over {self.timeout:.0f} s"}
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                return {"model": target, "status": "trace failed", "detail": "the worker died (a crash in the model)"}
            if line.startswith("{"):
                return json.loads(line)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


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
             "Every timm family (the smallest model, by parameter count, of each `model_entrypoint` module)",
             "and every torchvision classification and segmentation model (no pretrained weights; segmentation",
             "without the auxiliary head), decompiled with `inception-dsl decompile` and, where that succeeds,",
             "compiled back and compared with the reference on its own (randomized) weights. Each model runs",
             "in a worker process with a time limit (`--timeout`). Reproduce with",
             "`nice -n 19 python benchmarks/coverage.py --fresh` (about an hour on the shared 2-core machine;",
             "without `--fresh` it goes on from build/coverage.json, `--rerun refused` measures those again).",
             f"Versions: {versions}.", "", summary_line(rows)]
    if pending:
        lines.append(f"\n{pending} model(s) not measured yet (the census was stopped; run it again to go on).")
    lines += ["", "Statuses: `exact`, outputs agree with the reference's on its weights; `parameters only`, the",
              "weights load but the outputs differ; `unverified`, the spec compiles but the weights neither load",
              "by name nor pair in order through the converter; `refused`, the language lacks the words listed;",
              "`trace failed`, the model does not build, run or trace (or returns no single tensor); `timeout`;",
              "`error`, the decompiled spec does not compile (a bug of the decompiler)."]
    lines += ["", "## Missing words, ranked", "",
              "A word's rank is the number of models it alone would make expressible, then how many need it.",
              "A refusal of a whole module hides what lies inside it (its words are not looked at), so a word",
              "that alone unlocks a model may reveal others there: the ranking is an upper bound.", "",
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
    parser.add_argument("--rerun", nargs="+", default=[], metavar="STATUS_OR_TEXT",
                        help="measure again the cached rows with this status (`refused`, `error`, ...) or whose "
                             "missing words or detail contain this text (after new words landed)")
    parser.add_argument("--report-only", action="store_true", help="write the report from the cache, measure nothing")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    if args.report_only:
        return _report_only(args)
    targets = args.models or [f"family:{f}" for f in timm_families()] + torchvision_models()
    cache_path = Path(args.cache)
    cache = {} if args.fresh or not cache_path.exists() else json.loads(cache_path.read_text())
    cache = {target: row for target, row in cache.items() if not _matches(row, args.rerun)}
    versions = _versions()
    workers = Workers(args.timeout)
    try:
        _census(targets, cache, cache_path, workers, args.out, versions)
    finally:
        workers.stop()
    print(summary_line([_normalized(cache[t]) for t in targets if t in cache]))
    return 0


def _matches(row: dict, rerun: list[str]) -> bool:
    row = _normalized(row)
    text = " ".join(row.get("missing") or []) + " " + row.get("detail", "")
    return any(row["status"] == what or what in text for what in rerun)


def _report_only(args) -> int:
    import torchvision

    models = torchvision.models
    names = models.list_models(module=models) + models.list_models(module=models.segmentation)
    targets = args.models or [f"family:{f}" for f in timm_families()] + [f"torchvision:{n}" for n in names]
    cache = json.loads(Path(args.cache).read_text())
    rows = [_normalized(cache[t]) for t in targets if t in cache]
    Path(args.out).write_text(report(rows, _versions(), len(targets) - len(rows)))
    print(summary_line(rows))
    return 0


def _normalized(row: dict) -> dict:
    """Rows cached before `unverified` had its name were `error`s; a spec that does not parse is
    an `error` (ours), not a failed trace; a timed-out family is named by its family."""
    detail = row.get("detail", "")
    if row["status"] == "error" and detail.startswith("the weights do not carry over"):
        row = {**row, "status": "unverified"}
    if row["status"] == "trace failed" and "internal error" in detail:
        row = {**row, "status": "error"}
    if row["model"].startswith("family:"):
        row = {**row, "family": row["model"].partition(":")[2]}
    return row


def _census(targets, cache, cache_path: Path, workers: Workers, out: str, versions: str) -> None:
    for n, target in enumerate(targets, 1):
        if target not in cache:
            cache[target] = workers.run(target)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True))
            row = cache[target]
            print(f"[{n}/{len(targets)}] {row['model']}: {row['status']} {row.get('seconds', '')}", flush=True)
        rows = [_normalized(cache[t]) for t in targets if t in cache]
        Path(out).write_text(report(rows, versions, len(targets) - len(rows)))


if __name__ == "__main__":
    sys.exit(main())
