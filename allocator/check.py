"""The independent plan checker behind ``allocator check INSTANCE PLAN``.

Every number of a plan folder is recomputed here from the instance and the
plan's own choices (which pool serves each demand, and the schedule), straight
from the formulas of ``shared/SPEC.md``, and compared with what the plan says.
Nothing is imported from the solver side (screening, model, plan extraction):
the checker is plain Python over dicts, so that a bug there cannot hide itself.

Tolerance (SPEC): two numbers are equal when ``|a - b| <= 1e-6 + 1e-6 * max(|a|, |b|)``;
an inequality ``a <= b`` holds when ``a <= b`` plus that same slack.

Checks, in the order :func:`check_plan` runs them:

* files: every plan file present, readable, with exactly the SPEC columns;
* coverage: every demand exactly once in assignments.csv or unserved.csv;
* R1 eligibility and designated center, R2 compatibility and usage, R3 latency
  (and the pool/center/region/accelerator columns agree with the instance);
* R4 schedule, R5 capacity (and pools.csv), R6 energy and green power (and
  centers.csv), R7 bills, R8 subsidies (and enterprises.csv), R9 budgets (and
  programs.csv), R10 must_serve;
* summary.json fields and totals;
* the reason of every unserved demand (pre-screen reasons recomputed exactly).

An invalid instance raises :class:`allocator.problems.InvalidInstance` (exit 2);
everything wrong with the plan becomes a violation (exit 1).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.reading import Instance, read_instance

ABS_TOL = 1e-6
REL_TOL = 1e-6
FIT_REL_SLACK = 1e-9  # window_too_short: a window fits when its capacity >= u * (1 - 1e-9)

# The plan files of shared/SPEC.md with their columns and cell types, copied from the SPEC.
PLAN_COLUMNS: dict[str, dict[str, str]] = {
    "assignments.csv": {
        "demand_id": "id", "enterprise_id": "id", "pool_id": "id", "center_id": "id",
        "region_id": "id", "accelerator": "id", "usage_card_hours": "float", "bill_yuan": "float",
        "subsidy_yuan": "float", "enterprise_pays_yuan": "float", "rtt_ms": "float",
    },
    "schedule.csv": {"demand_id": "id", "pool_id": "id", "period": "int", "card_hours": "float"},
    "unserved.csv": {"demand_id": "id", "enterprise_id": "id", "reason": "id"},
    "pools.csv": {
        "pool_id": "id", "period": "int", "used_card_hours": "float",
        "capacity_card_hours": "float", "utilization": "float",
    },
    "centers.csv": {"center_id": "id", "period": "int", "energy_kwh": "float", "green_kwh": "float", "grid_kwh": "float"},
    "enterprises.csv": {
        "enterprise_id": "id", "program_id": "id", "bill_yuan": "float",
        "subsidy_yuan": "float", "cap_remaining_yuan": "float",
    },
    "programs.csv": {"program_id": "id", "budget_yuan": "float", "subsidy_yuan": "float", "remaining_yuan": "float"},
}
SUMMARY_FILE = "summary.json"
SUMMARY_NUMBERS = (
    "served_value", "best_bound", "gap", "total_bill_yuan", "total_subsidy_yuan",
    "carbon_kg", "demands_served", "demands_total",
)
SUMMARY_TEXTS = ("instance", "method", "solver", "solver_version", "status")
SUMMARY_SECONDS = "wall_seconds"  # docs/decisions.md; an older "seconds" is accepted too
SUMMARY_PHASES = ("load", "build", "solve", "write")
PLAN_STATUSES = ("optimal", "feasible")  # a plan folder exists only for these

# Pre-screen reasons in the SPEC's filter order (ineligible_enterprise before any filter).
PRESCREEN_REASONS = (
    "ineligible_enterprise", "no_designated_center", "no_compatible_pool",
    "no_pool_within_latency", "window_too_short",
)
NOT_SELECTED = "not_selected"
NOT_SELECTED_REFINEMENTS = ("budget", "capacity", "green", "cap")
BELOW_THRESHOLD = "below_threshold"
SELECTION_REASONS = (BELOW_THRESHOLD, NOT_SELECTED) + tuple(f"{NOT_SELECTED}:{r}" for r in NOT_SELECTED_REFINEMENTS)

Row = dict[str, Any]  # one parsed plan row; "_line" is its CSV line (header = line 1)


# --------------------------------------------------------------------------- numbers


def slack(a: float, b: float) -> float:
    """The SPEC's tolerance for comparing a and b: 1e-6 absolute plus 1e-6 relative."""
    return ABS_TOL + REL_TOL * max(abs(a), abs(b))


def close(a: float, b: float) -> bool:
    """a == b within the SPEC tolerance (equal infinities are equal, NaN never is)."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= slack(a, b)


def at_most(a: float, b: float) -> bool:
    """a <= b within the SPEC tolerance (anything is at most +inf)."""
    if b == math.inf or a == -math.inf:
        return True
    if math.isinf(a) or math.isinf(b):
        return a <= b
    return a <= b + slack(a, b)


def fmt(x: float) -> str:
    """A number for a message: up to 10 significant digits."""
    return f"{x:.10g}"


# --------------------------------------------------------------------------- report


@dataclass
class CheckReport:
    """What the checker found: ``violations`` (rules broken, exit 1) and ``warnings``."""

    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plan obeys every rule (warnings do not count)."""
        return not self.violations

    @property
    def exit_code(self) -> int:
        """0 for a valid plan, 1 for a plan that violates a rule (SPEC exit codes)."""
        return 0 if self.ok else 1

    def violate(self, message: str) -> None:
        self.violations.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


# --------------------------------------------------------------------------- the instance as dicts


@dataclass(frozen=True, slots=True)
class Demand:
    demand_id: str
    enterprise_id: str
    home_region: str
    stack: str
    latency_class: str
    card_hours: float
    max_cards: float
    release: int
    deadline: int
    priority: float
    must_serve: bool

    @property
    def value(self) -> float:
        """The demand's contribution to the served value V: priority * card_hours."""
        return self.priority * self.card_hours


@dataclass(frozen=True, slots=True)
class Pool:
    pool_id: str
    center_id: str
    accelerator: str
    cards: float
    price_yuan_per_card_hour: float
    kw_per_card: float


@dataclass(frozen=True, slots=True)
class Center:
    center_id: str
    region_id: str
    pue: float
    green_kwh: float
    min_green_share: float
    grid_kwh_cap: float


@dataclass(frozen=True, slots=True)
class Enterprise:
    enterprise_id: str
    program_id: str
    eligible: bool
    rate: float
    cap_yuan: float
    subsidy_ytd_yuan: float
    spend_ytd_yuan: float

    @property
    def remaining_cap_yuan(self) -> float:
        """C_e = max(0, cap_yuan - subsidy_ytd_yuan) (R8)."""
        return max(0.0, self.cap_yuan - self.subsidy_ytd_yuan)


@dataclass(frozen=True, slots=True)
class Program:
    program_id: str
    budget_yuan: float
    min_voucher_yuan: float
    min_spend_yuan: float


@dataclass(frozen=True, slots=True)
class Compatibility:
    efficiency: float
    adaptation_yuan: float


@dataclass
class Facts:
    """The instance re-indexed by id, with the SPEC's lookups (RTT, capacity, green power)."""

    name: str
    files_sha256: dict[str, str]
    periods: int
    period_hours: float
    latency_limits_ms: dict[str, float]
    intra_region_rtt_ms: float
    carbon_price_yuan_per_kg: float
    region_carbon_kg_per_kwh: dict[str, float]
    demands: dict[str, Demand]
    pools: dict[str, Pool]
    centers: dict[str, Center]
    enterprises: dict[str, Enterprise]
    programs: dict[str, Program]
    compatibility: dict[tuple[str, str], Compatibility]
    latency_ms: dict[tuple[str, str], float]
    designated_centers: dict[str, set[str]]  # programs with program_centers rows only
    cards_override: dict[tuple[str, int], float]
    green_override_kwh: dict[tuple[str, int], float]
    pools_by_center: dict[str, list[Pool]] = field(default_factory=dict)

    def rtt_ms(self, a: str, b: str) -> float:
        """RTT between regions: latency.csv (a, b), else (b, a), else intra-region for a == b, else inf."""
        if (a, b) in self.latency_ms:
            return self.latency_ms[(a, b)]
        if (b, a) in self.latency_ms:
            return self.latency_ms[(b, a)]
        return self.intra_region_rtt_ms if a == b else math.inf

    def latency_limit_ms(self, latency_class: str) -> float:
        """The round-trip limit of a latency class (validation guarantees it is known)."""
        return self.latency_limits_ms[latency_class]

    def is_designated(self, program_id: str, center_id: str) -> bool:
        """R1: a program with no program_centers row may use every center."""
        centers = self.designated_centers.get(program_id)
        return centers is None or center_id in centers

    def cards(self, pool_id: str, period: int) -> float:
        """cards(p, t): capacity.csv overrides pools.cards for that period."""
        return self.cards_override.get((pool_id, period), self.pools[pool_id].cards)

    def capacity_card_hours(self, pool_id: str, period: int) -> float:
        """R5 limit: cards(p, t) * period_hours."""
        return self.cards(pool_id, period) * self.period_hours

    def green_kwh(self, center_id: str, period: int) -> float:
        """Renewable energy available: green.csv overrides centers.green_kwh for that period."""
        return self.green_override_kwh.get((center_id, period), self.centers[center_id].green_kwh)

    def center_region(self, pool: Pool) -> str:
        return self.centers[pool.center_id].region_id


def _records(instance: Instance, stem: str) -> list[dict[str, Any]]:
    return instance.tables[stem].to_dict("records")


def instance_facts(instance: Instance) -> Facts:
    """Index every instance table by its id (defaults are already filled by the reader)."""
    demands = {
        r["demand_id"]: Demand(
            r["demand_id"], r["enterprise_id"], r["home_region"], r["stack"], r["latency_class"],
            float(r["card_hours"]), float(r["max_cards"]), int(r["release"]), int(r["deadline"]),
            float(r["priority"]), bool(r["must_serve"]),
        )
        for r in _records(instance, "demands")
    }
    pools = {
        r["pool_id"]: Pool(r["pool_id"], r["center_id"], r["accelerator"], float(r["cards"]),
                           float(r["price_yuan_per_card_hour"]), float(r["kw_per_card"]))
        for r in _records(instance, "pools")
    }
    centers = {
        r["center_id"]: Center(r["center_id"], r["region_id"], float(r["pue"]), float(r["green_kwh"]),
                               float(r["min_green_share"]), float(r["grid_kwh_cap"]))
        for r in _records(instance, "centers")
    }
    enterprises = {
        r["enterprise_id"]: Enterprise(r["enterprise_id"], r["program_id"], bool(r["eligible"]), float(r["rate"]),
                                       float(r["cap_yuan"]), float(r["subsidy_ytd_yuan"]), float(r["spend_ytd_yuan"]))
        for r in _records(instance, "enterprises")
    }
    programs = {
        r["program_id"]: Program(r["program_id"], float(r["budget_yuan"]), float(r["min_voucher_yuan"]),
                                 float(r["min_spend_yuan"]))
        for r in _records(instance, "programs")
    }
    designated: dict[str, set[str]] = defaultdict(set)
    for r in _records(instance, "program_centers"):
        designated[r["program_id"]].add(r["center_id"])
    pools_by_center: dict[str, list[Pool]] = defaultdict(list)
    for pool in pools.values():
        pools_by_center[pool.center_id].append(pool)
    return Facts(
        name=instance.name,
        files_sha256=dict(instance.files_sha256),
        periods=int(instance.periods),
        period_hours=float(instance.period_hours),
        latency_limits_ms=dict(instance.latency_classes_ms),
        intra_region_rtt_ms=float(instance.intra_region_rtt_ms),
        carbon_price_yuan_per_kg=float(instance.carbon_price_yuan_per_kg),
        region_carbon_kg_per_kwh={r["region_id"]: float(r["grid_carbon_kg_per_kwh"]) for r in _records(instance, "regions")},
        demands=demands,
        pools=pools,
        centers=centers,
        enterprises=enterprises,
        programs=programs,
        compatibility={
            (r["stack"], r["accelerator"]): Compatibility(float(r["efficiency"]), float(r["adaptation_yuan"]))
            for r in _records(instance, "compatibility")
        },
        latency_ms={(r["from_region"], r["to_region"]): float(r["rtt_ms"]) for r in _records(instance, "latency")},
        designated_centers=dict(designated),
        cards_override={(r["pool_id"], int(r["period"])): float(r["cards"]) for r in _records(instance, "capacity")},
        green_override_kwh={(r["center_id"], int(r["period"])): float(r["green_kwh"]) for r in _records(instance, "green")},
        pools_by_center=dict(pools_by_center),
    )


# --------------------------------------------------------------------------- reading the plan


@dataclass
class PlanFiles:
    """The plan folder parsed: typed rows per CSV file (None if unusable) and summary.json."""

    tables: dict[str, list[Row] | None]
    summary: dict[str, Any] | None

    def rows(self, file: str) -> list[Row]:
        """The usable rows of a file ([] when the file is missing or unreadable)."""
        return self.tables.get(file) or []


def _parse_cell(text: str, kind: str) -> Any:
    """A CSV cell as its SPEC type; raises ValueError when it is not one."""
    text = text.strip()
    if kind == "id":
        if not text:
            raise ValueError("empty, a value is required")
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    if math.isnan(number):
        raise ValueError(f"'{text}' is not a number")
    if kind == "int":
        if not number.is_integer():
            raise ValueError(f"'{text}' is not a whole number")
        return int(number)
    return number


def read_plan_csv(path: Path, report: CheckReport) -> list[Row] | None:
    """Rows of a plan CSV with typed cells; None when the file cannot be used.

    Files: the file must exist, be readable UTF-8 CSV and hold exactly the SPEC's
    columns (any order). A row with a cell that does not parse is reported and left out.
    """
    file = path.name
    expected = PLAN_COLUMNS[file]
    if not path.is_file():
        report.violate(f"files: {file} is missing from the plan folder")
        return None
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            body = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        report.violate(f"files: {file} cannot be read: {exc}")
        return None
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if extra:
        report.violate(f"files: {file} has columns the SPEC does not define: {', '.join(extra)}")
    if duplicated:
        report.violate(f"files: {file} repeats columns: {', '.join(duplicated)}")
    if missing:
        report.violate(f"files: {file} lacks the SPEC columns: {', '.join(missing)}")
        return None
    position = {c: header.index(c) for c in expected}
    rows: list[Row] = []
    for number, cells in enumerate(body, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            report.violate(f"files: {file} line {number} has {len(cells)} cells, the header has {len(header)}; row ignored")
            continue
        row: Row = {"_line": number}
        try:
            for column, kind in expected.items():
                try:
                    row[column] = _parse_cell(cells[position[column]], kind)
                except ValueError as exc:
                    raise ValueError(f"column '{column}': {exc}") from None
        except ValueError as exc:
            report.violate(f"files: {file} line {number}, {exc}; row ignored")
            continue
        rows.append(row)
    return rows


def read_summary(path: Path, report: CheckReport) -> dict[str, Any] | None:
    """summary.json as a dict; None (and a violation) when missing or not a JSON object."""
    if not path.is_file():
        report.violate(f"files: {SUMMARY_FILE} is missing from the plan folder")
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.violate(f"files: {SUMMARY_FILE} cannot be read as JSON: {exc}")
        return None
    if not isinstance(doc, dict):
        report.violate(f"files: {SUMMARY_FILE} must hold a JSON object")
        return None
    return doc


def check_files(plan_dir: Path, report: CheckReport) -> PlanFiles:
    """Files: every SPEC plan file is present and readable with exactly the SPEC columns."""
    plan_dir = Path(plan_dir)
    if not plan_dir.is_dir():
        report.violate(f"files: the plan folder {plan_dir} does not exist")
        return PlanFiles({file: None for file in PLAN_COLUMNS}, None)
    tables = {file: read_plan_csv(plan_dir / file, report) for file in PLAN_COLUMNS}
    return PlanFiles(tables, read_summary(plan_dir / SUMMARY_FILE, report))


# --------------------------------------------------------------------------- coverage


def check_coverage(facts: Facts, plan: PlanFiles, report: CheckReport) -> dict[str, Row]:
    """Coverage: every demand appears exactly once in assignments.csv or unserved.csv.

    Returns the served demands: demand_id -> its (first) assignments.csv row.
    Unknown ids, repeats, a demand in both files and a demand in neither are violations.
    """
    served: dict[str, Row] = {}
    unserved: dict[str, Row] = {}
    for file, seen in (("assignments.csv", served), ("unserved.csv", unserved)):
        for row in plan.rows(file):
            d = row["demand_id"]
            if d not in facts.demands:
                report.violate(f"coverage: {file} line {row['_line']} names demand {d}, which the instance does not have")
            elif d in seen:
                report.violate(f"coverage: demand {d} appears more than once in {file} (lines {seen[d]['_line']} and {row['_line']})")
            else:
                seen[d] = row
    if plan.tables["assignments.csv"] is None or plan.tables["unserved.csv"] is None:
        return served  # the missing file is already reported; do not list every demand again
    for d in served.keys() & unserved.keys():
        report.violate(f"coverage: demand {d} is both in assignments.csv and in unserved.csv")
    for d in facts.demands:
        if d not in served and d not in unserved:
            report.violate(f"coverage: demand {d} is in neither assignments.csv nor unserved.csv")
    return served


def check_enterprise_columns(facts: Facts, plan: PlanFiles, report: CheckReport) -> None:
    """Consistency: the enterprise_id of assignments.csv and unserved.csv rows is the demand's."""
    for file in ("assignments.csv", "unserved.csv"):
        for row in plan.rows(file):
            demand = facts.demands.get(row["demand_id"])
            if demand is not None and row["enterprise_id"] != demand.enterprise_id:
                report.violate(
                    f"consistency: {file} demand {demand.demand_id} names enterprise {row['enterprise_id']}, "
                    f"the instance says {demand.enterprise_id}"
                )


# --------------------------------------------------------------------------- R1-R3: where each demand runs


def assigned_pool(facts: Facts, demand_id: str, row: Row, report: CheckReport) -> Pool | None:
    """The pool of an assignment, or None (and a violation) when the instance has no such pool."""
    pool = facts.pools.get(row["pool_id"])
    if pool is None:
        report.violate(f"consistency: assignments.csv demand {demand_id} uses pool {row['pool_id']}, which the instance does not have")
    return pool


def check_assignment_columns(facts: Facts, served: dict[str, Row], report: CheckReport) -> dict[str, Pool]:
    """Consistency: center_id, region_id and accelerator of each assignment are those of its pool.

    Returns demand_id -> Pool for every served demand whose pool exists.
    """
    pools: dict[str, Pool] = {}
    for d, row in served.items():
        pool = assigned_pool(facts, d, row, report)
        if pool is None:
            continue
        pools[d] = pool
        region = facts.center_region(pool)
        for column, expected in (("center_id", pool.center_id), ("region_id", region), ("accelerator", pool.accelerator)):
            if row[column] != expected:
                report.violate(
                    f"consistency: assignments.csv demand {d} has {column} {row[column]} but pool {pool.pool_id} has {expected}"
                )
    return pools


def check_r1_eligibility(facts: Facts, served: dict[str, Row], pools: dict[str, Pool], report: CheckReport) -> None:
    """R1: the enterprise is eligible and the center is a designated center of its program."""
    for d in served:
        demand = facts.demands[d]
        enterprise = facts.enterprises[demand.enterprise_id]
        if not enterprise.eligible:
            report.violate(f"R1 eligibility: demand {d} is served but its enterprise {enterprise.enterprise_id} is not eligible")
        pool = pools.get(d)
        if pool is not None and not facts.is_designated(enterprise.program_id, pool.center_id):
            report.violate(
                f"R1 designated center: demand {d} runs at center {pool.center_id} (pool {pool.pool_id}), "
                f"which is not a designated center of program {enterprise.program_id}"
            )


def usage_card_hours(facts: Facts, demand: Demand, pool: Pool) -> float | None:
    """R2: u = card_hours / efficiency of (stack, accelerator); None when incompatible."""
    compat = facts.compatibility.get((demand.stack, pool.accelerator))
    return None if compat is None else demand.card_hours / compat.efficiency


def check_r2_compatibility(facts: Facts, served: dict[str, Row], pools: dict[str, Pool], report: CheckReport) -> dict[str, float]:
    """R2: (stack, pool accelerator) is in compatibility.csv and usage_card_hours == card_hours / efficiency.

    Returns demand_id -> u, recomputed where possible, else the plan's usage_card_hours.
    """
    usage: dict[str, float] = {}
    for d, row in served.items():
        pool = pools.get(d)
        u = None if pool is None else usage_card_hours(facts, facts.demands[d], pool)
        if pool is not None and u is None:
            report.violate(
                f"R2 compatibility: demand {d} (stack {facts.demands[d].stack}) runs on pool {pool.pool_id} "
                f"whose accelerator {pool.accelerator} has no row in compatibility.csv"
            )
        if u is None:
            usage[d] = row["usage_card_hours"]
            continue
        usage[d] = u
        if not close(row["usage_card_hours"], u):
            report.violate(
                f"R2 usage: assignments.csv demand {d} has usage_card_hours {fmt(row['usage_card_hours'])}, "
                f"card_hours / efficiency = {fmt(u)}"
            )
    return usage


def check_r3_latency(facts: Facts, served: dict[str, Row], pools: dict[str, Pool], report: CheckReport) -> None:
    """R3: RTT(home_region, pool's region) <= the latency class limit; rtt_ms equals that RTT."""
    for d, row in served.items():
        pool = pools.get(d)
        if pool is None:
            continue
        demand = facts.demands[d]
        region = facts.center_region(pool)
        rtt = facts.rtt_ms(demand.home_region, region)
        limit = facts.latency_limit_ms(demand.latency_class)
        if not at_most(rtt, limit):
            report.violate(
                f"R3 latency: demand {d} ({demand.latency_class}, limit {fmt(limit)} ms) runs in region {region} "
                f"at RTT {fmt(rtt)} ms from its home region {demand.home_region}"
            )
        if not close(row["rtt_ms"], rtt):
            report.violate(f"R3 rtt_ms: assignments.csv demand {d} has rtt_ms {fmt(row['rtt_ms'])}, the RTT is {fmt(rtt)} ms")


# --------------------------------------------------------------------------- R4-R6: when and how much


def check_r4_schedule(facts: Facts, plan: PlanFiles, served: dict[str, Row], usage: dict[str, float], report: CheckReport) -> None:
    """R4: each served demand's usage is spread over release..deadline at its pool.

    Every schedule row belongs to a served demand and its assigned pool, lies in
    the window, has 0 <= card_hours <= max_cards * period_hours (per period), and
    the rows of a demand sum to its usage u.
    """
    per_period: dict[tuple[str, int], float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    for row in plan.rows("schedule.csv"):
        d, t, amount, line = row["demand_id"], row["period"], row["card_hours"], row["_line"]
        where = f"schedule.csv line {line} (demand {d}, period {t})"
        if d not in served:
            known = "an unserved" if d in facts.demands else "an unknown"
            report.violate(f"R4 schedule: {where} schedules {known} demand")
            continue
        demand = facts.demands[d]
        if row["pool_id"] != served[d]["pool_id"]:
            report.violate(f"R4 schedule: {where} runs at pool {row['pool_id']}, but the demand is assigned to pool {served[d]['pool_id']}")
        if not demand.release <= t <= demand.deadline:
            report.violate(f"R4 window: {where} is outside the demand's window {demand.release}..{demand.deadline}")
        if amount < -slack(amount, 0.0):
            report.violate(f"R4 schedule: {where} has negative card_hours {fmt(amount)}")
        elif amount <= 0.0:
            report.warn(f"schedule.csv line {line}: demand {d} period {t} has card_hours 0 (the SPEC lists rows with card_hours > 0)")
        if (d, t) in per_period:
            report.violate(f"R4 schedule: demand {d} has more than one row for period {t} in schedule.csv")
        per_period[(d, t)] += amount
        total[d] += amount
    for (d, t), amount in per_period.items():
        limit = facts.demands[d].max_cards * facts.period_hours
        if not at_most(amount, limit):
            report.violate(
                f"R4 max_cards: demand {d} uses {fmt(amount)} card-hours in period {t} > max_cards * period_hours = {fmt(limit)}"
            )
    for d in served:
        if not close(total.get(d, 0.0), usage[d]):
            report.violate(f"R4 schedule: demand {d} is scheduled for {fmt(total.get(d, 0.0))} card-hours in schedule.csv, its usage is {fmt(usage[d])}")


def pool_usage(facts: Facts, plan: PlanFiles) -> dict[tuple[str, int], float]:
    """usage(p, t): schedule.csv card-hours summed per known pool and period of the horizon."""
    used: dict[tuple[str, int], float] = defaultdict(float)
    for row in plan.rows("schedule.csv"):
        if row["pool_id"] in facts.pools and 0 <= row["period"] < facts.periods:
            used[(row["pool_id"], row["period"])] += row["card_hours"]
    return used  # rows with unknown pools or periods are reported by check_schedule_keys


def check_schedule_keys(facts: Facts, plan: PlanFiles, report: CheckReport) -> None:
    """Consistency: schedule.csv names known pools and periods 0..periods-1."""
    for row in plan.rows("schedule.csv"):
        if row["pool_id"] not in facts.pools:
            report.violate(f"consistency: schedule.csv line {row['_line']} names pool {row['pool_id']}, which the instance does not have")
        if not 0 <= row["period"] < facts.periods:
            report.violate(f"consistency: schedule.csv line {row['_line']} names period {row['period']}, outside 0..{facts.periods - 1}")


def keyed_rows(plan: PlanFiles, file: str, key: tuple[str, ...], expected: set, report: CheckReport) -> dict[tuple, Row]:
    """Rows of a result table by key; unknown, repeated and missing keys are violations.

    ``expected`` is the set of keys the table must hold exactly once each.
    """
    found: dict[tuple, Row] = {}
    if plan.tables[file] is None:
        return found
    for row in plan.rows(file):
        k = tuple(row[c] for c in key)
        label = ", ".join(f"{c} {v}" for c, v in zip(key, k))
        if k not in expected:
            report.violate(f"consistency: {file} line {row['_line']} has {label}, which is not in the instance")
        elif k in found:
            report.violate(f"consistency: {file} has more than one row for {label}")
        else:
            found[k] = row
    for k in sorted(expected - found.keys(), key=str):
        label = ", ".join(f"{c} {v}" for c, v in zip(key, k))
        report.violate(f"consistency: {file} has no row for {label}")
    return found


def compare_columns(file: str, label: str, row: Row, expected: dict[str, float], rule: str, report: CheckReport) -> None:
    """Each column of a result row equals its recomputed value within tolerance."""
    for column, value in expected.items():
        if not close(row[column], value):
            report.violate(f"{rule}: {file} {label} has {column} {fmt(row[column])}, recomputed {fmt(value)}")


def check_r5_capacity(facts: Facts, plan: PlanFiles, used: dict[tuple[str, int], float], report: CheckReport) -> None:
    """R5: per pool and period, usage <= cards(p, t) * period_hours; pools.csv matches.

    pools.csv holds one row per pool x period with used_card_hours, capacity_card_hours
    and utilization = used / capacity (0 when the capacity is 0).
    """
    for (p, t), amount in sorted(used.items()):
        capacity = facts.capacity_card_hours(p, t)
        if not at_most(amount, capacity):
            report.violate(f"R5 capacity: pool {p} period {t} uses {fmt(amount)} card-hours > {fmt(capacity)} capacity")
    expected_keys = {(p, t) for p in facts.pools for t in range(facts.periods)}
    rows = keyed_rows(plan, "pools.csv", ("pool_id", "period"), expected_keys, report)
    for (p, t), row in rows.items():
        amount = used.get((p, t), 0.0)
        capacity = facts.capacity_card_hours(p, t)
        utilization = amount / capacity if capacity > 0 else 0.0
        compare_columns(
            "pools.csv", f"pool {p} period {t}", row,
            {"used_card_hours": amount, "capacity_card_hours": capacity, "utilization": utilization},
            "R5 table", report,
        )


@dataclass
class CenterEnergy:
    """R6 quantities of one center in one period, in kWh."""

    energy_kwh: float = 0.0
    green_kwh: float = 0.0
    grid_kwh: float = 0.0


def center_energy(facts: Facts, used: dict[tuple[str, int], float]) -> dict[tuple[str, int], CenterEnergy]:
    """R6 per center and period: energy = sum usage * kw_per_card * pue; green = min(energy, green_kwh); grid = energy - green."""
    energy: dict[tuple[str, int], float] = defaultdict(float)
    for (p, t), amount in used.items():
        pool = facts.pools[p]
        energy[(pool.center_id, t)] += amount * pool.kw_per_card * facts.centers[pool.center_id].pue
    out: dict[tuple[str, int], CenterEnergy] = {}
    for c in facts.centers:
        for t in range(facts.periods):
            e = energy.get((c, t), 0.0)
            green = min(e, facts.green_kwh(c, t))
            out[(c, t)] = CenterEnergy(e, green, e - green)
    return out


def check_r6_energy(facts: Facts, plan: PlanFiles, energy: dict[tuple[str, int], CenterEnergy], report: CheckReport) -> None:
    """R6: grid(c, t) <= grid_kwh_cap; sum_t green >= min_green_share * sum_t energy; centers.csv matches."""
    for c, center in facts.centers.items():
        total_energy = total_green = 0.0
        for t in range(facts.periods):
            q = energy[(c, t)]
            total_energy += q.energy_kwh
            total_green += q.green_kwh
            if not at_most(q.grid_kwh, center.grid_kwh_cap):
                report.violate(
                    f"R6 grid cap: center {c} period {t} draws {fmt(q.grid_kwh)} kWh from the grid > grid_kwh_cap {fmt(center.grid_kwh_cap)}"
                )
        needed = center.min_green_share * total_energy
        if not at_most(needed, total_green):
            report.violate(
                f"R6 green share: center {c} uses {fmt(total_green)} kWh green of {fmt(total_energy)} kWh over the horizon, "
                f"below min_green_share {fmt(center.min_green_share)} (needs {fmt(needed)} kWh)"
            )
    rows = keyed_rows(plan, "centers.csv", ("center_id", "period"), set(energy), report)
    for (c, t), row in rows.items():
        q = energy[(c, t)]
        compare_columns(
            "centers.csv", f"center {c} period {t}", row,
            {"energy_kwh": q.energy_kwh, "green_kwh": q.green_kwh, "grid_kwh": q.grid_kwh},
            "R6 table", report,
        )


# --------------------------------------------------------------------------- R7-R10: money and must_serve


def bill_yuan(facts: Facts, demand: Demand, pool: Pool) -> float | None:
    """R7: bill = u * price_yuan_per_card_hour + adaptation_yuan; None when incompatible."""
    compat = facts.compatibility.get((demand.stack, pool.accelerator))
    if compat is None:
        return None
    return demand.card_hours / compat.efficiency * pool.price_yuan_per_card_hour + compat.adaptation_yuan


def check_r7_bills(facts: Facts, served: dict[str, Row], pools: dict[str, Pool], report: CheckReport) -> dict[str, float]:
    """R7: bill_yuan == usage * price + adaptation_yuan.

    Returns demand_id -> bill, recomputed where possible, else the plan's bill_yuan.
    """
    bills: dict[str, float] = {}
    for d, row in served.items():
        pool = pools.get(d)
        bill = None if pool is None else bill_yuan(facts, facts.demands[d], pool)
        if bill is None:
            bills[d] = row["bill_yuan"]
            continue
        bills[d] = bill
        if not close(row["bill_yuan"], bill):
            report.violate(f"R7 bill: assignments.csv demand {d} has bill_yuan {fmt(row['bill_yuan'])}, usage * price + adaptation = {fmt(bill)}")
    return bills


@dataclass
class EnterpriseMoney:
    """R8 for one enterprise: plan bill B_e and subsidy S_e = min(rate * B_e, C_e), in yuan."""

    bill_yuan: float = 0.0
    subsidy_yuan: float = 0.0
    served_demands: list[str] = field(default_factory=list)


def enterprise_money(facts: Facts, served: dict[str, Row], bills: dict[str, float]) -> dict[str, EnterpriseMoney]:
    """R8 per enterprise of the instance: B_e = sum of its served bills, S_e = min(r_e * B_e, C_e)."""
    money = {e: EnterpriseMoney() for e in facts.enterprises}
    for d in served:
        m = money[facts.demands[d].enterprise_id]
        m.bill_yuan += bills[d]
        m.served_demands.append(d)
    for e, m in money.items():
        enterprise = facts.enterprises[e]
        m.subsidy_yuan = min(enterprise.rate * m.bill_yuan, enterprise.remaining_cap_yuan) if m.bill_yuan > 0 else 0.0
    return money


def check_r8_subsidies(facts: Facts, plan: PlanFiles, served: dict[str, Row], bills: dict[str, float],
                       money: dict[str, EnterpriseMoney], report: CheckReport) -> None:
    """R8: subsidies follow min(r_e * B_e, C_e), split in proportion to bills, with thresholds.

    Per demand: subsidy = S_e * bill / B_e and enterprise_pays = bill - subsidy.
    Per enterprise: the plan's subsidies total at most C_e; if B_e > 0 then
    S_e >= min_voucher_yuan and spend_ytd_yuan + B_e >= min_spend_yuan of its program.
    enterprises.csv has one row per enterprise: bill B_e, subsidy S_e, cap_remaining C_e - S_e.
    """
    for e, m in money.items():
        enterprise = facts.enterprises[e]
        program = facts.programs[enterprise.program_id]
        paid = 0.0
        for d in m.served_demands:
            row = served[d]
            share = m.subsidy_yuan * bills[d] / m.bill_yuan if m.bill_yuan > 0 else 0.0
            paid += row["subsidy_yuan"]
            if not close(row["subsidy_yuan"], share):
                report.violate(
                    f"R8 subsidy split: assignments.csv demand {d} (enterprise {e}) has subsidy_yuan {fmt(row['subsidy_yuan'])}, "
                    f"S_e * bill / B_e = {fmt(m.subsidy_yuan)} * {fmt(bills[d])} / {fmt(m.bill_yuan)} = {fmt(share)}"
                )
            if not close(row["enterprise_pays_yuan"], bills[d] - share):
                report.violate(
                    f"R8 enterprise pays: assignments.csv demand {d} has enterprise_pays_yuan {fmt(row['enterprise_pays_yuan'])}, "
                    f"bill - subsidy = {fmt(bills[d] - share)}"
                )
        if not at_most(paid, enterprise.remaining_cap_yuan):
            report.violate(
                f"R8 cap: enterprise {e} gets {fmt(paid)} yuan of subsidy in assignments.csv > its remaining cap "
                f"C_e = {fmt(enterprise.remaining_cap_yuan)}"
            )
        if m.bill_yuan > 0:
            if not at_most(program.min_voucher_yuan, m.subsidy_yuan):
                report.violate(
                    f"R8 min voucher: enterprise {e} is served with subsidy S_e = {fmt(m.subsidy_yuan)} yuan "
                    f"< min_voucher_yuan {fmt(program.min_voucher_yuan)} of program {program.program_id}"
                )
            if not at_most(program.min_spend_yuan, enterprise.spend_ytd_yuan + m.bill_yuan):
                report.violate(
                    f"R8 min spend: enterprise {e} is served with spend_ytd_yuan + B_e = {fmt(enterprise.spend_ytd_yuan + m.bill_yuan)} "
                    f"yuan < min_spend_yuan {fmt(program.min_spend_yuan)} of program {program.program_id}"
                )
    rows = keyed_rows(plan, "enterprises.csv", ("enterprise_id",), {(e,) for e in facts.enterprises}, report)
    for (e,), row in rows.items():
        enterprise = facts.enterprises[e]
        if row["program_id"] != enterprise.program_id:
            report.violate(f"R8 table: enterprises.csv enterprise {e} has program_id {row['program_id']}, the instance says {enterprise.program_id}")
        m = money[e]
        compare_columns(
            "enterprises.csv", f"enterprise {e}", row,
            {"bill_yuan": m.bill_yuan, "subsidy_yuan": m.subsidy_yuan,
             "cap_remaining_yuan": enterprise.remaining_cap_yuan - m.subsidy_yuan},
            "R8 table", report,
        )


def check_r9_budgets(facts: Facts, plan: PlanFiles, money: dict[str, EnterpriseMoney], report: CheckReport) -> None:
    """R9: per program, sum of its enterprises' S_e <= budget_yuan; programs.csv matches.

    programs.csv has one row per program: budget_yuan, subsidy_yuan, remaining_yuan = budget - subsidy.
    """
    granted: dict[str, float] = {p: 0.0 for p in facts.programs}
    for e, m in money.items():
        granted[facts.enterprises[e].program_id] += m.subsidy_yuan
    for p, program in facts.programs.items():
        if not at_most(granted[p], program.budget_yuan):
            report.violate(f"R9 budget: program {p} grants {fmt(granted[p])} yuan of subsidy > budget_yuan {fmt(program.budget_yuan)}")
    rows = keyed_rows(plan, "programs.csv", ("program_id",), {(p,) for p in facts.programs}, report)
    for (p,), row in rows.items():
        budget = facts.programs[p].budget_yuan
        compare_columns(
            "programs.csv", f"program {p}", row,
            {"budget_yuan": budget, "subsidy_yuan": granted[p], "remaining_yuan": budget - granted[p]},
            "R9 table", report,
        )


def check_r10_must_serve(facts: Facts, served: dict[str, Row], report: CheckReport) -> None:
    """R10: every must_serve demand is served."""
    for d, demand in facts.demands.items():
        if demand.must_serve and d not in served:
            report.violate(f"R10 must_serve: demand {d} is must_serve but is not in assignments.csv")


# --------------------------------------------------------------------------- summary.json


def summary_number(summary: dict[str, Any], key: str) -> float | None:
    """A summary number: a JSON number or the strings "inf"/"-inf" the writer uses; None otherwise."""
    value = summary.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf"):
        return float(value)
    return None


def check_summary_fields(facts: Facts, summary: dict[str, Any], report: CheckReport) -> None:
    """summary.json has every SPEC field: texts, numbers, instance_sha256 and wall_seconds per phase.

    The instance name and the sha256 of every instance file must be those of INSTANCE,
    and status is optimal or feasible (a plan is written for no other status).
    """
    for key in SUMMARY_TEXTS:
        if not isinstance(summary.get(key), str):
            report.violate(f"summary: {SUMMARY_FILE} lacks the text field '{key}'")
    for key in SUMMARY_NUMBERS:
        if summary_number(summary, key) is None:
            report.violate(f"summary: {SUMMARY_FILE} lacks the number field '{key}'")
    if isinstance(summary.get("instance"), str) and summary["instance"] != facts.name:
        report.violate(f"summary: {SUMMARY_FILE} instance is '{summary['instance']}', the instance is named '{facts.name}'")
    if isinstance(summary.get("status"), str) and summary["status"] not in PLAN_STATUSES:
        report.violate(f"summary: {SUMMARY_FILE} status is '{summary['status']}', a plan needs one of {', '.join(PLAN_STATUSES)}")
    digests = summary.get("instance_sha256")
    if not isinstance(digests, dict):
        report.violate(f"summary: {SUMMARY_FILE} lacks 'instance_sha256' (file name -> sha256 of each instance file)")
    elif digests != facts.files_sha256:
        differing = sorted(k for k in digests.keys() | facts.files_sha256.keys() if digests.get(k) != facts.files_sha256.get(k))
        report.violate(f"summary: {SUMMARY_FILE} instance_sha256 does not match the instance files: {', '.join(differing)}")
    seconds = summary.get(SUMMARY_SECONDS, summary.get("seconds"))
    if not isinstance(seconds, dict):
        report.violate(f"summary: {SUMMARY_FILE} lacks '{SUMMARY_SECONDS}' (wall seconds per phase: {', '.join(SUMMARY_PHASES)})")
        return
    for phase in SUMMARY_PHASES:
        value = summary_number(seconds, phase)
        if value is None or value < 0:
            report.violate(f"summary: {SUMMARY_FILE} {SUMMARY_SECONDS} lacks a wall time >= 0 for phase '{phase}'")


def check_summary_totals(facts: Facts, summary: dict[str, Any], served: dict[str, Row], bills: dict[str, float],
                         money: dict[str, EnterpriseMoney], energy: dict[tuple[str, int], CenterEnergy],
                         report: CheckReport) -> None:
    """summary.json numbers match the plan recomputed.

    served_value = sum priority * card_hours of served demands; total_bill_yuan = sum of
    bills; total_subsidy_yuan = sum of S_e; carbon_kg = sum grid * grid_carbon_kg_per_kwh
    of the center's region; demands_served / demands_total; best_bound >= served_value
    (maximization); gap >= 0; cost_yuan (if given) = total bill + carbon price * carbon_kg.
    """
    carbon_kg = sum(q.grid_kwh * facts.region_carbon_kg_per_kwh.get(facts.centers[c].region_id, 0.0)
                    for (c, _), q in energy.items())
    total_bill = sum(bills.values())
    expected = {
        "served_value": sum(facts.demands[d].value for d in served),
        "total_bill_yuan": total_bill,
        "total_subsidy_yuan": sum(m.subsidy_yuan for m in money.values()),
        "carbon_kg": carbon_kg,
        "demands_served": float(len(served)),
        "demands_total": float(len(facts.demands)),
    }
    if "cost_yuan" in summary:
        expected["cost_yuan"] = total_bill + facts.carbon_price_yuan_per_kg * carbon_kg
    for key, value in expected.items():
        given = summary_number(summary, key)
        if given is not None and not close(given, value):
            report.violate(f"summary: {SUMMARY_FILE} {key} is {fmt(given)}, recomputed {fmt(value)}")
    bound = summary_number(summary, "best_bound")
    if bound is not None and not at_most(expected["served_value"], bound):
        report.violate(f"summary: {SUMMARY_FILE} best_bound {fmt(bound)} is below the served value {fmt(expected['served_value'])}")
    gap = summary_number(summary, "gap")
    if gap is not None and gap < -slack(gap, 0.0):
        report.violate(f"summary: {SUMMARY_FILE} gap {fmt(gap)} is negative")


# --------------------------------------------------------------------------- reasons


@dataclass
class Screening:
    """Pre-screen of one demand: the reason of the first filter that left no pool, and the pools left."""

    reason: str | None
    pools: list[Pool]


class Screener:
    """The SPEC's pre-screen, filter by filter, with caches so that it stays linear in the demands.

    Filters (in order, starting from all pools): eligible enterprise (checked first),
    designated centers, compatible with the stack, within the latency limit, fits
    alone in the window: sum over t in release..deadline of
    min(max_cards, cards(p, t)) * period_hours >= u * (1 - 1e-9).
    """

    def __init__(self, facts: Facts):
        self.facts = facts
        self._designated: dict[str, list[Pool]] = {}
        self._compatible: dict[tuple[str, str], list[Pool]] = {}
        self._near: dict[tuple[str, str, str, str], list[Pool]] = {}
        self._window: dict[tuple[str, float, int, int], float] = {}

    def designated_pools(self, program_id: str) -> list[Pool]:
        if program_id not in self._designated:
            centers = self.facts.designated_centers.get(program_id)
            if centers is None:
                self._designated[program_id] = list(self.facts.pools.values())
            else:
                self._designated[program_id] = [p for c in sorted(centers) for p in self.facts.pools_by_center.get(c, [])]
        return self._designated[program_id]

    def compatible_pools(self, program_id: str, stack: str) -> list[Pool]:
        key = (program_id, stack)
        if key not in self._compatible:
            self._compatible[key] = [p for p in self.designated_pools(program_id)
                                     if (stack, p.accelerator) in self.facts.compatibility]
        return self._compatible[key]

    def near_pools(self, program_id: str, demand: Demand) -> list[Pool]:
        key = (program_id, demand.stack, demand.home_region, demand.latency_class)
        if key not in self._near:
            limit = self.facts.latency_limit_ms(demand.latency_class)
            self._near[key] = [p for p in self.compatible_pools(program_id, demand.stack)
                               if self.facts.rtt_ms(demand.home_region, self.facts.center_region(p)) <= limit]
        return self._near[key]

    def window_card_hours(self, pool: Pool, demand: Demand) -> float:
        """The most the demand alone can use at the pool in its window (empty pool)."""
        key = (pool.pool_id, demand.max_cards, demand.release, demand.deadline)
        if key not in self._window:
            first, last = max(0, demand.release), min(self.facts.periods - 1, demand.deadline)
            self._window[key] = sum(min(demand.max_cards, self.facts.cards(pool.pool_id, t)) * self.facts.period_hours
                                    for t in range(first, last + 1))
        return self._window[key]

    def screen(self, demand: Demand) -> Screening:
        enterprise = self.facts.enterprises[demand.enterprise_id]
        if not enterprise.eligible:
            return Screening("ineligible_enterprise", [])
        program_id = enterprise.program_id
        if not self.designated_pools(program_id):
            return Screening("no_designated_center", [])
        if not self.compatible_pools(program_id, demand.stack):
            return Screening("no_compatible_pool", [])
        near = self.near_pools(program_id, demand)
        if not near:
            return Screening("no_pool_within_latency", [])
        fitting = [p for p in near
                   if self.window_card_hours(p, demand) >= usage_card_hours(self.facts, demand, p) * (1 - FIT_REL_SLACK)]
        if not fitting:
            return Screening("window_too_short", [])
        return Screening(None, fitting)


def meets_thresholds_alone(facts: Facts, demand: Demand, pool: Pool) -> bool:
    """Served alone at the pool (B_e = its bill), would the demand clearly meet R8's thresholds?

    A zero bill meets them (thresholds apply only when B_e > 0). Otherwise both
    min(r_e * b, C_e) >= min_voucher_yuan and spend_ytd_yuan + b >= min_spend_yuan must
    hold by more than the tolerance (a zero threshold always holds), so that a plan
    is given the benefit of round-off.
    """
    bill = bill_yuan(facts, demand, pool)
    if bill is None or bill <= 0.0:
        return bill is not None
    enterprise = facts.enterprises[demand.enterprise_id]
    program = facts.programs[enterprise.program_id]
    subsidy = min(enterprise.rate * bill, enterprise.remaining_cap_yuan)
    spend = enterprise.spend_ytd_yuan + bill
    voucher_ok = program.min_voucher_yuan <= 0.0 or subsidy > program.min_voucher_yuan + slack(subsidy, program.min_voucher_yuan)
    spend_ok = program.min_spend_yuan <= 0.0 or spend > program.min_spend_yuan + slack(spend, program.min_spend_yuan)
    return voucher_ok and spend_ok


def check_reasons(facts: Facts, plan: PlanFiles, served: dict[str, Row], money: dict[str, EnterpriseMoney],
                  report: CheckReport) -> None:
    """Reasons: every unserved demand carries the right reason.

    A demand some pre-screen filter leaves without a pool must carry exactly that
    filter's reason; one that passes every filter must carry below_threshold or
    not_selected (optionally not_selected:budget|capacity|green|cap). below_threshold
    must be plausible: alone, at every screened pool, the demand misses the min
    voucher or the min spend (a warning when its enterprise is already billed in the plan).
    """
    screener = Screener(facts)
    for row in plan.rows("unserved.csv"):
        d, reason, line = row["demand_id"], row["reason"], row["_line"]
        demand = facts.demands.get(d)
        if demand is None or d in served:
            continue  # reported by check_coverage
        where = f"unserved.csv line {line}: demand {d}"
        if reason not in PRESCREEN_REASONS and reason not in SELECTION_REASONS:
            report.violate(f"reason: {where} has reason '{reason}', which the SPEC does not define")
            continue
        screening = screener.screen(demand)
        if screening.reason is not None:
            if reason != screening.reason:
                report.violate(f"reason: {where} has reason '{reason}', the pre-screen says '{screening.reason}'")
            continue
        if reason in PRESCREEN_REASONS:
            report.violate(f"reason: {where} has pre-screen reason '{reason}', but it passes every pre-screen filter "
                           f"(pools left: {', '.join(p.pool_id for p in screening.pools)})")
            continue
        if reason != BELOW_THRESHOLD:
            continue
        for pool in screening.pools:
            if meets_thresholds_alone(facts, demand, pool):
                report.violate(f"reason: {where} is below_threshold but the demand alone meets the thresholds at pool {pool.pool_id}")
                break
        else:
            if money[demand.enterprise_id].bill_yuan > 0:
                report.warn(f"{where} is below_threshold but its enterprise {demand.enterprise_id} is already billed "
                            f"in the plan, so adding it could not miss the thresholds")


# --------------------------------------------------------------------------- the whole check


def check_plan(instance_dir: Path, plan_dir: Path) -> CheckReport:
    """Re-check a plan folder against an instance folder, every rule of shared/SPEC.md.

    Raises :class:`allocator.problems.InvalidInstance` when the instance itself is
    invalid; every problem of the plan is a violation in the returned report.
    """
    facts = instance_facts(read_instance(Path(instance_dir)))
    report = CheckReport()
    plan = check_files(Path(plan_dir), report)
    served = check_coverage(facts, plan, report)
    check_enterprise_columns(facts, plan, report)
    pools = check_assignment_columns(facts, served, report)
    check_r1_eligibility(facts, served, pools, report)
    usage = check_r2_compatibility(facts, served, pools, report)
    check_r3_latency(facts, served, pools, report)
    check_schedule_keys(facts, plan, report)
    check_r4_schedule(facts, plan, served, usage, report)
    used = pool_usage(facts, plan)
    check_r5_capacity(facts, plan, used, report)
    energy = center_energy(facts, used)
    check_r6_energy(facts, plan, energy, report)
    bills = check_r7_bills(facts, served, pools, report)
    money = enterprise_money(facts, served, bills)
    check_r8_subsidies(facts, plan, served, bills, money, report)
    check_r9_budgets(facts, plan, money, report)
    check_r10_must_serve(facts, served, report)
    if plan.summary is not None:
        check_summary_fields(facts, plan.summary, report)
        check_summary_totals(facts, plan.summary, served, bills, money, energy, report)
    check_reasons(facts, plan, served, money, report)
    return report
