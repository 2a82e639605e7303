"""A Diff as text (a table of aligned statements, then the layers inside each changed one,
coloured only when asked) or JSON. Markers: `-` only in A, `+` only in B, `~` changed,
blank the same."""

from __future__ import annotations

import json
from dataclasses import asdict

from inception_dsl.study.diff import Diff, StageDiff

__all__ = ["format_text", "format_json"]

_MARK = {"same": " ", "changed": "~", "added": "+", "removed": "-"}
_COLOUR = {"changed": "\033[33m", "added": "\033[32m", "removed": "\033[31m"}
_RESET = "\033[0m"


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if shape is not None else "-"


def _both(a: str, b: str) -> str:
    return a if a == b else f"{a} -> {b}"


def _count(a: int, b: int) -> str:
    if a == b:
        return f"{a:,}"
    return f"{a:,} -> {b:,} ({b - a:+,})"


def _block(stage: StageDiff) -> str:
    kind_a = stage.layer_a or stage.kind_a or "-"
    kind_b = stage.layer_b or stage.kind_b or "-"
    if stage.status == "added":
        return kind_b
    if stage.status == "removed":
        return kind_a
    return _both(kind_a, kind_b)


def _where(stage: StageDiff) -> str:
    if stage.where_a == stage.where_b:
        return stage.where_a or ""
    return " | ".join(w for w in ((stage.where_a or "-"), (stage.where_b or "-")))


def _cells(stage: StageDiff) -> tuple[str, ...]:
    if stage.status == "added":
        return (stage.name, _block(stage), str(stage.repeat_b), _shape(stage.shape_b), f"+{stage.params_b:,}",
                f"+{stage.macs_b:,}", stage.where_b or "")
    if stage.status == "removed":
        return (stage.name, _block(stage), str(stage.repeat_a), _shape(stage.shape_a), f"-{stage.params_a:,}",
                f"-{stage.macs_a:,}", stage.where_a or "")
    return (stage.name, _block(stage), _both(str(stage.repeat_a), str(stage.repeat_b)),
            _both(_shape(stage.shape_a), _shape(stage.shape_b)), _count(stage.params_a, stage.params_b),
            _count(stage.macs_a, stage.macs_b), _where(stage))


def _table(result: Diff) -> list[tuple[str, tuple[str, ...]]]:
    header = ("statement", "block", "repeats", "output", "params", "MACs", "where (A | B)")
    rows = [("", header)] + [(stage.status, _cells(stage)) for stage in result.stages]
    a, b = result.a, result.b
    rows.append(("", ("total", "", "", _both(_shape(a.output), _shape(b.output)), _count(a.params, b.params),
                      _count(a.macs, b.macs), "")))
    return rows


def _layer_lines(stage: StageDiff) -> list[tuple[str, str]]:
    lines = []
    for layer in stage.layers:
        name = layer.path or "(the layer)"
        if layer.status == "added":
            text = f"{name}: {layer.b}  ({layer.where_b})"
        elif layer.status == "removed":
            text = f"{name}: {layer.a}  ({layer.where_a})"
        else:
            where = f"{layer.where_a} (both)" if layer.where_a == layer.where_b else f"{layer.where_a} | {layer.where_b}"
            text = f"{name}: {', '.join(layer.changes)}  ({where})"
        lines.append((layer.status, f"    {_MARK[layer.status]} {text}"))
    return lines


def format_text(result: Diff, *, colour: bool = False) -> str:
    """The comparison; empty-handed ("no structural differences") when the networks agree."""
    a, b = result.a, result.b

    def paint(status: str, text: str) -> str:
        return f"{_COLOUR[status]}{text}{_RESET}" if colour and status in _COLOUR else text

    out = [f"A: {a.path}: network {a.network}, input {_shape(a.input)}",
           f"B: {b.path}: network {b.network}, input {_shape(b.input)}"]
    if result.same:
        return "\n".join(out + ["no structural differences"]) + "\n"
    rows = _table(result)
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(rows[0][1]))]
    out.append("")
    for status, cells in rows:
        left = [c.ljust(w) for c, w in zip(cells[:4], widths[:4])]
        right = [c.rjust(w) for c, w in zip(cells[4:6], widths[4:6])]
        line = f"{_MARK.get(status, ' ')} " + "  ".join(left + right + [cells[6]])
        out.append(paint(status, line.rstrip()))
    details = [s for s in result.stages if s.layers]
    if details:
        out += ["", "blocks and layers inside changed statements (path inside the statement; file:line in A | B):"]
        for stage in details:
            out.append(paint(stage.status, f"{_MARK[stage.status]} {stage.name} ({_block(stage)})"))
            out += [paint(status, line) for status, line in _layer_lines(stage)]
    counts = {k: sum(1 for s in result.stages if s.status == k) for k in ("changed", "added", "removed")}
    out += ["", f"{counts['changed']} changed, {counts['added']} added, {counts['removed']} removed statements; "
                f"params {_count(a.params, b.params)}, MACs {_count(a.macs, b.macs)}"]
    return "\n".join(out) + "\n"


def format_json(result: Diff) -> str:
    document = {"same": result.same, "a": asdict(result.a), "b": asdict(result.b),
                "stages": [{**asdict(s), "name": s.name} for s in result.stages]}
    return json.dumps(document, indent=2) + "\n"
