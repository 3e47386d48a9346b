"""Inline SVG charts for the offline HTML report: stacked bars, heatmap, columns, flows.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

FONT = 11


PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6d597a", "#457b9d", "#8ab17d",
           "#b56576", "#4d908e", "#f9844a", "#577590", "#90be6d", "#f94144", "#43aa8b", "#277da1"]


REASON_COLORS = {
    "not_selected:budget": "#e76f51", "not_selected:capacity": "#f4a261", "not_selected:green": "#52b788",
    "not_selected:cap": "#9d4edd", "not_selected": "#adb5bd", "below_threshold": "#6d597a",
}


PRESCREEN_COLOR = "#495057"


EMPTY = "#e9ecef"


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
            f'role="img" aria-label="{esc(label)}">' + "".join(body) + "</svg>")


def rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}">'
            f"<title>{esc(tip)}</title></rect>")


def text(x: float, y: float, content, anchor: str = "start", size: int = FONT, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}">{esc(content)}</text>')


@dataclass
class Segment:
    value: float
    color: str
    tip: str


def stacked_bars(rows: list[tuple[str, list[Segment]]], label: str, scale_max: float | None = None,
                 value_text=None, width: int = 760) -> str:
    """Horizontal stacked bars, one row per label; ``value_text(row_index)`` writes the number at the end."""
    label_w, bar_h, gap, right = 190, 16, 6, 150
    total = max([sum(s.value for s in segs) for _, segs in rows] + [scale_max or 0.0, 1e-12])
    plot_w = width - label_w - right
    height = len(rows) * (bar_h + gap) + gap
    body = []
    for i, (name, segs) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        body.append(text(label_w - 6, y + bar_h - 4, _short(name, 30), "end"))
        x = label_w
        for seg in segs:
            w = plot_w * seg.value / total
            body.append(rect(x, y, w, bar_h, seg.color, seg.tip))
            x += w
        if value_text is not None:
            body.append(text(label_w + plot_w + 6, y + bar_h - 4, value_text(i)))
    return svg(width, max(height, bar_h + 2 * gap), body, label)


def _short(name: str, n: int) -> str:
    name = str(name)
    return name if len(name) <= n else name[: n - 1] + "…"


def _blue(value: float) -> str:
    """White to dark blue for a utilization in [0, 1]."""
    v = min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
    low, high = np.array([247, 251, 255]), np.array([8, 48, 107])
    r, g, b = (low + (high - low) * v).round().astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(matrix: pd.DataFrame, label: str, tip) -> str:
    """Rows x columns of values in [0, 1]; ``tip(row, column, value)`` is each cell's tooltip."""
    label_w, top, cell_h = 170, 28, 16
    n_rows, n_cols = matrix.shape
    cell_w = max(14.0, min(60.0, 720.0 / max(n_cols, 1)))
    width = label_w + n_cols * cell_w + 70
    height = top + n_rows * cell_h + 10
    body = []
    for j, column in enumerate(matrix.columns):
        if n_cols <= 24 or j % max(1, n_cols // 24) == 0:
            body.append(text(label_w + (j + 0.5) * cell_w, top - 8, column, "middle"))
    values = matrix.to_numpy(dtype=float)
    for i, row in enumerate(matrix.index):
        y = top + i * cell_h
        body.append(text(label_w - 6, y + cell_h - 4, _short(row, 26), "end"))
        for j, column in enumerate(matrix.columns):
            body.append(rect(label_w + j * cell_w, y, cell_w - 1, cell_h - 1, _blue(values[i, j]), tip(row, column, values[i, j])))
    legend_x = label_w + n_cols * cell_w + 12
    for k in range(6):
        v = k / 5
        body.append(rect(legend_x, top + k * 14, 12, 12, _blue(v), f"utilization {v:.0%}"))
        body.append(text(legend_x + 16, top + k * 14 + 10, f"{v:.0%}"))
    return svg(width, max(height, top + 6 * 14 + 10), body, label)


def columns_chart(periods: list[int], green: np.ndarray, grid: np.ndarray, cap: float, title: str,
                  scale_max: float) -> str:
    """Stacked columns per period (green at the bottom, grid above) for one center, with its grid cap."""
    width, height, left, top, bottom = 240, 130, 8, 18, 16
    plot_w, plot_h = width - 2 * left, height - top - bottom
    n = max(len(periods), 1)
    col_w = plot_w / n
    body = [text(left, 12, _short(title, 34), weight="bold")]
    scale = plot_h / max(scale_max, 1e-12)
    base = top + plot_h
    for j, t in enumerate(periods):
        x = left + j * col_w
        g, r = float(green[j]), float(grid[j])
        body.append(rect(x, base - g * scale, col_w - 1, g * scale, "#52b788", f"{title}, period {t}: green {g:,.1f} kWh"))
        body.append(rect(x, base - (g + r) * scale, col_w - 1, r * scale, "#6c757d", f"{title}, period {t}: grid {r:,.1f} kWh"))
        limit = g + cap  # R6: the column may reach the green used plus the grid cap
        if math.isfinite(cap) and limit <= scale_max:
            body.append(f'<line x1="{x:.1f}" y1="{base - limit * scale:.1f}" x2="{x + col_w - 1:.1f}" '
                        f'y2="{base - limit * scale:.1f}" stroke="#d62828" stroke-width="1.5">'
                        f"<title>{esc(f'{title}, period {t}: grid cap {cap:,.1f} kWh above the green used')}</title></line>")
    body.append(f'<line x1="{left}" y1="{base:.1f}" x2="{left + plot_w}" y2="{base:.1f}" stroke="#adb5bd"/>')
    body.append(text(left, height - 3, f"periods 0..{periods[-1] if periods else 0}; max {scale_max:,.0f} kWh", size=9))
    return svg(width, height, body, f"energy of {title} by period")


def flow_chart(flows: pd.DataFrame, order: list[str], label: str) -> str:
    """A two-column Sankey: home regions (left) to center regions (right), band width = card-hours."""
    width, node_w, gap, top = 1000, 14, 8, 28
    left_x, right_x = 200, width - 200 - node_w
    sent = flows.groupby("home_region")["card_hours"].sum()
    hosted = flows.groupby("region_id")["card_hours"].sum()
    senders = [r for r in order if r in sent.index]
    hosts = [r for r in order if r in hosted.index]
    total = float(flows["card_hours"].sum())
    n = max(len(senders), len(hosts), 1)
    height = max(220, 26 * n) + top + 10
    scale = (height - top - 10 - gap * (n - 1)) / max(total, 1e-12)
    colors = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(order)}

    def positions(nodes, totals):
        y, out = top, {}
        for r in nodes:
            out[r] = y
            y += float(totals[r]) * scale + gap
        return out

    ys, yh = positions(senders, sent), positions(hosts, hosted)
    body = [text(8, 14, "home region (where the work comes from)", weight="bold"),
            text(width - 8, 14, "center region (where it ran)", "end", weight="bold")]
    out_offset = {r: 0.0 for r in senders}
    in_offset = {r: 0.0 for r in hosts}
    ordered = flows.assign(
        a=flows["home_region"].map({r: i for i, r in enumerate(order)}),
        b=flows["region_id"].map({r: i for i, r in enumerate(order)}),
    ).sort_values(["a", "b"])
    for f in ordered.itertuples(index=False):
        w = float(f.card_hours) * scale
        y0 = ys[f.home_region] + out_offset[f.home_region]
        y1 = yh[f.region_id] + in_offset[f.region_id]
        out_offset[f.home_region] += w
        in_offset[f.region_id] += w
        x0, x1 = left_x + node_w, right_x
        xm = (x0 + x1) / 2
        path = (f"M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f} "
                f"L{x1:.1f},{y1 + w:.1f} C{xm:.1f},{y1 + w:.1f} {xm:.1f},{y0 + w:.1f} {x0:.1f},{y0 + w:.1f} Z")
        stay = "stays in its region" if f.home_region == f.region_id else "moves"
        tip = f"{f.home_region} → {f.region_id}: {f.card_hours:,.0f} card-hours, {f.demands} demand(s) ({stay})"
        body.append(f'<path d="{path}" fill="{colors[f.home_region]}" fill-opacity="0.45"><title>{esc(tip)}</title></path>')
    for r in senders:
        h = float(sent[r]) * scale
        body.append(rect(left_x, ys[r], node_w, h, colors[r], f"{r} sends {float(sent[r]):,.0f} card-hours"))
        body.append(text(left_x - 6, ys[r] + h / 2 + 4, f"{r} ({float(sent[r]):,.0f})", "end"))
    for r in hosts:
        h = float(hosted[r]) * scale
        body.append(rect(right_x, yh[r], node_w, h, colors[r], f"{r} runs {float(hosted[r]):,.0f} card-hours"))
        body.append(text(right_x + node_w + 6, yh[r] + h / 2 + 4, f"{r} ({float(hosted[r]):,.0f})"))
    return svg(width, height, body, label)
