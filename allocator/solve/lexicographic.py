"""The two-stage lexicographic solve (served value first, then cost) over a stage solver.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from allocator.solve.backends import (
    INTEGRALITY_TOLERANCE,
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


def solve_model_with(m: pyo.ConcreteModel, options: SolveOptions, start: list[tuple] | None = None) -> SolverRun:
    """Both stages with ``options.solver``; the same :class:`SolverRun` as :func:`allocator.solving.solve_model`.

    ``start`` is an optional list of (variable, value), a MIP start for stage 1
    (used when it gives a value to every integer variable).
    """
    if options.solver == "highs":
        from allocator.solve.highs import solve_model

        return solve_model(m, options, start)
    solver = stage_solver(options.solver)
    clock = _Clock.start(options.time_limit)
    notes: list[str] = []
    warm = apply_start(m, start)
    if start and not warm:
        notes.append("the MIP start misses some integer variables: the solver starts cold")
    first, translate_s = solver.solve_stage(m, options, clock.remaining_s(), warm)
    if first.status in ("infeasible", "no_solution"):
        return SolverRun(first, None, np.zeros(len(m.PAIRS)), np.zeros(len(m.USAGE_VARS)),
                         solver.name, solver.version, translate_s, notes)
    assign, usage = _values(m.assign, len(m.PAIRS)), _values(m.usage, len(m.USAGE_VARS))

    remaining = clock.remaining_s()
    if remaining is None:  # the same time box for the cost stage as HiGHS gets
        remaining = max(COST_STAGE_MIN_SECONDS, COST_STAGE_FACTOR * first.seconds)
    if remaining < MIN_STAGE_SECONDS:
        notes.append("no time left for the cost stage: the plan keeps the stage-1 cost")
        return SolverRun(first, None, assign, usage, solver.name, solver.version, translate_s, notes)
    with cost_stage(m, pyo.value(m.served_value_expr)):
        round_integers(m)
        second, translate2_s = solver.solve_stage(m, options, remaining, warm=True)
        if second.status in ("optimal", "feasible"):
            assign, usage = _values(m.assign, len(m.PAIRS)), _values(m.usage, len(m.USAGE_VARS))
        else:
            notes.append(f"cost stage ended {second.status}: the plan keeps the stage-1 assignment")
    return SolverRun(first, second, assign, usage, solver.name, solver.version, translate_s + translate2_s, notes)


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


def apply_start(m: pyo.ConcreteModel, start: list[tuple] | None) -> bool:
    """Put a MIP start's values on the variables; True when every integer variable now has a value."""
    if not start:
        return False
    for var, value in start:
        var.set_value(float(value), skip_validation=True)
    return all(v.value is not None for v in m.component_data_objects(pyo.Var) if v.is_integer())


def round_integers(m: pyo.ConcreteModel) -> None:
    """Round integer variables within the integrality tolerance, so a warm start is exactly integral."""
    for v in m.component_data_objects(pyo.Var):
        if v.is_integer() and v.value is not None and abs(v.value - round(v.value)) <= INTEGRALITY_TOLERANCE:
            v.set_value(float(round(v.value)), skip_validation=True)


def _values(var, n: int) -> np.ndarray:
    return np.array([0.0 if var[i].value is None else float(var[i].value) for i in range(n)])
