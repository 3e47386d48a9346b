"""The sweep's charts (PNG with matplotlib, embedded in a self-contained HTML page) and summary.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import atomic_file, write_text_atomic
from allocator.render.formats import (
    YUAN_PER_MILLION,
    optional_float,
    percent,
    yuan_short,
)
from allocator.render.html import html_table, page, png_figure, section
from allocator.render.markdown import md_table, md_text
from allocator.render.svg import esc
from allocator.studies.sweep.points import (
    LINE_PARAMETERS,
    PARAMETERS,
)
from allocator.studies.sweep.summary import (
    SweepContext,
    SweepSummary,
    line_label,
)
from allocator.studies.sweep.table import TIMING_COLUMNS


@dataclass
class Curve:
    """One line of the plots: a method on one combination of the non-budget parameters."""

    label: str
    method: str  # "optimizer" or "FCFS"
    x: np.ndarray
    served_value: np.ndarray
    marginal_x: np.ndarray  # midpoints of consecutive x
    marginal: np.ndarray  # served value per extra 1 M yuan (per unit of x when x is not the fund)
    keys: list[str]
    domestic_card_hours: np.ndarray  # domestic share of the served card-hours, per point
    domestic_subsidy: np.ndarray  # domestic share of the subsidy, per point


def plot_curves(frame: pd.DataFrame, context: SweepContext) -> list[Curve]:
    """Both methods' curves for every line, sorted by x (points without a plan left out)."""
    x_column = context.x_column
    line_columns = [c for c in LINE_PARAMETERS if c != x_column and frame[c].notna().any()]
    curves = []
    groups = frame.groupby(line_columns, dropna=False, sort=True) if line_columns else [((), frame)]
    for _, rows in groups:
        label = line_label({c: rows.iloc[0][c] for c in line_columns})
        for suffix, method in (("opt", "optimizer"), ("fcfs", "FCFS")):
            column = f"served_value_{suffix}"
            if column not in rows:
                continue
            part = rows.dropna(subset=[column]).sort_values(x_column)
            curves.append(_curve(part, x_column, column, label, method, suffix))
    return curves


def _curve(rows: pd.DataFrame, x_column: str, column: str, label: str, method: str, suffix: str) -> Curve:
    x = rows[x_column].to_numpy(dtype=float)
    value = rows[column].to_numpy(dtype=float)
    per = YUAN_PER_MILLION if x_column == "fund_yuan" else 1.0
    dx = np.diff(x)
    keep = dx > 0
    marginal = np.diff(value)[keep] / (dx[keep] / per)
    middle = ((x[1:] + x[:-1]) / 2)[keep]
    shown_x = x / YUAN_PER_MILLION if x_column == "fund_yuan" else x
    shown_middle = middle / YUAN_PER_MILLION if x_column == "fund_yuan" else middle
    shares = [rows[f"{name}_{suffix}"].to_numpy(dtype=float) if f"{name}_{suffix}" in rows else np.zeros(len(rows))
              for name in ("domestic_card_hours_share", "domestic_subsidy_share")]
    return Curve(label, method, shown_x, value, shown_middle, marginal, list(rows["key"]), *shares)


def _with_domestic(curves: list[Curve], context: SweepContext) -> bool:
    """A third panel with the domestic shares: when a rate row is swept or some plan runs on domestic cards."""
    return context.axes.rate_row is not None or any(np.nansum(c.domestic_card_hours) > 0 for c in curves)


def _axis_titles(context: SweepContext) -> tuple[str, str]:
    x = context.x_column
    if x == "fund_yuan":
        whose = f"programme {', '.join(context.scope)}" if context.fund_phrase else "all programmes"
        return f"fund (M yuan, {whose})", "served value per extra 1 M yuan"
    names = {"rate": "subsidy rate", "cap_yuan": "enterprise cap (yuan)", "cap_scale": "enterprise cap (x own)",
             "green_share": "minimum green share",
             "row_rate": f"rate of rates.csv row {context.axes.rate_row.text if context.axes.rate_row else ''}"}
    return names[x], f"served value per unit of {names[x]}"


def _color_key(curve: Curve, curves: list[Curve]) -> str:
    """One colour per line when there are several lines (methods differ by dash), else one per method."""
    return curve.label if len({c.label for c in curves}) > 1 else curve.method


def write_png(curves: list[Curve], context: SweepContext, path: Path) -> None:
    """Two panels: served value against the fund (both methods), and its marginal value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_title, marginal_title = _axis_titles(context)
    third = _with_domestic(curves, context)
    fig, axes = plt.subplots(1, 3 if third else 2, figsize=(18 if third else 12, 4.8), constrained_layout=True)
    left, right = axes[0], axes[1]
    colors: dict[str, str] = {}
    for curve in curves:
        color = colors.setdefault(_color_key(curve, curves), f"C{len(colors) % 10}")
        style = "-" if curve.method == "optimizer" else "--"
        name = f"{curve.method}{f' ({curve.label})' if curve.label else ''}"
        left.plot(curve.x, curve.served_value, style, marker="o", color=color, label=name)
        if len(curve.marginal):
            right.plot(curve.marginal_x, curve.marginal, style, marker="o", color=color, label=name)
        if third:
            axes[2].plot(curve.x, 100 * curve.domestic_card_hours, style, marker="o", color=color,
                         label=f"{name}: card-hours")
            axes[2].plot(curve.x, 100 * curve.domestic_subsidy, style, marker="s", color=color, alpha=0.55,
                         label=f"{name}: subsidy")
    if third:
        axes[2].set(xlabel=x_title, ylabel="% on domestic accelerators", title="domestic share (Ascend, DCU, ...)",
                    ylim=(-2, 102))
    total = context.requested_value
    left.set(xlabel=x_title, ylabel="served value (priority x card-hours)",
             title=f"{context.instance_name}: served value")
    if total > 0:
        share = left.secondary_yaxis("right", functions=(lambda v: 100 * v / total, lambda s: s * total / 100))
        share.set_ylabel("% of requested value")
    right.set(xlabel=x_title, ylabel=marginal_title, title="marginal served value")
    right.axhline(0.0, color="0.7", linewidth=0.8)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def write_html(frame: pd.DataFrame, context: SweepContext, summary: SweepSummary, png: Path, path: Path) -> None:
    """sweep.html: the page policy of the report (allocator.render.html.page): the curves of sweep.png
    embedded, the headline sentences and the table of every point; self-contained, no JavaScript library."""
    columns = [c for c in ("key", "fund_yuan", *PARAMETERS, "served_value_opt", "served_share_opt", "status_opt",
                           "gap_opt", "served_value_fcfs", "served_share_fcfs", "extra_share") if c in frame]
    table = frame[columns].dropna(axis=1, how="all")
    body = (section("curves", "What each fund buys", png_figure(png.read_bytes(), "served value and marginal served "
                                                                "value per fund, optimizer and FCFS", "curves"))
            + section("headline", "At the instance's own fund",
                      "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in summary.sentences()) + "</ul>")
            + section("points", "Every point", html_table(table, {"fund_yuan": yuan_short, "served_share_opt": percent,
                                                                  "served_share_fcfs": percent})))
    write_text_atomic(path, page(f"{context.instance_name}: what each fund buys, optimizer vs FCFS", body))


def summary_markdown(frame: pd.DataFrame, context: SweepContext, summary: SweepSummary, curves: list[Curve]) -> str:
    """summary.md: the headline sentences, then every point."""
    scope = ", ".join(md_text(g) for g in context.scope)
    statuses = ", ".join(f"{n} {status}" for status, n in summary.opt_statuses.items())
    lines = [
        f"# What each fund buys: {md_text(context.instance_name)}",
        "",
        f"Requested value: {context.requested_value:,.6g} (priority x card-hours over all {context.demands_total} "
        f"demands). Fund: the budget of programme(s) {scope}"
        f"{' (the other programmes keep their own budgets)' if context.fund_phrase else ''}; the instance's own fund is "
        f"{yuan_short(context.reference_fund_yuan)} yuan. {summary.points} points; optimizer statuses: {statuses}.",
        "",
        "## At the instance's own fund",
        "",
    ]
    lines += [f"- {md_text(s)}" for s in summary.sentences()] or ["- (no point at the instance's own fund)"]
    if context.axes.rate_row is not None:
        lines += ["", (f"Swept: the rate of rates.csv row(s) {md_text(context.axes.rate_row.text)} (ACCELERATOR/KIND; "
                       "@domestic = every domestic accelerator of the pools) for the programme(s) in scope; enterprises "
                       "with a rate of their own keep it.")]
    lines += ["", _fcfs_comparison(frame, summary), "", "## Every point", "",
              ("Domestic: share on domestic accelerators (Ascend, DCU, ...; allocator/instance/hardware.py) of the served "
               "card-hours and of the subsidy, optimizer's plan. Value per yuan: served value the fund bought per extra "
               "yuan since the next smaller swept fund of the same line."), ""]
    lines += _points_table(frame)
    lines += ["", "Files: `sweep.csv` (every figure), `sweep.png` and `sweep.html` (the curves and the marginal "
              "served value).", ""]
    return "\n".join(lines)


def _fcfs_comparison(frame: pd.DataFrame, summary: SweepSummary) -> str:
    if "served_value_fcfs" not in frame:
        return "FCFS was not solved (--no-fcfs)."
    if summary.opt_below_fcfs:
        return ("The optimizer served less value than FCFS at: " + ", ".join(md_text(k) for k in summary.opt_below_fcfs)
                + " (these points did not reach optimality; see their status and gap).")
    return "The optimizer served at least as much value as FCFS at every point."


def _points_table(frame: pd.DataFrame) -> list[str]:
    has_fcfs = "served_share_fcfs" in frame
    swept = [c for c in PARAMETERS if c not in ("budget_yuan", "budget_scale") and frame[c].notna().any()]
    header = ["fund (yuan)", *swept, "optimizer % served", "status (gap)", "domestic card-hours", "domestic subsidy",
              "value per yuan"]
    if has_fcfs:
        header += ["FCFS % served", "advantage (% points)", "FCFS value per yuan"]
    rows = []
    for _, row in frame.iterrows():
        cells = [yuan_short(row["fund_yuan"]), *(f"{row[c]:g}" for c in swept),
                 percent(optional_float(row["served_share_opt"])), f"{row['status_opt']} ({_gap_text(row['gap_opt'])})",
                 percent(optional_float(row.get("domestic_card_hours_share_opt"))),
                 percent(optional_float(row.get("domestic_subsidy_share_opt"))),
                 _per_yuan(optional_float(row.get("marginal_value_per_yuan_opt")))]
        if has_fcfs:
            extra = optional_float(row["extra_share"])
            cells += [percent(optional_float(row["served_share_fcfs"])), "n/a" if extra is None else f"{100 * extra:+.1f}",
                      _per_yuan(optional_float(row.get("marginal_value_per_yuan_fcfs")))]
        rows.append(cells)
    return md_table(header, rows).splitlines()


def _per_yuan(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _gap_text(gap: object) -> str:
    x = optional_float(gap)
    return "n/a" if x is None else f"{x:.2g}"


def timing_free(frame: pd.DataFrame) -> pd.DataFrame:
    """The table without its timing columns: what must be equal between runs."""
    return frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame])


def write_reports(frame: pd.DataFrame, context: SweepContext, summary: SweepSummary, out: Path) -> dict[str, Path]:
    """sweep.png, sweep.html and summary.md in ``out``."""
    curves = plot_curves(frame, context)
    paths = {"png": out / "sweep.png", "html": out / "sweep.html", "summary": out / "summary.md"}
    write_png(curves, context, paths["png"])
    write_html(frame, context, summary, paths["png"], paths["html"])
    write_text_atomic(paths["summary"], summary_markdown(frame, context, summary, curves))
    return paths
