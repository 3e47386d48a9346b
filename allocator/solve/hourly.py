"""The hourly stages of the fast path: from the block assignment to an hour-by-hour plan, and widening it.

The decomposition bounds an hourly day on one time block (:mod:`allocator.solve.decompose`); its integer
master says which demand runs at which pool. :func:`schedule_assignment` places that assignment hour by hour
(a MIP over just its pairs and their hourly usage, then single demands fill what is left), and
:func:`widen_hours` runs the schedule MIP from the plan over wider neighbourhoods of it, round after round,
while the value is short of the target gap. Sizes are counted in model columns (:func:`pair_columns`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.solve.heuristics import enterprise_sequence, place_enterprises, place_in_order
from allocator.solve.progress import Progress
from allocator.solve.restricted import _better, _value, restricted_mip
from allocator.solve.state import HeuristicPlan

WIDEN_MAX_COLUMNS = 60_000  # the hourly MIP with pools and hours free, up to this many model columns
# ... and other demands' pairs added to a smaller neighbourhood up to this many columns: on a 200 x 12 h day
# they lifted the plan by 15 %, on the capacity-bound 1,500 x 24 h day by 1.5 % (a 5,000-column fill: 0.2 %),
# where filling the national-like day's neighbourhood to 60,000 left its MIP no progress in 55 s
WIDEN_FILL_COLUMNS = 30_000


def pair_columns(pairs: pd.DataFrame) -> np.ndarray:
    """Per screened pair, its columns in the exact model: its assignment, and one usage column per
    period of its window when the window is longer than one period."""
    window = (pairs["deadline"] - pairs["release"] + 1).to_numpy()
    return 1 + np.where(window > 1, window, 0)


def model_columns(scr: Screen) -> int:
    """Assignment plus usage columns of the exact model, from the screened pairs alone (no build)."""
    return int(pair_columns(scr.pairs).sum())


def widen_hours(instance: Instance, scr: Screen, plan: HeuristicPlan, dec, value_end: float, target_gap: float,
                 notes: list[str], live: Progress, phases: dict) -> HeuristicPlan:
    """Hourly instances, while the value is short of the target and time is left: rounds of the schedule
    MIP from the plan over a neighbourhood of it (:func:`_neighbourhood`), each with the time left (a round
    that proves its neighbourhood's best within the target gap early leaves time for the next), until the
    target gap, the time, or no pair is left to try. Rounds with half the time each lost 2 % on a
    capacity-bound 1,500 x 24 h day: a 60,000-column neighbourhood needs its time to improve at all."""
    t0 = time.perf_counter()
    tried = np.zeros(len(scr.pairs), dtype=bool)
    rounds, first_note, before = 0, len(notes), _value(scr, plan)
    while True:
        left = value_end - time.perf_counter()
        if left < 2.0 or dec.bound - _value(scr, plan) <= target_gap * abs(dec.bound):
            break
        allowed, label = _neighbourhood(scr, plan, dec, tried)
        if allowed is None:
            break
        tried |= allowed
        live.update("widen")
        better, _ = restricted_mip(instance, scr, allowed, plan, left, dec.bound, target_gap, notes,
                                   f"{label} (round {rounds + 1})", progress=live, own_gap=target_gap)
        if _value(scr, better) > _value(scr, plan):
            better = place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=better)
        plan = _better(scr, better, plan)
        rounds += 1
    if rounds:
        phases["widen"] = time.perf_counter() - t0
        if rounds > 2:  # one line for the rounds between the first and the last
            notes[first_note + 1:-1] = [f"... {rounds - 2} more widening rounds"]
        notes.append(f"widening: {rounds} round(s), value {before:,.6g} -> {_value(scr, plan):,.6g}")
    return plan


def _neighbourhood(scr: Screen, plan: HeuristicPlan, dec, tried: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The pairs a widening round frees, as far as WIDEN_MAX_COLUMNS: every pair of the demands the plan
    serves or the block assignment chose, and every priced pair of the others; if that is too wide, the
    served demands at their pools (hours free) and the left-out chosen ones at any pool. Then, up to
    WIDEN_FILL_COLUMNS in all, the pairs not tried in an earlier round of the other demands of most value
    per card-hour of use (hour by hour there is room the block assignment could not see). None when no
    untried pair is left."""
    pairs = scr.pairs
    ids = pairs["demand_id"].to_numpy()
    chosen_ids = list(set(ids[plan.chosen | dec.chosen]))
    chosen = np.isin(ids, chosen_ids)
    allowed = chosen | plan.chosen
    wide = allowed | (dec.support if dec.support is not None else False)
    label = "hourly MIP, pools and hours free"
    columns = pair_columns(pairs)
    if columns[wide].sum() <= WIDEN_MAX_COLUMNS:
        allowed = wide
    elif columns[allowed].sum() > WIDEN_MAX_COLUMNS:
        allowed = plan.chosen | np.isin(ids, list(set(chosen_ids) - set(ids[plan.chosen])))
        label = "hourly MIP, served demands' hours and left-out demands' pools free"
        if columns[allowed].sum() > WIDEN_MAX_COLUMNS:
            return None, label
    budget = min(WIDEN_FILL_COLUMNS, WIDEN_MAX_COLUMNS) - int(columns[allowed].sum())
    allowed = allowed | _densest(pairs, columns, ~allowed & ~chosen & ~tried, budget)
    if not (allowed & ~tried).any():
        return None, label
    return allowed, label


def _densest(pairs: pd.DataFrame, columns: np.ndarray, candidates: np.ndarray, budget: int) -> np.ndarray:
    """The candidate pairs of highest value per card-hour of use, densest first, as long as their model
    columns (``columns``, per pair: :func:`pair_columns`) add up to at most ``budget``."""
    index = np.flatnonzero(candidates)
    density = pairs["value"].to_numpy()[index] / np.maximum(pairs["usage_card_hours"].to_numpy()[index], 1e-9)
    index = index[np.argsort(-density, kind="stable")]
    taken = index[np.cumsum(columns[index]) <= budget]
    out = np.zeros(len(pairs), dtype=bool)
    out[taken] = True
    return out


def schedule_assignment(instance: Instance, scr: Screen, assignment: np.ndarray, seconds: float, bound: float,
                        target_gap: float, start: HeuristicPlan | None = None,
                        progress: Progress | None = None) -> tuple[HeuristicPlan, list[str]]:
    """An hourly plan from an assignment (one pair per demand): a MIP over just those pairs and their
    hourly usage, started from a placement of the assignment, then single demands fill what is left.

    Must-serve demands come first: those of the assignment, and those it left out where ``start`` (a
    plan serving them, the baseline) placed them; else a plan that misses one loses to any that does."""
    t_end = time.perf_counter() + seconds
    pairs = scr.pairs
    must_pair = pairs["must_serve"].to_numpy(dtype=bool)
    keep = None
    if start is not None and not start.unplaced_must_serve:
        served = set(pairs["demand_id"].to_numpy()[assignment])
        missing = start.chosen & must_pair & ~pairs["demand_id"].isin(served).to_numpy()
        if missing.any():  # the assignment left a must-serve demand out: keep it where the start has it
            ids = set(pairs["demand_id"].to_numpy()[missing])
            keep = HeuristicPlan(missing, start.schedule[start.schedule["demand_id"].isin(ids)].reset_index(drop=True), [])
            assignment = assignment | missing
    placed = _place_assignment(instance, scr, assignment, keep)
    notes = [f"assignment: value {float(pairs['value'].to_numpy()[assignment].sum()):,.6g}; "
             f"placed hour by hour: {_value(scr, placed):,.6g}"
             + (f" (must-serve demands the assignment left out kept where the baseline had them: {int(keep.chosen.sum())})"
                if keep is not None else "")]
    best, _ = restricted_mip(instance, scr, assignment, placed, t_end - time.perf_counter(), bound, target_gap, notes,
                             "hourly schedule MIP", fix_from_lp=True, progress=progress)
    if best.unplaced_must_serve and start is not None and not start.unplaced_must_serve:
        # hour by hour the assignment's pools cannot hold every must-serve demand (the MIP found no plan that
        # serves them all): the enterprises owning them stay whole where the baseline has them, the assignment
        # places the others. Not before the MIP: where it can serve them all at the assignment's pools, it
        # served more (must-serve 1,500 x 24 h regime day: 30,460 against 30,267)
        owners = np.isin(pairs["enterprise_id"].to_numpy(), pairs["enterprise_id"].to_numpy()[must_pair])
        kept_ids = set(pairs["demand_id"].to_numpy()[start.chosen & owners])
        keep = HeuristicPlan(start.chosen & owners,
                             start.schedule[start.schedule["demand_id"].isin(kept_ids)].reset_index(drop=True), [])
        assignment = (assignment & ~owners) | keep.chosen
        placed = _place_assignment(instance, scr, assignment, keep)
        notes.append(f"the assignment misses must-serve demands hour by hour: their "
                     f"{len(set(pairs['enterprise_id'].to_numpy()[keep.chosen]))} enterprises kept where the baseline "
                     f"has them; placed hour by hour: {_value(scr, placed):,.6g}")
        best, _ = restricted_mip(instance, scr, assignment, placed, t_end - time.perf_counter(), bound, target_gap,
                                 notes, "hourly schedule MIP", fix_from_lp=True, progress=progress)
    if progress is not None:
        progress.update(value=_value(scr, best) if not best.unplaced_must_serve else None)
    filled = place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=best)
    notes.append(f"single demands filled in: value {_value(scr, filled):,.6g}")
    return filled, notes


def _place_assignment(instance: Instance, scr: Screen, assignment: np.ndarray, keep: HeuristicPlan | None) -> HeuristicPlan:
    """``keep`` committed unchanged, then the assignment's other pairs by whole enterprises (those with
    must-serve demands first, each enterprise's demands by value) where they fit hour by hour."""
    pairs = scr.pairs
    must_pair = pairs["must_serve"].to_numpy(dtype=bool)
    kept = np.flatnonzero(assignment & ~(keep.chosen if keep is not None else False))
    enterprise = pairs["enterprise_id"].to_numpy()[kept]
    value = pairs["value"].to_numpy()[kept]
    has_must = pd.Series(must_pair[kept]).groupby(enterprise).transform("max").to_numpy(dtype=bool) if len(kept) else np.zeros(0, bool)
    order = np.lexsort((-value, enterprise, ~has_must))
    groups = np.split(kept[order], np.flatnonzero(enterprise[order][1:] != enterprise[order][:-1]) + 1) if len(kept) else []
    return place_enterprises(instance, scr, groups, keep=keep)
