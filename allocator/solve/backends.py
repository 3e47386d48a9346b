"""The MIP solvers behind the two-stage lexicographic solve, one stage solver each.

:func:`allocator.solve.lexicographic.solve_model` runs the two stages with the
stage solver named in ``SolveOptions.solver`` (:func:`stage_solver`):

* ``highs`` -- the default, :class:`allocator.solve.highs.HighsStages` (persistent, in process);
* ``scip`` -- SCIP through Pyomo's ``scip_direct`` interface
  (:mod:`pyomo.contrib.solver.solvers.scip`), which drives SCIP in process via
  PySCIPOpt (``pip install pyscipopt`` ships SCIP itself in the wheel);
* ``cbc`` -- COIN-OR CBC through Pyomo's classic ``SolverFactory("cbc")``, which
  writes an LP file and runs the ``cbc`` executable (``apt-get install coinor-cbc``).

SCIP and CBC read their MIP start from the model's variable values
(:class:`ValueStarts`). A solver that is not installed raises
:class:`SolverUnavailable`, an :class:`~allocator.problems.AllocatorError` with
exit code 2 whose message says how to install it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pyomo.environ as pyo

from allocator.problems import EXIT_INVALID, AllocatorError
from allocator.solve.highs import HighsStages, contrib_status, highs_version
from allocator.solve.options import SOLVERS, SolveOptions, StageOutcome

INSTALL_HINTS = {
    "highs": "pip install highspy",
    "scip": "pip install pyscipopt",
    "cbc": "apt-get install coinor-cbc (Debian/Ubuntu), brew install cbc (macOS) "
           "or conda install -c conda-forge coin-or-cbc",
}


MIN_STAGE_SECONDS = 0.5  # a stage with less time left than this is skipped, as for HiGHS


INTEGRALITY_TOLERANCE = 1e-6  # a warm-start value this close to an integer is rounded to it


class SolverUnavailable(AllocatorError):
    """The requested solver is unknown or not installed; the message says how to install it."""

    exit_code = EXIT_INVALID


def unavailable(name: str, detail: str = "") -> SolverUnavailable:
    """The error for a solver ``name`` that cannot be used, with its install command."""
    if name not in SOLVERS:
        return SolverUnavailable(f"unknown solver '{name}' (known: {', '.join(SOLVERS)})")
    why = f" ({detail})" if detail else ""
    return SolverUnavailable(f"solver '{name}' is not installed{why}; install it with: {INSTALL_HINTS[name]}")


class StageSolver(Protocol):
    """Solves the model's active objective once and loads the incumbent into the model's variables."""

    name: str
    version: str
    supports_node_limit: bool  # whether solve_stage honours max_nodes

    def prepare_start(self, m: pyo.ConcreteModel, start: list[tuple] | None) -> tuple[object, list[str], float]:
        """Hand the stage-1 MIP start [(variable, value), ...] to the solver: (warm, notes, seconds translating)."""
        ...

    def continue_start(self, m: pyo.ConcreteModel) -> object:
        """The warm start of the next stage: the previous stage's plan."""
        ...

    def solve_stage(self, m: pyo.ConcreteModel, options: SolveOptions, time_limit_s: float | None, warm,
                    max_nodes: int | None = None) -> tuple[StageOutcome, float]:
        """Return the outcome and the seconds spent translating the model for the solver."""
        ...


class ValueStarts:
    """Starts for solvers that read the model's variable values (SCIP, CBC); no node limit."""

    supports_node_limit = False

    def prepare_start(self, m: pyo.ConcreteModel, start: list[tuple] | None) -> tuple[object, list[str], float]:
        warm = apply_start(m, start)
        notes = ["the MIP start misses some integer variables: the solver starts cold"] if start and not warm else []
        return warm, notes, 0.0

    def continue_start(self, m: pyo.ConcreteModel) -> object:
        round_integers(m)
        return True


class ScipStages(ValueStarts):
    """SCIP via Pyomo's ``scip_direct`` (PySCIPOpt in process); the model is translated on every stage."""

    name = "scip"

    def __init__(self) -> None:
        try:
            from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect
        except ImportError as error:  # pragma: no cover - the interface ships with pyomo >= 6.10
            raise unavailable("scip", f"this Pyomo has no SCIP interface: {error}") from error
        self._opt = ScipDirect()
        if not self._opt.available():
            raise unavailable("scip", "the Python package pyscipopt cannot be imported")
        self.version = scip_version()

    def solve_stage(self, m, options, time_limit_s, warm, max_nodes=None):
        tee = [sys.stderr] if options.verbose else []
        t0 = time.perf_counter()
        results = self._opt.solve(
            m,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            time_limit=time_limit_s,
            rel_gap=options.gap,
            threads=options.threads,
            tee=tee,
            warmstart_discrete_vars=warm,
        )
        seconds = time.perf_counter() - t0
        status = contrib_status(results)
        if status in ("optimal", "feasible"):
            results.solution_loader.load_vars()
        outcome = StageOutcome(
            status=status,
            objective=_finite(results.incumbent_objective),
            bound=_finite(results.objective_bound),
            seconds=seconds,
            termination=str(results.termination_condition.name),
            log=getattr(results, "solver_log", "") or "",
        )
        return outcome, results.timing_info.timer.get_total_time("create scip model")


class CbcStages(ValueStarts):
    """CBC via Pyomo's classic shell interface (an LP file and the ``cbc`` executable)."""

    name = "cbc"

    def __init__(self) -> None:
        from pyomo.opt import SolverFactory

        with _quiet("pyomo.solvers", "pyomo.opt"):
            self._opt = SolverFactory("cbc")
            found = bool(self._opt.available(exception_flag=False))
        if not found:
            raise unavailable("cbc", "no 'cbc' executable on the PATH")
        self.version = ".".join(str(part) for part in self._opt.version()[:3])

    def solve_stage(self, m, options, time_limit_s, warm, max_nodes=None):
        from pyomo.opt import SolutionStatus, TerminationCondition

        cbc_options: dict[str, object] = {"ratioGap": options.gap, "timeMode": "elapsed"}
        if time_limit_s is not None:
            cbc_options["sec"] = max(time_limit_s, 0.01)
        if options.threads is not None:
            cbc_options["threads"] = options.threads
        with (tempfile.TemporaryDirectory(prefix="allocator-cbc-") as folder, _quiet("pyomo.core", "pyomo.solvers"),
              contextlib.redirect_stdout(sys.stderr)):  # a verbose log goes to stderr, as HiGHS's does
            log_path = Path(folder) / "cbc.log"
            t0 = time.perf_counter()
            results = self._opt.solve(m, load_solutions=False, warmstart=warm, options=cbc_options,
                                      tee=options.verbose, logfile=str(log_path))
            seconds = time.perf_counter() - t0
            log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
            termination = results.solver.termination_condition
            solution_status = results.solution(0).status if len(results.solution) else None
            has_solution = (
                solution_status in (SolutionStatus.optimal, SolutionStatus.feasible, SolutionStatus.stoppedByLimit)
                and termination != TerminationCondition.intermediateNonInteger
            )
            if has_solution:
                m.solutions.load_from(results)
        status = _cbc_status(termination, has_solution)
        objective = _active_objective(m)
        incumbent = float(pyo.value(objective)) if has_solution else None
        maximizing = objective.sense == pyo.maximize
        outcome = StageOutcome(
            status=status,
            objective=incumbent,
            bound=incumbent if status == "optimal" else cbc_bound(log, maximizing, incumbent),
            seconds=seconds,
            termination=str(getattr(termination, "name", termination)),
            log=log,
        )
        return outcome, cbc_overhead_seconds(log, seconds)


_CBC_BEST_POSSIBLE = re.compile(r"best possible (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")


_CBC_CONTINUOUS = re.compile(r"Continuous objective value is (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")


_CBC_WALLCLOCK = re.compile(r"\(Wallclock seconds\):\s*([0-9.]+)")


def cbc_overhead_seconds(log: str, stage_seconds: float) -> float:
    """Seconds of a CBC stage outside CBC's own wall clock: writing the LP file, starting CBC, reading back."""
    found = _CBC_WALLCLOCK.findall(log)
    return max(0.0, stage_seconds - float(found[-1])) if found else 0.0


def cbc_bound(log: str, maximizing: bool, incumbent: float | None) -> float | None:
    """The best bound of an unfinished CBC search, read from its log in the model's own sense.

    CBC reformulates a maximization as a minimization: its branch-and-bound lines
    ("best possible X") are in the minimization form (the negated objective), while
    the root LP line ("Continuous objective value is X") is in the original sense.
    (Pyomo 6.10's CBC reader misses the sign for unfinished maximizations.) A bound
    on the wrong side of the incumbent is dropped.
    """
    found = _CBC_BEST_POSSIBLE.findall(log)
    if found:
        bound = -float(found[-1]) if maximizing else float(found[-1])
    else:
        root = _CBC_CONTINUOUS.findall(log)
        if not root:
            return None
        bound = float(root[-1])
    bound = _finite(bound)
    if bound is None or incumbent is None:
        return bound
    slack = 1e-6 * max(1.0, abs(incumbent))
    wrong_side = bound < incumbent - slack if maximizing else bound > incumbent + slack
    return None if wrong_side else bound


def _cbc_status(termination, has_solution: bool) -> str:
    from pyomo.opt import TerminationCondition

    if termination in (TerminationCondition.infeasible, TerminationCondition.infeasibleOrUnbounded):
        return "infeasible"
    if not has_solution:
        return "no_solution"
    return "optimal" if termination == TerminationCondition.optimal else "feasible"


def _active_objective(m: pyo.ConcreteModel) -> pyo.Objective:
    return next(m.component_data_objects(pyo.Objective, active=True))


def _finite(value) -> float | None:
    """A bound or objective as a float, None when missing, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence Pyomo's warnings about loading time-limited results (statuses are reported in the outcome)."""
    saved = [(name, logging.getLogger(name).level) for name in loggers]
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved:
            logging.getLogger(name).setLevel(level)


STAGE_SOLVERS: dict[str, type] = {"highs": HighsStages, "scip": ScipStages, "cbc": CbcStages}


def stage_solver(name: str) -> StageSolver:
    """The stage solver for ``name`` (highs, scip or cbc); :class:`SolverUnavailable` when it cannot run."""
    if name not in STAGE_SOLVERS:
        raise unavailable(name)
    try:
        return STAGE_SOLVERS[name]()
    except ImportError as error:
        raise unavailable(name, str(error)) from error


def scip_version() -> str:
    """``SCIP 10.0.1 (PySCIPOpt 6.3.0)``-style version of the SCIP that pyscipopt ships."""
    import pyscipopt

    model = pyscipopt.Model()
    scip = f"{model.getMajorVersion()}.{model.getMinorVersion()}.{model.getTechVersion()}"
    return f"{scip} (PySCIPOpt {pyscipopt.__version__})"


def solver_version(name: str) -> str:
    """The version of solver ``name``; :class:`SolverUnavailable` if it is unknown or not installed."""
    if name == "highs":
        try:
            return highs_version()
        except ImportError as error:
            raise unavailable("highs", str(error)) from error
    return stage_solver(name).version


def available_solvers() -> dict[str, str | None]:
    """Every known solver with its version, or None when it is not installed."""
    found: dict[str, str | None] = {}
    for name in SOLVERS:
        try:
            found[name] = solver_version(name)
        except SolverUnavailable:
            found[name] = None
    return found


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
