"""Price-and-fix: a certified bound and a near-optimal plan by column generation over enterprise plans.

The big-M LP of the allocation MIP is weak exactly where the fund binds: it pays for a
capped enterprise at the chord of min(rate x bill, cap), and spreads demands over pools
(measured at 10,000 demands x 100 pools: LP 201,319 against plans near 178,000). The
Lagrangian relaxation of the shared rows (:mod:`models.lagrangian`) convexifies each
enterprise instead, and its bound there is 179,815. This module computes it and turns
it into a plan:

1. **Column generation.** The restricted master (:mod:`models.master`) starts from the
   best baseline plan; each round prices every enterprise at a blend of the master's
   duals and the best prices so far (Wentges smoothing), records L(y) (every L(y) is a
   certified bound: the smallest is kept) and adds the plans that improve the master,
   until the master's LP value meets the bound (or the time share is used). A warm start
   (:class:`WarmStart`, the partitioned method's parts) gives the first prices and plan
   columns: the parts' LP solutions add up to a solution of the whole master (they split
   every shared row and keep enterprises whole), so its LP and duals start near the optimum.
2. **Fixing.** Plans are accepted in order of their LP weight as long as they fit, with
   what is already accepted, into capacity, energy, green share and budget (a
   :class:`~models.master.Ledger`); an enterprise whose plan no longer fits is left to the
   placement pass; the master is re-solved and re-priced for the enterprises still open,
   until none is left fractional.
3. **Placement.** The enterprises the fixing left open are placed whole, best LP weight
   first, by :func:`allocator.solve.heuristics.place_enterprises` (thresholds on the enterprise's
   total), then single demands fill what is left (:func:`allocator.solve.heuristics.place_in_order`).
4. **Integer master.** With time left and the plan still short of the target gap, the
   master's columns (plus the plan's own) are solved as a MIP from the plan, time-boxed.

The plan keeps every rule by construction (each step checks the rules on what it adds),
and it is never worse than the baseline it started from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.solve.heuristics import HeuristicPlan, enterprise_sequence, place_enterprises, place_in_order
from allocator.solve.progress import Progress, StopAtGap
from models.data import ModelData
from models.lagrangian import Multipliers, Relaxation
from models.master import Ledger, Master

SMOOTHING = 0.5  # weight of the best prices so far in the pricing point
CONVERGED = 1e-4  # relative distance of master value and bound at which column generation stops
COLUMN_GENERATION_SHARE = 0.5  # of the time given, at most, for column generation
FIXING_SHARE = 0.6  # column generation + fixing stop at this share of the time given (the integer master has the rest)
REPRICE_ROUNDS = 2  # pricing rounds after each fixing round
MISFITS = 3  # plans of one enterprise that did not fit before it is left to the placement pass
MAX_FIXING_ROUNDS = 1000
BLOCK_MASTER_SHARE = 1.0  # of the time left after column generation, for the integer master on time blocks
BLOCK_MASTER_GAP = 0.01  # its target: making the assignment hour by hour loses more than this (1-3 %)


@dataclass
class Decomposition:
    bound: float  # the smallest L(y) seen: certified
    chosen: np.ndarray  # bool per pair of screen.pairs
    schedule: pd.DataFrame | None  # None for an assignment on time blocks (exact False)
    unplaced_must_serve: list[str]
    notes: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    support: np.ndarray | None = None  # bool per pair: in some plan column (for a cost stage)
    warm: "WarmStart | None" = None  # where column generation ended, to start another from
    size: dict = field(default_factory=dict)
    exact: bool = True  # chosen and schedule form a plan; False: an assignment to schedule hour by hour


@dataclass
class WarmStart:
    """Where column generation ended, to start another one from: its best prices and the plan
    columns of positive LP weight, named by demand and pool ids so that they carry over to
    another instance with the same enterprises (a part's columns to the whole instance)."""

    prices: Multipliers
    columns: pd.DataFrame  # column, demand_id, pool_id: one row per pair of a plan column

    @classmethod
    def combine(cls, many: list["WarmStart"]) -> "WarmStart":
        """The parts' warm starts as one: the mean of their prices, all their columns."""
        frames, offset = [], 0
        for w in many:
            frames.append(w.columns.assign(column=w.columns["column"].to_numpy() + offset))
            offset += int(w.columns["column"].max()) + 1 if len(w.columns) else 0
        return cls(Multipliers.mean([w.prices for w in many], np.ones(len(many))), pd.concat(frames, ignore_index=True))


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


def lagrangian_bound(data: ModelData, seconds: float, start: HeuristicPlan | None = None,
                     blocks: int | None = None) -> tuple[float, int]:
    """Column generation alone: the certified bound min_y L(y) reached within ``seconds``, and the rounds."""
    bound, _, rounds = lagrangian_prices(data, seconds, start, blocks)
    return bound, rounds


def lagrangian_prices(data: ModelData, seconds: float, start: HeuristicPlan | None = None,
                      blocks: int | None = None) -> tuple[float, Multipliers | None, int]:
    """:func:`lagrangian_bound` and the prices y at which it was reached (None without pairs)."""
    r = Relaxation(data, blocks)
    if r.n_pairs == 0:
        return 0.0, None, 0
    master = Master(r)
    deadline = time.perf_counter() + seconds
    if start is not None and start.chosen.any():
        master.add(master.batch(start.chosen, take_of_schedule(r, data, start.chosen, start.schedule),
                                np.unique(r.enterprise[start.chosen])))
    bound, prices, rounds, _ = _column_generation(r, master, Multipliers.zeros(r), deadline)
    return bound, prices, rounds


def _column_generation(r: Relaxation, master: Master, y0: Multipliers, deadline: float,
                       live: Progress | None = None) -> tuple[float, Multipliers, int, float]:
    """Price, add improving plans, re-solve, until the master's LP meets the bound or time is up.
    Returns the best bound, its prices, the rounds and the master's LP value."""
    priced = r.price(y0)
    best_bound, best_y = priced.bound, y0
    master.add(master.batch(priced.selected, priced.take_card_hours, np.arange(r.n_enterprises)))
    _, z = master.solve()
    y = master.multipliers()
    rounds = 0
    while time.perf_counter() < deadline:
        rounds += 1
        added = 0
        for point in ((best_y.blend(y, SMOOTHING), y) if rounds > 1 else (y,)):
            priced = r.price(point)
            if priced.bound < best_bound:
                best_bound, best_y = priced.bound, point
            batch = master.batch(priced.selected, priced.take_card_hours, np.arange(r.n_enterprises))
            better = np.flatnonzero(master.reduced_costs(batch) > 1e-9 * (1.0 + np.abs(batch.value)))
            added += len(master.add(batch, better))
            if added:
                break  # a smoothed point that improves the master needs no second pricing
        _, z = master.solve()
        y = master.multipliers()
        if live is not None:
            live.update("price", bound=best_bound)
        if not added or best_bound - z <= CONVERGED * abs(best_bound):
            break
    return best_bound, best_y, rounds, z


def solve_by_decomposition(instance: Instance, scr: Screen, data: ModelData, start: HeuristicPlan, seconds: float,
                           target_gap: float, progress: "bool | Progress" = False, blocks: int | None = None,
                           warm: WarmStart | None = None) -> Decomposition:
    """Bound and plan by price-and-fix within ``seconds`` (see the module docstring).

    With ``blocks`` fewer than the periods, the relaxation sums the periods into time blocks;
    the result is then the bound and an *assignment* (``exact`` False: pairs to serve, no
    schedule) from the integer master on blocks, for an hourly schedule to realize. ``warm``: prices
    to price at first (of the same relaxation) instead of zero, and plan columns to start the
    master with (the partitioned method's parts')."""
    t_start = time.perf_counter()
    deadline = t_start + seconds
    live = progress if isinstance(progress, Progress) else Progress(bool(progress))
    own_live = not isinstance(progress, Progress)  # a line of its own, closed at the end
    live.start()
    live.update("price")
    phases: dict[str, float] = {}
    notes: list[str] = []
    r = Relaxation(data, blocks)
    master = Master(r)
    values = r.value
    start_value = float(values[start.chosen].sum())

    # 1. column generation
    t0 = time.perf_counter()
    baseline_plans = np.zeros(0, dtype=int)
    if start.chosen.any():
        owners = np.unique(r.enterprise[start.chosen])
        baseline_plans = master.add(master.batch(start.chosen, take_of_schedule(r, data, start.chosen, start.schedule), owners))
    first = warm.prices if warm is not None and warm.prices.fits(r) else Multipliers.zeros(r)
    if warm is not None:
        seeded = seed_columns(r, master, scr, warm.columns, first)
        notes.append(f"{seeded:,} plan columns carried over")
    best_bound, best_y, rounds, lp_value = _column_generation(r, master, first, t_start + COLUMN_GENERATION_SHARE * seconds, live)
    phases["column_generation"] = time.perf_counter() - t0
    notes.append(f"column generation: {rounds} rounds, {len(master.plans):,} plans, bound {best_bound:,.6g}, "
                 f"master LP {lp_value:,.6g}")
    ended = WarmStart(best_y, columns_frame(master, scr, np.flatnonzero(master.theta() > 1e-6)))
    near = master.near_optimal()  # the plan columns the integer master chooses among (with any added later)

    if not r.exact:
        return _assignment_on_blocks(r, master, start, baseline_plans, deadline, best_bound, ended, target_gap, notes,
                                     phases, live, own_live)

    # 2-3. fixing, with a placement of what is left after rounds 1, 2, 4, 8, ... and at the end
    t0 = time.perf_counter()
    ledger = Ledger(master)
    fixed = np.zeros(r.n_enterprises, dtype=bool)
    misfits = np.zeros(r.n_enterprises, dtype=int)
    accepted: list[int] = []
    fix_deadline = t_start + FIXING_SHARE * seconds
    fixing_rounds, placing_seconds, last_placing = 0, 0.0, 0.0
    best_placed: HeuristicPlan | None = None
    best_placed_value, best_round = -np.inf, 0
    placed_at: set[int] = set()
    while True:
        theta = master.theta()
        open_plans = np.flatnonzero((theta > 1e-6) & ~fixed[master.plan_enterprise])
        finished = not len(open_plans) or time.perf_counter() >= fix_deadline
        room = best_placed is None or deadline - time.perf_counter() > last_placing  # time for one more placement
        if (fixing_rounds and room and (finished or fixing_rounds & (fixing_rounds - 1) == 0)
                and fixing_rounds not in placed_at):
            tp = time.perf_counter()
            placed_at.add(fixing_rounds)
            plan = _place_rest(r, master, data, instance, scr, accepted)
            last_placing = time.perf_counter() - tp
            placing_seconds += last_placing
            value = float(values[plan.chosen].sum())
            if (not plan.unplaced_must_serve, value) > (not (best_placed.unplaced_must_serve if best_placed else [1]), best_placed_value):
                best_placed, best_placed_value, best_round = plan, value, fixing_rounds
            live.update("fix", value=best_placed_value, bound=best_bound)
            if not best_placed.unplaced_must_serve and best_bound - best_placed_value <= target_gap * abs(best_bound):
                break  # within the target gap: done
        if finished or fixing_rounds >= MAX_FIXING_ROUNDS:
            break
        fixing_rounds += 1
        _fixing_round(master, ledger, theta, open_plans, fixed, misfits, accepted)
        ok, z = master.solve()
        for _ in range(REPRICE_ROUNDS if ok else 0):
            priced = r.price(master.multipliers())
            batch = master.batch(priced.selected, priced.take_card_hours, np.flatnonzero(~fixed))
            better = np.flatnonzero(master.reduced_costs(batch) > 1e-9 * (1.0 + np.abs(batch.value)))
            if not len(master.add(batch, better)):
                break
            ok, z = master.solve()
        if not ok:
            break
    if best_placed is None:
        best_placed = _place_rest(r, master, data, instance, scr, accepted)
    phases["fixing"] = time.perf_counter() - t0 - placing_seconds
    phases["placement"] = placing_seconds
    notes.append(f"fixing: {fixing_rounds} rounds, {len(accepted)} plans accepted "
                 f"(value {sum(master.plan_value(n) for n in accepted):,.6g}); best placement after round {best_round}")
    candidates = [("price-and-fix", best_placed), ("baseline", start)]

    # 4. integer master from the plan, if time is left and the plan is short of the target
    t0 = time.perf_counter()
    best_name, best = max(candidates, key=lambda c: (not c[1].unplaced_must_serve, float(values[c[1].chosen].sum())))
    best_value = float(values[best.chosen].sum())
    left = deadline - time.perf_counter()
    if left > 1.0 and best_bound - best_value > target_gap * abs(best_bound) and not best.unplaced_must_serve:
        live.update("master")
        mip = _integer_master(r, master, data, best, left, best_bound, target_gap, near, live)
        if mip is not None and float(values[mip.chosen].sum()) > best_value + 1e-9 * max(1.0, best_value):
            mip = place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=mip)
            candidates.append(("integer master", mip))
            best_name, best = "integer master", mip
            best_value = float(values[best.chosen].sum())
    phases["integer_master"] = time.perf_counter() - t0
    live.update(value=best_value, bound=best_bound)
    if own_live:
        live.close()
    for name, plan in candidates:
        notes.append(f"{name}: value {float(values[plan.chosen].sum()):,.6g}")
    notes.append(f"plan from {best_name} (baseline {start_value:,.6g}); bound from the Lagrangian relaxation")
    support = _support(r, master)
    size = {"pairs": r.n_pairs, "usage_rows": int(len(r.row_pair)), "enterprises": r.n_enterprises,
            "master_rows": master.n_rows, "master_plans": len(master.plans), "pricing_rounds": rounds,
            "fixing_rounds": fixing_rounds, "plans_fixed": len(accepted)}
    return Decomposition(best_bound, best.chosen, best.schedule, best.unplaced_must_serve, notes, phases, support | best.chosen,
                         ended, size)


def columns_frame(master: Master, scr: Screen, numbers: np.ndarray) -> pd.DataFrame:
    """The master's plan columns ``numbers`` by ids: one row (column, demand_id, pool_id) per pair."""
    pairs = [master.plan(int(n))[0] for n in numbers]
    index = np.concatenate(pairs).astype(int) if pairs else np.zeros(0, dtype=int)
    return pd.DataFrame({"column": np.repeat(np.arange(len(pairs)), [len(p) for p in pairs]),
                         "demand_id": scr.pairs["demand_id"].to_numpy()[index],
                         "pool_id": scr.pairs["pool_id"].to_numpy()[index]})


def seed_columns(r: Relaxation, master: Master, scr: Screen, columns: pd.DataFrame, prices: Multipliers) -> int:
    """Add plan columns given by ids (:func:`columns_frame`) whose pairs all exist here; each pair
    takes its cheapest schedule at ``prices`` (any schedule keeps the column a valid plan).
    Returns how many were added."""
    if columns.empty:
        return 0
    key = pd.MultiIndex.from_frame(scr.pairs[["demand_id", "pool_id"]])
    index = key.get_indexer(pd.MultiIndex.from_frame(columns[["demand_id", "pool_id"]]))
    column = columns["column"].to_numpy()
    whole = ~np.isin(column, column[index < 0])  # a column with a pair screened out here is dropped
    column, index = column[whole], index[whole]
    if not len(column):
        return 0
    numbers, first = np.unique(column, return_index=True)
    owner = r.enterprise[index[first]]
    # batches hold at most one column per enterprise: the k-th batch takes every enterprise's k-th column
    order = np.lexsort((numbers, owner))
    starts = np.r_[0, np.flatnonzero(np.diff(owner[order])) + 1]
    rank = np.empty(len(numbers), dtype=int)
    rank[order] = np.arange(len(numbers)) - np.repeat(starts, np.diff(np.r_[starts, len(numbers)]))
    row_rank = rank[np.searchsorted(numbers, column)]
    take, _ = r.cheapest_schedule(r.row_price(prices))
    added = 0
    for k in range(int(rank.max()) + 1):
        selected = np.zeros(r.n_pairs, dtype=bool)
        selected[index[row_rank == k]] = True
        batch = master.batch(selected, np.where(selected[r.row_pair], take, 0.0), np.unique(owner[rank == k]))
        added += len(master.add(batch))
    return added


def _support(r: Relaxation, master: Master) -> np.ndarray:
    """Bool per pair: used by some plan column of the master."""
    support = np.zeros(r.n_pairs, dtype=bool)
    for batch, j in master.plans:
        support[batch.pairs[j]] = True
    return support


def _fixing_round(master: Master, ledger: Ledger, theta: np.ndarray, open_plans: np.ndarray, fixed: np.ndarray,
                  misfits: np.ndarray, accepted: list[int]) -> None:
    """Accept open plans by decreasing LP weight while they fit: every plan at 0.5 or more, and at
    least a third of the open enterprises. A plan that does not fit is forbidden; after MISFITS of
    them its enterprise is left to the placement pass. Then fix the master's bounds."""
    quota = max(1, len(np.unique(master.plan_enterprise[open_plans])) // 3)
    taken = 0
    seen: set[int] = set()
    forbid: list[int] = []
    for n in open_plans[np.argsort(-theta[open_plans], kind="stable")]:
        e = int(master.plan_enterprise[n])
        if e in seen:
            continue
        if theta[n] < 0.5 and taken >= quota:
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
    _fix(master, fixed, accepted)


def _place_rest(r: Relaxation, master: Master, data: ModelData, instance: Instance, scr: Screen,
                accepted: list[int]) -> HeuristicPlan:
    """The accepted plans, then every other enterprise placed whole (by LP weight, at the master's
    current prices), then single demands wherever they still fit."""
    fixed_plan = plan_from_columns(r, master, data, accepted)
    theta = master.theta()
    plan_values = np.array([master.plan_value(n) for n in range(len(master.plans))])
    weight = np.bincount(master.plan_enterprise, weights=theta * plan_values, minlength=r.n_enterprises)
    in_plan = np.zeros(r.n_enterprises, dtype=bool)
    in_plan[master.plan_enterprise[accepted]] = True
    groups = _enterprise_groups(r, master.multipliers(), instance, scr, weight, in_plan)
    placed = place_enterprises(instance, scr, groups, keep=fixed_plan)
    return place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=placed)


def _fix(master: Master, fixed: np.ndarray, accepted: list[int]) -> None:
    """Accepted plans at 1, every other plan of a fixed enterprise at 0."""
    plans = np.flatnonzero(fixed[master.plan_enterprise])
    lower = np.zeros(len(plans))
    lower[np.isin(plans, accepted)] = 1.0
    master.set_plan_bounds(plans, lower, lower.copy())


def _enterprise_groups(r: Relaxation, y: Multipliers, instance: Instance, scr: Screen, weight: np.ndarray,
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


def _integer_master(r: Relaxation, master: Master, data: ModelData, plan: HeuristicPlan, seconds: float, bound: float,
                    target_gap: float, near: np.ndarray | None = None, live: Progress | None = None) -> HeuristicPlan | None:
    """The master's plans as a MIP, started from ``plan`` (added as columns), stopped at the target gap.

    ``near``: bool per plan column at the end of column generation, those of reduced cost near 0; the
    MIP chooses among them, the plans added since and the plan's own (on a national day, 1,337 of 9,948
    columns: 11,236 in 10 s, against 8,665 over them all)."""
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
    h.setCallback(StopAtGap(bound, target_gap, live), None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    ok, _ = master.solve(seconds)
    h.stopCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    if not ok:
        return None
    theta = master.theta()
    return plan_from_columns(r, master, data, np.flatnonzero(theta > 0.5))


def _assignment_on_blocks(r: Relaxation, master: Master, start: HeuristicPlan, baseline_plans: np.ndarray, deadline: float,
                          bound: float, warm: WarmStart, target_gap: float, notes: list[str], phases: dict,
                          live: Progress, own_live: bool = False) -> Decomposition:
    """The integer master on time blocks, from the baseline's plans: which pairs to serve."""
    t0 = time.perf_counter()
    live.update("assign")
    seconds = max(0.5, (deadline - t0) * BLOCK_MASTER_SHARE)
    master.set_integer()
    master.require_must_serve()
    if len(baseline_plans):
        master.set_start(baseline_plans)
    master.h.setOptionValue("mip_rel_gap", max(BLOCK_MASTER_GAP, target_gap))  # the hours lose more than this
    ok, value = master.solve(seconds)
    chosen = np.zeros(r.n_pairs, dtype=bool)
    if ok:
        for number in np.flatnonzero(master.theta() > 0.5):
            chosen[master.plan(number)[0]] = True
    else:
        chosen = start.chosen.copy()
    phases["integer_master"] = time.perf_counter() - t0
    notes.append(f"integer master on {r.periods} time block(s): value {float(r.value[chosen].sum()):,.6g} "
                 f"(MIP bound {master.h.getInfo().mip_dual_bound:,.6g}), {time.perf_counter() - t0:.1f} s")
    support = _support(r, master)
    if own_live:
        live.close()
    size = {"pairs": r.n_pairs, "time_blocks": r.periods, "usage_rows": int(len(r.row_pair)), "enterprises": r.n_enterprises,
            "master_rows": master.n_rows, "master_plans": len(master.plans)}
    return Decomposition(bound, chosen, None, [], notes, phases, support | chosen, warm, size, exact=False)
