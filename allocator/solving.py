"""Solve the model lexicographically with HiGHS through Pyomo's persistent interface.

Stage 1 maximizes the served value V. Stage 2 holds V at the stage-1 incumbent
and minimizes the cost K, warm-started from the stage-1 plan. The result is a
typed :class:`StageOutcome` per stage; an infeasible or timed-out solve is a
result, not an exception.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

VALUE_HOLD_RELATIVE = 1e-9  # stage 2 keeps V >= V1 * (1 - this) - this
COST_STAGE_MIN_SECONDS = 10.0  # without a user time limit, the cost stage gets
COST_STAGE_FACTOR = 3.0  # max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR x stage-1 time)


@dataclass
class SolveOptions:
    time_limit: float | None = None  # seconds for the whole solve (both stages)
    gap: float = 1e-4  # relative MIP gap
    threads: int | None = None
    solver: str = "highs"
    method: str = "auto"  # auto: exact up to a size threshold, fast above (allocator.pipeline.resolve_method)
    gap_given: bool = False  # the user asked for --gap: auto keeps the exact MIP
    parts: int = 4  # --method partition: number of parts
    executor: Any = None  # --method partition: ExecutorOptions (local workers or a Dask scheduler)
    verbose: bool = False
    # A deterministic cost stage: stop it after this many branch-and-bound nodes instead of
    # the wall-clock box below, so repeated solves (sweeps) give the same plan on any machine.
    cost_stage_max_nodes: int | None = None
    progress: bool = False  # a live line (elapsed, incumbent, bound, gap) on the terminal while HiGHS runs
    # time.perf_counter() by which the solve must end (set from --time-limit when the command starts, so that
    # reading, screening and model building count; extraction and writing are reserved before it). Local to
    # this process: not handed to the partitioned method's parts.
    deadline: float | None = None


@dataclass
class StageOutcome:
    status: str  # optimal | feasible | infeasible | no_solution
    objective: float | None
    bound: float | None
    seconds: float
    termination: str
    log: str = ""


@dataclass
class SolverRun:
    """What the solver did: per-stage outcomes and the chosen assignment."""

    value_stage: StageOutcome
    cost_stage: StageOutcome | None
    assign: np.ndarray  # 0/1 per pair
    usage: np.ndarray  # card-hours per usage variable j
    solver_name: str
    solver_version: str
    translate_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _status(results) -> str:
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


def solve_model(m: pyo.ConcreteModel, options: SolveOptions, start: list[tuple] | None = None) -> SolverRun:
    """Run both stages on the built model (Pyomo v2 HiGHS interface).

    ``start`` is an optional list of (variable, value) handed to HiGHS as a MIP start.
    """
    if options.solver != "highs":
        from allocator.solvers import solve_model_with

        return solve_model_with(m, options, start)
    from pyomo.contrib.solver.solvers.highs import Highs

    opt = Highs()
    deadline = options.deadline if options.deadline is not None else (
        None if options.time_limit is None else time.perf_counter() + options.time_limit)
    t0 = time.perf_counter()
    opt.set_instance(m)
    translate_seconds = time.perf_counter() - t0
    notes: list[str] = []

    first = _run(opt, m, options, _remaining(deadline, share=1.0), warm=_sparse_start(opt, start))
    if first.status in ("infeasible", "no_solution"):
        return SolverRun(first, None, np.zeros(len(m.PAIRS)), np.zeros(len(m.USAGE_VARS)), "highs", highs_version(), translate_seconds)
    assign = _values(m.assign, len(m.PAIRS))
    usage = _values(m.usage, len(m.USAGE_VARS))

    # Stage 2: hold the served value, minimize cost, starting from the stage-1 plan.
    v1 = first.objective
    m.hold_value = pyo.Constraint(expr=m.served_value_expr >= v1 - VALUE_HOLD_RELATIVE * (abs(v1) + 1.0))
    m.served_value.deactivate()
    m.cost.activate()
    remaining = _remaining(deadline, share=1.0)
    if remaining is None and options.cost_stage_max_nodes is None:
        # Proving the last 0.01 % of cost on the optimal face of stage 1 can take far longer than
        # finding it; the cost stage is time-boxed and its gap reported (status feasible if unproven).
        remaining = max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR * first.seconds)
    if remaining is not None and remaining < 0.5:
        notes.append("no time left for the cost stage: the plan keeps the stage-1 cost")
        return SolverRun(first, None, assign, usage, "highs", highs_version(), translate_seconds, notes)
    start = opt._solver_model.getSolution()
    second = _run(opt, m, options, remaining, warm=start, max_nodes=options.cost_stage_max_nodes)
    if second.status in ("optimal", "feasible"):
        assign = _values(m.assign, len(m.PAIRS))
        usage = _values(m.usage, len(m.USAGE_VARS))
    else:
        notes.append(f"cost stage ended {second.status}: the plan keeps the stage-1 assignment")
    return SolverRun(first, second, assign, usage, "highs", highs_version(), translate_seconds, notes)


def _remaining(deadline: float | None, share: float) -> float | None:
    if deadline is None:
        return None
    return max(0.0, (deadline - time.perf_counter()) * share)


class LiveLine:
    """HiGHS callback that rewrites one terminal line: stage, elapsed s, incumbent, bound, gap.

    Pyomo captures file descriptor 2 while HiGHS runs, so the line goes to a
    duplicate of the real stderr taken before the solve.
    """

    def __init__(self, stage: str, every_seconds: float = 1.0):
        self.stage = stage
        self.every = every_seconds
        self.last = -float("inf")
        self.fd = os.dup(2)

    def __call__(self, callback_type, message, out, data_in, user_data) -> None:
        self.latest = (out.running_time, out.mip_primal_bound, out.mip_dual_bound, out.mip_gap)
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._show()

    def _show(self) -> None:
        if getattr(self, "latest", None) is not None:
            os.write(self.fd, ("\r" + format_progress(self.stage, *self.latest)).encode())

    def close(self) -> None:
        self._show()  # the last state the solver reported
        os.write(self.fd, b"\n")
        os.close(self.fd)


def format_progress(stage: str, seconds: float, incumbent: float, bound: float, gap: float) -> str:
    def num(x: float) -> str:
        return "-" if not math.isfinite(x) else f"{x:,.6g}"

    gap_text = "-" if not math.isfinite(gap) else f"{gap:.2%}"
    return f"{stage:<5} {seconds:7.1f} s  incumbent {num(incumbent):>12}  bound {num(bound):>12}  gap {gap_text:>8}"


def _sparse_start(opt, start: list[tuple] | None):
    if not start:
        return None
    columns = opt._pyomo_var_to_solver_var_map
    index = np.array([columns[id(var)] for var, _ in start], dtype=np.int32)
    value = np.array([v for _, v in start], dtype=float)
    return index, value


def _run(opt, m, options: SolveOptions, time_limit: float | None, warm=None, max_nodes: int | None = None) -> StageOutcome:
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
    status = _status(results)
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


def _values(var, n: int) -> np.ndarray:
    out = np.zeros(n)
    for i in range(n):
        value = var[i].value
        out[i] = 0.0 if value is None else value
    return out

