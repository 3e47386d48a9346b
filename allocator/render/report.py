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
unserved requests by reason; served share by latency class and by stack; served card-hours and
subsidy by accelerator family (domestic vs other) and by enterprise kind; the price of a yuan
per programme (:mod:`allocator.render.mix`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from allocator.files import write_text_atomic
from allocator.render.figures import (
    Figures,
    _num,
    _pct,
    _yuan,
    compute_figures,
    find_instance,
    read_plan_folder,
)
from allocator.render.html import render_html


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
    out += ["## Served work and subsidy by accelerator family", "",
            md_table(f.by_family, {"card_hours": _num, "card_hours_share": _pct, "bill_yuan": _yuan,
                                   "subsidy_yuan": _yuan, "subsidy_share": _pct}), ""]
    if f.by_kind is not None:
        out += ["## Served work and subsidy by enterprise kind", "",
                md_table(f.by_kind, {"requested_value": _num, "served_value": _num, "card_hours": _num,
                                     "subsidy_yuan": _yuan, "subsidy_share": _pct}), ""]
    if f.yuan is not None:
        out += ["## The price of a yuan", "",
                md_table(f.yuan, {"budget_yuan": _yuan, "subsidy_yuan": _yuan,
                                  "value_per_yuan": lambda v: "n/a" if math.isnan(v) else f"{v:.4g}"}), ""]
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


@dataclass
class Written:
    html: Path
    markdown: Path
    instance: Path | None


def write_report(plan_dir: Path, out: Path, instance_dir: Path | None = None) -> Written:
    """Write ``out`` (HTML) and the Markdown beside it (same name, .md); return both paths and the instance used."""
    from allocator.instance.reading import read_instance

    plan = read_plan_folder(plan_dir)
    folder = find_instance(plan, instance_dir)
    instance = read_instance(folder) if folder is not None else None
    figures = compute_figures(plan, instance)
    out = Path(out)
    markdown = out.with_suffix(".md")
    write_text_atomic(out, render_html(figures))
    write_text_atomic(markdown, render_markdown(figures))
    return Written(out, markdown, folder)
