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
   until none is left fractional. Plans serving must-serve demands are accepted first.
3. **Placement.** The enterprises the fixing left open are placed whole, best LP weight
   first, by :func:`allocator.solve.heuristics.place_enterprises` (thresholds on the enterprise's
   total), then single demands fill what is left (:func:`allocator.solve.heuristics.place_in_order`).
   A plan that still misses must-serve demands the baseline serves is recombined with it by a
   MIP (:func:`recombine_for_must_serve`).
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
from allocator.solve.fixing import fixing_round, integer_master, place_rest, plan_support, take_of_schedule
from allocator.solve.heuristics import enterprise_sequence, place_in_order
from allocator.solve.progress import Progress
from allocator.solve.state import HeuristicPlan
from models.data import ModelData
from models.lagrangian import Multipliers, Relaxation
from models.master import Ledger, Master

SMOOTHING = 0.5  # weight of the best prices so far in the pricing point
CONVERGED = 1e-4  # relative distance of master value and bound at which column generation stops
COLUMN_GENERATION_SHARE = 0.5  # of the time given, at most, for column generation
FIXING_SHARE = 0.6  # column generation + fixing stop at this share of the time given (the integer master has the rest)
REPRICE_ROUNDS = 2  # pricing rounds after each fixing round
MAX_FIXING_ROUNDS = 1000
BLOCK_MASTER_SHARE = 1.0  # of the time left after column generation, for the integer master on time blocks
MASTER_STALL_MIN_SECONDS = 2.0  # the integer master stops for want of a better plan after this long at least
MUST_REPAIR_SHARE = 0.4  # of the time left, at most, to place the must_serve demands price-and-fix left out
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
    lp_support: np.ndarray | None = None  # bool per pair: in a plan column of positive LP weight when column generation ended
    near_support: np.ndarray | None = None  # ... or of reduced cost near 0 (the columns an integer plan near the LP is made of)
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
                           warm: WarmStart | None = None, master_stall: float = np.inf) -> Decomposition:
    """Bound and plan by price-and-fix within ``seconds`` (see the module docstring).

    With ``blocks`` fewer than the periods, the relaxation sums the periods into time blocks;
    the result is then the bound and an *assignment* (``exact`` False: pairs to serve, no
    schedule) from the integer master on blocks, for an hourly schedule to realize. ``warm``: prices
    to price at first (of the same relaxation) instead of zero, and plan columns to start the
    master with (the partitioned method's parts'). ``master_stall``: the integer master stops when its plan has
    not improved for this share of its time, MASTER_STALL_MIN_SECONDS at least (a caller's polish has the rest)."""
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
    in_lp = np.flatnonzero(master.theta() > 1e-6)
    ended = WarmStart(best_y, columns_frame(master, scr, in_lp))
    near = master.near_optimal()  # the plan columns the integer master chooses among (with any added later)

    if not r.exact:
        return assignment_on_blocks(r, master, start, baseline_plans, deadline, best_bound, ended, target_gap, notes,
                                     phases, live, own_live)
    # the pair sets of the polish on one period (allocator.solve.fast.polish_sets)
    lp_support, near_support = plan_support(r, master, in_lp), plan_support(r, master, np.flatnonzero(near))

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
            plan = place_rest(r, master, data, instance, scr, accepted)
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
        fixing_round(master, ledger, theta, open_plans, fixed, misfits, accepted)
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
        best_placed = place_rest(r, master, data, instance, scr, accepted)
    phases["fixing"] = time.perf_counter() - t0 - placing_seconds
    phases["placement"] = placing_seconds
    notes.append(f"fixing: {fixing_rounds} rounds, {len(accepted)} plans accepted "
                 f"(value {sum(master.plan_value(n) for n in accepted):,.6g}); best placement after round {best_round}")
    candidates = [("price-and-fix", best_placed), ("baseline", start)]
    if (best_placed.unplaced_must_serve and not start.unplaced_must_serve
            and MUST_REPAIR_SHARE * (deadline - time.perf_counter()) > 1.0):
        t0 = time.perf_counter()
        live.update("must-serve")
        repaired = recombine_for_must_serve(instance, scr, best_placed, start,
                                            MUST_REPAIR_SHARE * (deadline - t0), best_bound, target_gap, notes)
        if repaired is not start:
            candidates.append(("price-and-fix with its must_serve demands placed", repaired))
        phases["must_serve_repair"] = time.perf_counter() - t0

    # 4. integer master from the plan, if time is left and the plan is short of the target
    t0 = time.perf_counter()
    best_name, best = max(candidates, key=lambda c: (not c[1].unplaced_must_serve, float(values[c[1].chosen].sum())))
    best_value = float(values[best.chosen].sum())
    left = deadline - time.perf_counter()
    if left > 1.0 and best_bound - best_value > target_gap * abs(best_bound) and not best.unplaced_must_serve:
        live.update("master")
        stall = max(MASTER_STALL_MIN_SECONDS, master_stall * left)
        mip = integer_master(r, master, data, best, left, best_bound, target_gap, near, live, stall)
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
    support = plan_support(r, master)
    size = {"pairs": r.n_pairs, "usage_rows": int(len(r.row_pair)), "enterprises": r.n_enterprises,
            "master_rows": master.n_rows, "master_plans": len(master.plans), "pricing_rounds": rounds,
            "fixing_rounds": fixing_rounds, "plans_fixed": len(accepted)}
    return Decomposition(best_bound, best.chosen, best.schedule, best.unplaced_must_serve, notes, phases, support | best.chosen,
                         lp_support, near_support, ended, size)


def recombine_for_must_serve(instance: Instance, scr: Screen, plan: HeuristicPlan, keeper: HeuristicPlan,
                             seconds: float, bound: float, target_gap: float, notes: list[str]) -> HeuristicPlan:
    """``plan`` leaves must_serve demands out that ``keeper`` serves: the exact model over the pairs of both
    plans and every pair of the enterprises owning the demands left out, from ``keeper`` (R10 a hard row
    there), so that HiGHS keeps what it can of ``plan`` around them; its plan completed by the cap-aware pass.
    Returns the better of that and ``keeper`` (``keeper`` itself when the MIP found nothing better)."""
    from allocator.solve.restricted import restricted_mip

    pairs = scr.pairs
    owners = pairs.loc[pairs["demand_id"].isin(set(plan.unplaced_must_serve)), "enterprise_id"].unique()
    allowed = plan.chosen | pairs["enterprise_id"].isin(owners).to_numpy()
    repaired, _ = restricted_mip(instance, scr, allowed, keeper, seconds, bound, target_gap, notes,
                                 f"MIP placing the {len(plan.unplaced_must_serve)} must_serve demand(s) "
                                 "price-and-fix left out, beside its plan and the baseline's")
    if repaired is keeper:
        return keeper
    return place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=repaired)


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


def assignment_on_blocks(r: Relaxation, master: Master, start: HeuristicPlan, baseline_plans: np.ndarray, deadline: float,
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
    support = plan_support(r, master)
    if own_live:
        live.close()
    size = {"pairs": r.n_pairs, "time_blocks": r.periods, "usage_rows": int(len(r.row_pair)), "enterprises": r.n_enterprises,
            "master_rows": master.n_rows, "master_plans": len(master.plans)}
    return Decomposition(bound, chosen, None, [], notes, phases, support | chosen, warm=warm, size=size, exact=False)
