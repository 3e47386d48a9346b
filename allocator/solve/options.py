"""What a solve is asked to do (SolveOptions) and what one solver stage did (StageOutcome, SolverRun).

``Status`` and ``Method`` are the words summary.json uses (shared/SPEC.md: optimal, feasible,
infeasible, no_solution; the methods of ``allocator solve --method``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from allocator.executor import ExecutorOptions

Status = Literal["optimal", "feasible", "infeasible", "no_solution"]
Method = Literal["auto", "exact", "fast", "partition", "fcfs", "greedy"]
METHODS: tuple[str, ...] = get_args(Method)
SOLVERS = ("highs", "scip", "cbc")  # the stage solvers of allocator.solve.backends

VALUE_HOLD_RELATIVE = 1e-9  # stage 2 keeps V >= V1 * (1 - this) - this


COST_STAGE_MIN_SECONDS = 10.0  # without a user time limit, the cost stage gets


COST_STAGE_FACTOR = 3.0  # max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR x stage-1 time)


@dataclass(frozen=True)
class StartPlan:
    """A plan to start from (served pairs and their schedule), e.g. the plan of a smaller fund in a sweep.

    It is a candidate start beside the baselines; the solve never returns less value than it
    when it is still feasible (a plan that breaks a rule of this instance is simply not used).
    """

    pairs: tuple[tuple[str, str], ...]  # (demand_id, pool_id)
    schedule: tuple[tuple[str, str, int, float], ...]  # (demand_id, pool_id, period, card_hours)

    @classmethod
    def of(cls, assignments, schedule) -> StartPlan:
        """From plan tables (assignments.csv and schedule.csv columns)."""
        pairs = tuple(zip(assignments["demand_id"], assignments["pool_id"]))
        rows = tuple((d, p, int(t), float(c)) for d, p, t, c in
                     schedule[["demand_id", "pool_id", "period", "card_hours"]].itertuples(index=False))
        return cls(pairs, rows)


@dataclass
class SolveOptions:
    """What ``allocator solve`` was asked: limits, solver, method and their knobs (see its --help)."""

    time_limit: float | None = None  # seconds for the whole solve (both stages)
    gap: float = 1e-4  # relative MIP gap
    threads: int | None = None
    solver: str = "highs"
    method: Method = "auto"  # auto: exact up to a size threshold, fast above (allocator.solve.pipeline.resolve_method)
    gap_given: bool = False  # the user asked for --gap: auto keeps the exact MIP
    parts: int = 4  # --method partition: number of parts
    executor: ExecutorOptions | None = None  # --method partition: ExecutorOptions (local workers or a Dask scheduler)
    verbose: bool = False
    # A deterministic cost stage: stop it after this many branch-and-bound nodes instead of
    # the wall-clock box below, so repeated solves (sweeps) give the same plan on any machine.
    cost_stage_max_nodes: int | None = None
    # The relative gap the cost stage stops at (None: ``gap``). The year's days stop the cost stage at 2 %:
    # on a rush day the cost stage's root alone took 10-25 s to prove 0.5 % where 2 % took 0.5 s.
    cost_gap: float | None = None
    # --method exact on the numpy matrix (allocator.solve.exact._exact_by_matrix) whatever the size: the year's
    # days, where the Pyomo build and translation took a third of each day's solve.
    exact_on_matrix: bool = False
    progress: bool = False  # a live line (elapsed, incumbent, bound, gap) on the terminal while HiGHS runs
    # time.perf_counter() by which the solve must end (set from --time-limit when the command starts, so that
    # reading, screening and model building count; extraction and writing are reserved before it). Local to
    # this process: not handed to the partitioned method's parts.
    deadline: float | None = None
    start: StartPlan | None = None  # a plan to start from, beside the baselines (sweeps: the smaller fund's plan)
    price_of_a_yuan: bool = True  # summary.json's price_of_a_yuan (allocator.solve.yuan); off for re-solves, parts, sweeps
    # the solve may start processes of its own: the exact MIP in a worker on a second core beside the fast path
    # (allocator.solve.beside), auto's partitioned method on the largest models (allocator.solve.pipeline); off
    # where solves must repeat exactly (the year's days, sweeps) or already run in workers (partition's parts)
    other_processes: bool = True


@dataclass
class StageOutcome:
    """One solver stage (value or cost): its status, objective, bound, seconds and log."""

    status: Status  # optimal | feasible | infeasible | no_solution
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


def remaining(options: SolveOptions, default: float | None = None) -> float | None:
    """Seconds until ``options.deadline`` (at least 0), else ``default``."""
    if options.deadline is None:
        return default
    return max(0.0, options.deadline - time.perf_counter())
