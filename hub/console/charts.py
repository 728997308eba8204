"""Inline SVG charts drawn on the server: no script, no library, readable without JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from markupsafe import Markup, escape

from hub.ledger.queries import Bucket

PALETTE = ("#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563")
FAILED = "#dc2626"


def type_colours(buckets: Sequence[Bucket]) -> dict[str, str]:
    types = sorted({t for b in buckets for t in b.by_type})
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}


def activity_chart(
    buckets: Sequence[Bucket], zone: tzinfo, zone_label: str, *, width: int = 900, height: int = 220
) -> Markup:
    """Stacked bars of messages received per bucket by type, with failures as red ticks below."""
    colours = type_colours(buckets)
    top = max([b.received for b in buckets] + [b.failed for b in buckets] + [1])
    left, bottom, right = 40, 28, 10
    plot_h = height - bottom - 10
    step = (width - left - right) / max(1, len(buckets))
    bar = max(2.0, step * 0.7)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - right}" y2="{10 + plot_h}" stroke="#94a3b8"/>',
        f'<text x="{left - 6}" y="16" text-anchor="end" class="axis">{top}</text>',
        f'<text x="{left - 6}" y="{10 + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, bucket in enumerate(buckets):
        x = left + i * step + (step - bar) / 2
        y: float = 10 + plot_h
        for doctype, count in sorted(bucket.by_type.items()):
            h = plot_h * count / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colours[doctype]}">'
                f"<title>{escape(doctype)}: {count}</title></rect>"
            )
        if bucket.failed:
            h = plot_h * bucket.failed / top
            tick = max(1.5, bar / 4)
            parts.append(
                f'<rect x="{x:.1f}" y="{10 + plot_h - h:.1f}" width="{tick:.1f}" height="{h:.1f}"'
                f' fill="{FAILED}"><title>failed: {bucket.failed}</title></rect>'
            )
        if i % 6 == 0:
            label = bucket.start.astimezone(zone).strftime("%H:%M")
            parts.append(f'<text x="{x:.1f}" y="{height - 8}" class="axis">{label}</text>')
    caption = escape(zone_label)
    end = f'x="{width - right}" y="{height - 8}" text-anchor="end"'
    parts.append(f'<text {end} class="axis">{caption}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
