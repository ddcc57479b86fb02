"""Daily series drawn as inline SVG on the server: no JavaScript, nothing fetched from a CDN.

Colours come from classes (ax-s0, ax-s1, ...) styled in admin_extra/admin.css, so the charts
follow the admin's light and dark themes.
"""

from __future__ import annotations

import math

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from digest.monitoring.dashboard import DailyFigures

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 24  # room for the axis labels


GRIDLINES = 4


def nice_ceiling(value: float) -> float:
    """The top of the axis: four gridline steps of 1, 2, 2.5 or 5 x 10^n, so every gridline
    label is a round number (and a whole one: counts never get a "1.2" label)."""
    raw = value / GRIDLINES
    if raw <= 1:
        return GRIDLINES
    scale = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 2.5, 5, 10) if scale >= 10 else (1, 2, 5, 10)
    return GRIDLINES * next(m * scale for m in steps if m * scale >= raw)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _frame(figures: DailyFigures, top_value: float, body: str, label: str) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(GRIDLINES + 1):
        value = top_value * i / GRIDLINES
        y = TOP + plot_h - plot_h * i / GRIDLINES
        parts.append(
            f'<line class="ax-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ax-axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">'
            f"{_fmt(value)}</text>"
        )
    step = plot_w / max(len(figures.days), 1)
    for i, day in enumerate(figures.days):
        # A date label every week, and always on the last day (today).
        if (len(figures.days) - 1 - i) % 7 == 0:
            x = LEFT + step * (i + 0.5)
            parts.append(
                f'<text class="ax-axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{day:%d %b}</text>"
            )
    if not figures.total:
        parts.append(
            f'<text class="ax-empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
            'text-anchor="middle">No data in this period</text>'
        )
    legend = "".join(
        format_html('<span class="ax-key ax-s{}">{}</span>', n, s.name)
        for n, s in enumerate(figures.series)
    )
    svg = (
        f'<svg class="ax-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(label)}</title>{''.join(parts)}{body}</svg>"
    )
    # Every piece above is either a number, a date, or escaped.
    figure = f'<figure class="ax-figure">{svg}<div class="ax-legend">{legend}</div></figure>'
    return mark_safe(figure)  # noqa: S308


def bar_chart(figures: DailyFigures, *, label: str) -> SafeString:
    """Stacked bars, one per day; hovering a segment names the day, the series and the value."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(s.values[i] for s in figures.series) for i in range(len(figures.days))]
    y: float
    top_value = nice_ceiling(max(totals, default=0))
    step = plot_w / max(len(figures.days), 1)
    bar_w = max(step * 0.7, 1)
    rects = []
    for i, day in enumerate(figures.days):
        y = TOP + plot_h
        for n, series in enumerate(figures.series):
            value = series.values[i]
            if not value:
                continue
            h = plot_h * value / top_value
            y -= h
            rects.append(
                f'<rect class="ax-s{n}" x="{LEFT + step * i + (step - bar_w) / 2:.1f}" '
                f'y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{day:%Y-%m-%d} {escape(series.name)}: {_fmt(value)}</title></rect>"
            )
    return _frame(figures, top_value, "".join(rects), label)


def line_chart(figures: DailyFigures, *, label: str) -> SafeString:
    """One line per series, with a dot per day carrying the value as a tooltip."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = nice_ceiling(max((max(s.values, default=0) for s in figures.series), default=0))
    step = plot_w / max(len(figures.days), 1)
    lines = []
    for n, series in enumerate(figures.series):
        points = [
            (LEFT + step * (i + 0.5), TOP + plot_h - plot_h * v / top_value)
            for i, v in enumerate(series.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        lines.append(f'<polyline class="ax-line ax-s{n}" points="{path}"/>')
        lines.extend(
            f'<circle class="ax-dot ax-s{n}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
            f"<title>{day:%Y-%m-%d} {escape(series.name)}: {_fmt(v)}</title></circle>"
            for (x, y), day, v in zip(points, figures.days, series.values, strict=True)
        )
    return _frame(figures, top_value, "".join(lines), label)
