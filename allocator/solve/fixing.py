"""From column generation to a plan: fixing plans by LP weight, placing the rest, and the integer masters.

Used by :func:`allocator.solve.decompose.solve_by_decomposition` once column generation has priced
the shared rows: :func:`fixing_round` accepts the plan columns of largest LP weight that still fit
(:class:`models.master.Ledger`), :func:`place_rest` places what is left by whole enterprises, and
:func:`integer_master` chooses one plan per enterprise among the columns near the LP optimum
(:func:`allocator.solve.decompose.assignment_on_blocks` does the same on time blocks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.solve.heuristics import enterprise_sequence, place_enterprises, place_in_order
from allocator.solve.progress import Progress, StopAtGap
from allocator.solve.state import HeuristicPlan
from models.data import ModelData
from models.lagrangian import Multipliers, Relaxation
from models.master import Ledger, Master

MISFITS = 3  # plans of one enterprise that did not fit before it is left to the placement pass


def take_of_schedule(r: Relaxation, data: ModelData, chosen: np.ndarray, schedule: pd.DataFrame) -> np.ndarray:
    """Card-hours per usage row (of the relaxation's time blocks) of a plan given as chosen pairs and a schedule."""
    take = np.zeros(len(r.row_pair))
    if schedule.empty:
        return take
    pairs = data.pairs
    pair_of = pd.Series(np.arange(len(pairs)), index=pd.MultiIndex.from_frame(pairs[["demand_id", "pool_id"]]))
    k = pair_of.reindex(pd.MultiIndex.from_frame(schedule[["demand_id", "pool_id"]])).to_numpy()
    t = r.block_of_period[schedule["period"].to_numpy(dtype=int)]  # the block of each period (itself when exact)
    ok = ~np.isnan(k)
    key = r.row_pair * r.periods + r.row_period
    order = np.argsort(key, kind="stable")
    wanted = k[ok].astype(int) * r.periods + t[ok]
    at = np.searchsorted(key[order], wanted)
    found = (at < len(order)) & (key[order][np.minimum(at, len(order) - 1)] == wanted)
    np.add.at(take, order[at[found]], schedule["card_hours"].to_numpy(dtype=float)[ok][found])
    return take


def plan_from_columns(r: Relaxation, master: Master, data: ModelData, numbers) -> HeuristicPlan:
    """The accepted plan columns as chosen pairs and a schedule table."""
    chosen = np.zeros(r.n_pairs, dtype=bool)
    rows, amounts = [], []
    for n in numbers:
        pairs, (usage_rows, amount) = master.plan(n)
        chosen[pairs] = True
        rows.append(usage_rows), amounts.append(amount)
    if rows:
        usage_rows, amount = np.concatenate(rows), np.concatenate(amounts)
    else:
        usage_rows, amount = np.zeros(0, dtype=int), np.zeros(0)
    k = r.row_pair[usage_rows]
    schedule = pd.DataFrame({"demand_id": data.pairs["demand_id"].to_numpy()[k], "pool_id": data.pairs["pool_id"].to_numpy()[k],
                             "period": r.row_period[usage_rows].astype(int), "card_hours": amount})
    return HeuristicPlan(chosen, schedule[schedule["card_hours"] > 0].reset_index(drop=True), [])


def plan_support(r: Relaxation, master: Master, numbers: np.ndarray | None = None) -> np.ndarray:
    """Bool per pair: used by some plan column of the master (of the columns ``numbers``, default all)."""
    support = np.zeros(r.n_pairs, dtype=bool)
    for n in range(len(master.plans)) if numbers is None else numbers:
        batch, j = master.plans[int(n)]
        support[batch.pairs[j]] = True
    return support


def fixing_round(master: Master, ledger: Ledger, theta: np.ndarray, open_plans: np.ndarray, fixed: np.ndarray,
                  misfits: np.ndarray, accepted: list[int]) -> None:
    """Accept open plans by decreasing LP weight while they fit: every plan at 0.5 or more, and at
    least a third of the open enterprises; plans serving a must-serve demand first, whatever their
    weight (R10 is hard: they take capacity and budget before plans that may be left out). A plan that
    does not fit is forbidden; after MISFITS of them its enterprise is left to the placement pass. Then
    fix the master's bounds."""
    quota = max(1, len(np.unique(master.plan_enterprise[open_plans])) // 3)
    taken = 0
    seen: set[int] = set()
    forbid: list[int] = []
    must = serves_must(master, open_plans)
    for n, needed in zip(*_by_weight(open_plans, theta, must)):
        e = int(master.plan_enterprise[n])
        if e in seen:
            continue
        if theta[n] < 0.5 and taken >= quota and not needed:
            break
        seen.add(e)
        if ledger.fits(n):
            ledger.accept(n)
            accepted.append(int(n))
            fixed[e] = True
            taken += 1
        else:
            forbid.append(int(n))
            misfits[e] += 1
            fixed[e] = misfits[e] >= MISFITS
    master.set_plan_bounds(np.array(forbid, dtype=int), np.zeros(len(forbid)), np.zeros(len(forbid)))
    fix_plans(master, fixed, accepted)


def serves_must(master: Master, numbers: np.ndarray) -> np.ndarray:
    """Bool per plan column of ``numbers``: it serves a must-serve demand."""
    r = master.r
    if not r.must.any():
        return np.zeros(len(numbers), dtype=bool)
    out = np.zeros(len(numbers), dtype=bool)
    for i, n in enumerate(numbers):
        batch, j = master.plans[int(n)]
        out[i] = bool(r.must[r.demand[batch.pairs[j]]].any())
    return out


def _by_weight(plans: np.ndarray, theta: np.ndarray, must: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plans, those serving a must-serve demand first, each group by decreasing LP weight."""
    order = np.lexsort((-theta[plans], ~must))
    return plans[order], must[order]


def place_rest(r: Relaxation, master: Master, data: ModelData, instance: Instance, scr: Screen,
                accepted: list[int]) -> HeuristicPlan:
    """The accepted plans, then every other enterprise placed whole (by LP weight, at the master's
    current prices), then single demands wherever they still fit."""
    fixed_plan = plan_from_columns(r, master, data, accepted)
    theta = master.theta()
    plan_values = np.array([master.plan_value(n) for n in range(len(master.plans))])
    weight = np.bincount(master.plan_enterprise, weights=theta * plan_values, minlength=r.n_enterprises)
    in_plan = np.zeros(r.n_enterprises, dtype=bool)
    in_plan[master.plan_enterprise[accepted]] = True
    groups = enterprise_groups(r, master.multipliers(), instance, scr, weight, in_plan)
    placed = place_enterprises(instance, scr, groups, keep=fixed_plan)
    return place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=placed)


def fix_plans(master: Master, fixed: np.ndarray, accepted: list[int]) -> None:
    """Accepted plans at 1, every other plan of a fixed enterprise at 0."""
    plans = np.flatnonzero(fixed[master.plan_enterprise])
    lower = np.zeros(len(plans))
    lower[np.isin(plans, accepted)] = 1.0
    master.set_plan_bounds(plans, lower, lower.copy())


def enterprise_groups(r: Relaxation, y: Multipliers, instance: Instance, scr: Screen, weight: np.ndarray,
                       fixed: np.ndarray) -> list[np.ndarray]:
    """Pairs of every open enterprise, enterprises by LP weight (then must-serve first, then the
    cap-aware order), demands by their best profit at prices y, pairs by profit."""
    _, cost = r.cheapest_schedule(r.row_price(y))
    profit = r.value - cost - y.budget[r.program][r.enterprise] * r.claim
    best = np.maximum.reduceat(profit, r.demand_start)[r.demand] if r.n_pairs else profit
    must = r.must[r.demand]
    order = np.lexsort((-profit, r.demand, -best, ~must, r.enterprise))
    bounds = np.searchsorted(r.enterprise[order], np.arange(r.n_enterprises + 1))
    cap_aware = pd.unique(scr.pairs["enterprise_id"].to_numpy()[enterprise_sequence(instance, scr)])
    rank = pd.Series(np.arange(len(cap_aware)), index=cap_aware).reindex(r.enterprise_ids).fillna(len(cap_aware)).to_numpy()
    has_must = np.bincount(r.enterprise_of_demand, weights=r.must, minlength=r.n_enterprises) > 0
    open_e = np.flatnonzero(~fixed)
    open_e = open_e[np.lexsort((rank[open_e], -weight[open_e], ~has_must[open_e]))]
    return [order[bounds[e]:bounds[e + 1]] for e in open_e]


def integer_master(r: Relaxation, master: Master, data: ModelData, plan: HeuristicPlan, seconds: float, bound: float,
                    target_gap: float, near: np.ndarray | None = None, live: Progress | None = None,
                    stall_seconds: float = np.inf) -> HeuristicPlan | None:
    """The master's plans as a MIP, started from ``plan`` (added as columns), stopped at the target gap.

    ``near``: bool per plan column at the end of column generation, those of reduced cost near 0; the
    MIP chooses among them, the plans added since and the plan's own (on a national day, 1,337 of 9,948
    columns: 11,236 in 10 s, against 8,665 over them all). ``stall_seconds``: it stops when its plan has not
    improved for this long."""
    import highspy


    owners = np.unique(r.enterprise[plan.chosen])
    mine = master.add(master.batch(plan.chosen, take_of_schedule(r, data, plan.chosen, plan.schedule), owners))
    n = len(master.plans)
    allowed = np.ones(n, dtype=bool)
    if near is not None:
        allowed[:len(near)] = near
    allowed[mine] = True
    master.set_plan_bounds(np.arange(n), np.zeros(n), np.where(allowed, 1.0, 0.0))
    master.set_integer()
    master.require_must_serve()
    master.set_start(mine)
    h = master.h
    h.setOptionValue("mip_rel_gap", max(1e-6, target_gap))
    h.setCallback(StopAtGap(bound, target_gap, live, stall_seconds), None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    ok, _ = master.solve(seconds)
    h.stopCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    if not ok:
        return None
    theta = master.theta()
    return plan_from_columns(r, master, data, np.flatnonzero(theta > 0.5))


