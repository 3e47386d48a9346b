"""The report's self-contained HTML page: sections, tables, style and a small script.
"""

from __future__ import annotations

import base64
import math

import numpy as np
import pandas as pd

from allocator.render.figures import Figures, region_order
from allocator.render.formats import number, percent, yuan
from allocator.render.svg import (
    EMPTY,
    PRESCREEN_COLOR,
    REASON_COLORS,
    Segment,
    columns_chart,
    esc,
    flow_chart,
    heatmap,
    stacked_bars,
)


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
    table = html_table(p, {"budget_yuan": yuan, "subsidy_yuan": yuan, "remaining_yuan": yuan})
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
    table = html_table(totals, {"energy_kwh": number, "green_kwh": number, "grid_kwh": number, "green_share": percent})
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
    table = html_table(f.flows.head(40), {"card_hours": number})
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
                       {"bill_yuan": yuan, "ytd_yuan": yuan, "today_yuan": yuan, "left_yuan": yuan, "cap_yuan": yuan})
    return section("enterprises", "Cap use per enterprise",
                   figure + f"<details><summary>all {len(ent)} enterprises</summary>{table}</details>")


def reasons_section(f: Figures) -> str:
    r = f.reasons
    if r.empty:
        return section("unserved", "Unserved requests by reason", "<p>Every request is served.</p>")
    rows = [(row.reason, [Segment(float(row.demands), REASON_COLORS.get(row.reason, PRESCREEN_COLOR),
                                  f"{row.reason}: {row.demands} demand(s), value {number(row.value)}")])
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


def mix_section(f: Figures) -> str:
    """Served card-hours and subsidy by accelerator family (domestic vs other) and by enterprise kind."""
    fam = f.by_family
    colors = {"domestic": "#e76f51", "other": "#264653"}
    rows = []
    for label, column, unit in (("card-hours", "card_hours", "card-hours"), ("subsidy", "subsidy_yuan", "yuan")):
        share = "card_hours_share" if column == "card_hours" else "subsidy_share"
        rows.append((label, [Segment(float(r[share]), colors[r["family"]],
                                     f"{r['family']}: {float(r[column]):,.2f} {unit} ({float(r[share]):.1%})")
                             for _, r in fam.iterrows()]))
    domestic = fam.set_index("family")
    chart = stacked_bars(rows, "domestic and other accelerators' shares", scale_max=1.0,
                         value_text=lambda i: f"{float(domestic.at['domestic', ['card_hours_share', 'subsidy_share'][i]]):.0%} domestic")
    body = chart_figure("chart-family", "Share of the served card-hours (on the cards, usage) and of the subsidy on "
                        "domestic accelerators (Ascend, DCU, ...: dark orange) and on other hardware (dark blue).", chart)
    body += html_table(fam, {"card_hours": number, "card_hours_share": percent, "bill_yuan": yuan, "subsidy_yuan": yuan,
                             "subsidy_share": percent})
    if f.by_kind is None:
        body += needs_instance(f)
    else:
        kinds = f.by_kind
        biggest = max([float(v) for v in kinds["subsidy_yuan"]] + [1e-12])
        krows = [(r.kind, [Segment(float(r.subsidy_yuan), "#f4a261", f"{r.kind}: subsidy {r.subsidy_yuan:,.2f} yuan")])
                 for r in kinds.itertuples(index=False)]
        kchart = stacked_bars(krows, "subsidy by enterprise kind", scale_max=biggest,
                              value_text=lambda i: f"{float(kinds.iloc[i]['subsidy_share']):.0%} of subsidy, "
                                                   f"{int(kinds.iloc[i]['served'])}/{int(kinds.iloc[i]['demands'])} served")
        body += chart_figure("chart-kind", "Subsidy per enterprise kind (enterprises.kind); in the text its share of the "
                             "subsidy and the demands served / requested.", kchart)
        body += html_table(kinds, {"requested_value": number, "served_value": number, "card_hours": number,
                                   "subsidy_yuan": yuan, "subsidy_share": percent})
    return section("mix", "Served work and subsidy by accelerator family and by enterprise kind", body)


def yuan_section(f: Figures) -> str:
    """The price of a yuan per programme (summary.json's price_of_a_yuan)."""
    if f.yuan is None:
        return section("yuan", "The price of a yuan", "<p>summary.json has no price_of_a_yuan.</p>")
    table = html_table(f.yuan, {"budget_yuan": yuan, "subsidy_yuan": yuan,
                                "value_per_yuan": lambda v: "n/a" if not math.isfinite(v) else f"{v:.4g}"})
    return section("yuan", "The price of a yuan",
                   "<p>Served value (priority × card-hours) that one more yuan of each programme's fund would buy, "
                   "and how it was found.</p>" + table)


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


def page(title: str, body: str) -> str:
    """A self-contained page, the one policy of every HTML file the tool writes: inline CSS, charts
    as inline SVG or embedded PNG, one inline script (sortable tables); nothing loaded from anywhere."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>{body}"
            + '<p id="render-check" data-charts="0" data-drawn="0">charts not checked (scripts disabled)</p>'
            + f"<script>{SCRIPT}</script></body></html>\n")


def png_figure(png: bytes, caption: str, figure_id: str = "") -> str:
    """A PNG chart (drawn by matplotlib) embedded in the page as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    attr = f' id="{esc(figure_id)}"' if figure_id else ""
    return (f'<figure class="chart"{attr}><img alt="{esc(caption)}" style="max-width:100%" '
            f'src="data:image/png;base64,{data}"><figcaption>{esc(caption)}</figcaption></figure>')


def render_html(f: Figures) -> str:
    """The report page (:func:`page`): inline SVG charts for every section."""
    sections = [headline_section(f), programs_section(f), utilization_section(f), energy_section(f), flows_section(f),
                enterprises_section(f), reasons_section(f), share_section(f), mix_section(f), yuan_section(f)]
    intro = f'<p class="note">{esc(f.instance_note)}</p>' if f.instance_note else ""
    return page(f.title, intro + "".join(sections))
