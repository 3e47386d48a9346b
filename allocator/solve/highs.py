"""HiGHS through Pyomo's persistent interface: one stage of the lexicographic solve at a time.

The model is translated once (:meth:`HighsStages.prepare_start`); each stage solves the
model's active objective and loads the incumbent into the model's variables, and the next
stage starts from the previous stage's solution. The result is a typed
:class:`~allocator.solve.options.StageOutcome`; an infeasible or timed-out solve is a
result, not an exception. The two stages themselves are driven by
:func:`allocator.solve.lexicographic.solve_model`, the same for every solver.
"""

from __future__ import annotations

import math
import time

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from allocator.solve.options import SolveOptions, StageOutcome
from allocator.solve.progress import LiveLine


def contrib_status(results) -> str:
    """optimal | feasible | infeasible | no_solution of a ``pyomo.contrib.solver`` result."""
    if results.termination_condition in (
        TerminationCondition.provenInfeasible,
        TerminationCondition.infeasibleOrUnbounded,
    ):
        return "infeasible"
    if results.solution_status == SolutionStatus.optimal:
        return "optimal"
    if results.solution_status == SolutionStatus.feasible:
        if results.termination_condition == TerminationCondition.convergenceCriteriaSatisfied:
            return "optimal"
        return "feasible"
    return "no_solution"


def highs_version() -> str:
    import highspy

    h = highspy.Highs()
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


def sparse_start(opt, start: list[tuple] | None):
    """A MIP start [(variable, value), ...] as HiGHS column indices and values (None without one)."""
    if not start:
        return None
    columns = opt._pyomo_var_to_solver_var_map
    index = np.array([columns[id(var)] for var, _ in start], dtype=np.int32)
    value = np.array([v for _, v in start], dtype=float)
    return index, value


def run_stage(opt, m, options: SolveOptions, time_limit: float | None, warm=None, max_nodes: int | None = None) -> StageOutcome:
    """Solve the active objective once on the persistent HiGHS ``opt``, from ``warm`` (a sparse start or a HighsSolution)."""
    import sys

    if warm is not None:
        opt.update()
        if isinstance(warm, tuple):
            index, value = warm
            opt._solver_model.setSolution(len(index), index, value)
        else:
            opt._solver_model.setSolution(warm)
    live = _attach_live_line(opt, m) if options.progress and not options.verbose else None
    t0 = time.perf_counter()
    tee = [sys.stderr] if options.verbose else []
    results = opt.solve(
        m,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=time_limit,
        rel_gap=options.gap,
        threads=options.threads,
        tee=tee,
        solver_options={} if max_nodes is None else {"mip_max_nodes": int(max_nodes)},
    )
    seconds = time.perf_counter() - t0
    if live is not None:
        live.close()
        opt._solver_model.stopCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    status = contrib_status(results)
    if status in ("optimal", "feasible"):
        results.solution_loader.load_vars()
    bound = results.objective_bound
    return StageOutcome(
        status=status,
        objective=results.incumbent_objective,
        bound=None if bound is None or (isinstance(bound, float) and math.isnan(bound)) else float(bound),
        seconds=seconds,
        termination=str(results.termination_condition.name),
        log=getattr(results, "solver_log", "") or "",
    )


def _attach_live_line(opt, m) -> LiveLine:
    stage = "value" if m.served_value.active else "cost"
    live = LiveLine(stage)
    opt._solver_model.setCallback(live, None)
    opt._solver_model.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    return live


class HighsStages:
    """The HiGHS stage solver: translated once, each stage warm-started from the one before."""

    name = "highs"
    supports_node_limit = True  # SolveOptions.cost_stage_max_nodes bounds the cost stage instead of seconds

    def __init__(self) -> None:
        self.version = highs_version()
        self._opt = None
        self._solution = None  # the last stage's HighsSolution: the next stage's start

    def prepare_start(self, m: pyo.ConcreteModel, start: list[tuple] | None) -> tuple[object, list[str], float]:
        """Translate the model for HiGHS; return the sparse MIP start, notes and the seconds translating took."""
        from pyomo.contrib.solver.solvers.highs import Highs

        self._opt = Highs()
        t0 = time.perf_counter()
        self._opt.set_instance(m)
        return sparse_start(self._opt, start), [], time.perf_counter() - t0

    def continue_start(self, m: pyo.ConcreteModel) -> object:
        """The start of the next stage: the previous stage's solution."""
        return self._solution

    def solve_stage(self, m: pyo.ConcreteModel, options: SolveOptions, time_limit_s: float | None, warm,
                    max_nodes: int | None = None) -> tuple[StageOutcome, float]:
        outcome = run_stage(self._opt, m, options, time_limit_s, warm=warm, max_nodes=max_nodes)
        self._solution = self._opt._solver_model.getSolution()
        return outcome, 0.0
