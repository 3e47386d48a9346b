"""Shared resources: R5 pool capacity (and pools.csv), R6 energy and green power (and centers.csv).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from allocator.check.facts import Facts
from allocator.check.plan_files import PlanFiles
from allocator.check.report import CheckReport, Row, at_most, close, fmt


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
