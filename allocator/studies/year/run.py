"""The day loop of ``allocator year``: one plan a day, the ledger moved on after each.

Each day t, in this order:

1. **morning** -- the requests waiting: every request that arrived on day t or before, not
   served and not lapsed (the backlog on day 0; arrivals on their ``day``);
2. **release** -- the policy's release of each fund (:mod:`allocator.studies.year.policies`), at most
   what is left; it is the day's ``budget_yuan``;
3. **instance** -- written whole to ``days/NNN/instance`` (:func:`allocator.studies.year.day.write_day_instance`);
4. **plan** -- solved by ``solve`` with the exact MIP (:data:`DAY_METHOD`; what ``--method auto``
   runs on small days) to a gap of
   ``--gap-per-day`` (default 0.5 %, :data:`DAY_GAP`), ``--time-limit-per-day`` as its time limit,
   the cost stage stopped at a cost proven within 2 % (:data:`DAY_COST_GAP`) or after a fixed number of
   nodes (a run does not depend on the machine's speed unless a time limit is given), and written whole to ``days/NNN/plan``;
5. **booking** -- the plan (checked by the independent checker as it was written) booked as ``allocator advance`` books it, in fen
   (:func:`allocator.studies.year.day.book_plan`); a request still unserved at the end of day
   ``day + max_wait_days`` lapses;
6. **commit** -- the day's rows written to ``ledger.sqlite`` in one transaction.

A run killed at any point loses at most the day in progress: its folder under ``days/`` may
exist (written before the commit) but the ledger does not have the day, and ``--resume``
removes such folders and plans the day again. The ledger never holds a day whose folder is
not whole, because the folders are renamed into place before the commit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import start_incremental_folder
from allocator.instance.reading import read_instance
from allocator.instance.types import Instance
from allocator.problems import EXIT_INVALID, AllocatorError
from allocator.studies.year.arrivals import Requests, all_requests_instance, read_requests
from allocator.studies.year.day import book_plan, write_day_instance
from allocator.studies.year.ledger import (
    LEDGER_FILE,
    DayRecord,
    LedgerState,
    YearLedger,
    read_meta,
)
from allocator.studies.year.policies import DEFAULT_POLICY, Morning, make_policy

#: Each day's plan is proven within 0.5 % of the day's best (solve --gap 0.005, method exact). Measured on a
#: rush day of the generated year (1,498 requests waiting, 6,000 model columns): 1.6 s to a gap of 0.33 %,
#: against 29 s at --gap 1e-3 and a minute at solve's default 1e-4.
DAY_GAP = 0.005
#: The cost stage (cheapest plan of the day's value) stops after this many nodes rather than after wall
#: seconds (as sweeps do), so that a day's plan, and so the ledger, does not depend on the machine's speed.
COST_STAGE_MAX_NODES = 500
#: ... and stops at a cost proven within 2 % (SolveOptions.cost_gap): on the generated year's rush days the cost
#: stage's root alone took 10-25 s to prove 0.5 % (two thirds of the year's solver time) and 0.5 s to prove 2 %,
#: for bills 0-0.35 % higher (the served value is the value stage's, proven within DAY_GAP either way).
DAY_COST_GAP = 0.02
#: Each day is solved by the exact MIP to DAY_GAP, whatever its size: on the generated year's busy days
#: (1,300-2,000 requests waiting, 2,000-6,000 model columns) it proves 0.5 % in 1.3-1.7 s where solve's
#: auto (the fast method, then the exact MIP from its plan) took 4.7-11.6 s to prove far more than asked;
#: and it decides nothing by wall-clock time, so a resumed year books what an uninterrupted one does.
DAY_METHOD = "exact"
#: ... on the numpy matrix (the same model, built without Pyomo; SolveOptions.exact_on_matrix) with HiGHS: on the
#: generated year's days the Pyomo build and its translation for HiGHS took 0.3-1.1 s of a 1-5 s day.
DAY_ON_MATRIX = True


class ResumeRefused(AllocatorError):
    exit_code = EXIT_INVALID


@dataclass(frozen=True)
class YearOptions:
    """What changes the results of a year (kept in the ledger's meta; a resume must match)."""

    policy: str = DEFAULT_POLICY
    days: int | None = None
    time_limit_per_day: float | None = None
    gap_per_day: float = DAY_GAP
    cost_gap_per_day: float = DAY_COST_GAP
    threads: int | None = None
    solver: str = "highs"
    method: str = DAY_METHOD


@dataclass
class Year:
    """Everything read once: the day-0 instance, the requests, and per request what the policies need."""

    instance_dir: Path
    instance: Instance
    requests: Requests
    min_bill_yuan: pd.Series  # demand_id -> cheapest bill over its screened pools (NaN: never servable)
    min_claim_yuan: pd.Series  # demand_id -> its least R8 claim r(d, p) x bill over its screened pools
    cap_fen: pd.Series  # enterprise_id -> cap in fen (NaN: none)
    pairs: pd.DataFrame  # the screened (request, pool) pairs of every request (allocator.screening)
    capacity_card_hours: np.ndarray  # (pools, periods) of one day
    green_kwh: np.ndarray  # (centers, periods) of one day


def load_year(instance_dir: Path, arrivals: Path, days: int | None) -> Year:
    """Read and check the instance and the arrivals (exit 2 on a problem) and screen every request once."""
    from allocator.instance.screening import screen

    instance = read_instance(Path(instance_dir))
    requests = read_requests(instance, Path(arrivals), days)
    scr = screen(all_requests_instance(instance, requests))
    min_bill = scr.pairs.groupby("demand_id")["bill_yuan"].min().reindex(requests.table["demand_id"])
    ent = instance.enterprises.set_index("enterprise_id")
    cap_fen = (ent["cap_yuan"] * 100.0).replace(np.inf, np.nan).apply(np.floor)
    min_claim = scr.pairs.groupby("demand_id")["claim_yuan"].min().reindex(requests.table["demand_id"])
    return Year(Path(instance_dir), instance, requests, min_bill, min_claim, cap_fen, scr.pairs,
                scr.capacity_card_hours, scr.green_kwh)


def year_meta(year: Year, options: YearOptions) -> dict:
    return {
        "policy": options.policy,
        "days": year.requests.days,
        "instance": year.instance.name,
        "instance_sha256": year.instance.files_sha256,
        "arrivals_sha256": year.requests.arrivals_sha256,
        "options": {k: v for k, v in asdict(options).items() if k not in ("policy", "days")},
    }


MATCHED_META = ("policy", "days", "instance_sha256", "arrivals_sha256", "options")


def open_ledger(year: Year, out: Path, options: YearOptions, continuing: bool) -> YearLedger:
    """The folder's ledger: checked against the inputs when continuing, else created."""
    meta = year_meta(year, options)
    path = Path(out) / LEDGER_FILE
    if continuing and path.is_file():
        found = read_meta(path) or {}
        for key in MATCHED_META:
            expected = meta[key] if isinstance(meta[key], str) else json.dumps(meta[key], sort_keys=True)
            if found.get(key) != expected:
                raise ResumeRefused(f"{out}: --resume refused: the ledger's {key} is {found.get(key)}, "
                                    f"this run's is {expected} (give the same instance, arrivals and options)")
        return YearLedger(path)
    table = year.requests.table
    return YearLedger.create(Path(out), meta, year.instance.programs, year.instance.enterprises, table)


def run_year(year: Year, out: Path, options: YearOptions, resume: bool = False, on_day=None,
             protected: list[Path] | None = None) -> Path:
    """Plan every day not yet in the folder's ledger; return the ledger's path.

    ``on_day(day, days)`` is called after each committed day (progress bars).
    """
    out = start_incremental_folder(Path(out), protected or [year.instance_dir, year.requests.arrivals_file], resume, "year")
    continuing = resume and (out / LEDGER_FILE).is_file()
    policy = make_policy(options.policy)
    with open_ledger(year, out, options, continuing) as ledger:
        state = ledger.state()
        _remove_uncommitted_days(out, state.last_day)
        for day in range(state.last_day + 1, year.requests.days):
            record = plan_day(year, out, policy, options, state, day)
            ledger.commit_day(record)
            state = ledger.state()
            if on_day is not None:
                on_day(day, year.requests.days)
    return out / LEDGER_FILE


def day_folder(out: Path, day: int) -> Path:
    return Path(out) / "days" / f"{day:03d}"


def _remove_uncommitted_days(out: Path, last_day: int) -> None:
    """Folders of days the ledger does not have (a run killed before the commit): this tool's, replanned."""
    days = Path(out) / "days"
    if not days.is_dir():
        return
    for path in days.iterdir():
        if path.name.isdigit() and int(path.name) > last_day or path.name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)


def morning(year: Year, state: LedgerState, day: int) -> tuple[Morning, pd.DataFrame]:
    """The policy's view of the morning, and the waiting requests (full rows) in file order."""
    table = year.requests.table
    status = table["demand_id"].map(state.requests["status"])
    arrived = table["day"].to_numpy() <= day
    waiting = table[arrived & (status == "waiting").to_numpy()]
    cap_left = (year.cap_fen - state.ytd["subsidy_ytd_fen"].reindex(year.cap_fen.index)).clip(lower=0) / 100.0
    rows = table[arrived & ~table["backlog"].to_numpy()]

    def costs(frame: pd.DataFrame) -> pd.DataFrame:
        e = frame["enterprise_id"]
        bill = frame["demand_id"].map(year.min_bill_yuan).to_numpy()
        claim = frame["demand_id"].map(year.min_claim_yuan).to_numpy()
        limit = e.map(cap_left).to_numpy(dtype=float)
        cost = np.where(np.isnan(limit), claim, np.minimum(claim, limit))
        return pd.DataFrame({"day": frame["day"].to_numpy(), "program_id": frame["program_id"].to_numpy(),
                             "enterprise_id": e.to_numpy(), "value": frame["value"].to_numpy(), "cost_yuan": cost,
                             "bill_yuan": bill})

    today = costs(waiting)
    today["servable_today"] = _reaches_thresholds(year, state, today)
    view = Morning(day, year.requests.days, state.start_fen, state.left_fen, today, costs(rows))
    return view, waiting


def _reaches_thresholds(year: Year, state: LedgerState, waiting: pd.DataFrame) -> np.ndarray:
    """Per waiting request: its enterprise's servable waiting requests together (at their cheapest pools)
    reach R8's minimum voucher (min(claims, cap left)) and minimum spend (spend_ytd + bills)."""
    ok = waiting["cost_yuan"].notna()
    together = waiting[ok].groupby("enterprise_id")[["cost_yuan", "bill_yuan"]].sum()
    programs = year.instance.programs.set_index("program_id")
    program = year.instance.enterprises.set_index("enterprise_id")["program_id"].reindex(together.index)
    spend = (state.ytd["spend_ytd_fen"].reindex(together.index).fillna(0) / 100.0).to_numpy()
    reach = (together["cost_yuan"].to_numpy() >= program.map(programs["min_voucher_yuan"]).to_numpy() - 1e-9) & \
            (spend + together["bill_yuan"].to_numpy() >= program.map(programs["min_spend_yuan"]).to_numpy() - 1e-9)
    flags = pd.Series(reach, index=together.index)
    return (ok & waiting["enterprise_id"].map(flags).fillna(False).astype(bool)).to_numpy()


def plan_day(year: Year, out: Path, policy, options: YearOptions, state: LedgerState, day: int) -> DayRecord:
    """Steps 1-5 of the module docstring for one day; the record to commit."""
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write

    t0 = time.perf_counter()
    view, waiting = morning(year, state, day)
    wanted = policy.release(view)
    release = {g: None if left is None else max(0, min(left, wanted.get(g) if wanted.get(g) is not None else left))
               for g, left in state.left_fen.items()}
    folder = day_folder(out, day)
    instance_dir, plan_dir = folder / "instance", folder / "plan"
    write_day_instance(year.instance, instance_dir, day, release, state.ytd, waiting)
    solve_options = SolveOptions(time_limit=options.time_limit_per_day, gap=options.gap_per_day, threads=options.threads,
                                 solver=options.solver, method=options.method, cost_stage_max_nodes=COST_STAGE_MAX_NODES,
                                 cost_gap=options.cost_gap_per_day, exact_on_matrix=DAY_ON_MATRIX,
                                 price_of_a_yuan=False,  # a day's re-solve with a larger fund: not a year's question
                                 other_processes=False)  # the same ledger on every run: nothing decided by wall time
    t1 = time.perf_counter()
    result = solve_and_write(instance_dir, plan_dir, solve_options)
    solve_seconds = time.perf_counter() - t1
    cap_left = year.cap_fen - state.ytd["subsidy_ytd_fen"].reindex(year.cap_fen.index)
    booked = book_plan(result.instance, instance_dir, plan_dir, release, cap_left)

    served = list(booked.assignments["demand_id"])
    unserved = waiting[~waiting["demand_id"].isin(set(served))]
    lapsed = list(unserved.loc[unserved["last_day"].to_numpy() <= day, "demand_id"])
    ytd = state.ytd
    ents = booked.enterprises.copy()
    ents["spend_ytd_fen"] = ents["enterprise_id"].map(ytd["spend_ytd_fen"]).astype(np.int64) + ents["bill_fen"]
    ents["subsidy_ytd_fen"] = ents["enterprise_id"].map(ytd["subsidy_ytd_fen"]).astype(np.int64) + ents["subsidy_fen"]
    programs = _program_rows(state, release, booked, waiting, lapsed, year)
    record = DayRecord(
        day=day, programs=programs, assignments=booked.assignments, enterprises=ents, served=served, lapsed=lapsed,
        reasons={d: booked.reasons[d] for d in unserved["demand_id"] if d in booked.reasons},
        planned=list(waiting["demand_id"]),
        totals={
            "requests_waiting": len(waiting), "served": len(served),
            "served_value": float(booked.assignments["value"].sum()), "lapsed": len(lapsed),
            "released_fen": None if any(v is None for v in release.values()) else int(sum(release.values())),
            "subsidy_fen": int(ents["subsidy_fen"].sum()), "bill_fen": int(ents["bill_fen"].sum()),
            "plan_status": result.status, "plan_method": result.method, "plan_gap": float(result.gap),
            "solve_seconds": solve_seconds, "day_seconds": time.perf_counter() - t0,
            "plan_sha256": hashlib.sha256((plan_dir / "summary.json").read_bytes()).hexdigest(),
        },
    )
    return record


def _program_rows(state: LedgerState, release: dict, booked, waiting: pd.DataFrame, lapsed: list[str], year: Year) -> pd.DataFrame:
    """One row per programme: the releases and balances of the day, and its requests' counts."""
    served = booked.assignments
    lapsed_programs = year.requests.table.set_index("demand_id").loc[lapsed, "program_id"] if lapsed else pd.Series(dtype=object)
    rows = []
    for g, left in state.left_fen.items():
        spent = int(booked.program_subsidy_fen.get(g, 0))
        mine = served[served["program_id"] == g]
        rows.append({
            "program_id": g, "left_morning_fen": left, "released_fen": release[g], "subsidy_fen": spent,
            "remaining_fen": None if left is None else left - spent,
            "requests_waiting": int((waiting["program_id"] == g).sum()), "served": len(mine),
            "served_value": float(mine["value"].sum()), "lapsed": int((lapsed_programs == g).sum()),
        })
    return pd.DataFrame(rows)
