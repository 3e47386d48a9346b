"""The two-stage lexicographic solve (served value first, then cost), written once for every solver."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from allocator.solve.backends import (
    MIN_STAGE_SECONDS,
    stage_solver,
)
from allocator.solve.options import (
    COST_STAGE_FACTOR,
    COST_STAGE_MIN_SECONDS,
    VALUE_HOLD_RELATIVE,
    SolveOptions,
    SolverRun,
)


@dataclass
class _Clock:
    """The deadline of the whole solve (both stages), or none."""

    deadline: float | None

    @classmethod
    def start(cls, time_limit_s: float | None) -> _Clock:
        return cls(None if time_limit_s is None else time.perf_counter() + time_limit_s)

    def remaining_s(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.perf_counter())


def solve_model(m: pyo.ConcreteModel, options: SolveOptions, start: list[tuple] | None = None) -> SolverRun:
    """Both stages with the stage solver ``options.solver`` (highs, scip or cbc).

    Stage 1 maximizes the served value V from ``start`` (an optional list of (variable, value),
    a MIP start). Stage 2 holds V at its stage-1 value and minimizes the cost K, warm-started
    from the stage-1 plan (:func:`cost_stage`). ``options.time_limit`` covers both stages;
    without it the cost stage is time-boxed to max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR x
    the stage-1 seconds), or bounded by ``options.cost_stage_max_nodes`` where the solver
    supports a node limit (deterministic), and stopped at ``options.cost_gap`` where one is given.
    The model is given back as it came; its variables keep the chosen plan's values.
    """
    solver = stage_solver(options.solver)
    clock = _Clock(options.deadline) if options.deadline is not None else _Clock.start(options.time_limit)
    warm, notes, translate_s = solver.prepare_start(m, start)
    first, seconds = solver.solve_stage(m, options, clock.remaining_s(), warm)
    translate_s += seconds
    if first.status in ("infeasible", "no_solution"):
        return SolverRun(first, None, np.zeros(len(m.PAIRS)), np.zeros(len(m.USAGE_VARS)),
                         solver.name, solver.version, translate_s, notes)
    assign, usage = _values(m.assign, len(m.PAIRS)), _values(m.usage, len(m.USAGE_VARS))

    remaining = clock.remaining_s()
    node_limited = options.cost_stage_max_nodes is not None and solver.supports_node_limit
    if remaining is None and not node_limited:
        # Proving the last 0.01 % of cost on the optimal face of stage 1 can take far longer than
        # finding it; the cost stage is time-boxed and its gap reported (status feasible if unproven).
        remaining = max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR * first.seconds)
    if remaining is not None and remaining < MIN_STAGE_SECONDS:
        notes.append("no time left for the cost stage: the plan keeps the stage-1 cost")
        return SolverRun(first, None, assign, usage, solver.name, solver.version, translate_s, notes)
    cost_options = options if options.cost_gap is None else dataclasses.replace(options, gap=options.cost_gap)
    with cost_stage(m, pyo.value(m.served_value_expr)):
        warm = solver.continue_start(m)
        second, seconds = solver.solve_stage(m, cost_options, remaining, warm, max_nodes=options.cost_stage_max_nodes)
        translate_s += seconds
        if second.status in ("optimal", "feasible"):
            assign, usage = _values(m.assign, len(m.PAIRS)), _values(m.usage, len(m.USAGE_VARS))
        else:
            notes.append(f"cost stage ended {second.status}: the plan keeps the stage-1 assignment")
    return SolverRun(first, second, assign, usage, solver.name, solver.version, translate_s, notes)


@contextlib.contextmanager
def cost_stage(m: pyo.ConcreteModel, served_value: float) -> Iterator[None]:
    """Hold V >= its stage-1 value (less a 1e-9 relative slack) and minimize K; undone on exit.

    A model whose V has no variable (no allowed pair) needs no hold: the row would be a constant.
    """
    from pyomo.core.expr.visitor import identify_variables

    slack = VALUE_HOLD_RELATIVE * (abs(served_value) + 1.0)
    has_terms = next(identify_variables(m.served_value_expr.expr), None) is not None
    m.hold_value = pyo.Constraint(expr=m.served_value_expr >= served_value - slack) if has_terms else pyo.Constraint()
    m.served_value.deactivate()
    m.cost.activate()
    try:
        yield
    finally:
        m.cost.deactivate()
        m.served_value.activate()
        m.del_component(m.hold_value)


def _values(var, n: int) -> np.ndarray:
    return np.array([0.0 if var[i].value is None else float(var[i].value) for i in range(n)])
