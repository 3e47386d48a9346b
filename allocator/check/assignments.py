"""Where each served demand runs: coverage, R1 eligibility, R2 compatibility, R3 latency, R4 schedule, R10.
"""

from __future__ import annotations

from collections import defaultdict

from allocator.check.facts import Demand, Facts, Pool
from allocator.check.plan_files import PlanFiles
from allocator.check.report import CheckReport, Row, at_most, close, fmt, slack


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


def check_r10_must_serve(facts: Facts, served: dict[str, Row], report: CheckReport) -> None:
    """R10: every must_serve demand is served."""
    for d, demand in facts.demands.items():
        if demand.must_serve and d not in served:
            report.violate(f"R10 must_serve: demand {d} is must_serve but is not in assignments.csv")
