"""The exact method: the two-stage MIP warm-started from the best baseline, which is also its fallback.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pandas as pd

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.plan.extract import (
    SCHEDULE_COLUMNS,
    empty_schedule,
    extract_plan,
    schedule_from_solution,
)
from allocator.plan.writing import rule_violations
from allocator.problems import InfeasibleInstance, NoSolution
from allocator.solve.bound import EXACT_BOUND_SECONDS, certified_bound_and_prices
from allocator.solve.heuristics import enterprise_sequence, must_serve_first, place, place_in_order
from allocator.solve.infeasible import explain_infeasible
from allocator.solve.lexicographic import solve_model
from allocator.solve.options import SolveOptions, StartPlan, remaining
from allocator.solve.result import _Chosen
from allocator.solve.state import HeuristicPlan

BASELINE_SHARE = 0.25  # of the time to the deadline, after which no further baseline pass starts
EXPLAIN_SECONDS = 60.0  # at most, and at most what is left of --time-limit, to name an infeasible day's conflict


def _exact(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """The exact MIP, warm-started from the best baseline, which is also the fallback."""
    from allocator.solve.fast import AUTO_FAST_COLUMNS, model_columns
    from models.build import build_model
    from models.data import prepare
    from models.start import start_values

    if options.solver == "highs" and (options.exact_on_matrix or options.deadline is not None
                                      and model_columns(scr) > AUTO_FAST_COLUMNS):
        return _exact_by_matrix(instance, scr, options, seconds, t0)
    data = prepare(instance, scr)
    model = build_model(data)
    seconds["build"] = time.perf_counter() - t0
    size = {"pairs": data.n_pairs, "usage_variables": data.n_usage_vars,
            "variables": int(model.nvariables()), "constraints": int(model.nconstraints())}
    t0 = time.perf_counter()
    if data.n_pairs == 0:
        seconds["solve"] = time.perf_counter() - t0
        return _Chosen(np.zeros(0, dtype=bool), empty_schedule(), "optimal", 0.0, ["no demand has an allowed pool"], size, 0.0)
    heuristic = _best_heuristic(instance, scr, options.start, options.deadline)
    first_notes: list[str] = []
    start = None if heuristic.unplaced_must_serve else start_values(model, data, heuristic.chosen, heuristic.schedule)
    share = EXACT_BOUND_SECONDS if options.time_limit is None else min(EXACT_BOUND_SECONDS, 0.05 * options.time_limit)
    lagrangian, _, prices = certified_bound_and_prices(instance, scr, options, heuristic, seconds=share)
    if options.deadline is not None:  # the build, the greedy start and the bound count against the limit too
        options = dataclasses.replace(options, time_limit=max(0.5, options.deadline - time.perf_counter()))
    run = solve_model(model, options, start)
    seconds["solve"] = time.perf_counter() - t0
    seconds["translate"] = run.translate_seconds
    first = run.value_stage
    if first.status == "infeasible":
        lines = explain_infeasible(model, data, min(EXPLAIN_SECONDS, max(1.0, remaining(options, EXPLAIN_SECONDS))))
        raise InfeasibleInstance("the instance is infeasible:\n  " + "\n  ".join(lines), lines)
    if first.status == "no_solution":
        if start is None:
            raise NoSolution(f"no plan found within the limits (the solver ended {first.termination})")
        bound = min(first.bound if first.bound is not None else np.inf, lagrangian)
        notes = first_notes + [f"the solver found no plan within the limits ({first.termination}); the plan is its start"]
        return _Chosen(heuristic.chosen, heuristic.schedule, "feasible", bound, notes, size, prices=prices)
    chosen = run.assign > 0.5
    schedule = schedule_from_solution(data.pairs, data.usage_rows, chosen, run.usage)
    values = data.pairs["value"].to_numpy()
    if start is not None and float(values[chosen].sum()) < float(values[heuristic.chosen].sum()) - 1e-9 * (
            1.0 + abs(float(values[heuristic.chosen].sum()))):  # the solver dropped its start: keep the start
        first_notes.append("the MIP returned less than its start: the plan is the start")
        chosen, schedule = heuristic.chosen.copy(), heuristic.schedule
    second = run.cost_stage
    proven = first.status == "optimal" and second is not None and second.status == "optimal"
    notes = first_notes + list(run.notes)
    if second is not None and second.status == "feasible":
        notes.append(f"cost stage stopped after {second.seconds:.1f} s ({second.termination}); see cost_gap")
    cost_bound = second.bound if second is not None else None
    bound = first.bound if first.bound is not None else np.inf
    if lagrangian < bound:
        notes.append(f"best_bound is the Lagrangian bound {lagrangian:,.6g}, tighter than the MIP's {bound:,.6g}")
        bound = lagrangian
    return _Chosen(chosen, schedule, "optimal" if proven else "feasible", bound, notes, size, cost_bound, prices=prices)


def _exact_by_matrix(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """The exact MIP on the numpy-built matrix (the same model, :mod:`models.matrix`), for instances whose
    Pyomo build and translation alone would outlast --time-limit (290,000 columns: 27 s), and for the year's
    days (``options.exact_on_matrix``: many small solves, where the Pyomo build and translation took a third
    of each): value stage from the best baseline, stopped at --gap against the Lagrangian bound or its own
    proof, then the cost stage with the value held (over the served demands' pairs), both to the deadline
    if there is one."""
    from allocator.solve.fast import _cost_stage
    from allocator.solve.restricted import restricted_mip

    heuristic = _best_heuristic(instance, scr, options.start, options.deadline)
    left = remaining(options, math.inf)
    share = min(EXACT_BOUND_SECONDS, 0.05 * left)
    lagrangian, _, prices = certified_bound_and_prices(instance, scr, options, heuristic, seconds=share)
    seconds["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    why = "asked for" if options.exact_on_matrix else "a Pyomo build would outlast the limit"
    notes = [f"the exact MIP built as a numpy matrix ({len(scr.pairs):,} pairs): {why}"]
    everything = np.ones(len(scr.pairs), dtype=bool)
    value_seconds = 0.9 * remaining(options, math.inf)
    plan, mip_bound = restricted_mip(instance, scr, everything, heuristic, value_seconds, lagrangian, options.gap, notes,
                                     "exact MIP")
    if plan.unplaced_must_serve:
        raise NoSolution(f"no plan serving every must_serve demand found within the limits "
                         f"({', '.join(plan.unplaced_must_serve)})")
    values = scr.pairs["value"].to_numpy()
    value = float(values[plan.chosen].sum())
    bound = min(lagrangian, mip_bound)
    box = remaining(options, math.inf)
    if box > 0.5 and plan.chosen.any():
        served = scr.pairs["demand_id"].isin(set(scr.pairs["demand_id"].to_numpy()[plan.chosen])).to_numpy()
        plan = _cost_stage(instance, scr, plan, served, value, box, options, notes)
    seconds["solve"] = time.perf_counter() - t1
    proven = bound - value <= options.gap * abs(bound)
    return _Chosen(plan.chosen, plan.schedule, "optimal" if proven else "feasible", bound, notes,
                   {"pairs": len(scr.pairs)}, prices=prices)


def _best_heuristic(instance: Instance, scr: Screen, start: StartPlan | None = None, deadline: float | None = None):
    """The greedy, fcfs or cap-aware (whole enterprises) plan, whichever serves more value (must-serve
    complete first): the MIP start and fallback, so the exact method never returns less value than
    either baseline. A given ``start`` plan, completed by the cap-aware pass, is a candidate too, and
    on days with must-serve demands the must-serve-first plan (:func:`must_serve_first`).

    With a ``deadline``, no further pass starts once BASELINE_SHARE of the time to it is used and some plan
    serves every must-serve demand (at 50,000 x 300 the passes take 20 s): the given start, greedy and fcfs
    run first, so the promise above holds for the two named baselines unless they alone take that long."""
    values = scr.pairs["value"].to_numpy()

    def completed_start() -> HeuristicPlan | None:  # the given start plan, completed by the cap-aware pass
        kept = start_plan(instance, scr, start)
        return None if kept is None else place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=kept)

    # (rank, pass) in the order they run; ties go to the lower rank: greedy, fcfs, cap-aware, must-serve first, start
    passes = [(4, completed_start),
              (0, lambda: place(instance, scr, "greedy")),
              (1, lambda: place(instance, scr, "fcfs")),
              (3, lambda: must_serve_first(instance, scr)),
              (2, lambda: place_in_order(instance, scr, enterprise_sequence(instance, scr)))]
    t0 = time.perf_counter()
    budget_end = None if deadline is None else t0 + BASELINE_SHARE * max(0.0, deadline - t0)
    plans: list[tuple[int, HeuristicPlan]] = []
    for rank, make in passes:
        serves_must = any(not p.unplaced_must_serve for _, p in plans)
        if plans and serves_must and budget_end is not None and time.perf_counter() > budget_end:
            break
        plan = make()
        if plan is not None:
            plans.append((rank, plan))
    best = max(plans, key=lambda rp: (not rp[1].unplaced_must_serve, float(values[rp[1].chosen].sum()), -rp[0]))
    return best[1]


def start_plan(instance: Instance, scr: Screen, start: StartPlan | None) -> HeuristicPlan | None:
    """``start`` on this instance's screened pairs, or None when it has none or names a pair screened out
    or breaks a rule here (then it is no start: a rule-keeping start is what the solve may rely on)."""
    if start is None:
        return None
    key = pd.MultiIndex.from_frame(scr.pairs[["demand_id", "pool_id"]])
    chosen = np.asarray(key.isin(list(start.pairs)))
    if int(chosen.sum()) != len(start.pairs):
        return None
    schedule = pd.DataFrame(list(start.schedule), columns=SCHEDULE_COLUMNS)
    plan = HeuristicPlan(chosen, schedule, [])
    extracted = extract_plan(instance, scr, scr.pairs[chosen], schedule)
    return None if rule_violations(extracted, instance) else plan
