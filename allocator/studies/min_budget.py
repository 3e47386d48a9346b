"""The smallest fund of one programme that serves a target share of the requested value.

Solved exactly as one MIP with the budget as a variable (``allocator min-budget``):

1. The model is built with the programme's ``budget_yuan`` set to 0, so that
   :func:`models.subsidy.budget_may_bind` treats its budget as binding and every
   enterprise of the programme whose cap may bind gets the exact ``min(rate x bill,
   cap)`` subsidy (with its binary); the model is then exact for any budget.
2. That programme's ``budget_limit`` row is deactivated and replaced by
       fund_limit:    sum_{e in g} subsidy_yuan(e) <= fund_yuan           [yuan]
       reach_target:  served_value V >= SHARE x requested value             [priority x card-hours]
   where the requested value is sum over *all* demands of priority x card_hours.
3. Stage "fund": minimize ``fund_yuan`` (a proven bound comes with it).
4. Stage "plan" (optional): hold ``fund_yuan`` at the stage-3 value and run the
   ordinary lexicographic solve (maximize V, then minimize cost), so the plan is
   what the allocator itself would do with that fund.

The reported ``min_budget_yuan`` is what the final plan's programme spends,
recomputed with the SPEC's R8 formulas (never read from solver variables); the
instance with the programme's budget set to it admits that plan, so
``allocator solve`` there serves at least the target.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from allocator.files import claim_output_folder
from allocator.instance.reading import read_instance
from allocator.instance.screening import Screen, screen
from allocator.instance.types import Instance
from allocator.instance.writing import copy_instance_folder
from allocator.plan.extract import Plan, extract_plan, schedule_from_solution
from allocator.plan.writing import write_plan
from allocator.problems import AllocatorError, InfeasibleInstance, NoSolution
from allocator.solve.bound import value_upper_bound
from allocator.solve.heuristics import place
from allocator.solve.highs import highs_version, run_stage, sparse_start
from allocator.solve.lexicographic import solve_model
from allocator.solve.options import SolveOptions
from allocator.solve.pipeline import check_must_serve
from allocator.solve.result import SolveResult, relative_gap
from allocator.studies.sweep.points import SweepPoint
from allocator.studies.sweep.variants import (
    load_instance_files,
    variant_files,
    write_files,
)

TARGET_TOLERANCE = 1e-9  # relative: V >= target x (1 - this), so a target met to round-off counts
FUND_HOLD_RELATIVE = 1e-9  # the plan stage keeps fund_yuan <= fund x (1 + this) + FUND_HOLD_ABSOLUTE_YUAN
FUND_HOLD_ABSOLUTE_YUAN = 1e-6


@dataclass
class MinBudgetResult:
    """The smallest fund found for ``program_id`` and, when asked for, the plan that spends it."""

    program_id: str
    target_share: float
    requested_value: float  # sum of priority x card_hours over all demands
    min_budget_yuan: float  # what the programme's enterprises receive in the plan: the smallest fund found
    bound_yuan: float  # proven lower bound on the smallest fund
    status: str  # of the fund stage: optimal (within the gap) or feasible
    gap: float  # relative gap of the fund stage: (min_budget - bound) / min_budget
    served_value: float
    original_budget_yuan: float
    seconds: dict[str, float] = field(default_factory=dict)
    solve: SolveResult | None = None  # the plan at that fund (None when only the fund was asked for)

    @property
    def target_value(self) -> float:
        return self.target_share * self.requested_value

    @property
    def served_share(self) -> float:
        return self.served_value / self.requested_value if self.requested_value > 0 else 0.0

    def summary_fields(self) -> dict:
        """The extra keys of summary.json."""
        return {
            "min_budget_program": self.program_id,
            "min_budget_yuan": self.min_budget_yuan,
            "min_budget_bound_yuan": self.bound_yuan,
            "min_budget_status": self.status,
            "min_budget_gap": self.gap,
            "original_budget_yuan": self.original_budget_yuan,
            "target_share": self.target_share,
            "target_value": self.target_value,
            "requested_value": self.requested_value,
            "served_share": self.served_share,
        }


def requested_value(instance: Instance) -> float:
    """Sum over every demand of priority x card_hours: the value a plan serving everything would have."""
    d = instance.demands
    return float((d["priority"] * d["card_hours"]).sum())


def choose_program(instance: Instance, program_id: str | None) -> str:
    """The programme asked for, or the only one of the instance; an AllocatorError (exit 2) otherwise."""
    known = list(instance.programs["program_id"])
    if program_id is None:
        if len(known) == 1:
            return known[0]
        raise AllocatorError(f"the instance has {len(known)} programmes ({', '.join(known)}): choose one with --program")
    if program_id not in known:
        raise AllocatorError(f"unknown programme '{program_id}' (programmes: {', '.join(known)})")
    return program_id


def with_budget(instance: Instance, program_id: str, budget_yuan: float) -> Instance:
    """A copy of ``instance`` whose programme ``program_id`` has ``budget_yuan``."""
    programs = instance.programs.copy()
    programs.loc[programs["program_id"] == program_id, "budget_yuan"] = float(budget_yuan)
    return dataclasses.replace(instance, tables={**instance.tables, "programs": programs})


def program_subsidy_yuan(plan: Plan, program_id: str) -> float:
    """What the plan pays out of the programme's fund (R8 subsidies of its enterprises)."""
    ent = plan.enterprises
    return float(ent.loc[ent["program_id"] == program_id, "subsidy_yuan"].sum())


def add_fund_variable(m: pyo.ConcreteModel, instance: Instance, program_id: str, target_value: float) -> None:
    """Replace the programme's budget row by a variable fund and ask for the target value.

    fund_limit:    sum_{e in g} subsidy_yuan(e) <= fund_yuan        [yuan]
    reach_target:  V >= target_value x (1 - TARGET_TOLERANCE)
    min_fund:      minimize fund_yuan (the value and cost objectives are deactivated)
    """
    program_of = instance.enterprises.set_index("enterprise_id")["program_id"]
    members = [e for e in m.ENTERPRISES if program_of[e] == program_id]
    if program_id in m.TIGHT_PROGRAMS and program_id in m.budget_limit:
        m.budget_limit[program_id].deactivate()
    m.fund_yuan = pyo.Var(domain=pyo.NonNegativeReals, doc="the programme's fund [yuan]")
    m.fund_limit = pyo.Constraint(
        expr=sum(m.subsidy_yuan[e] for e in members) <= m.fund_yuan,
        doc="subsidies of the programme's enterprises within the variable fund (R9)",
    )
    m.reach_target = pyo.Constraint(
        expr=m.served_value_expr >= target_value * (1.0 - TARGET_TOLERANCE),
        doc="the plan serves at least the target value",
    )
    m.served_value.deactivate()
    m.cost.deactivate()
    m.min_fund = pyo.Objective(expr=m.fund_yuan, sense=pyo.minimize)


def solve_min_budget(folder: Path, target_share: float, program_id: str | None = None,
                     options: SolveOptions | None = None, plan: bool = True) -> MinBudgetResult:
    """The smallest budget of one programme whose plan serves ``target_share`` of the requested value.

    Raises InfeasibleInstance (exit 3) when even an unlimited budget cannot reach the
    target, NoSolution (exit 4) when no fund is found within the time limit, and
    AllocatorError (exit 2) for an unknown or ambiguous programme. With ``plan`` false
    only the fund stage runs (``solve`` is None).
    """
    options = options or SolveOptions()
    if not 0.0 <= target_share <= 1.0:
        raise AllocatorError(f"the target share must be within 0..1, got {target_share}")
    deadline = None if options.time_limit is None else time.perf_counter() + options.time_limit
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    original = read_instance(Path(folder))
    seconds["load"] = time.perf_counter() - t0
    program_id = choose_program(original, program_id)
    original_budget = float(original.programs.set_index("program_id").at[program_id, "budget_yuan"])
    total = requested_value(original)
    target_value = target_share * total

    t0 = time.perf_counter()
    zeroed = with_budget(original, program_id, 0.0)
    scr = screen(zeroed)
    check_must_serve(zeroed, scr)
    _check_reachable_after_screening(scr, target_value, total, target_share)
    from models.build import build_model
    from models.data import prepare

    data = prepare(zeroed, scr)
    m = build_model(data)
    add_fund_variable(m, zeroed, program_id, target_value)
    start = _greedy_start(m, data, original, scr, program_id)
    seconds["build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    fund_stage, opt = _solve_fund_stage(m, options, deadline, start)
    if fund_stage.status == "infeasible":
        _explain_unreachable(opt, m, options, deadline, program_id, target_share, total)
    if fund_stage.status == "no_solution":
        raise NoSolution(f"no fund reaching the target was found within the limits (the solver ended {fund_stage.termination})")
    seconds["solve_fund"] = time.perf_counter() - t0
    seconds["solve"] = seconds["solve_fund"]
    chosen = _assign(m, data.n_pairs) > 0.5
    schedule = schedule_from_solution(data.pairs, data.usage_rows, chosen, _usage(m, data.n_usage_vars))
    fund_plan = extract_plan(zeroed, scr, scr.pairs[chosen], schedule)
    fund_yuan = program_subsidy_yuan(fund_plan, program_id)
    bound = _fund_bound(fund_stage, fund_yuan)

    result = MinBudgetResult(
        program_id=program_id, target_share=target_share, requested_value=total, min_budget_yuan=fund_yuan,
        bound_yuan=bound, status=fund_stage.status, gap=_fund_gap(fund_yuan, bound),
        served_value=fund_plan.served_value, original_budget_yuan=original_budget, seconds=seconds,
    )
    if not plan:
        return result

    t0 = time.perf_counter()
    solved = _plan_stage(m, data, scr, zeroed, original, program_id, fund_yuan, fund_stage.status, options, deadline,
                         fallback=(chosen, schedule))
    seconds["solve_plan"] = time.perf_counter() - t0
    seconds["solve"] = seconds["solve_fund"] + seconds["solve_plan"]
    solved.seconds = seconds
    spent = program_subsidy_yuan(solved.plan, program_id)
    solved.notes.append(
        f"programme '{program_id}': smallest fund {spent:,.2f} yuan (proven lower bound {bound:,.2f}); "
        f"programs.csv shows it as the budget (the instance's own budget is {original_budget:,.2f})"
    )
    result.min_budget_yuan = spent
    result.gap = _fund_gap(spent, bound)
    result.served_value = solved.plan.served_value
    result.seconds = solved.seconds
    result.solve = solved
    return result


def write_min_budget(folder: Path, out: Path, target_share: float, program_id: str | None = None,
                     options: SolveOptions | None = None, instance_out: Path | None = None) -> MinBudgetResult:
    """Solve :func:`solve_min_budget` and write its plan folder; summary.json adds the min-budget fields.

    The plan belongs to the instance with the programme's budget set to the minimum:
    summary.json names that instance's files (sha256), and ``instance_out``, when given,
    receives a copy of it, so ``allocator check INSTANCE_OUT PLAN`` verifies the plan.
    """
    claim_output_folder(out, [folder], "plan folder")
    if instance_out is not None:
        claim_output_folder(instance_out, [folder, out], "instance folder")
    result = solve_min_budget(folder, target_share, program_id, options, plan=True)
    assert result.solve is not None  # plan=True always gives one
    with tempfile.TemporaryDirectory(prefix="allocator-min-budget-") as tmp:
        variant_folder = Path(tmp) / "instance"
        write_budget_variant(Path(folder), variant_folder, result.program_id, result.min_budget_yuan)
        variant = read_instance(variant_folder)
        summary = result.solve.summary()
        summary.update(result.summary_fields())
        summary["instance_sha256"] = variant.files_sha256
        result.seconds["write"] = write_plan(out, result.solve.plan, summary, variant)
        if instance_out is not None:
            copy_instance_folder(variant_folder, Path(instance_out), {"command": "min-budget", "from_instance": str(Path(folder).resolve()),
                                                                     "program_id": result.program_id,
                                                                     "budget_yuan": result.min_budget_yuan})
    return result


def write_budget_variant(folder: Path, out: Path, program_id: str, budget_yuan: float) -> Path:
    """Copy the instance in ``folder`` to ``out`` with the programme's budget_yuan set (exactly) to ``budget_yuan``."""
    files = load_instance_files(folder)
    variant = variant_files(files, read_instance(folder), [program_id], SweepPoint(budget_yuan=budget_yuan))
    return write_files(out, variant)


# --------------------------------------------------------------------------- stages


def _check_reachable_after_screening(scr: Screen, target_value: float, total: float, share: float) -> None:
    """Exit 3 at once when the demands that pass screening cannot add up to the target."""
    reachable = value_upper_bound(scr)
    if reachable < target_value * (1.0 - TARGET_TOLERANCE):
        raise InfeasibleInstance(
            f"the target cannot be reached with any budget: only {reachable / total:.4%} of the requested value "
            f"passes screening (eligibility, designated centers, compatibility, latency, windows); target {share:.4%}"
        )


def _greedy_start(m: pyo.ConcreteModel, data, original: Instance, scr: Screen, program_id: str) -> list[tuple] | None:
    """A MIP start: the greedy plan with the programme's budget unlimited (used only if it reaches the target)."""
    from models.start import start_values

    heuristic = place(with_budget(original, program_id, math.inf), scr, "greedy")
    if heuristic.unplaced_must_serve or data.n_pairs == 0:
        return None
    return start_values(m, data, heuristic.chosen, heuristic.schedule)


def _solve_fund_stage(m: pyo.ConcreteModel, options: SolveOptions, deadline: float | None, start):
    from pyomo.contrib.solver.solvers.highs import Highs

    opt = Highs()
    opt.set_instance(m)
    outcome = run_stage(opt, m, options, _remaining(deadline), warm=sparse_start(opt, start))
    return outcome, opt


def _explain_unreachable(opt, m: pyo.ConcreteModel, options: SolveOptions, deadline: float | None,
                         program_id: str, share: float, total: float) -> None:
    """Raise InfeasibleInstance, saying how much an unlimited fund could serve when that is found in time."""
    m.reach_target.deactivate()
    m.min_fund.deactivate()
    m.served_value.activate()
    most = run_stage(opt, m, options, _remaining(deadline))
    if most.status == "infeasible":
        raise InfeasibleInstance("the instance is infeasible whatever the budget (must_serve demands cannot all be served)")
    detail = ""
    if most.status in ("optimal", "feasible") and most.bound is not None and total > 0:
        detail = f"; at most {most.bound / total:.4%} can be served"
    raise InfeasibleInstance(
        f"even an unlimited budget for programme '{program_id}' (other programmes as given) cannot serve "
        f"{share:.4%} of the requested value{detail}"
    )


def _plan_stage(m: pyo.ConcreteModel, data, scr: Screen, zeroed: Instance, original: Instance, program_id: str,
                fund_yuan: float, fund_status: str, options: SolveOptions, deadline: float | None,
                fallback: tuple[np.ndarray, pd.DataFrame]) -> SolveResult:
    """Hold the fund, maximize V then minimize cost (the ordinary solve); the fund-stage plan is the start."""
    start = [(v, v.value) for v in m.component_data_objects(pyo.Var, descend_into=True)
             if v.value is not None and (v.is_integer() or v.parent_component() is m.usage)]
    m.fund_yuan.setub(fund_yuan * (1.0 + FUND_HOLD_RELATIVE) + FUND_HOLD_ABSOLUTE_YUAN)
    m.min_fund.deactivate()
    m.served_value.activate()
    stage_options = dataclasses.replace(options, time_limit=_remaining(deadline))
    notes: list[str] = []
    run = solve_model(m, stage_options, start)
    chosen, schedule = fallback
    value_bound = None
    cost_bound = None
    proven = False
    if run.value_stage.status in ("optimal", "feasible"):
        chosen = run.assign > 0.5
        schedule = schedule_from_solution(data.pairs, data.usage_rows, chosen, run.usage)
        value_bound = run.value_stage.bound
        second = run.cost_stage
        cost_bound = second.bound if second is not None else None
        proven = run.value_stage.status == "optimal" and second is not None and second.status == "optimal"
        notes += run.notes
    else:
        notes.append(f"the plan stage ended {run.value_stage.status}: the plan is the fund stage's")
    spent = program_subsidy_yuan(extract_plan(zeroed, scr, scr.pairs[chosen], schedule), program_id)
    final = with_budget(original, program_id, spent)
    plan = extract_plan(final, scr, scr.pairs[chosen], schedule)
    bound = max(value_bound if value_bound is not None else plan.served_value, plan.served_value)
    return SolveResult(
        instance=final,
        status="optimal" if proven and fund_status == "optimal" else "feasible",
        plan=plan,
        best_bound=bound,
        gap=relative_gap(plan.served_value, bound),
        method="min-budget",
        solver="highs",
        solver_version=highs_version(),
        notes=notes,
        model_size={"pairs": data.n_pairs, "usage_variables": data.n_usage_vars,
                    "variables": int(m.nvariables()), "constraints": int(m.nconstraints())},
        cost_bound=cost_bound,
    )


# --------------------------------------------------------------------------- helpers


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.perf_counter())


def _assign(m: pyo.ConcreteModel, n: int) -> np.ndarray:
    return np.array([m.assign[k].value or 0.0 for k in range(n)], dtype=float)


def _usage(m: pyo.ConcreteModel, n: int) -> np.ndarray:
    return np.array([m.usage[j].value or 0.0 for j in range(n)], dtype=float)


def _fund_bound(stage, fund_yuan: float) -> float:
    """The solver's lower bound on the fund, never above the fund found, never below 0."""
    bound = stage.bound if stage.bound is not None else 0.0
    return float(min(max(bound, 0.0), fund_yuan))


def _fund_gap(fund_yuan: float, bound_yuan: float) -> float:
    """(fund - bound) / fund, 0 when the fund is 0."""
    if fund_yuan <= 1e-12:
        return 0.0
    return max(0.0, (fund_yuan - bound_yuan) / fund_yuan)
