"""ARRIVALS.csv: the requests of the year, read and checked against the day-0 instance.

The file has the columns of demands.csv plus ``day`` (the 0-based day the request arrives)
and ``max_wait_days`` [inf]: a request that arrived on day a is planned on days
a .. a + max_wait_days (and no later than the last day); still unserved at the end of day
a + max_wait_days it lapses (reason ``lapsed``). ``release`` and ``deadline`` are periods of
the day it is planned on.

Every cell is parsed by the instance reader against the demands.csv schema plus those two
columns, and the cross-table checks of :mod:`allocator.validation` run on the rows (known
enterprise, region and latency class, release and deadline within a day's periods), so a
problem is named with file, line and column like any instance problem (exit 2). On top:

* ``must_serve`` is not allowed in a year, in ARRIVALS.csv or in the backlog (demands.csv):
  a day's plan may not be forced to spend a fund the policy is pacing;
* a demand_id is unique over the backlog and the arrivals together.

The backlog (the instance's demands.csv) arrived on day 0 and never lapses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import file_digest
from allocator.instance.schema import INF, TABLE_BY_STEM, Column, Table
from allocator.instance.tables import parse_table
from allocator.instance.types import LINE, Instance
from allocator.problems import InvalidInstance, Problem

DEMAND_COLUMNS = TABLE_BY_STEM["demands"].column_names
ARRIVALS = Table(
    "arrivals",
    TABLE_BY_STEM["demands"].columns + (
        Column("day", "int", low=0),
        Column("max_wait_days", "float", INF, low=0.0, allow_inf=True),
    ),
    key=("demand_id",),
)
REQUEST_COLUMNS = DEMAND_COLUMNS + ["day", "max_wait_days", "last_day", "backlog", "program_id", "value"]


@dataclass
class Requests:
    """Every request of the year, backlog first then arrivals in file order.

    ``table`` has the demands.csv columns (deadline and release filled), ``day`` (arrival),
    ``max_wait_days``, ``last_day`` (the last day it may be planned on: day + max_wait_days,
    inf for the backlog and for max_wait_days = inf), ``backlog``, ``program_id`` (of its
    enterprise) and ``value`` (priority x card_hours).
    """

    table: pd.DataFrame
    days: int
    arrivals_file: Path
    arrivals_sha256: str
    ignored_after: int = 0  # arrivals on a day >= days: not part of this year
    warnings: list[Problem] = field(default_factory=list)

    def arrived_by(self, day: int) -> pd.DataFrame:
        return self.table[self.table["day"] <= day]


def read_requests(instance: Instance, arrivals: Path, days: int | None = None) -> Requests:
    """The backlog of ``instance`` and the rows of ``arrivals`` for ``days`` days (default: up to the
    last arrival day). Raises :class:`InvalidInstance` (exit 2) naming every problem."""
    arrivals = Path(arrivals)
    problems: list[Problem] = []
    where = str(arrivals)
    if not arrivals.is_file():
        raise InvalidInstance([Problem(where, "is not a file (ARRIVALS.csv: the demands.csv columns plus day and max_wait_days)")])
    if arrivals.suffix.lower() != ".csv":
        raise InvalidInstance([Problem(where, "must be a .csv file")])
    parsed = parse_table(arrivals, ARRIVALS, problems)
    problems = [dataclasses.replace(p, file=where) if p.file == arrivals.name else p for p in problems]
    if parsed is None:
        raise InvalidInstance([p for p in problems if p.severity == "error"], [p for p in problems if p.severity != "error"])
    problems += _cross_checks(instance, parsed, where)
    problems += _backlog_must_serve(instance)
    problems += _year_rules(instance, parsed, where)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if errors:
        raise InvalidInstance(errors, warnings)
    if days is not None and days < 1:
        raise InvalidInstance([Problem("--days", f"must be at least 1, not {days}")])
    last_arrival = int(parsed["day"].max()) if len(parsed) else 0
    n_days = days if days is not None else last_arrival + 1
    within = parsed[parsed["day"] < n_days]
    table = _requests_table(instance, within)
    return Requests(table, n_days, arrivals, file_digest(arrivals), int(len(parsed) - len(within)), warnings)


def _cross_checks(instance: Instance, parsed: pd.DataFrame, where: str) -> list[Problem]:
    """The demands.csv checks of allocator.validation on the arrivals' rows, named at ARRIVALS.csv."""
    from allocator.instance.validation import _unknown_refs, check_latency_classes, check_periods, check_unused

    rows = parsed.copy()
    view = dataclasses.replace(instance, tables={**instance.tables, "demands": rows},
                               table_files={**instance.table_files, "demands": where}, unreadable=set())
    found: list[Problem] = []
    _unknown_refs(view, "demands", "enterprise_id", "enterprises", "enterprise_id", "enterprise", found)
    _unknown_refs(view, "demands", "home_region", "regions", "region_id", "region", found)
    check_latency_classes(view, found)
    check_periods(view, found)
    check_unused(view, found)
    return [p for p in found if p.file == where]


def _backlog_must_serve(instance: Instance) -> list[Problem]:
    d = instance.demands
    file = instance.table_files.get("demands", "demands.csv")
    return [Problem(f"{instance.folder}/{file}", "must_serve is not allowed in a year (the backlog is paced like any request)",
                    line=int(line), column="must_serve")
            for line in d.loc[d["must_serve"], LINE]]


def _year_rules(instance: Instance, parsed: pd.DataFrame, where: str) -> list[Problem]:
    problems = [Problem(where, "must_serve is not allowed in a year (a day's plan may not be forced to spend a paced fund)",
                        line=int(line), column="must_serve")
                for line in parsed.loc[parsed["must_serve"], LINE]]
    backlog = set(instance.demands["demand_id"])
    for d, line in zip(parsed["demand_id"], parsed[LINE]):
        if d in backlog:
            problems.append(Problem(where, f"demand_id '{d}' is already a request of the backlog (demands.csv of the instance)",
                                    line=int(line), column="demand_id"))
    return problems


def _requests_table(instance: Instance, arrivals: pd.DataFrame) -> pd.DataFrame:
    """Backlog and arrivals as one table of REQUEST_COLUMNS."""
    backlog = instance.demands[DEMAND_COLUMNS].copy()
    backlog["day"] = 0
    backlog["max_wait_days"] = np.inf
    backlog["backlog"] = True
    rows = arrivals[DEMAND_COLUMNS + ["day", "max_wait_days"]].copy()
    rows["deadline"] = rows["deadline"].fillna(instance.periods - 1)
    rows["release"] = rows["release"].fillna(0)
    rows["backlog"] = False
    table = pd.concat([backlog, rows], ignore_index=True)
    table["release"] = table["release"].astype(int)
    table["deadline"] = table["deadline"].astype(int)
    table["day"] = table["day"].astype(int)
    table["max_wait_days"] = table["max_wait_days"].astype(float)
    table["last_day"] = np.where(table["backlog"], np.inf, table["day"] + table["max_wait_days"])
    program = instance.enterprises.set_index("enterprise_id")["program_id"]
    table["program_id"] = table["enterprise_id"].map(program)
    table["value"] = table["priority"] * table["card_hours"]
    return table[REQUEST_COLUMNS].reset_index(drop=True)


def all_requests_instance(instance: Instance, requests: Requests) -> Instance:
    """The day-0 instance with every request of the year as its demands (in memory): for screening
    every request once (pools, bills, usage do not depend on the day)."""
    demands = requests.table[DEMAND_COLUMNS].copy()
    demands[LINE] = np.arange(2, len(demands) + 2)
    return dataclasses.replace(instance, tables={**instance.tables, "demands": demands})
