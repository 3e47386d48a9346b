"""A plan a person can read: one self-contained HTML page and a Markdown summary.

``allocator report PLAN [--instance INSTANCE] [-o report.html]`` writes
``report.html`` and ``report.md`` beside it.

**Self-contained.** Every chart is an inline SVG drawn here in Python: no script,
style sheet, font or image is loaded from anywhere, so the page opens offline,
prints, and reads with scripts disabled (:func:`allocator.render.html.page`, the page
policy of every HTML file the tool writes: sweeps embed their matplotlib PNG the same
way). Plotly was the alternative (it can inline plotly.js), but that puts ~4.6 MB of
JavaScript in every page and the charts then exist only after that script has run; the
SVG report of a 2,000-demand day is a few hundred kB, diff-able, and a test can count its
charts in the HTML.
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

from allocator.files import OutputRefused, write_text_atomic
from allocator.render.figures import (
    Figures,
    compute_figures,
    find_instance,
    read_plan_folder,
)
from allocator.render.formats import number, percent, yuan
from allocator.render.html import render_html
from allocator.render.markdown import md_frame, md_text


def render_markdown(f: Figures) -> str:
    """A plain-text summary of the same figures, for e-mail and review."""
    out = [f"# {md_text(f.title)}", ""]
    if f.instance_note:
        out += [f"> {md_text(f.instance_note)}", ""]
    out += [f"- **{md_text(k)}**: {md_text(v)}" for k, v in f.headline] + [""]
    out += [f"- note: {md_text(n)}" for n in f.notes] + ([""] if f.notes else [])
    out += ["## Subsidy by programme", "", md_frame(f.programs, {"budget_yuan": yuan, "subsidy_yuan": yuan, "remaining_yuan": yuan}), ""]
    out += ["## Unserved requests by reason", "", md_frame(f.reasons, {"value": number}) if not f.reasons.empty else "Every request is served.", ""]
    if f.by_class is not None:
        for title, table in (("latency class", f.by_class), ("stack", f.by_stack)):
            out += [f"## Served share by {title}", "",
                    md_frame(table, {"requested_value": number, "served_value": number, "share": percent}), ""]
    out += ["## Served work and subsidy by accelerator family", "",
            md_frame(f.by_family, {"card_hours": number, "card_hours_share": percent, "bill_yuan": yuan,
                                   "subsidy_yuan": yuan, "subsidy_share": percent}), ""]
    if f.by_kind is not None:
        out += ["## Served work and subsidy by enterprise kind", "",
                md_frame(f.by_kind, {"requested_value": number, "served_value": number, "card_hours": number,
                                     "subsidy_yuan": yuan, "subsidy_share": percent}), ""]
    if f.yuan is not None:
        out += ["## The price of a yuan", "",
                md_frame(f.yuan, {"budget_yuan": yuan, "subsidy_yuan": yuan,
                                  "value_per_yuan": lambda v: "n/a" if math.isnan(v) else f"{v:.4g}"}), ""]
    if f.flows is not None and not f.flows.empty:
        out += ["## Where the work went (largest flows)", "", md_frame(f.flows.head(15), {"card_hours": number}), ""]
    busiest = f.utilization.max(axis=1).sort_values(ascending=False).head(10)
    out += ["## Busiest pools (peak utilization)", "",
            md_frame(pd.DataFrame({"pool_id": busiest.index, "peak_utilization": busiest.to_numpy()}), {"peak_utilization": percent}), ""]
    e = f.energy.groupby("center_id")[["energy_kwh", "green_kwh", "grid_kwh"]].sum()
    e = e[e["energy_kwh"] > 0].reset_index()
    if not e.empty:
        e["green_share"] = e["green_kwh"] / e["energy_kwh"]
        out += ["## Energy per center", "", md_frame(e, {"energy_kwh": number, "green_kwh": number, "grid_kwh": number, "green_share": percent}), ""]
    return "\n".join(out)


@dataclass
class Written:
    html: Path
    markdown: Path
    instance: Path | None


def report_paths(out: Path) -> tuple[Path, Path]:
    """(HTML, Markdown) for ``-o``: ``r.md`` gives r.html and r.md, anything else OUT and OUT with .md."""
    out = Path(out)
    if out.suffix.lower() == ".md":
        return out.with_suffix(".html"), out
    return out, out.with_suffix(".md")


def write_report(plan_dir: Path, out: Path, instance_dir: Path | None = None) -> Written:
    """Write the HTML page and the Markdown summary (:func:`report_paths`); return both paths and the instance used."""
    from allocator.instance.reading import read_instance

    html, markdown = report_paths(out)
    for path in (html, markdown):
        if path.is_dir():
            raise OutputRefused(f"report file '{path}' is a folder: give a file name (e.g. -o report.html)")
    plan = read_plan_folder(plan_dir)
    folder = find_instance(plan, instance_dir)
    instance = read_instance(folder) if folder is not None else None
    figures = compute_figures(plan, instance)
    out = html
    write_text_atomic(out, render_html(figures))
    write_text_atomic(markdown, render_markdown(figures))
    return Written(out, markdown, folder)
