"""Small server-rendered SVG charts: a campaign's funnel and its replies over time.

Every label goes through markupsafe's escape; numbers are formatted here. No JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from markupsafe import Markup, escape

BAR = 18
LABEL_ROW = 18  # a stage's name sits on its own line above its bar
GAP = 12
EDGE = 88.0  # per cent: the longest bar leaves room for its count


def funnel(stages: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars, one per stage, scaled to the first (largest) stage.

    Positions are percentages of the chart's width and text is in CSS pixels, so at any
    width (a phone's 390 px included) the labels keep their size instead of shrinking with
    a scaled drawing.
    """
    top = max([count for _, count in stages] + [1])
    row = LABEL_ROW + BAR + GAP
    height = len(stages) * row
    parts = [
        f'<svg class="chart" width="100%" height="{height}" role="img" '
        'aria-label="Campaign funnel">'
    ]
    for index, (label, count) in enumerate(stages):
        y = index * row
        share = count / top if top else 0
        width = max(0.5, EDGE * share) if count else 0
        pct = f" ({share:.0%})" if index and top else ""
        parts.append(
            f'<text x="0" y="{y + 13}">{escape(label)}</text>'
            f'<rect x="0" y="{y + LABEL_ROW}" width="{width:.2f}%" height="{BAR}" rx="3" '
            'class="bar"/>'
            f'<text x="{width:.2f}%" dx="6" y="{y + LABEL_ROW + 13}">{count}{escape(pct)}</text>'
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
    height, base, roof = 180, 150, 24
    step = 100 / days
    parts = [
        f'<svg class="chart" width="100%" height="{height}" role="img" '
        'aria-label="Replies per day">',
        f'<line x1="0" y1="{base}" x2="100%" y2="{base}" class="axis"/>',
        f'<text x="0" y="14">most in a day: {top}</text>',
    ]
    for index, (day, value) in enumerate(zip(series, values, strict=True)):
        bar = round((base - roof) * value / top)
        x = index * step
        if value:
            parts.append(
                f'<rect x="{x + 0.15:.2f}%" y="{base - bar}" width="{step - 0.3:.2f}%" '
                f'height="{bar}" class="bar">'
                f"<title>{escape(day.isoformat())}: {value}</title></rect>"
            )
        if (days - 1 - index) % 7 == 0:  # weekly labels, ending on the last day
            anchor = "end" if index == days - 1 else "start" if x < 10 else "middle"
            at = 100 if anchor == "end" else x + step / 2
            parts.append(
                f'<text x="{at:.2f}%" y="{base + 18}" text-anchor="{anchor}" '
                f'class="small">{escape(day.strftime("%d %b"))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
