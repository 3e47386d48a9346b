"""PNG charts (matplotlib) and one HTML page comparing the policies of a year.

Every chart reads the policies' ledgers (:class:`PolicyYear`), never the solver:

* ``fund_left.png`` -- what is left of each fund at the end of every day, one line per policy;
* ``served_per_month.png`` -- served value per month (the N days cut into 12 equal months);
* ``quarter_share.png`` -- share of each quarter's arrivals (by value) that was served;
* ``ran_out.png`` -- the day each fund ran out (less than 1 % of its start left), per policy;
* ``vs_hindsight.png`` -- each policy's served value as a fraction of the hindsight bound.

``year.html`` embeds them (base64) with a table of the policies, so it is one file to send.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import write_text_atomic
from allocator.render.html import html_table, page, png_figure, section
from allocator.studies.year.ledger import YearLedger
from allocator.studies.year.outputs import fund_ran_out_day
from allocator.studies.year.policies import quarter_of

CHARTS = ("fund_left", "served_per_month", "quarter_share", "ran_out", "vs_hindsight")


@dataclass
class PolicyYear:
    """What the charts need of one policy's year."""

    policy: str
    days: int
    summary: dict
    program_days: pd.DataFrame
    start_fen: dict
    served: pd.DataFrame  # day, value
    requests: pd.DataFrame  # day_arrived, value, status

    @classmethod
    def read(cls, folder: Path, summary: dict) -> PolicyYear:
        with YearLedger(Path(folder) / "ledger.sqlite") as ledger:
            start = dict(ledger.conn.execute("SELECT program_id, start_fen FROM programs").fetchall())
            return cls(summary["policy"], int(summary["days"]), summary, ledger.table("program_days"), start,
                       ledger.table("assignments")[["day", "value"]], ledger.table("requests")[["day_arrived", "value", "status"]])


def month_of(days: np.ndarray, n_days: int) -> np.ndarray:
    return (np.asarray(days) * 12) // max(1, n_days)


def _figure(width: float = 8.0, height: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _save(fig, path: Path) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = buffer.getvalue()
    path.write_bytes(data)
    return data


def fund_left(years: list[PolicyYear], path: Path) -> bytes:
    """One panel per programme with a fund: what is left at the end of each day, a line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    funded = [g for g, s in years[0].start_fen.items() if s]
    cols = min(2, max(1, len(funded)))
    rows = max(1, math.ceil(len(funded) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(8.0, 2.8 * rows + 0.6), dpi=100, squeeze=False, sharex=True)
    for ax, g in zip(axes.ravel(), funded):
        for y in years:
            mine = y.program_days[y.program_days["program_id"] == g]
            ax.plot(mine["day"], mine["remaining_fen"].astype(float) / 100.0, label=y.policy)
        ax.set_title(g, fontsize=10)
        ax.set_ylim(bottom=0)
    for ax in axes.ravel()[len(funded):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("day")
    axes[0][0].set_ylabel("fund left (yuan)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("What is left of each fund at the end of the day")
    return _save(fig, path)


def _grouped_bars(ax, groups: list[str], series: dict[str, np.ndarray]) -> None:
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(x, groups)
    ax.legend()


def served_per_month(years: list[PolicyYear], path: Path) -> bytes:
    fig, ax = _figure()
    series = {}
    for y in years:
        month = month_of(y.served["day"].to_numpy(), y.days)
        series[y.policy] = np.bincount(month, weights=y.served["value"].to_numpy(), minlength=12)[:12]
    _grouped_bars(ax, [str(m + 1) for m in range(12)], series)
    ax.set_xlabel("month (the days cut into 12 equal parts)")
    ax.set_ylabel("served value (priority x card-hours)")
    ax.set_title("Served value per month")
    return _save(fig, path)


def quarter_shares(y: PolicyYear) -> np.ndarray:
    """Share (by value) of each quarter's arrivals that was served, quarters as the quarterly policy cuts them."""
    quarter = np.array([quarter_of(int(d), y.days) for d in y.requests["day_arrived"]])
    value = y.requests["value"].to_numpy(float)
    served = (y.requests["status"] == "served").to_numpy()
    arrived = np.bincount(quarter, weights=value, minlength=4)
    got = np.bincount(quarter, weights=value * served, minlength=4)
    return np.divide(got, arrived, out=np.zeros(4), where=arrived > 0)


def quarter_share(years: list[PolicyYear], path: Path) -> bytes:
    fig, ax = _figure()
    _grouped_bars(ax, ["Q1", "Q2", "Q3", "Q4"], {y.policy: quarter_shares(y) for y in years})
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the quarter's arrivals served (by value)")
    ax.set_title("Who arriving in each quarter is served")
    return _save(fig, path)


def ran_out(years: list[PolicyYear], path: Path) -> bytes:
    funded = [g for g, s in years[0].start_fen.items() if s]
    fig, ax = _figure()
    series = {}
    for y in years:
        days = fund_ran_out_day(y.program_days, y.start_fen)
        series[y.policy] = np.array([y.days if days[g] is None else days[g] for g in funded], float)
    _grouped_bars(ax, funded, series)
    ax.axhline(years[0].days, color="grey", linestyle=":", linewidth=1)
    ax.set_ylabel(f"day the fund ran out (bar at {years[0].days}: never)")
    ax.set_title("The day each fund ran out (less than 1 % left)")
    return _save(fig, path)


def vs_hindsight(years: list[PolicyYear], path: Path) -> bytes:
    fig, ax = _figure(6.0, 3.8)
    share = [y.summary.get("share_of_hindsight_bound") or 0.0 for y in years]
    bars = ax.bar([y.policy for y in years], share, color="#457b9d")
    for bar, s in zip(bars, share):
        ax.text(bar.get_x() + bar.get_width() / 2, s, f"{s:.1%}", ha="center", va="bottom")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("served value / hindsight bound")
    ax.set_title("Each policy against what perfect foresight could at most serve")
    return _save(fig, path)


def write_charts(folder: Path, years: list[PolicyYear]) -> dict[str, bytes]:
    folder = Path(folder)
    makers = {"fund_left": fund_left, "served_per_month": served_per_month, "quarter_share": quarter_share,
              "ran_out": ran_out, "vs_hindsight": vs_hindsight}
    return {name: makers[name](years, folder / f"{name}.png") for name in CHARTS}


def write_page(folder: Path, years: list[PolicyYear], images: dict[str, bytes], hindsight: dict | None) -> Path:
    """year.html: the policies' table and the charts, on the one page policy of the tool
    (:func:`allocator.render.html.page`: self-contained, the PNGs embedded)."""
    table = pd.DataFrame([{
        "policy": y.policy,
        "served value": y.summary["served_value"],
        "of the bound": y.summary.get("share_of_hindsight_bound"),
        "subsidy (yuan)": y.summary["total_subsidy_yuan"],
        "requests served": y.summary["requests"].get("served", 0),
        "lapsed": y.summary["requests"].get("lapsed", 0),
        "fund ran out (day)": ", ".join(f"{g}: {d if d is not None else 'never'}"
                                        for g, d in y.summary["fund_ran_out_day"].items() if y.start_fen.get(g)),
    } for y in years])
    formats = {"served value": lambda v: f"{v:,.0f}", "subsidy (yuan)": lambda v: f"{v:,.2f}",
               "of the bound": lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"}
    bound = "" if not hindsight else (f"<p>Hindsight bound: <b>{hindsight['bound']:,.0f}</b>: no policy, even one knowing "
                                      f"every arrival in advance, serves more (an LP relaxation of the year, certified by "
                                      f"its dual; days in blocks of {hindsight.get('block_days', 1)}).</p>")
    charts = "".join(png_figure(data, name.replace("_", " "), name) for name, data in images.items())
    first = years[0].summary
    body = (section("policies", "The policies", bound + html_table(table, formats))
            + section("charts", "Charts", charts))
    path = Path(folder) / "year.html"
    write_text_atomic(path, page(f"A year of daily plans: {first.get('instance')}, {first['days']} days", body))
    return path
