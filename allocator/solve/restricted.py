"""The exact model over a subset of the (demand, pool) pairs, solved by HiGHS from a start.

The fast method's building block (:mod:`allocator.solve.fast`): the polish from a plan, the hourly
schedule MIPs, the MIP placing must-serve demands, and the exact MIP on the numpy matrix
(:mod:`allocator.solve.exact`) all solve :func:`restricted_mip` on the pairs they allow; a plan
from it is compared with its start by :func:`_better` (every must-serve demand served first,
then served value).
"""

from __future__ import annotations

import dataclasses
import math
import time

import highspy
import numpy as np

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.plan.extract import schedule_from_solution
from allocator.solve.progress import Progress, StopAtGap
from allocator.solve.state import HeuristicPlan

RESTRICTED_MIP_GAP = 1e-4


def _value(scr: Screen, plan: HeuristicPlan) -> float:
    return float(scr.pairs["value"].to_numpy()[plan.chosen].sum())


def _better(scr: Screen, a: HeuristicPlan, b: HeuristicPlan) -> HeuristicPlan:
    """The plan that serves every must-serve demand and, among those, more value."""
    return max((b, a), key=lambda p: (not p.unplaced_must_serve, _value(scr, p)))


def restricted_mip(instance: Instance, scr: Screen, allowed: np.ndarray, start: HeuristicPlan, seconds: float,
                   bound: float, target_gap: float, notes: list[str], label: str,
                   fix_from_lp: bool = False, progress: Progress | None = None,
                   own_gap: float | None = None) -> tuple[HeuristicPlan, float]:
    """The exact model over the ``allowed`` pairs only, started from ``start`` (inside them), stopped at the
    target gap against ``bound`` (over every pair, against its own dual bound too) or the time limit;
    returns the better of its plan and the start, and the MIP's dual bound over those pairs (inf when it
    has none; an instance bound only when all pairs are in).

    ``fix_from_lp``: first solve its LP relaxation and fix every pair the LP serves whole (at 1) or not
    at all (at 0), leaving only the fractional ones to branch on; if that leaves no plan, the whole MIP.
    ``own_gap``: the gap the MIP proves against its own bound before it stops (default: 1e-4 over a subset
    of the pairs, the target gap over every pair)."""
    from models.build import build_matrix
    from models.data import prepare
    from models.start import matrix_start

    pairs = scr.pairs
    kept = np.flatnonzero(allowed | start.chosen)
    if not len(kept) or seconds <= 0.5:
        return start, math.inf
    t_end = time.perf_counter() + seconds
    sub = dataclasses.replace(scr, pairs=pairs.iloc[kept].reset_index(drop=True))
    data = prepare(instance, sub)
    mm = build_matrix(data)
    if fix_from_lp:
        h = mm.to_highs(relax=True)
        h.setOptionValue("time_limit", float(max(0.5, t_end - time.perf_counter())))
        h.run()
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            x = np.asarray(h.getSolution().col_value)[mm.columns("assign")]
            fixed, _ = _solve_restricted(mm, data, None, t_end - time.perf_counter(), bound, target_gap, x, progress)
            if fixed is not None:
                plan = _plan_of(scr, kept, mm, data, fixed)
                notes.append(f"{label}, pairs the LP serves whole or not at all fixed ({int(((x > 1e-6) & (x < 1 - 1e-6)).sum())} "
                             f"fractional of {len(kept):,}): value {_value(scr, plan):,.6g}")
                start = _better(scr, plan, start)
        if t_end - time.perf_counter() < 1.0:
            return start, math.inf
    index, values = matrix_start(mm, data, start.chosen[kept], start.schedule)
    # over every pair the MIP's own dual bound holds for the instance: its proof of the target gap is enough
    if own_gap is None:
        own_gap = max(RESTRICTED_MIP_GAP, target_gap) if len(kept) == len(pairs) else RESTRICTED_MIP_GAP
    col, mip_bound = _solve_restricted(mm, data, (index, values), t_end - time.perf_counter(), bound, target_gap,
                                       progress=progress, mip_gap=own_gap)
    if col is None:
        notes.append(f"{label} over {len(kept):,} pairs found no plan")
        return start, mip_bound
    plan = _plan_of(scr, kept, mm, data, col)
    notes.append(f"{label} over {len(kept):,} pairs: value {_value(scr, plan):,.6g}")
    return _better(scr, plan, start), mip_bound


def _solve_restricted(mm, data, start, seconds: float, bound: float, target_gap: float, lp_assign=None, progress=None,
                      mip_gap: float = RESTRICTED_MIP_GAP):
    """Column values of the MIP (from a start, or with assignments fixed where the LP is integral), or None;
    and the MIP's dual bound (inf when HiGHS has none). HiGHS stops at its own ``mip_gap`` or when the
    incumbent is within ``target_gap`` of ``bound``."""
    h = mm.to_highs()
    if start is not None:
        h.setSolution(len(start[0]), start[0], start[1])
    if lp_assign is not None:
        assign = mm.columns("assign").astype(np.int32)
        lower = np.where(lp_assign >= 1 - 1e-6, 1.0, 0.0)
        upper = np.where(lp_assign <= 1e-6, 0.0, 1.0)
        h.changeColsBounds(len(assign), assign, lower, upper)
    h.setOptionValue("time_limit", float(max(0.5, seconds)))
    h.setOptionValue("mip_rel_gap", mip_gap)  # its own proof; the callback stops at the target against the bound
    h.setCallback(StopAtGap(bound, target_gap, progress), None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    h.run()
    h.stopCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    info = h.getInfo()
    dual = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else math.inf
    if info.primal_solution_status != 2:
        return None, dual
    return np.asarray(h.getSolution().col_value), dual


def _plan_of(scr: Screen, kept: np.ndarray, mm, data, col: np.ndarray) -> HeuristicPlan:
    chosen_sub = col[mm.columns("assign")] > 0.5
    chosen = np.zeros(len(scr.pairs), dtype=bool)
    chosen[kept[chosen_sub]] = True
    return HeuristicPlan(chosen, schedule_from_solution(data.pairs, data.usage_rows, chosen_sub, col[mm.columns("usage")]),
                         missing_must_serve(scr, chosen))


def missing_must_serve(scr: Screen, chosen: np.ndarray) -> list[str]:
    """Must-serve demands (with an allowed pair) that ``chosen`` does not serve."""
    pairs = scr.pairs
    must = pairs["must_serve"].to_numpy(dtype=bool)
    ids = pairs["demand_id"].to_numpy()
    return sorted(set(ids[must]) - set(ids[chosen]))
