"""What a solve is asked to do (SolveOptions) and what one solver stage did (StageOutcome, SolverRun).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    price_of_a_yuan: bool = True  # summary.json's price_of_a_yuan (allocator.solve.yuan); off for re-solves, parts, sweeps


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
