"""From a chosen assignment to the plan tables of shared/SPEC.md.

Every number in a plan is recomputed here from the assignment and the schedule
with the SPEC's formulas (bills R7, subsidies R8, energy R6), never copied from
solver variables, so a plan reads the same whatever produced it (the exact MIP,
a heuristic, or a repaired merge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance

ASSIGNMENT_COLUMNS = [
    "demand_id", "enterprise_id", "pool_id", "center_id", "region_id", "accelerator",
    "usage_card_hours", "bill_yuan", "subsidy_yuan", "enterprise_pays_yuan", "rtt_ms",
]
SCHEDULE_COLUMNS = ["demand_id", "pool_id", "period", "card_hours"]
UNSERVED_COLUMNS = ["demand_id", "enterprise_id", "reason"]
POOL_COLUMNS = ["pool_id", "period", "used_card_hours", "capacity_card_hours", "utilization"]
CENTER_COLUMNS = ["center_id", "period", "energy_kwh", "green_kwh", "grid_kwh"]
ENTERPRISE_COLUMNS = ["enterprise_id", "program_id", "bill_yuan", "subsidy_yuan", "cap_remaining_yuan"]
PROGRAM_COLUMNS = ["program_id", "budget_yuan", "subsidy_yuan", "remaining_yuan"]


@dataclass
class Plan:
    """A plan as the SPEC's tables (assignments, schedule, unserved, pools, centers, enterprises,
    programs), every number recomputed from the chosen pairs and schedule with the SPEC's formulas."""

    assignments: pd.DataFrame
    schedule: pd.DataFrame
    unserved: pd.DataFrame
    pools: pd.DataFrame
    centers: pd.DataFrame
    enterprises: pd.DataFrame
    programs: pd.DataFrame
    served_value: float
    total_bill_yuan: float
    total_subsidy_yuan: float
    carbon_kg: float
    cost: float
    summary_extra: dict = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "assignments": self.assignments,
            "schedule": self.schedule,
            "unserved": self.unserved,
            "pools": self.pools,
            "centers": self.centers,
            "enterprises": self.enterprises,
            "programs": self.programs,
        }


def empty_schedule() -> pd.DataFrame:
    """A schedule with no rows (the SPEC's schedule.csv columns)."""
    return pd.DataFrame(columns=SCHEDULE_COLUMNS)


def schedule_from_solution(pairs: pd.DataFrame, usage_rows: pd.DataFrame, chosen: np.ndarray, usage: np.ndarray) -> pd.DataFrame:
    """(demand_id, pool_id, period, card_hours) for the chosen pairs.

    One-period windows run wholly in their release period. Multi-period ones take
    the solver's per-period usage, cleaned of round-off (values below 1e-9 of the
    usage dropped, the rest scaled to sum exactly to u).
    """
    chosen_k = np.flatnonzero(chosen)
    rows = usage_rows[np.isin(usage_rows["k"].to_numpy(), chosen_k)]
    var_j = rows["var_j"].to_numpy()
    amount = np.where(var_j < 0, rows["usage_card_hours"].to_numpy(), usage[np.maximum(var_j, 0)] if len(usage) else 0.0)
    amount = np.clip(amount, 0.0, None)
    u = rows["usage_card_hours"].to_numpy()
    amount = np.where(amount < 1e-9 * u, 0.0, amount)
    total = pd.Series(amount).groupby(rows["k"].to_numpy()).transform("sum").to_numpy()
    amount = np.where(total > 0, amount * u / np.where(total > 0, total, 1.0), 0.0)
    k = rows["k"].to_numpy()
    out = pd.DataFrame(
        {
            "demand_id": pairs["demand_id"].to_numpy()[k],
            "pool_id": pairs["pool_id"].to_numpy()[k],
            "period": rows["t"].to_numpy().astype(int),
            "card_hours": amount,
        }
    )
    return out[out["card_hours"] > 0].reset_index(drop=True)


def subsidies(instance: Instance, bill_by_enterprise: pd.Series, claim_by_enterprise: pd.Series) -> pd.DataFrame:
    """Per enterprise: bill B_e, claim A_e = sum of r(d, p) * bill(d), subsidy S_e = min(A_e, C_e) (R8),
    remaining cap."""
    ent = instance.enterprises[["enterprise_id", "program_id", "cap_yuan", "subsidy_ytd_yuan"]].copy()
    ent["bill_yuan"] = ent["enterprise_id"].map(bill_by_enterprise).fillna(0.0)
    ent["claim_yuan"] = ent["enterprise_id"].map(claim_by_enterprise).fillna(0.0)
    remaining = remaining_cap_yuan(ent)
    ent["subsidy_yuan"] = np.minimum(ent["claim_yuan"], remaining)
    ent["cap_remaining_yuan"] = remaining - ent["subsidy_yuan"]
    return ent


def extract_plan(instance: Instance, screen: Screen, chosen_pairs: pd.DataFrame, schedule: pd.DataFrame) -> Plan:
    """Build every plan table from the chosen pairs (rows of ``screen.pairs``) and the schedule."""
    chosen = chosen_pairs.reset_index(drop=True)
    bill_e = chosen.groupby("enterprise_id")["bill_yuan"].sum()
    ent = subsidies(instance, bill_e, chosen.groupby("enterprise_id")["claim_yuan"].sum())
    subsidy_d = split_subsidy(chosen, ent)
    assignments = pd.DataFrame(
        {
            "demand_id": chosen["demand_id"],
            "enterprise_id": chosen["enterprise_id"],
            "pool_id": chosen["pool_id"],
            "center_id": chosen["center_id"],
            "region_id": chosen["region_id"],
            "accelerator": chosen["accelerator"],
            "usage_card_hours": chosen["usage_card_hours"],
            "bill_yuan": chosen["bill_yuan"],
            "subsidy_yuan": subsidy_d,
            "enterprise_pays_yuan": chosen["bill_yuan"] - subsidy_d,
            "rtt_ms": chosen["rtt_ms"],
        }
    )[ASSIGNMENT_COLUMNS]

    pools, centers, carbon_kg = _resources(instance, screen, schedule)
    programs = instance.programs[["program_id", "budget_yuan"]].copy()
    programs["subsidy_yuan"] = programs["program_id"].map(ent.groupby("program_id")["subsidy_yuan"].sum()).fillna(0.0)
    programs["remaining_yuan"] = programs["budget_yuan"] - programs["subsidy_yuan"]
    unserved = unserved_reasons(instance, screen, set(chosen["demand_id"]), ent)
    total_bill = float(assignments["bill_yuan"].sum())
    return Plan(
        assignments=assignments.reset_index(drop=True),
        schedule=schedule[SCHEDULE_COLUMNS].reset_index(drop=True),
        unserved=unserved,
        pools=pools,
        centers=centers,
        enterprises=ent[ENTERPRISE_COLUMNS].reset_index(drop=True),
        programs=programs[PROGRAM_COLUMNS].reset_index(drop=True),
        served_value=float(chosen["value"].sum()),
        total_bill_yuan=total_bill,
        total_subsidy_yuan=float(ent["subsidy_yuan"].sum()),
        carbon_kg=carbon_kg,
        cost=total_bill + instance.carbon_price_yuan_per_kg * carbon_kg,
    )


def split_subsidy(chosen: pd.DataFrame, enterprises: pd.DataFrame) -> np.ndarray:
    """Each served demand's part of S_e (R8): S_e * claim(d) / A_e, claim(d) = r(d, p) * bill(d).

    When every rate of the enterprise's served demands is 0, A_e = 0 and so S_e = 0: every part
    is 0, as the SPEC's split by bills gives too.
    """
    share = enterprises.set_index("enterprise_id")
    ratio = (share["subsidy_yuan"] / share["claim_yuan"].where(share["claim_yuan"] > 0)).fillna(0.0)
    return chosen["claim_yuan"].to_numpy(dtype=float) * chosen["enterprise_id"].map(ratio).to_numpy(dtype=float)


def _resources(instance: Instance, screen: Screen, schedule: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """pools.csv and centers.csv of the plan, and the grid emissions in kg."""
    n_pools, n_periods = screen.capacity_card_hours.shape
    used = np.zeros((n_pools, n_periods))
    if not schedule.empty:
        p = schedule["pool_id"].map(screen.pool_index).to_numpy()
        np.add.at(used, (p, schedule["period"].to_numpy()), schedule["card_hours"].to_numpy())
    capacity = screen.capacity_card_hours
    utilization = np.divide(used, capacity, out=np.zeros_like(used), where=capacity > 0)
    periods = np.tile(np.arange(n_periods), n_pools)
    pools = pd.DataFrame(
        {
            "pool_id": np.repeat(instance.pools["pool_id"].to_numpy(), n_periods),
            "period": periods,
            "used_card_hours": used.ravel(),
            "capacity_card_hours": capacity.ravel(),
            "utilization": utilization.ravel(),
        }
    )
    pool_center = instance.pools["center_id"].map(screen.center_index).to_numpy()
    kw = instance.pools["kw_per_card"].to_numpy()
    n_centers = len(instance.centers)
    energy = np.zeros((n_centers, n_periods))
    np.add.at(energy, pool_center, used * kw[:, None])
    energy *= instance.centers["pue"].to_numpy()[:, None]
    green = np.minimum(energy, screen.green_kwh)
    grid = energy - green
    centers = pd.DataFrame(
        {
            "center_id": np.repeat(instance.centers["center_id"].to_numpy(), n_periods),
            "period": np.tile(np.arange(n_periods), n_centers),
            "energy_kwh": energy.ravel(),
            "green_kwh": green.ravel(),
            "grid_kwh": grid.ravel(),
        }
    )
    intensity = instance.centers["region_id"].map(instance.regions.set_index("region_id")["grid_carbon_kg_per_kwh"]).fillna(0.0)
    carbon_kg = float((grid.sum(axis=1) * intensity.to_numpy()).sum())
    return pools, centers, carbon_kg


def threshold_blocks_alone(pairs: pd.DataFrame, enterprises: pd.DataFrame, programs: pd.DataFrame) -> pd.Series:
    """Per demand: True if serving it alone at any of its pools misses a threshold of R8.

    Alone means the enterprise's plan bill would be that demand's bill b > 0 at the pool, and its
    claim a = r(d, p) * b: min(a, C_e) < min_voucher_yuan, or spend_ytd_yuan + b < min_spend_yuan.
    A pool where the bill is 0 never triggers the thresholds.
    """
    ent = enterprises.set_index("enterprise_id")
    prog = programs.set_index("program_id")
    e = pairs["enterprise_id"]
    program = e.map(ent["program_id"])
    claim = pairs["claim_yuan"].to_numpy()
    remaining = e.map(remaining_cap_yuan(ent)).to_numpy()
    spend = e.map(ent["spend_ytd_yuan"]).to_numpy()
    mv = program.map(prog["min_voucher_yuan"]).to_numpy()
    ms = program.map(prog["min_spend_yuan"]).to_numpy()
    b = pairs["bill_yuan"].to_numpy()
    tol = 1e-9 * np.maximum(1.0, np.abs(b))
    blocked = (b > 0) & ((np.minimum(claim, remaining) < mv - tol) | (spend + b < ms - tol))
    return pd.Series(blocked).groupby(pairs["demand_id"].to_numpy()).all()


def bundle_blocked(pairs: pd.DataFrame, enterprises: pd.DataFrame, programs: pd.DataFrame) -> pd.Series:
    """Per enterprise with screened pairs: True if even all its screened demands together miss a
    threshold of R8, each demand counted at its largest claim and, separately, its largest bill
    (the likeliest to reach the thresholds): min(A, C_e) < min_voucher_yuan or
    spend_ytd_yuan + B < min_spend_yuan, A and B those totals. No plan can then bill it.
    """
    if pairs.empty:
        return pd.Series(dtype=bool)
    best = pairs.groupby("demand_id").agg(enterprise_id=("enterprise_id", "first"), bill=("bill_yuan", "max"),
                                          claim=("claim_yuan", "max"))
    bundle = best.groupby("enterprise_id")[["bill", "claim"]].sum()
    ent = enterprises.set_index("enterprise_id").loc[bundle.index]
    prog = programs.set_index("program_id")
    remaining = remaining_cap_yuan(ent)
    mv = ent["program_id"].map(prog["min_voucher_yuan"])
    ms = ent["program_id"].map(prog["min_spend_yuan"])
    bill, claim = bundle["bill"], bundle["claim"]
    tol = 1e-9 * np.maximum(1.0, bill.abs())
    return (bill > 0) & ((np.minimum(claim, remaining) < mv - tol) | (ent["spend_ytd_yuan"] + bill < ms - tol))


def unserved_reasons(instance: Instance, screen: Screen, served: set, ent_plan: pd.DataFrame) -> pd.DataFrame:
    """Reason for every demand the plan leaves out.

    Pre-screen reasons come from :mod:`allocator.instance.screening`. A demand that passed
    screening is ``below_threshold`` when its enterprise has nothing billed in the plan,
    serving the demand alone would miss the min voucher or min spend at every pool, and so
    would serving every screened request of its enterprise together (:func:`bundle_blocked`):
    no plan could ever meet the thresholds with it. Otherwise ``not_selected`` (refined by
    :mod:`allocator.plan.reasons`; a demand that could meet them only together with others of
    its enterprise is left out by the selection -- an empty fund, say -- not by its size).
    """
    d = instance.demands[["demand_id", "enterprise_id"]]
    out = d[~d["demand_id"].isin(served)].copy()
    alone = threshold_blocks_alone(screen.pairs, instance.enterprises, instance.programs)
    enterprise_of = screen.pairs.groupby("demand_id")["enterprise_id"].first()
    together = enterprise_of.map(bundle_blocked(screen.pairs, instance.enterprises, instance.programs))
    blocked = alone & together.reindex(alone.index).fillna(True).astype(bool)
    billed = set(ent_plan.loc[ent_plan["bill_yuan"] > 0, "enterprise_id"])

    def reason(row) -> str:
        pre = screen.reasons.get(row.demand_id)
        if pre is not None:
            return pre
        if row.enterprise_id not in billed and bool(blocked.get(row.demand_id, False)):
            return "below_threshold"
        return "not_selected"

    out["reason"] = [reason(r) for r in out.itertuples(index=False)]
    return out[UNSERVED_COLUMNS].reset_index(drop=True)
