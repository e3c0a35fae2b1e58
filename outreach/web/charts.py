"""Small server-rendered SVG charts: a campaign's funnel and its replies over time.

Every label goes through markupsafe's escape; numbers are formatted here. No JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH = 640
BAR = 26
GAP = 10
LABEL = 150


def funnel(stages: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars, one per stage, scaled to the first (largest) stage."""
    top = max([count for _, count in stages] + [1])
    height = len(stages) * (BAR + GAP) + GAP
    room = WIDTH - LABEL - 60
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'role="img" aria-label="Campaign funnel">'
    ]
    for index, (label, count) in enumerate(stages):
        y = GAP + index * (BAR + GAP)
        width = max(1, round(room * count / top)) if count else 0
        share = f" ({count / top:.0%})" if index and top else ""
        baseline = y + BAR * 0.68
        parts.append(
            f'<text x="{LABEL - 8}" y="{baseline:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{width}" height="{BAR}" rx="3" class="bar"/>'
            f'<text x="{LABEL + width + 6}" y="{baseline:.1f}">{count}{escape(share)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def per_day(counts: Mapping[str, int], *, days: int = 30, until: date | None = None) -> Markup:
    """Vertical bars for the last `days` days ending at `until` (or the last day with data)."""
    known = sorted(counts)
    end = until or (date.fromisoformat(known[-1]) if known else date.today())
    series = [(end - timedelta(days=n)) for n in range(days - 1, -1, -1)]
    values = [counts.get(day.isoformat(), 0) for day in series]
    top = max(values + [1])
    height, base, left = 180, 150, 30
    step = (WIDTH - left - 10) / days
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'role="img" aria-label="Replies per day">',
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" class="axis"/>',
        f'<text x="{left - 6}" y="20" text-anchor="end">{top}</text>',
    ]
    for index, (day, value) in enumerate(zip(series, values, strict=True)):
        bar = round((base - 20) * value / top)
        x = left + index * step + 1
        if value:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - bar}" width="{step - 2:.1f}" height="{bar}" '
                f'class="bar"><title>{escape(day.isoformat())}: {value}</title></rect>'
            )
        if (days - 1 - index) % 7 == 0:  # weekly labels, ending on the last day
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{base + 16}" text-anchor="middle" '
                f'class="small">{escape(day.strftime("%d %b"))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
