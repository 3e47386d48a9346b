"""The year's ledger: an SQLite database (``ledger.sqlite``), one transaction per day.

Why SQLite: it is in Python's standard library (``sqlite3``), a single file, and its
transactions are atomic and durable: a run killed at any instant (SIGKILL included) leaves
the database as it was after the last committed day, never half a day. ``--resume`` reads the
state back from it and continues with the next day.

Money is stored in integer **fen** (1 yuan = 100 fen), so that sums over a year are exact;
NULL stands for an unlimited fund or cap. Amounts booked from a plan are rounded **down** to
the fen (:func:`floor_fen`): a fund and a cap can only be spent less, never more, than the plan
says, and a threshold reached on the ledger was reached by the plan.

Schema (``SCHEMA_VERSION`` 1; docs/year.md shows it with examples):

``meta(key, value)``
    ``tool`` = ``allocator year`` (what marks an output folder as this tool's), ``schema_version``,
    ``policy``, ``days``, ``instance_sha256`` (JSON: file -> sha256), ``arrivals_sha256``,
    ``options`` (JSON: the options that change results), ``hindsight_bound`` (JSON, once known).
``programs(program_id, start_fen)``
    each fund on day 0 (``programs.budget_yuan`` of the instance: what is left for the year).
``enterprises_start(enterprise_id, program_id, cap_fen, subsidy_ytd_fen, spend_ytd_fen)``
    each enterprise's cap and year-to-date amounts on day 0.
``requests(demand_id, enterprise_id, program_id, day_arrived, last_day, value, status, day_served, pool_id, subsidy_fen, day_lapsed, last_reason, days_planned)``
    one row per request of the year; ``status`` is ``waiting`` (not served yet, may still be),
    ``served`` or ``lapsed``; ``last_reason`` the reason of the last plan that left it out;
    ``last_day`` NULL = never lapses.
``days(day, requests_waiting, served, served_value, lapsed, released_fen, subsidy_fen, bill_fen, plan_status, plan_method, plan_gap, solve_seconds, day_seconds, plan_sha256, committed_at)``
    one row per committed day; ``plan_sha256`` hashes the day's plan summary.json.
``program_days(day, program_id, left_morning_fen, released_fen, subsidy_fen, remaining_fen, requests_waiting, served, served_value, lapsed)``
    the releases and fund balances: what was left in the morning, what the policy released
    (the day's ``budget_yuan``), the subsidies booked and what is left at the end of the day.
``assignments(day, demand_id, enterprise_id, program_id, pool_id, center_id, value, bill_fen, subsidy_fen)``
    every served request: where it ran and what it cost the fund.
``enterprise_ytd(day, enterprise_id, bill_fen, subsidy_fen, spend_ytd_fen, subsidy_ytd_fen)``
    the year-to-date of every enterprise billed that day, at the end of the day (the latest row
    of an enterprise, or ``enterprises_start``, is its current year-to-date).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from allocator.numbers import FEN_PER_YUAN, fen_down

TOOL = "allocator year"
SCHEMA_VERSION = 1
LEDGER_FILE = "ledger.sqlite"
PARTIAL_LEDGER = ".ledger.sqlite.partial"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE programs (program_id TEXT PRIMARY KEY, start_fen INTEGER);
CREATE TABLE enterprises_start (enterprise_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, cap_fen INTEGER,
    subsidy_ytd_fen INTEGER NOT NULL, spend_ytd_fen INTEGER NOT NULL);
CREATE TABLE requests (demand_id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL, program_id TEXT,
    day_arrived INTEGER NOT NULL, last_day REAL, value REAL NOT NULL, status TEXT NOT NULL DEFAULT 'waiting',
    day_served INTEGER, pool_id TEXT, subsidy_fen INTEGER, day_lapsed INTEGER, last_reason TEXT,
    days_planned INTEGER NOT NULL DEFAULT 0);
CREATE TABLE days (day INTEGER PRIMARY KEY, requests_waiting INTEGER NOT NULL, served INTEGER NOT NULL,
    served_value REAL NOT NULL, lapsed INTEGER NOT NULL, released_fen INTEGER, subsidy_fen INTEGER NOT NULL,
    bill_fen INTEGER NOT NULL, plan_status TEXT, plan_method TEXT, plan_gap REAL, solve_seconds REAL,
    day_seconds REAL, plan_sha256 TEXT, committed_at TEXT);
CREATE TABLE program_days (day INTEGER NOT NULL, program_id TEXT NOT NULL, left_morning_fen INTEGER,
    released_fen INTEGER, subsidy_fen INTEGER NOT NULL, remaining_fen INTEGER, requests_waiting INTEGER NOT NULL,
    served INTEGER NOT NULL, served_value REAL NOT NULL, lapsed INTEGER NOT NULL, PRIMARY KEY (day, program_id));
CREATE TABLE assignments (day INTEGER NOT NULL, demand_id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL,
    program_id TEXT, pool_id TEXT NOT NULL, center_id TEXT NOT NULL, value REAL NOT NULL,
    bill_fen INTEGER NOT NULL, subsidy_fen INTEGER NOT NULL);
CREATE TABLE enterprise_ytd (day INTEGER NOT NULL, enterprise_id TEXT NOT NULL, bill_fen INTEGER NOT NULL,
    subsidy_fen INTEGER NOT NULL, spend_ytd_fen INTEGER NOT NULL, subsidy_ytd_fen INTEGER NOT NULL,
    PRIMARY KEY (day, enterprise_id));
CREATE INDEX requests_status ON requests (status, day_arrived);
"""

#: Columns that depend on the wall clock (not results): left out when two ledgers are compared. The plan's
#: summary.json holds its timings (so its sha256 differs between runs) and its gap comes from a time-boxed bound.
CLOCK_COLUMNS = {"days": ("solve_seconds", "day_seconds", "committed_at", "plan_sha256", "plan_gap")}


class LedgerMismatch(ValueError):
    """The ledger of a folder was written for other inputs (resume refused)."""


# --------------------------------------------------------------------------- money


def floor_fen(yuan: float) -> int:
    """Yuan -> whole fen, rounded down as :func:`allocator.numbers.fen_down` rounds every ledger amount
    (a plan's 1234.56 stored as 1234.5599999 still books 123456 fen)."""
    return int(round(float(fen_down(yuan)) * FEN_PER_YUAN))


def fen_or_none(yuan: float) -> int | None:
    """An amount that may be unlimited (inf -> None), rounded down to the fen."""
    return None if math.isinf(yuan) else floor_fen(yuan)


def yuan(fen: int | None) -> float:
    return math.inf if fen is None else fen / FEN_PER_YUAN


def split_fen(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole fen summing to ``total`` in proportion to ``weights`` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or len(weights) == 0:
        return np.zeros(len(weights), dtype=np.int64)
    share = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1.0 / len(weights))
    raw = share * total
    out = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - out), kind="stable")[: total - int(out.sum())]:
        out[i] += 1
    return out


# --------------------------------------------------------------------------- records


@dataclass
class DayRecord:
    """Everything one day adds to the ledger, committed together."""

    day: int
    programs: pd.DataFrame  # program_days columns but day
    assignments: pd.DataFrame  # assignments columns but day
    enterprises: pd.DataFrame  # enterprise_ytd columns but day
    served: list[str]
    lapsed: list[str]
    reasons: dict[str, str]  # last reason of every planned, unserved request
    planned: list[str]  # every request planned today (waiting in the morning)
    totals: dict  # days columns but day


@dataclass
class LedgerState:
    """The ledger after its last committed day: what a morning starts from."""

    last_day: int  # -1 before day 0
    left_fen: dict[str, int | None]  # program_id -> what is left of its fund
    start_fen: dict[str, int | None]
    ytd: pd.DataFrame  # index enterprise_id: subsidy_ytd_fen, spend_ytd_fen
    requests: pd.DataFrame  # index demand_id: status, last_reason, day_served


# --------------------------------------------------------------------------- the database


class YearLedger:
    """``ledger.sqlite`` of a year folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None)  # transactions are explicit
        self.conn.execute("PRAGMA synchronous = FULL")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- creation ------------------------------------------------------------------------------
    @classmethod
    def create(cls, folder: Path, meta: dict, programs: pd.DataFrame, enterprises: pd.DataFrame,
               requests: pd.DataFrame) -> YearLedger:
        """Write a new ledger under a hidden name, then rename it into place: the folder shows a
        ledger only once it is whole (its meta marks the folder as this tool's)."""
        folder = Path(folder)
        partial = folder / PARTIAL_LEDGER
        partial.unlink(missing_ok=True)
        conn = sqlite3.connect(partial, isolation_level=None)
        try:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            rows = {"tool": TOOL, "schema_version": str(SCHEMA_VERSION), **{k: _text(v) for k, v in meta.items()}}
            conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(rows.items()))
            conn.executemany("INSERT INTO programs VALUES (?, ?)",
                             [(g, fen_or_none(b)) for g, b in zip(programs["program_id"], programs["budget_yuan"])])
            conn.executemany("INSERT INTO enterprises_start VALUES (?, ?, ?, ?, ?)",
                             [(e.enterprise_id, e.program_id, fen_or_none(e.cap_yuan), floor_fen(e.subsidy_ytd_yuan),
                               floor_fen(e.spend_ytd_yuan)) for e in enterprises.itertuples(index=False)])
            conn.executemany(
                "INSERT INTO requests (demand_id, enterprise_id, program_id, day_arrived, last_day, value) VALUES (?, ?, ?, ?, ?, ?)",
                [(r.demand_id, r.enterprise_id, None if pd.isna(r.program_id) else r.program_id, int(r.day),
                  None if math.isinf(r.last_day) else float(r.last_day), float(r.value))
                 for r in requests.itertuples(index=False)])
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.replace(partial, folder / LEDGER_FILE)
        return cls(folder / LEDGER_FILE)

    # -- reading -------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, key: str, value) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _text(value)))
        self.conn.execute("COMMIT")

    def last_day(self) -> int:
        row = self.conn.execute("SELECT MAX(day) FROM days").fetchone()
        return -1 if row[0] is None else int(row[0])

    def table(self, name: str) -> pd.DataFrame:
        order = {"meta": "key", "programs": "program_id", "enterprises_start": "enterprise_id", "requests": "rowid",
                 "days": "day", "program_days": "day, program_id", "assignments": "day, demand_id",
                 "enterprise_ytd": "day, enterprise_id"}[name]
        return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY {order}", self.conn)

    def state(self) -> LedgerState:
        start = dict(self.conn.execute("SELECT program_id, start_fen FROM programs").fetchall())
        spent = dict(self.conn.execute("SELECT program_id, SUM(subsidy_fen) FROM program_days GROUP BY program_id").fetchall())
        left = {g: None if s is None else s - int(spent.get(g) or 0) for g, s in start.items()}
        ytd = pd.read_sql_query(
            "SELECT s.enterprise_id, s.subsidy_ytd_fen + COALESCE(y.subsidy, 0) AS subsidy_ytd_fen, "
            "s.spend_ytd_fen + COALESCE(y.bill, 0) AS spend_ytd_fen FROM enterprises_start s LEFT JOIN "
            "(SELECT enterprise_id, SUM(subsidy_fen) AS subsidy, SUM(bill_fen) AS bill FROM enterprise_ytd "
            "GROUP BY enterprise_id) y ON s.enterprise_id = y.enterprise_id", self.conn).set_index("enterprise_id")
        requests = pd.read_sql_query("SELECT demand_id, status, last_reason, day_served FROM requests", self.conn)
        return LedgerState(self.last_day(), left, start, ytd, requests.set_index("demand_id"))

    # -- one day -------------------------------------------------------------------------------
    def commit_day(self, record: DayRecord) -> None:
        """Add one day in a single transaction (all of it, or nothing if the process dies)."""
        c = self.conn
        t = record.day
        c.execute("BEGIN IMMEDIATE")
        try:
            if self.last_day() != t - 1:
                raise RuntimeError(f"day {t} committed after day {self.last_day()}")
            totals = record.totals
            c.execute("INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (t, totals["requests_waiting"], totals["served"], totals["served_value"], totals["lapsed"],
                       totals["released_fen"], totals["subsidy_fen"], totals["bill_fen"], totals["plan_status"],
                       totals["plan_method"], totals["plan_gap"], totals["solve_seconds"], totals["day_seconds"],
                       totals["plan_sha256"], datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")))
            c.executemany("INSERT INTO program_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [(t, *_plain(row)) for row in record.programs[PROGRAM_DAY_COLUMNS].itertuples(index=False)])
            c.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [(t, *_plain(row)) for row in record.assignments[ASSIGNMENT_COLUMNS].itertuples(index=False)])
            c.executemany("INSERT INTO enterprise_ytd VALUES (?, ?, ?, ?, ?, ?)",
                          [(t, *_plain(row)) for row in record.enterprises[ENTERPRISE_COLUMNS].itertuples(index=False)])
            c.executemany("UPDATE requests SET days_planned = days_planned + 1 WHERE demand_id = ?",
                          [(d,) for d in record.planned])
            c.executemany("UPDATE requests SET last_reason = ? WHERE demand_id = ?",
                          [(reason, d) for d, reason in record.reasons.items()])
            served = record.assignments.set_index("demand_id")
            c.executemany("UPDATE requests SET status = 'served', day_served = ?, pool_id = ?, subsidy_fen = ?, "
                          "last_reason = 'served' WHERE demand_id = ?",
                          [(t, str(served.at[d, "pool_id"]), int(served.at[d, "subsidy_fen"]), d) for d in record.served])
            c.executemany("UPDATE requests SET status = 'lapsed', day_lapsed = ? WHERE demand_id = ?",
                          [(t, d) for d in record.lapsed])
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


PROGRAM_DAY_COLUMNS = ["program_id", "left_morning_fen", "released_fen", "subsidy_fen", "remaining_fen",
                       "requests_waiting", "served", "served_value", "lapsed"]
ASSIGNMENT_COLUMNS = ["demand_id", "enterprise_id", "program_id", "pool_id", "center_id", "value", "bill_fen", "subsidy_fen"]
ENTERPRISE_COLUMNS = ["enterprise_id", "bill_fen", "subsidy_fen", "spend_ytd_fen", "subsidy_ytd_fen"]


def _plain(row) -> tuple:
    """numpy scalars -> Python (sqlite3 stores int64 as a blob otherwise); NaN -> NULL."""
    out = []
    for v in row:
        if isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.floating):
            v = None if np.isnan(v) else float(v)
        elif isinstance(v, float) and math.isnan(v):
            v = None
        out.append(v)
    return tuple(out)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def read_meta(path: Path) -> dict[str, str] | None:
    """The meta table of a ledger file, or None if the file is not a ledger of this tool."""
    try:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return meta if meta.get("tool") == TOOL else None


def ledger_tables(path: Path, without_clock: bool = True) -> dict[str, pd.DataFrame]:
    """Every table of a ledger (for comparing two runs): wall-clock columns dropped by default."""
    with YearLedger(path) as ledger:
        names = ("meta", "programs", "enterprises_start", "requests", "days", "program_days", "assignments", "enterprise_ytd")
        tables = {name: ledger.table(name) for name in names}
    if without_clock:
        for name, columns in CLOCK_COLUMNS.items():
            tables[name] = tables[name].drop(columns=list(columns))
    return tables
