"""A plan a person can read: one self-contained HTML page and a Markdown summary.

``allocator report PLAN [--instance INSTANCE] [-o report.html]`` writes
``report.html`` and ``report.md`` beside it.

**Self-contained.** Every chart is an inline SVG drawn here in Python: no script,
style sheet, font or image is loaded from anywhere, so the page opens offline,
prints, and reads with scripts disabled. Plotly was the alternative (it can
inline plotly.js), but that puts ~4.6 MB of JavaScript in every report and the
charts then exist only after that script has run; the SVG report of a 2,000-demand
day is a few hundred kB, diff-able, and a test can count its charts in the HTML.
Hovering any bar, cell or band shows its exact numbers (SVG ``<title>``). One small
inline script makes the tables sortable and writes a marker into the page once it
has checked that every chart has a drawn, non-empty SVG (``#render-check``), which
the browser test reads.

**The instance.** Home regions, stacks, latency classes, requested value, caps and
year-to-date subsidies come from the instance, not the plan. It is taken from
``--instance``; otherwise from ``instance_path`` in summary.json if present, else
from ``instances/<name>`` under the working folder, ``<plan>/../<name>``,
``<plan>/../instances/<name>`` or ``<plan>/../../instances/<name>`` (``<name>`` is
``instance`` in summary.json) -- a candidate is used only if the sha256 of its
files equals ``instance_sha256`` in summary.json, and an ``--instance`` whose files
differ is refused (exit 2): its numbers would not be the plan's. Without it, the sections that need
it say so and the rest is drawn.

Sections: headline figures; subsidy by programme; pool utilization by period
(heatmap); energy, green and grid power per center by period; where the work went
(home region -> center region, regions ordered from net senders -- the data of
"East Data" -- to net receivers -- the "West Computing"); cap use per enterprise;
unserved requests by reason; served share by latency class and by stack.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.reading import file_digest

PLAN_TABLES = ("assignments", "schedule", "unserved", "pools", "centers", "enterprises", "programs")

# --------------------------------------------------------------------------- reading


@dataclass
class PlanFolder:
    """A plan folder as written by ``allocator solve``: summary.json and its tables."""

    folder: Path
    summary: dict
    tables: dict[str, pd.DataFrame]

    def __getattr__(self, stem: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if stem in tables:
            return tables[stem]
        raise AttributeError(stem)


def read_plan_folder(folder: Path) -> PlanFolder:
    """Read summary.json and every plan table (ids as text, numbers as floats)."""
    folder = Path(folder)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{folder} is not a plan folder: summary.json is missing")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    tables = {}
    for stem in PLAN_TABLES:
        path = folder / f"{stem}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a plan folder: {stem}.csv is missing")
        tables[stem] = pd.read_csv(path, keep_default_na=False, na_values=[""],
                                   dtype={c: str for c in ("demand_id", "enterprise_id", "pool_id", "center_id",
                                                           "region_id", "program_id", "accelerator", "reason")})
    return PlanFolder(folder, summary, tables)


def instance_matches(folder: Path, summary: dict) -> bool:
    """True if every file named in summary['instance_sha256'] exists in ``folder`` with that digest."""
    digests = summary.get("instance_sha256")
    if not isinstance(digests, dict) or not digests or not Path(folder).is_dir():
        return False
    return all((Path(folder) / name).is_file() and file_digest(Path(folder) / name) == digest
               for name, digest in digests.items())


def find_instance(plan: PlanFolder, given: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The instance folder of the plan (see the module docstring for where it is looked for).

    A folder given explicitly must match the plan's instance hashes (ValueError otherwise).
    """
    if given is not None:
        if not instance_matches(given, plan.summary):
            raise ValueError(f"{given} is not the instance this plan was made from "
                             "(its files differ from instance_sha256 in summary.json)")
        return Path(given)
    name = str(plan.summary.get("instance", ""))
    cwd = Path.cwd() if cwd is None else cwd
    candidates = []
    if plan.summary.get("instance_path"):
        candidates.append(Path(plan.summary["instance_path"]))
    if name:
        candidates += [cwd / "instances" / name, plan.folder.parent / name, plan.folder.parent / "instances" / name,
                       plan.folder.parent.parent / "instances" / name]
    for candidate in candidates:
        if instance_matches(candidate, plan.summary):
            return candidate
    return None


# --------------------------------------------------------------------------- figures


@dataclass
class Figures:
    """Everything the page and the Markdown show, computed once."""

    title: str
    headline: list[tuple[str, str]]
    programs: pd.DataFrame  # program_id, budget_yuan, subsidy_yuan, remaining_yuan
    utilization: pd.DataFrame  # pools x periods
    energy: pd.DataFrame  # center_id, period, energy_kwh, green_kwh, grid_kwh (+ grid_kwh_cap)
    enterprises: pd.DataFrame  # enterprise_id, program_id, ytd, today, left, cap
    reasons: pd.DataFrame  # reason, demands, value
    unserved: pd.DataFrame
    flows: pd.DataFrame | None = None  # home_region, region_id, card_hours, demands
    by_class: pd.DataFrame | None = None  # group, requested_value, served_value, demands, served
    by_stack: pd.DataFrame | None = None
    instance_note: str = ""
    notes: list[str] = field(default_factory=list)


def _yuan(x: float) -> str:
    return "unlimited" if not math.isfinite(x) else f"{x:,.2f} yuan"


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if not math.isfinite(x):
        return "unlimited"
    return f"{x:,.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f} %"


def _float(value) -> float:
    if isinstance(value, str):
        return float(value)  # "inf"
    return float("nan") if value is None else float(value)


def compute_figures(plan: PlanFolder, instance=None) -> Figures:
    """All report figures from the plan and, when given, its instance (``allocator.reading.Instance``)."""
    s = plan.summary
    centers = plan.centers
    energy, green = float(centers["energy_kwh"].sum()), float(centers["green_kwh"].sum())
    served_value = _float(s.get("served_value"))
    requested = float((instance.demands["priority"] * instance.demands["card_hours"]).sum()) if instance is not None else float("nan")
    bill, subsidy = _float(s.get("total_bill_yuan")), _float(s.get("total_subsidy_yuan"))
    headline = [
        ("status", f"{s.get('status', '?')} (gap {_num(_float(s.get('gap')), 3)})"),
        ("served value", f"{_num(served_value)} of {_num(requested)} requested ({_pct(served_value / requested if requested > 0 else float('nan'))})"),
        ("demands served", f"{s.get('demands_served', len(plan.assignments))} of {s.get('demands_total', '?')}"),
        ("bill", _yuan(bill)),
        ("subsidy", f"{_yuan(subsidy)} ({_pct(subsidy / bill if bill > 0 else float('nan'))} of the bill)"),
        ("enterprises pay", _yuan(bill - subsidy)),
        ("carbon", f"{_num(_float(s.get('carbon_kg')))} kg"),
        ("green share", f"{_pct(green / energy if energy > 0 else float('nan'))} of {_num(energy)} kWh"),
        ("method", f"{s.get('method', '?')} ({s.get('solver', '')} {s.get('solver_version', '')})".strip()),
    ]
    figures = Figures(
        title=f"Plan for {s.get('instance', plan.folder.name)}",
        headline=headline,
        programs=plan.programs.copy(),
        utilization=plan.pools.pivot(index="pool_id", columns="period", values="utilization")
        .reindex(pd.unique(plan.pools["pool_id"])),
        energy=_energy(plan, instance),
        enterprises=_enterprises(plan, instance),
        reasons=_reasons(plan, instance),
        unserved=plan.unserved.copy(),
        notes=[str(n) for n in s.get("notes", [])],
    )
    if instance is None:
        figures.instance_note = ("The instance was not found (give --instance): home regions, stacks, latency classes, "
                                 "requested value and caps are not shown.")
        return figures
    figures.flows = _flows(plan, instance)
    figures.by_class = _served_share(plan, instance, "latency_class")
    figures.by_stack = _served_share(plan, instance, "stack")
    return figures


def _energy(plan: PlanFolder, instance) -> pd.DataFrame:
    energy = plan.centers.copy()
    if instance is not None:
        energy["grid_kwh_cap"] = energy["center_id"].map(instance.centers.set_index("center_id")["grid_kwh_cap"])
    return energy


def _enterprises(plan: PlanFolder, instance) -> pd.DataFrame:
    ent = plan.enterprises.rename(columns={"subsidy_yuan": "today_yuan", "cap_remaining_yuan": "left_yuan"}).copy()
    if instance is not None:
        known = instance.enterprises.set_index("enterprise_id")
        ent["ytd_yuan"] = ent["enterprise_id"].map(known["subsidy_ytd_yuan"]).fillna(0.0)
        ent["cap_yuan"] = ent["enterprise_id"].map(known["cap_yuan"])
    else:
        ent["ytd_yuan"] = float("nan")
        ent["cap_yuan"] = float("nan")
    return ent


def _demand_values(instance) -> pd.Series:
    d = instance.demands
    return pd.Series((d["priority"] * d["card_hours"]).to_numpy(), index=d["demand_id"])


def _reasons(plan: PlanFolder, instance) -> pd.DataFrame:
    u = plan.unserved.copy()
    u["value"] = u["demand_id"].map(_demand_values(instance)) if instance is not None else float("nan")
    out = u.groupby("reason").agg(demands=("demand_id", "size"),
                                  value=("value", lambda v: v.sum(min_count=1))).reset_index()
    return out.sort_values(["demands", "reason"], ascending=[False, True]).reset_index(drop=True)


def _flows(plan: PlanFolder, instance) -> pd.DataFrame:
    a = plan.assignments.merge(instance.demands[["demand_id", "home_region"]], on="demand_id", how="left")
    flows = a.groupby(["home_region", "region_id"]).agg(card_hours=("usage_card_hours", "sum"),
                                                         demands=("demand_id", "size")).reset_index()
    return flows.sort_values("card_hours", ascending=False).reset_index(drop=True)


def _served_share(plan: PlanFolder, instance, column: str) -> pd.DataFrame:
    d = instance.demands[["demand_id", column, "priority", "card_hours"]].copy()
    d["value"] = d["priority"] * d["card_hours"]
    d["served"] = d["demand_id"].isin(set(plan.assignments["demand_id"]))
    d["served_value"] = d["value"].where(d["served"], 0.0)
    out = d.groupby(column).agg(requested_value=("value", "sum"), served_value=("served_value", "sum"),
                                demands=("demand_id", "size"), served=("served", "sum")).reset_index()
    out = out.rename(columns={column: "group"})
    out["share"] = np.where(out["requested_value"] > 0, out["served_value"] / out["requested_value"].where(out["requested_value"] > 0, 1), 0.0)
    return out.sort_values("requested_value", ascending=False).reset_index(drop=True)


def region_order(flows: pd.DataFrame) -> list[str]:
    """Regions from net senders of work to net receivers (east data first, west computing last)."""
    sent = flows.groupby("home_region")["card_hours"].sum()
    hosted = flows.groupby("region_id")["card_hours"].sum()
    regions = sorted(set(sent.index) | set(hosted.index))
    net = {r: float(sent.get(r, 0.0) - hosted.get(r, 0.0)) for r in regions}
    return sorted(regions, key=lambda r: (-net[r], r))


# --------------------------------------------------------------------------- SVG drawing

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


# --------------------------------------------------------------------------- sections


def chart_figure(chart_id: str, caption: str, chart: str) -> str:
    return f'<figure class="chart" id="{esc(chart_id)}">{chart}<figcaption>{esc(caption)}</figcaption></figure>'


def html_table(df: pd.DataFrame, formats: dict[str, object] | None = None, table_id: str = "") -> str:
    formats = formats or {}
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = []
    for record in df.itertuples(index=False):
        cells = []
        for column, value in zip(df.columns, record):
            shown = formats[column](value) if column in formats else value
            numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            sort_key = f' data-sort="{float(value)!r}"' if numeric else ""
            cells.append(f'<td class="{"num" if numeric else ""}"{sort_key}>{esc(shown)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    attr = f' id="{esc(table_id)}"' if table_id else ""
    return f'<table class="sortable"{attr}><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>{body}</section>'


def needs_instance(figures: Figures) -> str:
    return f'<p class="note">{esc(figures.instance_note)}</p>'


def headline_section(f: Figures) -> str:
    cards = "".join(f'<div class="kpi"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>'
                    for k, v in f.headline)
    notes = "".join(f"<li>{esc(n)}</li>" for n in f.notes)
    return section("headline", "Headline", f'<div class="kpis">{cards}</div>' + (f"<ul class='notes'>{notes}</ul>" if notes else ""))


def programs_section(f: Figures) -> str:
    p = f.programs
    rows = []
    for r in p.itertuples(index=False):
        budget = float(r.budget_yuan)
        left = float(r.remaining_yuan)
        segs = [Segment(float(r.subsidy_yuan), "#264653", f"{r.program_id}: subsidy today {r.subsidy_yuan:,.2f} yuan")]
        if math.isfinite(budget):
            segs.append(Segment(max(left, 0.0), EMPTY, f"{r.program_id}: left {left:,.2f} of {budget:,.2f} yuan"))
        rows.append((r.program_id, segs))

    def value_text(i: int) -> str:
        r = p.iloc[i]
        budget = float(r["budget_yuan"])
        return f"{float(r['subsidy_yuan']) / budget:.0%} of budget" if math.isfinite(budget) and budget > 0 else "no budget limit"

    chart = stacked_bars(rows, "subsidy spent and left per programme", value_text=value_text)
    table = html_table(p, {"budget_yuan": _yuan, "subsidy_yuan": _yuan, "remaining_yuan": _yuan})
    return section("programs", "Subsidy by programme (budget use)",
                   chart_figure("chart-programs", "Subsidy spent today (dark) and budget left (light), per programme.", chart) + table)


def utilization_section(f: Figures) -> str:
    chart = heatmap(f.utilization, "pool utilization by period",
                    lambda pool, t, v: f"{pool}, period {t}: {v:.1%} used")
    return section("utilization", "Pool utilization by period",
                   chart_figure("chart-utilization", "Share of each pool's card-hours used, per period (darker = fuller).", chart))


def energy_section(f: Figures) -> str:
    e = f.energy
    used = e.groupby("center_id")["energy_kwh"].sum()
    centers = [c for c in pd.unique(e["center_id"]) if used.get(c, 0.0) > 0]
    if not centers:
        return section("energy", "Energy, green and grid power per center", "<p>No center draws energy in this plan.</p>")
    scale_max = float(e["energy_kwh"].max())
    charts = []
    for c in centers:
        rows = e[e["center_id"] == c].sort_values("period")
        cap = float(rows["grid_kwh_cap"].iloc[0]) if "grid_kwh_cap" in rows else float("inf")
        charts.append(columns_chart(list(rows["period"].astype(int)), rows["green_kwh"].to_numpy(), rows["grid_kwh"].to_numpy(),
                                    cap, str(c), scale_max))
    totals = e.groupby("center_id")[["energy_kwh", "green_kwh", "grid_kwh"]].sum().loc[centers].reset_index()
    totals["green_share"] = totals["green_kwh"] / totals["energy_kwh"]
    grid = f'<div class="multiples">{"".join(charts)}</div>'
    table = html_table(totals, {"energy_kwh": _num, "green_kwh": _num, "grid_kwh": _num, "green_share": _pct})
    caption = ("Green (bottom, green) and grid (top, grey) energy per period, one panel per center that draws power, "
               "all on the same scale; a red mark is the most the column may reach under the center's grid cap.")
    return section("energy", "Energy, green and grid power per center",
                   f'<figure class="chart" id="chart-energy">{grid}<figcaption>{esc(caption)}</figcaption></figure>' + table)


def flows_section(f: Figures) -> str:
    if f.flows is None:
        return section("flows", "Where the work went", needs_instance(f))
    if f.flows.empty:
        return section("flows", "Where the work went", "<p>No demand is served.</p>")
    order = region_order(f.flows)
    chart = flow_chart(f.flows, order, "card-hours from home region to center region")
    moved = f.flows[f.flows["home_region"] != f.flows["region_id"]]["card_hours"].sum()
    share = moved / f.flows["card_hours"].sum()
    text_ = (f"<p>{share:.1%} of the card-hours ran outside their home region. Regions are ordered from the "
             "largest net sender of work (east data) to the largest net receiver (west computing).</p>")
    table = html_table(f.flows.head(40), {"card_hours": _num})
    return section("flows", "Where the work went (home region → center region)",
                   text_ + chart_figure("chart-flows", "Card-hours used, from each demand's home region to the region of the center that ran it.", chart)
                   + "<details><summary>largest flows</summary>" + table + "</details>")


def enterprises_section(f: Figures) -> str:
    ent = f.enterprises
    top = ent[ent["today_yuan"] > 0].sort_values("today_yuan", ascending=False).head(25)
    rows = []
    for r in top.itertuples(index=False):
        segs = []
        if math.isfinite(r.ytd_yuan):
            segs.append(Segment(float(r.ytd_yuan), "#adb5bd", f"{r.enterprise_id}: subsidy earlier this year {r.ytd_yuan:,.2f} yuan"))
        segs.append(Segment(float(r.today_yuan), "#f4a261", f"{r.enterprise_id}: subsidy today {r.today_yuan:,.2f} yuan"))
        if math.isfinite(r.left_yuan):
            segs.append(Segment(float(r.left_yuan), EMPTY, f"{r.enterprise_id}: cap left {r.left_yuan:,.2f} yuan"))
        rows.append((r.enterprise_id, segs))
    if rows:
        def value_text(i: int) -> str:
            r = top.iloc[i]
            cap = float(r["cap_yuan"])
            if math.isfinite(cap) and cap > 0:
                return f"{(float(r['ytd_yuan']) + float(r['today_yuan'])) / cap:.0%} of cap"
            return "no cap" if not math.isfinite(cap) else f"{r['today_yuan']:,.0f} yuan"

        biggest = max(sum(s.value for s in segs) for _, segs in rows)
        chart = stacked_bars(rows, "cap use of the 25 enterprises with the most subsidy today", value_text=value_text,
                             scale_max=biggest)
        figure = chart_figure("chart-enterprises",
                              "Subsidy earlier this year (grey), today (orange) and cap left (light), for the 25 enterprises "
                              "with the most subsidy today; enterprises without a cap show no light part.", chart)
    else:
        figure = "<p>No enterprise receives subsidy in this plan.</p>"
    table = html_table(ent[["enterprise_id", "program_id", "bill_yuan", "ytd_yuan", "today_yuan", "left_yuan", "cap_yuan"]],
                       {"bill_yuan": _yuan, "ytd_yuan": _yuan, "today_yuan": _yuan, "left_yuan": _yuan, "cap_yuan": _yuan})
    return section("enterprises", "Cap use per enterprise",
                   figure + f"<details><summary>all {len(ent)} enterprises</summary>{table}</details>")


def reasons_section(f: Figures) -> str:
    r = f.reasons
    if r.empty:
        return section("unserved", "Unserved requests by reason", "<p>Every request is served.</p>")
    rows = [(row.reason, [Segment(float(row.demands), REASON_COLORS.get(row.reason, PRESCREEN_COLOR),
                                  f"{row.reason}: {row.demands} demand(s), value {_num(row.value)}")])
            for row in r.itertuples(index=False)]
    chart = stacked_bars(rows, "unserved requests by reason", value_text=lambda i: f"{int(r.iloc[i]['demands'])} demands")
    explain = ("<p><b>not_selected:budget / :capacity / :green / :cap</b> — the request would fit next to the plan if that "
               "one resource (its programme's budget, its pools' cards, its centers' grid cap and green share, its "
               "enterprise's cap) were relaxed; plain <b>not_selected</b> — no single resource explains it (two or more "
               "bind together, or the request would fit as it is: a plan stopped by a time limit, or a request of no "
               "value). "
               "<b>below_threshold</b> — alone it misses the minimum voucher or spend. The others are pre-screen reasons "
               "(the request can never be served as the instance stands).</p>")
    listing = html_table(f.unserved, table_id="unserved-table")
    return section("unserved", "Unserved requests by reason",
                   chart_figure("chart-reasons", "Number of unserved requests per reason.", chart) + explain
                   + f"<details><summary>all {len(f.unserved)} unserved requests</summary>{listing}</details>")


def share_section(f: Figures) -> str:
    if f.by_class is None or f.by_stack is None:
        return section("shares", "Served share by latency class and by stack", needs_instance(f))
    parts = []
    for key, title, table in (("class", "latency class", f.by_class), ("stack", "stack", f.by_stack)):
        rows = [(row.group, [Segment(float(row.share), "#2a9d8f", f"{row.group}: {row.share:.1%} of requested value served"),
                             Segment(1.0 - float(row.share), EMPTY, f"{row.group}: {1 - row.share:.1%} not served")])
                for row in table.itertuples(index=False)]
        chart = stacked_bars(rows, f"served share by {title}", scale_max=1.0,
                             value_text=lambda i, t=table: f"{t.iloc[i]['share']:.0%} ({int(t.iloc[i]['served'])}/{int(t.iloc[i]['demands'])})")
        parts.append(chart_figure(f"chart-{key}", f"Share of requested value (priority × card-hours) served, by {title}; "
                                  "in brackets demands served / requested.", chart))
    return section("shares", "Served share by latency class and by stack", "".join(parts))


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;
margin:24px auto;max-width:1200px;color:#212529;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #dee2e6;padding-bottom:4px;margin-top:32px}
.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #dee2e6;border-radius:6px;padding:8px 12px;min-width:200px}
.kpi .k{font-size:12px;color:#6c757d}.kpi .v{font-size:15px;font-weight:600}
figure{margin:12px 0}figcaption{font-size:12px;color:#6c757d}
.multiples{display:flex;flex-wrap:wrap;gap:8px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{border-bottom:1px solid #e9ecef;padding:3px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{cursor:pointer;background:#f8f9fa}
.note{background:#fff3cd;padding:8px;border-radius:4px}svg text{fill:#343a40}
#render-check{font-size:10px;color:#adb5bd}
"""

SCRIPT = """
(function () {
  function sortable(table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var down = th.getAttribute('data-dir') !== 'down';
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col];
          var nx = x.getAttribute('data-sort'), ny = y.getAttribute('data-sort');
          var c = (nx !== null && ny !== null) ? (parseFloat(nx) - parseFloat(ny))
                                                 : x.textContent.localeCompare(y.textContent);
          return down ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        th.setAttribute('data-dir', down ? 'down' : 'up');
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), sortable);
  var figures = document.querySelectorAll('figure.chart'), drawn = 0, missing = [];
  Array.prototype.forEach.call(figures, function (f) {
    var svgs = f.querySelectorAll('svg'), ok = svgs.length > 0;
    Array.prototype.forEach.call(svgs, function (s) {
      var box = s.getBBox();
      if (!(s.childElementCount > 0 && box.width > 0 && box.height > 0)) { ok = false; }
    });
    if (ok) { drawn += 1; } else { missing.push(f.id); }
  });
  var mark = document.getElementById('render-check');
  mark.setAttribute('data-charts', String(figures.length));
  mark.setAttribute('data-drawn', String(drawn));
  mark.setAttribute('data-height', String(document.documentElement.scrollHeight));
  mark.textContent = 'charts drawn: ' + drawn + ' of ' + figures.length + (missing.length ? ' (missing: ' + missing.join(', ') + ')' : '');
})();
"""


def render_html(f: Figures) -> str:
    """The whole page: inline CSS, inline SVG charts, one inline script; nothing external."""
    sections = [headline_section(f), programs_section(f), utilization_section(f), energy_section(f), flows_section(f),
                enterprises_section(f), reasons_section(f), share_section(f)]
    intro = f'<p class="note">{esc(f.instance_note)}</p>' if f.instance_note else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(f.title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(f.title)}</h1>{intro}"
            + "".join(sections)
            + '<p id="render-check" data-charts="0" data-drawn="0">charts not checked (scripts disabled)</p>'
            + f"<script>{SCRIPT}</script></body></html>\n")


# --------------------------------------------------------------------------- Markdown


def md_table(df: pd.DataFrame, formats: dict[str, object] | None = None) -> str:
    formats = formats or {}
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    for record in df.itertuples(index=False):
        cells = [str(formats[c](v)) if c in formats else str(v) for c, v in zip(df.columns, record)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def render_markdown(f: Figures) -> str:
    """A plain-text summary of the same figures, for e-mail and review."""
    out = [f"# {f.title}", ""]
    if f.instance_note:
        out += [f"> {f.instance_note}", ""]
    out += [f"- **{k}**: {v}" for k, v in f.headline] + [""]
    out += [f"- note: {n}" for n in f.notes] + ([""] if f.notes else [])
    out += ["## Subsidy by programme", "", md_table(f.programs, {"budget_yuan": _yuan, "subsidy_yuan": _yuan, "remaining_yuan": _yuan}), ""]
    out += ["## Unserved requests by reason", "", md_table(f.reasons, {"value": _num}) if not f.reasons.empty else "Every request is served.", ""]
    if f.by_class is not None:
        for title, table in (("latency class", f.by_class), ("stack", f.by_stack)):
            out += [f"## Served share by {title}", "",
                    md_table(table, {"requested_value": _num, "served_value": _num, "share": _pct}), ""]
    if f.flows is not None and not f.flows.empty:
        out += ["## Where the work went (largest flows)", "", md_table(f.flows.head(15), {"card_hours": _num}), ""]
    busiest = f.utilization.max(axis=1).sort_values(ascending=False).head(10)
    out += ["## Busiest pools (peak utilization)", "",
            md_table(pd.DataFrame({"pool_id": busiest.index, "peak_utilization": busiest.to_numpy()}), {"peak_utilization": _pct}), ""]
    e = f.energy.groupby("center_id")[["energy_kwh", "green_kwh", "grid_kwh"]].sum()
    e = e[e["energy_kwh"] > 0].reset_index()
    if not e.empty:
        e["green_share"] = e["green_kwh"] / e["energy_kwh"]
        out += ["## Energy per center", "", md_table(e, {"energy_kwh": _num, "green_kwh": _num, "grid_kwh": _num, "green_share": _pct}), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- writing


def _write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Written:
    html: Path
    markdown: Path
    instance: Path | None


def write_report(plan_dir: Path, out: Path, instance_dir: Path | None = None) -> Written:
    """Write ``out`` (HTML) and the Markdown beside it (same name, .md); return both paths and the instance used."""
    from allocator.reading import read_instance

    plan = read_plan_folder(plan_dir)
    folder = find_instance(plan, instance_dir)
    instance = read_instance(folder) if folder is not None else None
    figures = compute_figures(plan, instance)
    out = Path(out)
    markdown = out.with_suffix(".md")
    _write_atomic(out, render_html(figures))
    _write_atomic(markdown, render_markdown(figures))
    return Written(out, markdown, folder)
