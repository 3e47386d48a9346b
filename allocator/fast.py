"""The fast path for large instances: LP bound, LP-guided rounding, a restricted MIP.

The LP relaxation of the allocation model has few fractional assignments (at
10,000 demands x 100 pools: about 260 of 259,000 columns), so it says almost
everything about a good plan. The fast method therefore:

1. builds the model as a numpy matrix (:func:`models.build.build_matrix`) and
   solves its LP relaxation with HiGHS; the LP optimum is an upper bound on the
   served value of *every* plan: the certified bound the plan is measured against.
   Above AGGREGATE_ABOVE_USAGE hourly usage columns, the LP is that of the interval
   relaxation (:mod:`models.aggregate`), still a valid bound, 13 times smaller;
2. rounds: tries the demands in order of their LP assignment (largest first),
   each at its pools by decreasing LP value, with the rule-keeping one-pass
   placement of :mod:`allocator.heuristics`, and keeps the best of that, the
   baselines and the cap-aware pass;
3. fixes by reduced cost every assignment that provably cannot be part of a plan
   better than that incumbent (LP value + reduced cost < incumbent) and, above
   RESTRICT_ABOVE_PAIRS pairs, restricts the exact model to the assignments the LP
   uses and the incumbent's; HiGHS then improves the incumbent, warm-started from
   it, and stops when the plan is within the target gap of the certified bound
   (``--gap``, else FAST_DEFAULT_GAP) or the time is up;
4. minimizes the cost of the plan's served value on the same (restricted) model,
   time-boxed like the exact method's cost stage.

Measured (benchmarks/README.md): on budget- and cap-bound instances the LP bound is
weak (the big-M of the capped subsidy lets the LP buy a fraction of an enterprise's
demands for the same fraction of its cap, and per enterprise that is already the
convex hull), so the certified gap there stays large even when the plan is good.

When every column left out was fixed by reduced cost, the restricted MIP is the
whole problem and its own bound is valid too; the reported bound is then the
smaller of the two.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd

from allocator.heuristics import HeuristicPlan, place_in_order
from allocator.plan import schedule_from_solution
from allocator.reading import Instance
from allocator.screening import Screen
from allocator.solving import COST_STAGE_FACTOR, COST_STAGE_MIN_SECONDS, VALUE_HOLD_RELATIVE, SolveOptions, format_progress

FAST_DEFAULT_SECONDS = 60.0  # the fast method's time limit when the user gives none
FAST_DEFAULT_GAP = 0.005  # and its target gap against the certified bound when the user gives none
AUTO_FAST_COLUMNS = 20_000  # above this many assignment + usage columns the default method is fast
COST_STAGE_SHARE = 0.15  # of the time left after the rounding, kept for the cost stage
RESTRICT_ABOVE_PAIRS = 5_000  # the MIP keeps every assignment column up to this many pairs
AGGREGATE_ABOVE_USAGE = 250_000  # above this many hourly usage variables the bound comes from the interval relaxation


@dataclass
class FastResult:
    chosen: np.ndarray
    schedule: pd.DataFrame
    status: str
    bound: float
    notes: list[str]
    size: dict
    phases: dict[str, float] = field(default_factory=dict)


def model_columns(scr: Screen) -> int:
    """Assignment plus usage columns of the exact model, from the screened pairs alone (no build)."""
    pairs = scr.pairs
    window = (pairs["deadline"] - pairs["release"] + 1).to_numpy()
    return int(len(pairs) + window[window > 1].sum())


def lp_guided_sequence(scr: Screen, x: np.ndarray, fallback_rank: np.ndarray) -> np.ndarray:
    """Pairs in the order the rounding tries them: must-serve demands first, then demands by
    their largest LP assignment (ties: ``fallback_rank``), each demand's pairs by decreasing LP
    value and then by bill."""
    pairs = scr.pairs
    demand = pairs["demand_id"].to_numpy()
    codes, _ = pd.factorize(demand, sort=False)
    best = pd.Series(x).groupby(codes).transform("max").to_numpy()
    must = pairs["must_serve"].to_numpy(dtype=bool)
    level = np.round(best, 6)
    return np.lexsort((pairs["pool_idx"].to_numpy(), pairs["bill_yuan"].to_numpy(), -np.round(x, 6), codes,
                       fallback_rank, -level, ~must))


def demand_rank_of_pairs(pairs: pd.DataFrame, order: list[str]) -> np.ndarray:
    rank = pd.Series(np.arange(len(order)), index=order)
    return pairs["demand_id"].map(rank).fillna(len(order)).to_numpy()


class _StopAtGap:
    """HiGHS MIP callback: stop when the incumbent is within ``gap`` of the certified bound; optional live line."""

    def __init__(self, bound: float, gap: float, live: bool):
        self.bound, self.gap, self.live = bound, gap, live
        self.last = -math.inf
        self.best = -math.inf

    def __call__(self, callback_type, message, out, data_in, user_data) -> None:
        incumbent = out.mip_primal_bound
        if math.isfinite(incumbent):
            self.best = max(self.best, incumbent)
            if self.bound - incumbent <= self.gap * abs(self.bound):
                data_in.user_interrupt = True
        if self.live and time.monotonic() - self.last >= 1.0:
            import sys

            self.last = time.monotonic()
            gap = (self.bound - incumbent) / abs(self.bound) if math.isfinite(incumbent) and self.bound else math.inf
            sys.stderr.write("\r" + format_progress("fast", out.running_time, incumbent, self.bound, gap))
            sys.stderr.flush()


def solve_fast(instance: Instance, scr: Screen, options: SolveOptions, best_heuristic) -> FastResult:
    """LP bound, LP-guided rounding and a restricted, warm-started MIP (see the module docstring)."""
    from models.aggregate import build_relaxation
    from models.build import build_matrix
    from models.data import prepare
    from models.start import matrix_start

    phases: dict[str, float] = {}
    limit = options.time_limit if options.time_limit is not None else FAST_DEFAULT_SECONDS
    started = time.perf_counter()
    deadline = started + limit
    target_gap = options.gap if options.gap_given else FAST_DEFAULT_GAP
    notes: list[str] = [] if options.solver == "highs" else [f"the fast method runs HiGHS directly, not {options.solver}"]

    t0 = time.perf_counter()
    data = prepare(instance, scr)
    if data.n_pairs == 0:
        return FastResult(np.zeros(0, dtype=bool), _empty(), "optimal", 0.0, ["no demand has an allowed pool"], {}, {"build": 0.0})
    aggregated = data.n_usage_vars > AGGREGATE_ABOVE_USAGE
    relaxed = build_relaxation(data) if aggregated else build_matrix(data)
    h = relaxed.to_highs(relax=True)
    phases["build"] = time.perf_counter() - t0
    _options(h, options)
    size = {"pairs": data.n_pairs, "usage_variables": data.n_usage_vars,
            "bound_model": "interval relaxation" if aggregated else "exact model",
            "bound_model_variables": relaxed.n_cols, "bound_model_constraints": relaxed.n_rows,
            "bound_model_nonzeros": relaxed.nnz}

    # 1. LP relaxation: the certified bound
    t0 = time.perf_counter()
    h.setOptionValue("time_limit", max(1.0, deadline - time.perf_counter()))
    h.run()
    lp_status = h.getModelStatus()
    phases["lp"] = time.perf_counter() - t0
    if lp_status == highspy.HighsModelStatus.kInfeasible:
        return FastResult(np.zeros(data.n_pairs, dtype=bool), _empty(), "infeasible", 0.0, ["the LP relaxation is infeasible"], size, phases)
    lp_optimal = lp_status == highspy.HighsModelStatus.kOptimal
    solution = h.getSolution()
    assign = relaxed.columns("assign")
    x = np.asarray(solution.col_value)[assign]
    reduced = np.asarray(solution.col_dual)[assign]
    lp_bound = float(h.getInfo().objective_function_value) if lp_optimal else _trivial_bound(scr)
    if not lp_optimal:
        notes.append(f"the LP relaxation ended {h.modelStatusToString(lp_status)}: the bound is the total value "
                     "of every screened demand")

    # 2. rounding, and the baselines; the best is the incumbent
    t0 = time.perf_counter()
    baseline: HeuristicPlan = best_heuristic()
    values = data.pairs["value"].to_numpy()
    candidates = [("best baseline", baseline)]
    if lp_optimal:
        from allocator.heuristics import demand_order

        rank = demand_rank_of_pairs(scr.pairs, demand_order(instance, scr, "greedy"))
        candidates.append(("LP rounding", place_in_order(instance, scr, lp_guided_sequence(scr, x, rank))))
    name, incumbent = max(candidates, key=lambda c: (not c[1].unplaced_must_serve, float(values[c[1].chosen].sum())))
    incumbent_value = float(values[incumbent.chosen].sum())
    phases["rounding"] = time.perf_counter() - t0
    for label, plan in candidates:
        notes.append(f"{label}: value {float(values[plan.chosen].sum()):,.6g}")

    # 3. reduced-cost fixing and the restricted MIP (the exact model over the columns kept)
    t0 = time.perf_counter()
    scale = max(1.0, float(values.max()) if len(values) else 1.0)
    provably_out = (x <= 1e-9) & (lp_bound + reduced < incumbent_value - 1e-6 * scale) if lp_optimal else np.zeros(len(x), bool)
    keep = ((x > 1e-9) | (data.n_pairs <= RESTRICT_ABOVE_PAIRS and not aggregated)) & ~provably_out | incumbent.chosen
    exact_restriction = bool(np.all(provably_out[~keep])) and lp_optimal
    kept = np.flatnonzero(keep)
    if aggregated or not keep.all():
        sub_data = prepare(instance, dataclasses.replace(scr, pairs=scr.pairs.iloc[kept].reset_index(drop=True)))
        mm = build_matrix(sub_data)
        h = mm.to_highs()
        _options(h, options)
    else:  # the LP's own model, integrality restored
        sub_data, mm = data, relaxed
        _, _, integer = mm.bounds()
        ints = np.flatnonzero(integer).astype(np.int32)
        h.changeColsIntegrality(len(ints), ints, np.full(len(ints), highspy.HighsVarType.kInteger))
    size.update({"assign_fixed_by_reduced_cost": int(provably_out.sum()), "assign_in_restricted_mip": int(len(kept)),
                 "variables": mm.n_cols, "constraints": mm.n_rows, "nonzeros": mm.nnz})
    sub_assign = mm.columns("assign")
    if not incumbent.unplaced_must_serve:
        index, value = matrix_start(mm, sub_data, incumbent.chosen[kept], incumbent.schedule)
        h.setSolution(len(index), index, value)
    stop = _StopAtGap(lp_bound, target_gap, options.progress and not options.verbose)
    h.setCallback(stop, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    h.setOptionValue("mip_rel_gap", target_gap)
    remaining = (deadline - time.perf_counter()) * (1.0 - COST_STAGE_SHARE)
    mip_ran = remaining > 0.5 and (lp_bound - incumbent_value > target_gap * abs(lp_bound))
    chosen_sub, schedule, mip_bound = incumbent.chosen[kept], incumbent.schedule, math.inf
    if mip_ran:
        h.setOptionValue("time_limit", remaining)
        h.run()
        info = h.getInfo()
        if info.primal_solution_status == 2 and info.objective_function_value > incumbent_value + 1e-9 * scale:
            col = np.asarray(h.getSolution().col_value)
            chosen_sub = col[sub_assign] > 0.5
            schedule = schedule_from_solution(sub_data.pairs, sub_data.usage_rows, chosen_sub, col[mm.columns("usage")])
            name = "restricted MIP"
        if exact_restriction and math.isfinite(info.mip_dual_bound):
            mip_bound = float(info.mip_dual_bound)
    h.stopCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    if stop.live:
        import sys

        sys.stderr.write("\n")
    phases["mip"] = time.perf_counter() - t0
    value = float(values[kept][chosen_sub].sum())
    bound = max(value, min(lp_bound, mip_bound))
    source = "the interval relaxation's LP" if aggregated else "the LP relaxation"
    notes.append(f"plan from {name}; bound from {source}"
                 + (" and the MIP over every column not fixed by reduced cost" if math.isfinite(mip_bound) else ""))

    # 4. cost stage on the restricted model, V held
    t0 = time.perf_counter()
    remaining = deadline - time.perf_counter()
    box = min(remaining, max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR * phases["mip"]))
    if box > 0.5 and chosen_sub.any():
        chosen_sub, schedule = _cost_stage(h, mm, sub_data, chosen_sub, schedule, value, box, options, notes)
    else:
        notes.append("no time left for the cost stage: the plan keeps its cost")
    phases["cost"] = time.perf_counter() - t0
    chosen = np.zeros(data.n_pairs, dtype=bool)
    chosen[kept[chosen_sub]] = True
    status = "optimal" if bound - value <= max(1e-9, 1e-9 * abs(bound)) else "feasible"
    if incumbent.unplaced_must_serve and not chosen.any():
        return FastResult(chosen, schedule, "no_solution", bound, notes, size, phases)
    return FastResult(chosen, schedule, status, bound, notes, size, phases)


def _cost_stage(h, mm, data, chosen, schedule, value, seconds, options, notes):
    """Minimize cost with the served value held at ``value`` (restricted model); keep the plan if it fails."""
    from models.start import matrix_start

    objective = mm.objective("value")
    nz = np.flatnonzero(objective).astype(np.int32)
    h.addRow(value - VALUE_HOLD_RELATIVE * (abs(value) + 1.0), highspy.kHighsInf, len(nz), nz, objective[nz])
    cost = mm.objective("cost")
    h.changeColsCost(mm.n_cols, np.arange(mm.n_cols, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMinimize)
    index, start = matrix_start(mm, data, chosen, schedule)
    h.setSolution(len(index), index, start)
    h.setOptionValue("time_limit", float(seconds))
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        notes.append("cost stage found no plan in its time: the plan keeps its cost")
        return chosen, schedule
    col = np.asarray(h.getSolution().col_value)
    new = col[mm.columns("assign")] > 0.5
    if float(data.pairs["value"].to_numpy()[new].sum()) < value - VALUE_HOLD_RELATIVE * (abs(value) + 1.0):
        return chosen, schedule
    notes.append(f"cost stage: {h.modelStatusToString(h.getModelStatus())} after {info.mip_node_count} nodes")
    return new, schedule_from_solution(data.pairs, data.usage_rows, new, col[mm.columns("usage")])


def solve_lp_relaxation(instance: Instance, scr: Screen, options: SolveOptions) -> float | None:
    """The LP-relaxation optimum of the exact model (an upper bound on any plan's value), or None
    if it does not finish within ``options.time_limit``."""
    from models.build import build_matrix
    from models.data import prepare

    data = prepare(instance, scr)
    if data.n_pairs == 0:
        return 0.0
    h = build_matrix(data).to_highs(relax=True)
    _options(h, options)
    h.setOptionValue("output_flag", False)
    if options.time_limit is not None:
        h.setOptionValue("time_limit", float(options.time_limit))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)


def _options(h, options: SolveOptions) -> None:
    h.setOptionValue("output_flag", bool(options.verbose))
    if options.threads:
        h.setOptionValue("threads", int(options.threads))


def _trivial_bound(scr: Screen) -> float:
    return float(scr.pairs.drop_duplicates("demand_id")["value"].sum())


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["demand_id", "pool_id", "period", "card_hours"])
