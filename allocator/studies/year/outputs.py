"""The tables people read, derived from the ledger: days.csv, requests.csv and summary.json.

They are rewritten whole (atomically) from ``ledger.sqlite`` at the end of a run (and of a
resumed run), so they always agree with the ledger; a run killed mid-year leaves the previous
ones (or none) until it is resumed.

* ``days.csv`` -- one row per day and programme, counting the requests of that programme's
  enterprises: day, program_id, released_yuan, subsidy_yuan, remaining_yuan (left of the
  fund at the end of the day), requests_waiting (in the morning), served, served_value,
  lapsed (at the end of the day). Unlimited amounts are ``inf``.
* ``requests.csv`` -- one row per request of the year (backlog and arrivals, in file order):
  demand_id, enterprise_id, day_arrived, day_served (empty if never), pool_id (empty if
  never), subsidy_yuan (0 if never served), reason: ``served``, ``lapsed``, ``waiting`` (not
  planned yet: a year not run to its end), or the reason of the last plan that left it out
  (still unserved when the year ended, e.g. ``not_selected:budget``).
* ``summary.json`` -- see :func:`year_summary`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import atomic_file, write_summary
from allocator.numbers import json_safe
from allocator.plan.writing import write_table
from allocator.studies.year.ledger import TOOL, YearLedger

DAYS_COLUMNS = ["day", "program_id", "released_yuan", "subsidy_yuan", "remaining_yuan", "requests_waiting",
                "served", "served_value", "lapsed"]
REQUESTS_COLUMNS = ["demand_id", "enterprise_id", "day_arrived", "day_served", "pool_id", "subsidy_yuan", "reason"]
RAN_OUT_SHARE = 0.01  # a fund has run out at the end of the first day with less than 1 % of its start left


def _yuan(fen: pd.Series) -> pd.Series:
    return pd.to_numeric(fen, errors="coerce").astype(float).div(100.0).fillna(np.inf)


def days_table(ledger: YearLedger) -> pd.DataFrame:
    pd_ = ledger.table("program_days")
    out = pd.DataFrame({
        "day": pd_["day"], "program_id": pd_["program_id"], "released_yuan": _yuan(pd_["released_fen"]),
        "subsidy_yuan": pd_["subsidy_fen"] / 100.0, "remaining_yuan": _yuan(pd_["remaining_fen"]),
        "requests_waiting": pd_["requests_waiting"], "served": pd_["served"], "served_value": pd_["served_value"],
        "lapsed": pd_["lapsed"],
    })
    return out[DAYS_COLUMNS]


def requests_table(ledger: YearLedger) -> pd.DataFrame:
    r = ledger.table("requests")
    reason = np.where(r["status"] == "served", "served",
                      np.where(r["status"] == "lapsed", "lapsed",
                               np.where(r["days_planned"] == 0, "waiting", r["last_reason"].fillna("waiting"))))
    out = pd.DataFrame({
        "demand_id": r["demand_id"], "enterprise_id": r["enterprise_id"], "day_arrived": r["day_arrived"],
        "day_served": r["day_served"].astype("Int64"), "pool_id": r["pool_id"],
        "subsidy_yuan": r["subsidy_fen"].fillna(0) / 100.0, "reason": reason,
    })
    return out[REQUESTS_COLUMNS]


def fund_ran_out_day(program_days: pd.DataFrame, start_fen: dict) -> dict[str, int | None]:
    """programme -> the first day at whose end less than 1 % of its starting fund is left, or None."""
    out: dict[str, int | None] = {}
    for g, start in start_fen.items():
        rows = program_days[program_days["program_id"] == g]
        if start is None or start <= 0 or rows.empty:
            out[g] = None
            continue
        low = rows[rows["remaining_fen"].astype(float) < RAN_OUT_SHARE * start]
        out[g] = None if low.empty else int(low["day"].min())
    return out


def year_summary(ledger: YearLedger, hindsight: dict | None = None) -> dict:
    """summary.json: policy, days, served_value, total_subsidy_yuan, fund_ran_out_day, hindsight_bound,
    and what a reader needs besides (the inputs, the requests' fates, each fund's year, timings)."""
    meta = ledger.meta()
    days = ledger.table("days")
    program_days = ledger.table("program_days")
    start = dict(ledger.conn.execute("SELECT program_id, start_fen FROM programs").fetchall())
    requests = requests_table(ledger)
    n_days = int(meta["days"])
    served_value = float(days["served_value"].sum())
    bound = None if hindsight is None else hindsight.get("bound")
    programs = {}
    ran_out = fund_ran_out_day(program_days, start)
    for g, s in start.items():
        spent = int(program_days.loc[program_days["program_id"] == g, "subsidy_fen"].sum())
        programs[g] = {"start_yuan": math.inf if s is None else s / 100.0, "subsidy_yuan": spent / 100.0,
                       "remaining_yuan": math.inf if s is None else (s - spent) / 100.0, "ran_out_day": ran_out[g]}
    return json_safe({
        "tool": TOOL,
        "kind": "year",
        "policy": meta["policy"],
        "days": n_days,
        "days_planned": len(days),
        "complete": len(days) == n_days,
        "status": "complete" if len(days) == n_days else "running",
        "served_value": served_value,
        "total_subsidy_yuan": float(days["subsidy_fen"].sum()) / 100.0,
        "total_bill_yuan": float(days["bill_fen"].sum()) / 100.0,
        "fund_ran_out_day": ran_out,
        "hindsight_bound": bound,
        "share_of_hindsight_bound": None if not bound else served_value / bound,
        "hindsight": hindsight,
        "requests": {reason: int(n) for reason, n in requests["reason"].value_counts().sort_index().items()},
        "requests_total": len(requests),
        "requested_value": float(ledger.table("requests")["value"].sum()),
        "programs": programs,
        "instance": meta.get("instance"),
        "instance_sha256": json.loads(meta["instance_sha256"]),
        "arrivals_sha256": meta["arrivals_sha256"],
        "options": json.loads(meta["options"]),
        "seconds": {"solve": float(days["solve_seconds"].sum()), "days": float(days["day_seconds"].sum()),
                    "solve_per_day_mean": float(days["solve_seconds"].mean()) if len(days) else 0.0,
                    "solve_per_day_max": float(days["solve_seconds"].max()) if len(days) else 0.0},
        "plans": {status: int(n) for status, n in days["plan_status"].value_counts().sort_index().items()},
    })


def write_outputs(folder: Path, ledger: YearLedger, hindsight: dict | None) -> dict:
    """days.csv, requests.csv and summary.json of a year folder (each written atomically); the summary."""
    folder = Path(folder)
    for name, table in (("days.csv", days_table(ledger)), ("requests.csv", requests_table(ledger))):
        with atomic_file(folder / name) as tmp:
            write_table(table, tmp)  # the plan tables' CSV format
    summary = year_summary(ledger, hindsight)
    write_summary(folder, summary)
    return summary
