"""A horizontal bar chart as SVG text, written here (no plotting library): one group per
stage with two bars, its share of the measured time and its share of the MACs, so that a
stage slower than its arithmetic shows a long time bar over a short MACs bar. Every
label is XML-escaped. Deterministic; no torch."""

from __future__ import annotations

from xml.sax.saxutils import escape

__all__ = ["bar_chart"]

_TIME, _MACS = "#d9534f", "#5b8bd0"
_ROW, _BAR, _LABEL_WIDTH, _CHART_WIDTH, _TOP = 26, 9, 190, 420, 56


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-family="Helvetica, Arial, sans-serif" font-size="{size}" '
            f'font-weight="{weight}" text-anchor="{anchor}">{escape(text)}</text>')


def bar_chart(rows: list[tuple[str, float, int]], *, title: str) -> str:
    """`rows`: (stage label, seconds, MACs). Bars are shares of the column totals."""
    total_time = sum(seconds for _, seconds, _ in rows) or 1.0
    total_macs = sum(macs for _, _, macs in rows) or 1
    height = _TOP + _ROW * len(rows) + 20
    width = _LABEL_WIDTH + _CHART_WIDTH + 170
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           _text(10, 20, title, size=13, weight="bold"),
           f'<rect x="{_LABEL_WIDTH}" y="30" width="10" height="10" fill="{_TIME}"/>',
           _text(_LABEL_WIDTH + 14, 39, "share of measured time"),
           f'<rect x="{_LABEL_WIDTH + 170}" y="30" width="10" height="10" fill="{_MACS}"/>',
           _text(_LABEL_WIDTH + 184, 39, "share of MACs")]
    for index, (label, seconds, macs) in enumerate(rows):
        y = _TOP + index * _ROW
        time_share, macs_share = seconds / total_time, macs / total_macs
        out.append(_text(_LABEL_WIDTH - 8, y + _BAR + 3, label, anchor="end"))
        out.append(f'<rect x="{_LABEL_WIDTH}" y="{y:.1f}" width="{max(0.5, time_share * _CHART_WIDTH):.1f}" '
                   f'height="{_BAR}" fill="{_TIME}"><title>{escape(f"{label}: {seconds * 1000:.3f} ms")}</title></rect>')
        out.append(f'<rect x="{_LABEL_WIDTH}" y="{y + _BAR + 1:.1f}" width="{max(0.5, macs_share * _CHART_WIDTH):.1f}" '
                   f'height="{_BAR}" fill="{_MACS}"><title>{escape(f"{label}: {macs:,} MACs")}</title></rect>')
        bar_end = _LABEL_WIDTH + max(time_share, macs_share) * _CHART_WIDTH + 6
        out.append(_text(bar_end, y + _BAR + 3, f"{seconds * 1000:.2f} ms, {macs / 1e6:,.0f} M MACs", size=10))
    out.append("</svg>")
    return "\n".join(out) + "\n"
