"""The plain stages wired together: read -> screen -> build -> solve -> extract -> write.

Each stage is usable on its own from Python; :func:`solve_instance` runs them in
order and times each phase.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator import __version__
from allocator.plan import Plan, extract_plan, schedule_from_solution
from allocator.problems import InfeasibleInstance, NoSolution
from allocator.reading import Instance, read_instance
from allocator.reasons import explain_infeasible, refine_reasons
from allocator.screening import Screen, screen
from allocator.heuristics import enterprise_sequence, place, place_in_order
from allocator.solvers import solver_version
from allocator.solving import SolveOptions, solve_model
from allocator.writing import write_plan

METHODS = ("auto", "exact", "fast", "partition", "fcfs", "greedy")


@dataclass
class SolveResult:
    instance: Instance
    status: str
    plan: Plan
    best_bound: float
    gap: float
    method: str
    solver: str
    solver_version: str
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model_size: dict[str, int] = field(default_factory=dict)
    cost_bound: float | None = None  # proven lower bound on the cost K (stage 2)
    method_requested: str = ""
    warm: object = None  # the fast method's end of column generation (allocator.decompose.WarmStart), for the partitioned method

    def summary(self) -> dict:
        inst = self.instance
        plan = self.plan
        return {
            "instance": inst.name,
            "instance_path": str(Path(inst.folder).resolve()),
            "instance_sha256": inst.files_sha256,
            "method": self.method,
            "method_requested": self.method_requested or self.method,
            "solver": self.solver,
            "solver_version": self.solver_version,
            "allocator_version": __version__,
            "status": self.status,
            "served_value": plan.served_value,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "total_bill_yuan": plan.total_bill_yuan,
            "total_subsidy_yuan": plan.total_subsidy_yuan,
            "carbon_kg": plan.carbon_kg,
            "cost_yuan": plan.cost,
            "cost_bound_yuan": self.cost_bound,
            "cost_gap": None if self.cost_bound is None else cost_gap(plan.cost, self.cost_bound),
            "demands_served": int(len(plan.assignments)),
            "demands_total": int(len(inst.demands)),
            "wall_seconds": self.seconds,
            "model": self.model_size,
            "notes": self.notes,
        }


def relative_gap(value: float, bound: float) -> float:
    """(bound - value) / |bound|, 0 when both are 0: how far the value may be from optimal."""
    if abs(bound) < 1e-12:
        return 0.0 if abs(value) < 1e-12 else float("inf")
    return max(0.0, (bound - value) / abs(bound))


def cost_gap(cost: float, bound: float) -> float:
    """(K - bound) / |K|, 0 when both are 0: how far the cost may be above the cheapest plan of that value."""
    if abs(cost) < 1e-12:
        return 0.0
    return max(0.0, (cost - bound) / abs(cost))


def check_must_serve(instance: Instance, scr: Screen) -> None:
    """Exit 3 early when a must_serve demand fails R1-R4 on its own."""
    must = instance.demands.loc[instance.demands["must_serve"], "demand_id"]
    failing = [(d, scr.reasons[d]) for d in must if d in scr.reasons]
    if failing:
        lines = [f"must_serve demand '{d}' cannot be served: {reason}" for d, reason in failing]
        raise InfeasibleInstance("the instance is infeasible:\n  " + "\n  ".join(lines), lines)


def value_upper_bound(scr: Screen) -> float:
    """Sum of the values of every demand that passed screening: a bound no plan can beat."""
    return float(scr.pairs.drop_duplicates("demand_id")["value"].sum())


def resolve_method(options: SolveOptions, scr: Screen) -> tuple[str, list[str]]:
    """The method to run: ``auto`` is the exact MIP up to AUTO_EXACT_COLUMNS model columns; above, the fast
    path, which up to AUTO_FAST_COLUMNS keeps most of the time for the exact MIP from its plan (its polish
    stage, to --gap or 1e-4), so auto never returns less than the fast method. ``--gap`` is a stopping
    target, never a reason to choose a method (see docs/decisions.md)."""
    from allocator.fast import AUTO_FAST_COLUMNS, model_columns

    if options.method != "auto":
        return options.method, []
    columns = model_columns(scr)
    if columns > AUTO_FAST_COLUMNS:
        return "fast", [f"method auto chose fast: {columns:,} model columns > {AUTO_FAST_COLUMNS:,}"]
    if columns > AUTO_EXACT_COLUMNS:
        return "fast", [f"method auto chose fast, then the exact MIP from its plan: {AUTO_EXACT_COLUMNS:,} < "
                        f"{columns:,} model columns <= {AUTO_FAST_COLUMNS:,}"]
    return "exact", [f"method auto chose exact: {columns:,} model columns <= {AUTO_EXACT_COLUMNS:,}"]


AUTO_EXACT_COLUMNS = 2_000  # auto runs the exact MIP alone up to this many model columns
AUTO_DECOMPOSITION_SHARE = 0.5  # above it, the share of the value time the fast method's decomposition gets


def solve_instance(folder: Path, options: SolveOptions | None = None) -> SolveResult:
    """Read, screen, build, solve and extract; raise Infeasible/NoSolution errors as results demand."""
    options = options or SolveOptions()
    if options.method not in METHODS:
        raise ValueError(f"unknown method '{options.method}' (known: {', '.join(METHODS)})")
    t0 = time.perf_counter()
    if options.time_limit is not None and options.deadline is None:  # --time-limit covers reading to writing
        options = dataclasses.replace(options, deadline=t0 + options.time_limit)
    if options.method in ("auto", "exact", "fast", "partition"):
        solver_version(options.solver)  # SolverUnavailable: exit 2, before reading anything
    instance = read_instance(Path(folder))
    return solve_loaded(instance, options, {"load": time.perf_counter() - t0})


def solve_loaded(instance: Instance, options: SolveOptions, seconds: dict[str, float] | None = None) -> SolveResult:
    """The stages after reading, on an instance already in memory (the partitioned method's parts)."""
    seconds = dict(seconds or {"load": 0.0})
    t0 = time.perf_counter()
    if options.time_limit is not None and options.deadline is None:
        options = dataclasses.replace(options, deadline=t0 + options.time_limit)
    scr = screen(instance)
    check_must_serve(instance, scr)
    method, notes = resolve_method(options, scr)
    options = dataclasses.replace(options, method=method)
    if options.deadline is not None:  # what the methods get: the limit less reading, screening and a reserve
        end = options.deadline - finish_seconds(scr)  # for extracting, explaining and writing the plan
        options = dataclasses.replace(options, deadline=end, time_limit=max(0.5, end - time.perf_counter()))
    uses_solver = method in ("exact", "fast", "partition")
    if method == "exact":
        decided = _exact(instance, scr, options, seconds, t0)
    elif method == "fast" and notes and "then the exact MIP" in notes[0]:  # auto: the polish MIP gets most of the time
        decided = _fast(instance, scr, dataclasses.replace(options, gap_given=True), seconds, t0,
                        decomposition_share=AUTO_DECOMPOSITION_SHARE)  # --gap or 1e-4: the exact MIP's target
    elif method == "fast":
        decided = _fast(instance, scr, options, seconds, t0)
    elif method == "partition":
        decided = _partition(instance, scr, options, seconds, t0)
    else:
        heuristic = place(instance, scr, method)
        if heuristic.unplaced_must_serve:
            raise NoSolution(f"{method} could not place must_serve demand(s) {', '.join(heuristic.unplaced_must_serve)}")
        seconds["build"] = 0.0
        seconds["solve"] = time.perf_counter() - t0
        bound, bound_notes = certified_bound(instance, scr, options, heuristic, seconds=remaining(options))
        decided = _Chosen(heuristic.chosen, heuristic.schedule, "feasible", bound, bound_notes)
        seconds["bound"] = time.perf_counter() - t0 - seconds["solve"]
    decided.notes[:0] = notes

    t0 = time.perf_counter()
    plan = extract_plan(instance, scr, scr.pairs[decided.chosen], decided.schedule)
    plan.unserved = refine_reasons(instance, scr, plan)
    seconds["extract"] = time.perf_counter() - t0
    bound = plan.served_value if decided.bound is None else decided.bound
    bound = max(bound if np.isfinite(bound) else value_upper_bound(scr), plan.served_value)
    return SolveResult(
        instance=instance,
        status=decided.status,
        plan=plan,
        best_bound=bound,
        gap=relative_gap(plan.served_value, bound),
        method=method,
        solver=options.solver if uses_solver else "none",
        solver_version=solver_version(options.solver) if uses_solver else "",
        seconds=seconds,
        notes=decided.notes,
        model_size=decided.size,
        cost_bound=decided.cost_bound,
        method_requested=options_requested(options, notes),
        warm=decided.warm,
    )


FINISH_SECONDS = 0.3  # the plan's extraction, unserved reasons and writing take about this
FINISH_SECONDS_PER_PAIR = 5e-6  # plus this per screened pair (10,000 x 95: 2.6 s for 526,000 pairs)


def finish_seconds(scr: Screen) -> float:
    """Seconds kept from --time-limit for what follows the solve: extraction, reasons, writing."""
    return FINISH_SECONDS + FINISH_SECONDS_PER_PAIR * len(scr.pairs)


def remaining(options: SolveOptions, default: float | None = None) -> float | None:
    """Seconds until ``options.deadline`` (at least 0), else ``default``."""
    if options.deadline is None:
        return default
    return max(0.0, options.deadline - time.perf_counter())


def options_requested(options: SolveOptions, notes: list[str]) -> str:
    return "auto" if notes and notes[0].startswith("method auto") else options.method


BOUND_SECONDS = 30.0  # column generation time for the bound of a heuristic plan when no --time-limit is given
EXACT_BOUND_SECONDS = 5.0  # at most this (and 5 % of --time-limit) for the Lagrangian bound beside the exact MIP


def certified_bound(instance: Instance, scr: Screen, options: SolveOptions, start=None,
                    seconds: float | None = None) -> tuple[float, list[str]]:
    """An upper bound on the served value of every plan: the Lagrangian bound of :mod:`models.lagrangian`
    (column generation, time-boxed); the trivial bound (every screened demand's value) without pairs or time."""
    from allocator.decompose import lagrangian_bound
    from allocator.fast import TIME_BLOCKS
    from models.data import prepare

    if seconds is None:
        seconds = options.time_limit if options.time_limit is not None else BOUND_SECONDS
    trivial = value_upper_bound(scr)
    if seconds <= 0 or scr.pairs.empty:
        return trivial, ["best_bound is the total value of every screened demand"]
    blocks = TIME_BLOCKS if instance.periods > TIME_BLOCKS else None
    bound, rounds = lagrangian_bound(prepare(instance, scr), seconds, start, blocks)
    if not np.isfinite(bound):
        return trivial, ["best_bound is the total value of every screened demand"]
    where = f" on {TIME_BLOCKS} time block(s)" if blocks else ""
    return min(bound, trivial), [f"best_bound is the Lagrangian bound{where} ({rounds} pricing rounds)"]


@dataclass
class _Chosen:
    """What a method decided: the chosen pairs, their schedule and what is known of optimality."""

    chosen: np.ndarray
    schedule: pd.DataFrame
    status: str
    bound: float
    notes: list[str]
    size: dict[str, int] = field(default_factory=dict)
    cost_bound: float | None = None
    warm: object = None


def _exact(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """The exact MIP, warm-started from the best baseline, which is also the fallback."""
    from allocator.fast import AUTO_FAST_COLUMNS, model_columns
    from models.build import build_model
    from models.data import prepare
    from models.start import start_values

    if options.solver == "highs" and options.deadline is not None and model_columns(scr) > AUTO_FAST_COLUMNS:
        return _exact_by_matrix(instance, scr, options, seconds, t0)
    data = prepare(instance, scr)
    model = build_model(data)
    seconds["build"] = time.perf_counter() - t0
    size = {"pairs": data.n_pairs, "usage_variables": data.n_usage_vars,
            "variables": int(model.nvariables()), "constraints": int(model.nconstraints())}
    t0 = time.perf_counter()
    if data.n_pairs == 0:
        seconds["solve"] = time.perf_counter() - t0
        return _Chosen(np.zeros(0, dtype=bool), _empty_schedule(), "optimal", 0.0, ["no demand has an allowed pool"], size, 0.0)
    heuristic = _best_heuristic(instance, scr)
    first_notes: list[str] = []
    start = None if heuristic.unplaced_must_serve else start_values(model, data, heuristic.chosen, heuristic.schedule)
    share = EXACT_BOUND_SECONDS if options.time_limit is None else min(EXACT_BOUND_SECONDS, 0.05 * options.time_limit)
    lagrangian, _ = certified_bound(instance, scr, options, heuristic, seconds=share)
    if options.deadline is not None:  # the build, the greedy start and the bound count against the limit too
        options = dataclasses.replace(options, time_limit=max(0.5, options.deadline - time.perf_counter()))
    run = solve_model(model, options, start)
    seconds["solve"] = time.perf_counter() - t0
    seconds["translate"] = run.translate_seconds
    first = run.value_stage
    if first.status == "infeasible":
        lines = explain_infeasible(model, data)
        raise InfeasibleInstance("the instance is infeasible:\n  " + "\n  ".join(lines), lines)
    if first.status == "no_solution":
        if start is None:
            raise NoSolution(f"no plan found within the limits (the solver ended {first.termination})")
        bound = min(first.bound if first.bound is not None else np.inf, lagrangian)
        notes = first_notes + [f"the solver found no plan within the limits ({first.termination}); the plan is its start"]
        return _Chosen(heuristic.chosen, heuristic.schedule, "feasible", bound, notes, size)
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
    return _Chosen(chosen, schedule, "optimal" if proven else "feasible", bound, notes, size, cost_bound)


def _exact_by_matrix(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """The exact MIP on the numpy-built matrix (the same model, :mod:`models.matrix`), for instances whose
    Pyomo build and translation alone would outlast --time-limit (290,000 columns: 27 s): value stage from
    the best baseline, stopped at --gap against the Lagrangian bound or its own proof, then the cost stage
    with the value held, both to the deadline."""
    from allocator.fast import _cost_stage, restricted_mip

    heuristic = _best_heuristic(instance, scr)
    share = min(EXACT_BOUND_SECONDS, 0.05 * (remaining(options) or 0.0))
    lagrangian, _ = certified_bound(instance, scr, options, heuristic, seconds=share)
    seconds["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    notes = [f"the exact MIP built as a numpy matrix ({len(scr.pairs):,} pairs): a Pyomo build would outlast the limit"]
    everything = np.ones(len(scr.pairs), dtype=bool)
    value_seconds = 0.9 * remaining(options)
    plan, mip_bound = restricted_mip(instance, scr, everything, heuristic, value_seconds, lagrangian, options.gap, notes,
                                     "exact MIP")
    if plan.unplaced_must_serve:
        raise NoSolution(f"no plan serving every must_serve demand found within the limits "
                         f"({', '.join(plan.unplaced_must_serve)})")
    values = scr.pairs["value"].to_numpy()
    value = float(values[plan.chosen].sum())
    bound = min(lagrangian, mip_bound)
    box = remaining(options)
    if box > 0.5 and plan.chosen.any():
        served = scr.pairs["demand_id"].isin(set(scr.pairs["demand_id"].to_numpy()[plan.chosen])).to_numpy()
        plan = _cost_stage(instance, scr, plan, served, value, box, options, notes)
    seconds["solve"] = time.perf_counter() - t1
    proven = bound - value <= options.gap * abs(bound)
    return _Chosen(plan.chosen, plan.schedule, "optimal" if proven else "feasible", bound, notes,
                   {"pairs": len(scr.pairs)})


def _fast(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float,
          decomposition_share: float = 1.0) -> _Chosen:
    """Price-and-fix, an hourly schedule where needed, the cost stage (:mod:`allocator.fast`)."""
    from allocator.fast import solve_fast

    result = solve_fast(instance, scr, options, lambda: _best_heuristic(instance, scr),
                        decomposition_share=decomposition_share)
    seconds["build"] = time.perf_counter() - t0 - sum(v for k, v in result.phases.items() if k != "build")
    seconds["solve"] = sum(v for k, v in result.phases.items() if k != "build")
    seconds.update({f"solve_{k}": v for k, v in result.phases.items() if k != "build"})
    if result.status == "infeasible":
        raise InfeasibleInstance("the instance is infeasible: " + "; ".join(result.notes), result.notes)
    if result.status == "no_solution":
        from allocator.fast import relaxation_infeasible

        if relaxation_infeasible(instance, scr):
            raise InfeasibleInstance("the instance is infeasible: even the LP relaxation cannot serve every must_serve "
                                     "demand within capacity, energy and budget", [])
        raise NoSolution("no plan serving every must_serve demand found within the limits (fast method)")
    return _Chosen(result.chosen, result.schedule, result.status, result.bound, result.notes, result.size, warm=result.warm)


def _partition(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """Parts by enterprise solved in parallel, merged and repaired, then improved and bounded on the
    whole instance by the fast method started from the merged plan, the parts' prices and their
    LP plan columns (:mod:`allocator.partition`)."""
    from allocator.decompose import WarmStart
    from allocator.fast import FAST_DEFAULT_GAP, solve_fast
    from allocator.partition import solve_partitioned

    plan, parts, notes = solve_partitioned(instance, scr, options, options.parts, options.executor)
    seconds["parts"] = time.perf_counter() - t0
    if plan.unplaced_must_serve:
        raise NoSolution(f"the partitioned method could not place must_serve demand(s) {', '.join(plan.unplaced_must_serve)}")
    t1 = time.perf_counter()
    whole = dataclasses.replace(options, method="fast", gap_given=True, gap=options.gap if options.gap_given else FAST_DEFAULT_GAP)
    if options.time_limit is not None:  # the whole instance gets what the parts left of the limit
        left = remaining(options) if options.deadline is not None else options.time_limit - (t1 - t0)
        whole = dataclasses.replace(whole, time_limit=max(1.0, left))
    priced = [p.warm for p in parts if p.warm is not None]
    result = solve_fast(instance, scr, whole, lambda: plan, warm=WarmStart.combine(priced) if priced else None)
    seconds["whole"] = time.perf_counter() - t1
    seconds["build"] = result.phases.get("build", 0.0)
    seconds["solve"] = time.perf_counter() - t0 - seconds["build"]
    notes.append("the whole instance, from the merged plan" + (f", the mean of {len(priced)} parts' prices and their LP plan columns" if priced else "")
                 + ": " + "; ".join(result.notes))
    if result.status in ("infeasible", "no_solution"):  # keep the merged plan
        bound, bound_notes = certified_bound(instance, scr, options, plan, seconds=0.0)
        return _Chosen(plan.chosen, plan.schedule, "feasible", bound, notes + bound_notes, {"parts": len(parts)})
    return _Chosen(result.chosen, result.schedule, result.status, result.bound, notes, {"parts": len(parts), **result.size})


def _best_heuristic(instance: Instance, scr: Screen):
    """The greedy, fcfs or cap-aware (whole enterprises) plan, whichever serves more value (must-serve
    complete first): the MIP start and fallback, so the exact method never returns less value than
    either baseline."""
    values = scr.pairs["value"].to_numpy()
    plans = [place(instance, scr, method) for method in ("greedy", "fcfs")]
    plans.append(place_in_order(instance, scr, enterprise_sequence(instance, scr)))
    return max(plans, key=lambda h: (not h.unplaced_must_serve, float(values[h.chosen].sum())))


def _empty_schedule() -> pd.DataFrame:
    return pd.DataFrame(columns=["demand_id", "pool_id", "period", "card_hours"])


def solve_and_write(folder: Path, out: Path, options: SolveOptions | None = None) -> SolveResult:
    result = solve_instance(folder, options)
    result.seconds["write"] = write_plan(out, result.plan, result.summary())
    return result
