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
from allocator.heuristics import place
from allocator.solvers import solver_version
from allocator.solving import SolveOptions, solve_model
from allocator.writing import write_plan

METHODS = ("exact", "fcfs", "greedy")


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

    def summary(self) -> dict:
        inst = self.instance
        plan = self.plan
        return {
            "instance": inst.name,
            "instance_path": str(Path(inst.folder).resolve()),
            "instance_sha256": inst.files_sha256,
            "method": self.method,
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


def solve_instance(folder: Path, options: SolveOptions | None = None) -> SolveResult:
    """Read, screen, build, solve and extract; raise Infeasible/NoSolution errors as results demand."""
    options = options or SolveOptions()
    if options.method not in METHODS:
        raise ValueError(f"unknown method '{options.method}' (known: {', '.join(METHODS)})")
    version = solver_version(options.solver) if options.method == "exact" else ""  # SolverUnavailable: exit 2
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    instance = read_instance(Path(folder))
    seconds["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scr = screen(instance)
    check_must_serve(instance, scr)
    if options.method == "exact":
        decided = _exact(instance, scr, options, seconds, t0)
    else:
        heuristic = place(instance, scr, options.method)
        if heuristic.unplaced_must_serve:
            raise NoSolution(f"{options.method} could not place must_serve demand(s) {', '.join(heuristic.unplaced_must_serve)}")
        decided = _Chosen(heuristic.chosen, heuristic.schedule, "feasible", value_upper_bound(scr),
                          ["best_bound is the total value of every screened demand"])
        seconds["build"] = 0.0
        seconds["solve"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    plan = extract_plan(instance, scr, scr.pairs[decided.chosen], decided.schedule)
    plan.unserved = refine_reasons(instance, scr, plan)
    seconds["extract"] = time.perf_counter() - t0
    bound = max(decided.bound if decided.bound is not None else plan.served_value, plan.served_value)
    return SolveResult(
        instance=instance,
        status=decided.status,
        plan=plan,
        best_bound=bound,
        gap=relative_gap(plan.served_value, bound),
        method=options.method,
        solver=options.solver if options.method == "exact" else "none",
        solver_version=version,
        seconds=seconds,
        notes=decided.notes,
        model_size=decided.size,
        cost_bound=decided.cost_bound,
    )


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


def _exact(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """The exact MIP, warm-started from the greedy plan, which is also the fallback."""
    from models.build import build_model
    from models.data import prepare
    from models.start import start_values

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
    start = None if heuristic.unplaced_must_serve else start_values(model, data, heuristic.chosen, heuristic.schedule)
    if options.time_limit is not None:  # the greedy start counts against the limit too
        left = max(1.0, options.time_limit - (time.perf_counter() - t0))
        options = dataclasses.replace(options, time_limit=left)
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
        bound = first.bound if first.bound is not None else value_upper_bound(scr)
        notes = [f"the solver found no plan within the limits ({first.termination}); the plan is the greedy start"]
        return _Chosen(heuristic.chosen, heuristic.schedule, "feasible", bound, notes, size)
    chosen = run.assign > 0.5
    schedule = schedule_from_solution(data.pairs, data.usage_rows, chosen, run.usage)
    second = run.cost_stage
    proven = first.status == "optimal" and second is not None and second.status == "optimal"
    notes = list(run.notes)
    if second is not None and second.status == "feasible":
        notes.append(f"cost stage stopped after {second.seconds:.1f} s ({second.termination}); see cost_gap")
    cost_bound = second.bound if second is not None else None
    return _Chosen(chosen, schedule, "optimal" if proven else "feasible", first.bound, notes, size, cost_bound)


def _best_heuristic(instance: Instance, scr: Screen):
    """The greedy or fcfs plan, whichever serves more value (must-serve complete first): the MIP start
    and fallback, so the exact method never returns less value than either baseline."""
    values = scr.pairs["value"].to_numpy()
    plans = [place(instance, scr, method) for method in ("greedy", "fcfs")]
    return max(plans, key=lambda h: (not h.unplaced_must_serve, float(values[h.chosen].sum())))


def _empty_schedule() -> pd.DataFrame:
    return pd.DataFrame(columns=["demand_id", "pool_id", "period", "card_hours"])


def solve_and_write(folder: Path, out: Path, options: SolveOptions | None = None) -> SolveResult:
    result = solve_instance(folder, options)
    result.seconds["write"] = write_plan(out, result.plan, result.summary())
    return result
