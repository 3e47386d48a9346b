"""SCIP and CBC behind the two-stage solve: same answers as HiGHS, honest statuses and bounds, clear errors.

SCIP tests need ``pip install pyscipopt``; CBC tests need the ``cbc`` executable
(``apt-get install coinor-cbc``). Each is skipped with that reason when missing.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import pytest

from allocator.solve.backends import (
    SolverUnavailable,
    available_solvers,
    cbc_bound,
    solver_version,
    stage_solver,
)
from allocator.solve.lexicographic import solve_model as solve_model_with
from allocator.solve.options import SolveOptions
from tests import builders, test_rules
from tests.builders import base, demand

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

try:
    import pyscipopt  # noqa: F401

    HAVE_SCIP = True
except ImportError:
    HAVE_SCIP = False
HAVE_CBC = shutil.which("cbc") is not None

needs_scip = pytest.mark.skipif(not HAVE_SCIP, reason="SCIP missing: pip install pyscipopt")
needs_cbc = pytest.mark.skipif(not HAVE_CBC, reason="CBC missing: apt-get install coinor-cbc")
SOLVER_PARAMS = [pytest.param("scip", marks=needs_scip), pytest.param("cbc", marks=needs_cbc)]


def build(instance_dir: Path):
    """(model, data, greedy start) of an instance, as the pipeline builds them."""
    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen
    from allocator.solve.heuristics import place
    from models.build import build_model
    from models.data import prepare
    from models.start import start_values

    inst = read_instance(instance_dir)
    scr = screen(inst)
    data = prepare(inst, scr)
    model = build_model(data)
    greedy = place(inst, scr, "greedy")
    start = None if greedy.unplaced_must_serve else start_values(model, data, greedy.chosen, greedy.schedule)
    return model, data, start


def generated(tmp_path: Path, family: str, seed: int, **knobs) -> Path:
    from allocator.studies.generate.knobs import Knobs
    from allocator.studies.generate.make import generate, write_generated

    folder = tmp_path / f"{family}-{seed}"
    write_generated(folder, generate(family, seed, Knobs(**knobs)))
    return folder


# --------------------------------------------------------------------------
# Same objective as HiGHS
# --------------------------------------------------------------------------


@pytest.mark.component
@pytest.mark.parametrize("solver", SOLVER_PARAMS)
@pytest.mark.parametrize("family, knobs", [
    ("city", {"demands": 100}),
    ("east-west", {"demands": 60, "periods": 3}),
    ("gap-like", {"demands": 25, "pools_per_center": 4, "must_serve_share": 0.6, "capacity_ratio": 0.6}),
])
def test_same_objectives_as_highs_on_a_generated_instance(tmp_path, solver, family, knobs):
    """Stage 1 (V) and stage 2 (K) agree with HiGHS within the gap; the model is given back as it came."""
    folder = generated(tmp_path, family, 3, **knobs)
    runs = {}
    for name in ("highs", solver):
        model, _, start = build(folder)
        runs[name] = solve_model_with(model, SolveOptions(solver=name, gap=1e-6), start)
        if name != "highs":
            assert model.served_value.active and not model.cost.active and not hasattr(model, "hold_value")
    highs, other = runs["highs"], runs[solver]
    assert other.solver_name == solver and other.solver_version == solver_version(solver)
    assert (highs.value_stage.status, other.value_stage.status) == ("optimal", "optimal")
    assert highs.value_stage.objective > 0  # the instance serves something
    assert other.value_stage.objective == pytest.approx(highs.value_stage.objective, rel=1e-5)
    assert other.cost_stage.status == "optimal"
    assert other.cost_stage.objective == pytest.approx(highs.cost_stage.objective, rel=1e-5)
    assert other.value_stage.bound == pytest.approx(other.value_stage.objective, rel=1e-5)


@pytest.mark.e2e
@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_solve_with_solver_writes_a_valid_plan_reaching_the_gap_optimum(tmp_path, solver):
    """`allocator solve --solver` end to end on OR-Library gap1 #1: cost 261, the plan passes check."""
    from allocator.check.run import check_plan
    from allocator.solve.pipeline import solve_and_write
    from allocator.studies.gap.instance import write_gap_instance

    instance = write_gap_instance(SHARED / "benchmarks" / "gap" / "gap1.txt", 1, tmp_path / "gap1-1")
    result = solve_and_write(instance, tmp_path / "plan", SolveOptions(solver=solver))
    summary = result.summary()
    assert (summary["solver"], summary["status"]) == (solver, "optimal")
    assert summary["solver_version"] == solver_version(solver)
    assert summary["total_bill_yuan"] == pytest.approx(261.0)
    assert check_plan(instance, tmp_path / "plan").violations == []


# --------------------------------------------------------------------------
# Every rule test, solved by SCIP and CBC through the pipeline
# --------------------------------------------------------------------------

RULE_TESTS = [
    name for name, fn in inspect.getmembers(test_rules, inspect.isfunction)
    if name.startswith("test_") and list(inspect.signature(fn).parameters) == ["solve_spec"]
]


@pytest.mark.component
@pytest.mark.parametrize("solver", SOLVER_PARAMS)
@pytest.mark.parametrize("rule_test", RULE_TESTS)
def test_rule_suite_holds_with_other_solvers(solve_spec, solver, rule_test):
    """The hand-derived optimum of each rule test in tests/test_rules.py, found by SCIP / CBC."""

    def with_solver(spec, **options):
        solved = solve_spec(spec, **{"solver": solver, **options})
        if solved.result.method == "exact":
            assert solved.result.solver == solver
        return solved

    getattr(test_rules, rule_test)(with_solver)


@pytest.mark.component
@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_conflicting_must_serve_is_infeasible(tmp_path, solver):
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 6, must_serve="true"), demand("d2", 6, must_serve="true")]
    model, _, _ = build(builders.write(tmp_path / "i", spec))
    run = solve_model_with(model, SolveOptions(solver=solver))
    assert run.value_stage.status == "infeasible" and run.cost_stage is None
    assert run.assign.sum() == 0


@pytest.mark.component
@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_a_model_with_nothing_to_serve_solves_both_stages(tmp_path, solver):
    """No allowed pair: V has no variable, so stage 2 needs no hold row (a constant row would break SCIP)."""
    spec = base()
    spec["demands"] += [demand("d1", 1, stack="fortran")]
    model, _, _ = build(builders.write(tmp_path / "i", spec))
    run = solve_model_with(model, SolveOptions(solver=solver))
    assert run.value_stage.status == "optimal" and run.value_stage.objective == pytest.approx(0.0)
    assert run.cost_stage is not None and run.cost_stage.status == "optimal"


@pytest.mark.parametrize("cost_gap, expected", [(None, [1e-4, 1e-4]), (0.02, [1e-4, 0.02])])
def test_the_cost_stage_stops_at_its_own_gap(tmp_path, monkeypatch, cost_gap, expected):
    """SolveOptions.cost_gap is the gap the cost stage is solved to (the value stage keeps ``gap``)."""
    import allocator.solve.highs as highs

    seen = []
    original = highs.run_stage

    def recording(opt, m, options, time_limit, warm=None, max_nodes=None):
        seen.append(options.gap)
        return original(opt, m, options, time_limit, warm=warm, max_nodes=max_nodes)

    monkeypatch.setattr(highs, "run_stage", recording)
    spec = base()
    spec["demands"] += [demand("d1", 1), demand("d2", 2)]
    model, _, start = build(builders.write(tmp_path / "i", spec))
    run = solve_model_with(model, SolveOptions(gap=1e-4, cost_gap=cost_gap), start)
    assert seen == expected
    assert run.cost_stage is not None and run.cost_stage.status == "optimal"


@pytest.mark.parametrize("cost_gap, expected", [(None, 1e-4), (0.02, 0.02)])
def test_the_matrix_built_cost_stage_stops_at_its_own_gap(tmp_path, monkeypatch, cost_gap, expected):
    """The exact MIP built as a numpy matrix (the year's days): its cost stage, the last HiGHS model made,
    is solved to SolveOptions.cost_gap (1e-4 without one)."""
    from allocator.solve.pipeline import solve_and_write
    from models.matrix import MatrixModel

    made = []
    original = MatrixModel.to_highs

    def recording(self, *args, **kwargs):
        made.append(original(self, *args, **kwargs))
        return made[-1]

    monkeypatch.setattr(MatrixModel, "to_highs", recording)
    spec = base()
    spec["demands"] += [demand("d1", 1), demand("d2", 2)]
    result = solve_and_write(builders.write(tmp_path / "i", spec), tmp_path / "p",
                             SolveOptions(method="exact", exact_on_matrix=True, cost_gap=cost_gap))
    assert any("built as a numpy matrix" in n for n in result.notes)
    assert any(n.startswith("cost stage over") for n in result.notes), result.notes
    assert made[-1].getOptionValue("mip_rel_gap")[1] == pytest.approx(expected)


@pytest.mark.slow
@pytest.mark.parametrize("solver", SOLVER_PARAMS)
def test_time_limit_gives_an_honest_status_and_bound(tmp_path, solver):
    """A 1 s limit on a hard instance: feasible (or no_solution) with a stage-1 bound no better than the incumbent."""
    folder = generated(tmp_path, "east-west", 1, demands=200, periods=6)
    model, _, start = build(folder)
    run = solve_model_with(model, SolveOptions(solver=solver, time_limit=1.0), start)
    first = run.value_stage
    assert first.status in ("feasible", "no_solution", "optimal")
    if first.status == "feasible":
        assert first.bound is None or first.bound >= first.objective - 1e-6
        assert "no time left for the cost stage" in " ".join(run.notes)
    assert first.seconds < 10


# --------------------------------------------------------------------------
# Missing and unknown solvers
# --------------------------------------------------------------------------


@pytest.mark.unit
def test_unknown_solver_is_named():
    with pytest.raises(SolverUnavailable, match="unknown solver 'gurobi'.*highs, scip, cbc") as error:
        stage_solver("gurobi")
    assert error.value.exit_code == 2


@pytest.mark.unit
def test_missing_scip_names_its_install_command(monkeypatch):
    from pyomo.contrib.solver.common.base import Availability
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    monkeypatch.setattr(ScipDirect, "available", lambda self: Availability.NotFound)
    with pytest.raises(SolverUnavailable, match="pip install pyscipopt") as error:
        solver_version("scip")
    assert error.value.exit_code == 2
    assert available_solvers()["scip"] is None


@pytest.mark.unit
def test_missing_cbc_names_its_install_command(monkeypatch):
    from pyomo.solvers.plugins.solvers.CBCplugin import CBCSHELL

    monkeypatch.setattr(CBCSHELL, "available", lambda self, exception_flag=False: False)
    with pytest.raises(SolverUnavailable, match="apt-get install coinor-cbc"):
        stage_solver("cbc")


@pytest.mark.e2e
def test_cli_missing_solver_exits_2(monkeypatch, tmp_path):
    from click.testing import CliRunner
    from pyomo.contrib.solver.common.base import Availability
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    from allocator.cli import main

    monkeypatch.setattr(ScipDirect, "available", lambda self: Availability.NotFound)
    result = CliRunner().invoke(main, ["solve", str(REPO / "instances" / "tiny"), "-o", str(tmp_path / "p"),
                                       "--solver", "scip"])
    assert result.exit_code == 2, result.output
    assert "pip install pyscipopt" in result.output
    assert not (tmp_path / "p").exists()


# --------------------------------------------------------------------------
# CBC's bound of an unfinished search
# --------------------------------------------------------------------------

CBC_MAX_LOG = """Continuous objective value is 101116 - 0.01 seconds
Cbc0010I After 0 nodes, 1 on tree, -99359 best solution, best possible -101000.58 (0.63 seconds)
Cbc0005I Partial search - best objective -99359 (best possible -101000.58), took 7908 iterations and 632 nodes (2.95 seconds)
"""


@pytest.mark.unit
def test_cbc_bound_of_a_maximization_is_read_with_its_sign():
    assert cbc_bound(CBC_MAX_LOG, maximizing=True, incumbent=99359.0) == pytest.approx(101000.58)


@pytest.mark.unit
def test_cbc_bound_of_a_minimization_and_without_a_search():
    log = "Cbc0005I Partial search - best objective 1415 (best possible 1396.3401), took 10 iterations and 5 nodes"
    assert cbc_bound(log, maximizing=False, incumbent=1415.0) == pytest.approx(1396.3401)
    assert cbc_bound("Continuous objective value is 101116 - 0.01 seconds", True, None) == pytest.approx(101116)
    assert cbc_bound("nothing useful", True, 5.0) is None
    assert cbc_bound("best possible 4.0 (1 s)", maximizing=False, incumbent=3.0) is None  # wrong side: dropped
