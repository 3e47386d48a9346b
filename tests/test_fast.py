"""The national-scale methods: auto choice, the fast path, the partitioned method, certified bounds.

The rule tests (tests/test_rules.py) already run every rule through the fast method
and its numpy-built matrix; these tests cover what is particular to the methods.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.executor import ExecutorOptions
from allocator.instance.reading import read_instance
from allocator.instance.screening import screen
from allocator.solve.fast import AUTO_FAST_COLUMNS, model_columns
from allocator.solve.options import SolveOptions
from allocator.solve.partition import split_instance
from allocator.solve.pipeline import resolve_method, solve_and_write
from tests.builders import base, demand, write
from tests.conftest import REPO, check_plan_files

pytestmark = pytest.mark.component
INSTANCES = REPO / "instances"


def _budget_world() -> dict:
    """Two enterprises in program G (rate 0.5, budget 5): E1 asks d1 (4 card-hours) and d2 (6),
    E2 asks d3 (10). pB (1 yuan, 10 cards) holds 10 card-hours. The budget pays subsidy 5 = a bill of 10:
    the optimum serves value 10 (d1+d2 at pB, or d3 at pB) and pA (2 yuan) cannot help within budget."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 5.0
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G"})
    spec["demands"] += [demand("d1", 4), demand("d2", 6), demand("d3", 10, enterprise="E2")]
    return spec


def test_auto_chooses_exact_for_small_and_fast_above_the_threshold(tmp_path):
    inst = read_instance(write(tmp_path / "i", _budget_world()))
    scr = screen(inst)
    assert model_columns(scr) == 6  # 3 demands x 2 pools, one period
    assert resolve_method(SolveOptions(), scr)[0] == "exact"
    import allocator.solve.fast as fast

    old = fast.AUTO_FAST_COLUMNS
    try:
        fast.AUTO_FAST_COLUMNS = 5
        method, notes = resolve_method(SolveOptions(), scr)
        assert method == "fast" and "6 model columns > 5" in notes[0]
        assert resolve_method(SolveOptions(gap_given=True), scr)[0] == "fast"  # --gap is a target, not a method
    finally:
        fast.AUTO_FAST_COLUMNS = old
    assert AUTO_FAST_COLUMNS == 20_000


def test_auto_choice_is_reported_in_summary(tmp_path):
    inst = write(tmp_path / "i", _budget_world())
    result = CliRunner().invoke(main, ["solve", str(inst), "-o", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["method"] == "exact" and summary["method_requested"] == "auto"
    assert summary["notes"][0] == "method auto chose exact: 6 model columns <= 2,000"
    assert summary["served_value"] == pytest.approx(10.0)


def test_auto_gives_the_exact_mip_the_time_when_the_fast_method_finds_no_plan(tmp_path, monkeypatch):
    """auto chose the fast method (threshold lowered to 5 columns) and it finds no plan serving every
    must_serve demand (made to fail here; seen on a regime day of 1,500 x 24): the exact MIP takes over
    and returns the optimum, value 10, noted and with its method; an explicit --method fast still fails."""
    import allocator.solve.pipeline as pipeline
    from allocator.problems import NoSolution

    monkeypatch.setattr(pipeline, "AUTO_EXACT_COLUMNS", 5)

    def no_plan(*args, **kwargs):
        raise NoSolution("no plan serving every must_serve demand found within the limits (fast method)")

    monkeypatch.setattr(pipeline, "_fast", no_plan)
    inst = write(tmp_path / "i", _budget_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(time_limit=30))
    assert result.method == "exact" and result.plan.served_value == pytest.approx(10.0)
    assert any("the exact MIP with the time left" in note for note in result.notes)
    check_plan_files(inst, tmp_path / "p")
    with pytest.raises(NoSolution):
        solve_and_write(inst, tmp_path / "q", SolveOptions(method="fast"))


def _first_fit_blocks_must_serve() -> dict:
    """d1 (must-serve, 10 card-hours, priority 2) may run at pA (2 yuan) or pB (1 yuan); d2 (must-serve,
    10 card-hours, realtime at home B, 5 ms) only at pB; each pool holds 10 card-hours. First fit puts
    d1 at the cheaper pB and leaves no room for d2; the only plan serving both: d1 at pA, d2 at pB
    (value 2 x 10 + 10 = 30)."""
    spec = base()
    spec["settings"]["latency_classes"] = {"realtime": 5.0}
    spec["demands"] += [demand("d1", 10, must_serve=True, priority=2.0),
                        demand("d2", 10, home="B", latency_class="realtime", must_serve=True)]
    return spec


def test_a_mip_places_the_must_serve_demands_first_fit_left_out(tmp_path):
    from allocator.solve.exact import _best_heuristic
    from allocator.solve.fast import place_must_serve

    inst = write(tmp_path / "i", _first_fit_blocks_must_serve())
    instance = read_instance(inst)
    scr = screen(instance)
    start = _best_heuristic(instance, scr)
    assert start.unplaced_must_serve == ["d2"]  # every baseline puts d1 at pB first
    notes: list[str] = []
    plan = place_must_serve(instance, scr, start, 30.0, notes)
    assert plan.unplaced_must_serve == []
    assert sorted(map(tuple, scr.pairs.loc[plan.chosen, ["demand_id", "pool_id"]].to_numpy())) == [("d1", "pA"), ("d2", "pB")]
    assert "MIP placing the 1 must_serve demand(s)" in notes[0]
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=30))
    assert result.plan.served_value == pytest.approx(30.0)
    check_plan_files(inst, tmp_path / "p")


def test_one_period_must_serve_demands_the_baselines_left_out_go_to_price_and_fix_first(tmp_path):
    """On one period the MIP placing must-serve demands waits for price-and-fix (which accepts plans serving
    them first): here it serves both d1 and d2 (30), so that MIP never runs."""
    inst = write(tmp_path / "i", _first_fit_blocks_must_serve())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=30))
    assert result.plan.served_value == pytest.approx(30.0)
    assert not any("MIP placing" in n for n in result.notes)
    assert "plan from price-and-fix" in " ".join(result.notes)
    check_plan_files(inst, tmp_path / "p")


def test_a_plan_of_price_and_fix_missing_must_serve_demands_is_completed_from_that_plan(tmp_path, monkeypatch):
    """If the decomposition's plan still leaves a must-serve demand out (here: it is made to return the first-fit
    plan, d1 at pB, d2 left out), the MIP placing the must-serve demands runs from that plan: d1 at pA, d2 at pB."""
    import allocator.solve.decompose as decompose
    from allocator.solve.exact import _best_heuristic

    inst = write(tmp_path / "i", _first_fit_blocks_must_serve())
    instance = read_instance(inst)
    first_fit = _best_heuristic(instance, screen(instance))
    assert first_fit.unplaced_must_serve == ["d2"]

    def missing_d2(instance, scr, data, start, *args, **kwargs):
        return decompose.Decomposition(30.0, first_fit.chosen.copy(), first_fit.schedule, ["d2"], ["made to miss d2"])

    monkeypatch.setattr(decompose, "solve_by_decomposition", missing_d2)
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=30))
    assert result.plan.served_value == pytest.approx(30.0)
    assert any("MIP placing the 1 must_serve demand(s) the plan left out" in n for n in result.notes)
    check_plan_files(inst, tmp_path / "p")


@pytest.mark.parametrize("method", ["fcfs", "greedy"])
def test_heuristics_report_the_lagrangian_bound(tmp_path, method):
    """Lagrangian bound of _budget_world: value 10 (budget 5 = bill 10 at pB) -- also the optimum,
    while the trivial bound (every screened demand) would be 20."""
    inst = write(tmp_path / "i", _budget_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method=method))
    assert result.best_bound == pytest.approx(10.0)
    assert result.gap == pytest.approx((10.0 - result.plan.served_value) / 10.0)
    assert "Lagrangian bound" in result.notes[-1]
    check_plan_files(inst, tmp_path / "p")


def test_fast_bound_is_certified_and_plan_valid_on_chengdu_day(tmp_path):
    """The fast path on the bundled city day: its bound is at least the proven optimum
    (322,790 within 1e-4, tests/test_bundled.py) and its plan is within its own reported gap."""
    out = tmp_path / "p"
    result = solve_and_write(INSTANCES / "chengdu-day", out, SolveOptions(method="fast", time_limit=60))
    assert result.method == "fast"
    assert result.best_bound >= 322790.0 * (1 - 1e-4)
    assert result.plan.served_value <= result.best_bound
    assert result.gap == pytest.approx((result.best_bound - result.plan.served_value) / result.best_bound)
    assert result.gap <= 0.005 + 1e-9  # FAST_DEFAULT_GAP: the fast path stops only there or at its time limit
    assert {"solve_baselines", "solve_decompose_column_generation", "solve_decompose_fixing", "solve_cost"} <= set(result.seconds)
    check_plan_files(INSTANCES / "chengdu-day", out)


def test_split_instance_shares_add_up_and_keep_enterprises_whole(tmp_path):
    spec = _budget_world()
    spec["centers"][0].update(green_kwh=8.0, grid_kwh_cap=4.0)
    inst = read_instance(write(tmp_path / "i", spec))
    parts = split_instance(inst, screen(inst), 2)
    assert len(parts) == 2
    owners = [set(p.demands["enterprise_id"]) for p in parts]
    assert owners[0].isdisjoint(owners[1]) and owners[0] | owners[1] == {"E1", "E2"}
    for column, table in (("cards", "pools"), ("green_kwh", "centers"), ("grid_kwh_cap", "centers"), ("budget_yuan", "programs")):
        total = sum(p.tables[table][column].to_numpy(dtype=float) for p in parts)
        assert np.allclose(total, inst.tables[table][column].to_numpy(dtype=float)), column
    # E1 and E2 request 10 card-hours each: every pool and center is halved
    assert [float(p.pools["cards"].iloc[0]) for p in parts] == [5.0, 5.0]


def test_partition_merges_and_repairs_into_a_valid_plan(tmp_path):
    """Two parts (E1 and E2 request equal value), each with half of every pool (5 card-hours) and
    half of the budget (2.5 yuan, a bill of 5). E2's d3 (10 card-hours) fits no half; in E1's part
    d2 (6 card-hours) fits no half either, so that part serves d1 at pB (bill 4, value 4). The repair
    pass then has pB's other 6 card-hours and 3 yuan of budget (a bill of 6): it adds d2 at pB.
    Served value 10 = the optimum."""
    inst = write(tmp_path / "i", _budget_world())
    options = SolveOptions(method="partition", parts=2, executor=ExecutorOptions(workers=1, progress=False))
    result = solve_and_write(inst, tmp_path / "p", options)
    assert result.method == "partition"
    assert result.plan.served_value == pytest.approx(10.0)
    assert sorted(result.plan.assignments["demand_id"]) == ["d1", "d2"]
    assert any("repair pass added 6" in n for n in result.notes)
    check_plan_files(inst, tmp_path / "p")


def _one_pool_world() -> dict:
    """One pool (pB, 10 card-hours). E1 asks d1a (8 card-hours, value 8) and d1b (2, priority 0.5:
    value 1); E2 asks d2 (10, priority 0.95: value 9.5). The optimum serves d2 alone (9.5); the
    Lagrangian bound is 9.9 (d1a and 0.2 of d2: enterprises are convexified, not the pool)."""
    spec = base()
    spec["pools"] = [p for p in spec["pools"] if p["pool_id"] == "pB"]
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G"})
    spec["demands"] += [demand("d1a", 8), demand("d1b", 2, priority=0.5), demand("d2", 10, enterprise="E2", priority=0.95)]
    return spec


def test_fast_reports_the_bound_of_its_exact_polish_mip(tmp_path):
    """The polish MIP runs over every pair (a tiny instance) and proves 9.5: best_bound 9.5, optimal."""
    inst = write(tmp_path / "i", _one_pool_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast"))
    assert result.plan.served_value == pytest.approx(9.5)
    assert result.best_bound == pytest.approx(9.5) and result.status == "optimal"
    assert any("bound from the exact MIP: 9.5 (Lagrangian 9.9)" in n for n in result.notes)


def test_partition_improves_the_merged_plan_on_the_whole_instance(tmp_path):
    """In :func:`_one_pool_world` each part gets 5 card-hours: E1's part serves
    d1b alone (value 1), E2's part nothing; the repair pass adds d1a (value 9 merged). The optimum is d2
    alone (9.5): only the whole-instance stage finds it, and its exact MIP over every pair proves it,
    so the bound is 9.5 (the Lagrangian bound is 9.9: d1a and 0.2 of d2)."""
    inst = write(tmp_path / "i", _one_pool_world())
    options = SolveOptions(method="partition", parts=2, executor=ExecutorOptions(workers=1, progress=False))
    result = solve_and_write(inst, tmp_path / "p", options)
    assert any("merged parts: value 1; the repair pass added 8" in n for n in result.notes)
    assert list(result.plan.assignments["demand_id"]) == ["d2"]
    assert result.plan.served_value == pytest.approx(9.5)
    assert result.best_bound == pytest.approx(9.5) and result.status == "optimal"
    assert any("Lagrangian 9.9" in n for n in result.notes)
    check_plan_files(inst, tmp_path / "p")


def test_partition_parts_choose_their_method_by_size_even_with_gap(tmp_path, monkeypatch):
    """Each part chooses its method by its own size, whatever the --gap: a part above the size threshold
    runs fast (the gap is the whole instance's target; 50,000 x 300 parts once ran exact for minutes)."""
    import allocator.solve.fast as fast

    monkeypatch.setattr(fast, "AUTO_FAST_COLUMNS", 0)  # every part is "large"
    inst = write(tmp_path / "i", _budget_world())
    options = SolveOptions(method="partition", parts=2, gap=0.01, gap_given=True,
                           executor=ExecutorOptions(workers=1, progress=False))
    result = solve_and_write(inst, tmp_path / "p", options)
    # part 2's d3 (10 card-hours) fits no half pool: it has no pair, and nothing is "large"
    assert [n.split(",")[0] for n in result.notes[:2]] == ["part 1: optimal by fast", "part 2: optimal by exact"]
    assert result.plan.served_value == pytest.approx(10.0)
    check_plan_files(inst, tmp_path / "p")


@pytest.mark.slow
def test_partition_on_local_worker_processes_gives_a_valid_plan(tmp_path):
    out = tmp_path / "p"
    options = SolveOptions(method="partition", parts=2, time_limit=60,
                           executor=ExecutorOptions(workers=2, progress=False))
    result = solve_and_write(INSTANCES / "chengdu-day", out, options)
    assert result.model_size["parts"] == 2
    assert 0 < result.plan.served_value <= result.best_bound
    check_plan_files(INSTANCES / "chengdu-day", out)


@pytest.mark.slow
def test_partition_on_a_dask_cluster_gives_the_same_plan(tmp_path):
    distributed = pytest.importorskip("distributed")
    inst = write(tmp_path / "i", _budget_world())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        executor = ExecutorOptions(scheduler=cluster.scheduler_address, progress=False)
        result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="partition", parts=2, executor=executor))
    assert sorted(result.plan.assignments["demand_id"]) == ["d1", "d2"]
    assert [n.split(",")[0] for n in result.notes[:2]] == ["part 1: optimal by exact", "part 2: optimal by exact"]
    check_plan_files(inst, tmp_path / "p")


@pytest.mark.slow
def test_partition_time_share_counts_the_cluster_workers():
    """Parts share the time limit by rounds of parts: 8 parts on a cluster of 2 one-thread workers
    run in 4 rounds (each part gets a quarter of the parts' share, not all of it)."""
    distributed = pytest.importorskip("distributed")
    from allocator.executor import slots
    from allocator.solve.partition import _waves

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        on_cluster = ExecutorOptions(scheduler=cluster.scheduler_address, progress=False)
        assert slots(on_cluster) == 2
        assert _waves(8, on_cluster) == 4
    local = ExecutorOptions(workers=3, progress=False)
    assert slots(local) == 3 and _waves(8, local) == 3


def test_cli_partition_options(tmp_path):
    inst = write(tmp_path / "i", _budget_world())
    result = CliRunner().invoke(main, ["solve", str(inst), "-o", str(tmp_path / "p"), "--method", "partition",
                                       "--parts", "2", "--workers", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["method"] == "partition" and summary["model"]["parts"] == 2
    assert summary["best_bound"] == pytest.approx(10.0)


def _must_serve_hour_world() -> dict:
    """pB only (10 cards, 1 yuan), two one-hour periods; min spend 9 (a bill of 9 or more). E2's m (must
    serve, 10 card-hours in hour 0, value 10), E3's z (10 card-hours in hour 0, value 30), E1's x1 and x2
    (5 card-hours each in hour 1, value 20 each: only together do they bill 9). The optimum keeps m in
    hour 0 and x1 + x2 in hour 1: 50. Summed over the day (one block) the best assignment takes z, x1 and
    x2 (70) and leaves m out, and no hour is left for m once z holds hour 0. The baselines place single
    demands: m, and nothing of E1 (5 < 9 alone): 10."""
    spec = base()
    spec["settings"]["periods"] = 2
    spec["pools"] = spec["pools"][1:]
    spec["programs"][0]["min_spend_yuan"] = 9.0
    spec["enterprises"] += [{"enterprise_id": "E2", "program_id": "G"}, {"enterprise_id": "E3", "program_id": "G"}]
    spec["demands"] += [demand("x1", 5, priority=4.0, release=1, deadline=1), demand("x2", 5, priority=4.0, release=1, deadline=1),
                        demand("m", 10, enterprise="E2", must_serve=True, release=0, deadline=0),
                        demand("z", 10, enterprise="E3", priority=3.0, release=0, deadline=0)]
    return spec


def test_hourly_plan_keeps_must_serve_demands_the_assignment_left_out(tmp_path):
    """The hourly plan made from an assignment that left a must-serve demand out used to miss it, and
    lost to the baseline (10) whatever it served: now the demand is kept where the baseline has it."""
    from allocator.solve.exact import _best_heuristic
    from allocator.solve.hourly import schedule_assignment

    folder = write(tmp_path / "i", _must_serve_hour_world())
    inst = read_instance(folder)
    scr = screen(inst)
    start = _best_heuristic(inst, scr)
    ids = scr.pairs["demand_id"].to_numpy()
    assert sorted(ids[start.chosen]) == ["m"]
    assignment = np.isin(ids, ["z", "x1", "x2"])
    plan, _ = schedule_assignment(inst, scr, assignment, 10.0, 70.0, 1e-4, start)
    assert sorted(ids[plan.chosen]) == ["m", "x1", "x2"] and plan.unplaced_must_serve == []
    result = solve_and_write(folder, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    assert result.plan.served_value == pytest.approx(50.0)
    # the master serves must-serve demands too, so column generation does not stop at the 70 of plans without m
    assert result.best_bound == pytest.approx(50.0)
    check_plan_files(folder, tmp_path / "p")


def _two_hours_one_pool_world() -> dict:
    """pB only (10 cards, so 10 card-hours an hour), two one-hour periods: a (10 card-hours, value 30) and b
    (10, value 20) both in hour 0, c (10, value 10) in hour 1. Summed over the day (one block) a and b fit
    (bound 50); hour by hour only one of them does: the optimum is a + c = 40."""
    spec = base()
    spec["settings"]["periods"] = 2
    spec["pools"] = spec["pools"][1:]
    spec["demands"] += [demand("a", 10, priority=3.0, release=0, deadline=0), demand("b", 10, priority=2.0, release=0, deadline=0),
                        demand("c", 10, priority=1.0, release=1, deadline=1)]
    return spec


def test_hourly_day_with_a_small_model_is_proven_by_the_exact_mip_from_its_plan(tmp_path):
    """The block bound (50) ignores the hours; on an hourly day whose model is small the fast method runs
    the exact MIP from its hourly plan, whose dual bound holds for the instance: 40, proven."""
    _two_hours_proven(tmp_path, "bound from the exact MIP: 40 (Lagrangian 50)")


def _two_hours_proven(tmp_path, note: str):
    """The fast method on the two-hour day: 40 served, bound 40 (optimal), the bound's source in a note."""
    folder = write(tmp_path / "i", _two_hours_one_pool_world())
    result = solve_and_write(folder, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    assert result.plan.served_value == pytest.approx(40.0)
    assert result.best_bound == pytest.approx(40.0) and result.status == "optimal"
    assert any(n.startswith(note) for n in result.notes), result.notes
    check_plan_files(folder, tmp_path / "p")
    return folder


def test_densest_takes_the_most_value_per_card_hour_within_the_columns():
    """Pairs of value per card-hour of use 1, 3, 2 and 5; windows of 1, 4, 1 and 3 periods (1, 5, 1 and 4
    model columns). The densest first, as long as the columns add up within the budget: 6 columns take
    the densest (4) only, the next (5 more) would not fit; 10 take the three densest (4 + 5 + 1)."""
    from allocator.solve.hourly import _densest, pair_columns

    pairs = pd.DataFrame({"value": [1.0, 3.0, 2.0, 5.0], "usage_card_hours": [1.0] * 4,
                          "release": [0, 0, 2, 0], "deadline": [0, 3, 2, 2]})
    columns = pair_columns(pairs)
    assert columns.tolist() == [1, 5, 1, 4]
    assert _densest(pairs, columns, np.ones(4, dtype=bool), 6).tolist() == [False, False, False, True]
    assert _densest(pairs, columns, np.ones(4, dtype=bool), 10).tolist() == [False, True, True, True]
    assert _densest(pairs, columns, np.array([True, False, True, False]), 6).tolist() == [True, False, True, False]


def test_widening_rounds_lift_an_hourly_plan_the_hours_cut(tmp_path, monkeypatch):
    """A capacity-bound hourly day (200 demands x 12 h) whose model is treated as large: the block assignment
    placed hour by hour and filled in loses value; the widening rounds (served demands and the densest others
    free, as far as the columns allow) win it back, and the plan keeps every rule."""
    import allocator.solve.fast as fast
    import allocator.solve.hourly as hourly
    from benchmarks.regimes.family import generate
    from benchmarks.regimes.family import write as write_regime

    folder = write_regime(tmp_path / "i", generate("capacity", 200, 8, 12, 0))
    monkeypatch.setattr(fast, "POLISH_MAX_COLUMNS", 0)
    monkeypatch.setattr(hourly, "WIDEN_MAX_COLUMNS", 800)
    result = solve_and_write(folder, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    filled = next(float(n.split("value ")[1].replace(",", "")) for n in result.notes if n.startswith("single demands filled in"))
    assert any("(round 1)" in n for n in result.notes), result.notes
    widened = next(n for n in result.notes if n.startswith("widening:"))
    assert result.plan.served_value > filled + 1.0, widened
    assert result.best_bound >= result.plan.served_value - 1e-6
    check_plan_files(folder, tmp_path / "p")


def test_exact_mip_beside_gives_its_bound_and_plan(tmp_path):
    """The worker alone on the two-hour day: HiGHS on the whole model proves 40 (a + c) and returns that plan."""
    import time

    from allocator.solve.beside import ExactBeside

    inst = read_instance(write(tmp_path / "i", _two_hours_one_pool_world()))
    scr = screen(inst)
    with ExactBeside(inst, scr, time.time() + 20.0, 1e-4) as beside:
        answer = beside.result(30.0)
    assert answer.bound == pytest.approx(40.0) and answer.value == pytest.approx(40.0)
    assert sorted(scr.pairs["demand_id"].to_numpy()[answer.assign > 0.5]) == ["a", "c"]
    assert not beside._process.is_alive()
    # asked before it can have answered (the worker is still starting): no answer, and it is stopped on the way out
    with ExactBeside(inst, scr, time.time() + 20.0, 1e-4) as late:
        assert late.result(0.0) is None
    assert not late._process.is_alive()


def _as_large_with_a_second_core(monkeypatch) -> None:
    """Small days treated as large hourly ones with two cores: no exact MIP from the plan on the main core,
    the exact MIP beside whatever the time."""
    import allocator.solve.beside as beside
    import allocator.solve.fast as fast

    monkeypatch.setattr(fast, "POLISH_MAX_COLUMNS", 0)
    monkeypatch.setattr(beside, "BESIDE_MIN_SECONDS", 0.0)
    monkeypatch.setattr(beside, "cores", lambda: 2)


def test_fast_method_takes_the_bound_of_the_exact_mip_beside(tmp_path, monkeypatch):
    """The two-hour day treated as a large model (no exact MIP from the plan on the main core): the block
    bound is 50; the exact MIP on the other core proves 40, which becomes the certified bound."""
    _as_large_with_a_second_core(monkeypatch)
    folder = _two_hours_proven(tmp_path, "bound from the exact MIP beside: 40 (Lagrangian 50)")
    one_thread = solve_and_write(folder, tmp_path / "q", SolveOptions(method="fast", time_limit=20, threads=1))
    assert not any("beside" in n for n in one_thread.notes)  # --threads 1: no worker


def test_fast_method_runs_alone_when_no_worker_can_be_started(tmp_path, monkeypatch):
    """A system that refuses the worker process: the fast method still solves the two-hour day (the block
    bound 50 stands, no note of a worker)."""
    import allocator.solve.fast as fast

    def refused(*args, **kwargs):
        raise OSError("Resource temporarily unavailable")

    _as_large_with_a_second_core(monkeypatch)
    monkeypatch.setattr(fast, "ExactBeside", refused)
    folder = write(tmp_path / "i", _two_hours_one_pool_world())
    result = solve_and_write(folder, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    assert result.plan.served_value == pytest.approx(40.0) and result.best_bound == pytest.approx(50.0)
    assert not any("beside" in n for n in result.notes)
    check_plan_files(folder, tmp_path / "p")


def test_polish_moves_to_the_wider_set_once_a_set_is_proved_within_its_own_gap(tmp_path, monkeypatch):
    """Two polish sets on the packing day: the first MIP ends 0.05 % below its own bound (its optimum short
    of the target against the instance bound 100), so the second, wider set runs; the first with the set gap
    (a wider set follows), the last with the proof gap. Proving that last 0.05 % took all the time before."""
    import time
    import types

    import allocator.solve.fast as fast
    from allocator.solve.progress import Progress
    from allocator.solve.restricted import RESTRICTED_MIP_GAP
    from allocator.solve.state import HeuristicPlan

    instance = read_instance(write(tmp_path / "i", _packing_world()))
    scr = screen(instance)
    chosen = (scr.pairs["demand_id"] == "a").to_numpy()
    plan = HeuristicPlan(chosen, pd.DataFrame(), [])
    calls = []

    def fake_mip(instance, scr, allowed, start, seconds, bound, target_gap, notes, label, progress=None, own_gap=None):
        calls.append((label, own_gap))
        return start, 6.0 * (1.0005 if label == "narrow" else 1.0)

    monkeypatch.setattr(fast, "restricted_mip", fake_mip)
    narrow, wide = chosen.copy(), (scr.pairs["demand_id"] != "e").to_numpy()
    sets = [("narrow", narrow), ("wide", wide)]
    with Progress(False) as live:
        fast._polish(instance, scr, plan, types.SimpleNamespace(bound=100.0), sets, time.perf_counter() + 30.0, 0.005,
                     [], live, {})
    assert calls == [("narrow", fast.POLISH_SET_GAP), ("wide", RESTRICTED_MIP_GAP)]
    assert RESTRICTED_MIP_GAP < 0.0005 < fast.POLISH_SET_GAP


def _packing_world() -> dict:
    """One pool (pB, 10 card-hours), every demand its own enterprise: a (6 card-hours, value 6), b and c
    (5 each, priority 0.99: value 4.95), e (5, priority 0.1: value 0.5). The LP fills the pool with a and
    0.8 of b (bound 9.96); fixing accepts a, and nothing else fits beside it (plan 6). The optimum is
    b + c = 9.9: c is a plan near the LP (reduced cost 0), e is priced but far from it."""
    spec = base()
    spec["pools"] = [p for p in spec["pools"] if p["pool_id"] == "pB"]
    spec["enterprises"] = [{"enterprise_id": e, "program_id": "G"} for e in ("Ea", "Eb", "Ec", "Ee")]
    spec["demands"] = [demand("a", 6, enterprise="Ea"), demand("b", 5, enterprise="Eb", priority=0.99),
                       demand("c", 5, enterprise="Ec", priority=0.99), demand("e", 5, enterprise="Ee", priority=0.1)]
    return spec


def _as_large_without_integer_master(monkeypatch, polish_pairs: int) -> None:
    """The fast path as on a large one-period day: the polish takes at most ``polish_pairs`` pairs, and the
    integer master finds nothing (so that only the polish can lift the plan)."""
    import allocator.solve.decompose as decompose
    import allocator.solve.fast as fast

    monkeypatch.setattr(fast, "POLISH_MAX_COLUMNS", polish_pairs)
    monkeypatch.setattr(decompose, "integer_master", lambda *args, **kwargs: None)


def test_polish_widens_from_the_lp_plans_pairs_to_those_near_the_lp(tmp_path, monkeypatch):
    """Every priced pair (4) is too many for the polish; the pairs of the LP's plans (a, b) give 6 and are
    proved, so the MIP over the pairs of the plans near the LP (a, b, c) runs next and finds b + c = 9.9."""
    _as_large_without_integer_master(monkeypatch, polish_pairs=3)
    inst = write(tmp_path / "i", _packing_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    assert any(n.startswith("price-and-fix: value 6") for n in result.notes), result.notes
    assert "MIP over the pairs of the LP's plans over 2 pairs: value 6" in result.notes
    assert "MIP over the pairs of the plans near the LP over 3 pairs: value 9.9" in result.notes
    assert not any(n.startswith("MIP over the priced pairs") for n in result.notes)
    assert result.plan.served_value == pytest.approx(9.9)
    assert result.best_bound == pytest.approx(9.96)
    check_plan_files(inst, tmp_path / "p")


def test_polish_stops_widening_at_a_set_it_did_not_prove(tmp_path, monkeypatch):
    """A MIP that ends short of proving its pair set (here: one that only returns its start and a bound
    above it) ends the polish: the wider sets are not tried."""
    import allocator.solve.fast as fast

    _as_large_without_integer_master(monkeypatch, polish_pairs=3)
    calls = []

    def unproved(instance, scr, allowed, start, seconds, bound, target_gap, notes, label, **kwargs):
        calls.append((label, int(allowed.sum())))
        return start, bound

    monkeypatch.setattr(fast, "restricted_mip", unproved)
    inst = write(tmp_path / "i", _packing_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    assert calls == [("MIP over the pairs of the LP's plans", 2)]
    assert result.plan.served_value == pytest.approx(6)


def test_polish_sets_narrowest_first_within_the_limit(monkeypatch):
    """Small model: every pair. One period: the LP's, the near, the priced pairs, each with the plan's own,
    those above the limit or no wider than the last left out. An assignment on time blocks: none."""
    from types import SimpleNamespace

    import allocator.solve.fast as fast
    from allocator.solve.state import HeuristicPlan

    monkeypatch.setattr(fast, "POLISH_MAX_COLUMNS", 4)
    b = lambda *on: np.isin(np.arange(6), on)  # noqa: E731
    plan = HeuristicPlan(b(5), pd.DataFrame(), [])
    dec = SimpleNamespace(exact=True, lp_support=b(0), near_support=b(0), support=b(0, 1, 2))
    sets = fast.polish_sets(dec, plan, small=False)
    assert [(label, allowed.tolist()) for label, allowed in sets] == [
        ("MIP over the pairs of the LP's plans", b(0, 5).tolist()),
        ("MIP over the priced pairs", b(0, 1, 2, 5).tolist())]
    dec.support = b(0, 1, 2, 3, 4)
    assert [label for label, _ in fast.polish_sets(dec, plan, small=False)] == ["MIP over the pairs of the LP's plans"]
    assert [(label, allowed.all()) for label, allowed in fast.polish_sets(dec, plan, small=True)] == [
        ("exact MIP from the plan", True)]
    assert fast.polish_sets(SimpleNamespace(exact=False), plan, small=False) == []


def test_mip_callback_stops_at_the_target_gap_or_when_the_plan_stalls():
    """StopAtGap interrupts HiGHS once the incumbent is within the gap of the bound, or when the incumbent
    has not improved for ``stall_seconds`` (the integer master before the polish); an improvement resets it."""
    import time
    from types import SimpleNamespace

    from allocator.solve.progress import StopAtGap

    def interrupted(callback, incumbent: float) -> bool:
        data_in = SimpleNamespace(user_interrupt=False)
        callback(None, "", SimpleNamespace(mip_primal_bound=incumbent), data_in, None)
        return data_in.user_interrupt

    stalling = StopAtGap(100.0, 0.01, stall_seconds=0.5)
    assert not interrupted(stalling, 50.0)
    time.sleep(0.6)
    assert not interrupted(stalling, 60.0)  # better: the clock starts again
    assert not interrupted(stalling, 60.0)
    time.sleep(0.6)
    assert interrupted(stalling, 60.0)
    patient = StopAtGap(100.0, 0.01)
    assert not interrupted(patient, float("-inf")) and not interrupted(patient, 98.9)
    time.sleep(0.6)
    assert not interrupted(patient, 98.9) and interrupted(patient, 99.0)


def test_auto_chooses_partition_above_its_threshold_where_it_may_start_processes(tmp_path, monkeypatch):
    """Above AUTO_PARTITION_PAIRS (lowered to 5 here) auto runs the partitioned method with parts of about
    AUTO_PART_PAIRS, but not where the solve may not start processes (the year's days, sweeps, parts) or
    runs on one thread; 2.8 M pairs (50,000 x 300) make 8 parts."""
    import allocator.solve.pipeline as pipeline

    scr = screen(read_instance(write(tmp_path / "i", _budget_world())))
    monkeypatch.setattr(pipeline, "AUTO_PARTITION_PAIRS", 5)
    method, notes = resolve_method(SolveOptions(), scr)
    assert (method, notes) == ("partition", ["method auto chose partition: 6 (demand, pool) pairs > 5, 2 parts"])
    assert resolve_method(SolveOptions(other_processes=False), scr)[0] == "exact"
    assert resolve_method(SolveOptions(threads=1), scr)[0] == "exact"
    assert resolve_method(SolveOptions(method="fast"), scr)[0] == "fast"
    assert pipeline.auto_parts(2_782_480) == 8 and pipeline.auto_parts(6) == 2
    # a limit too short for parts of their own: the fast method (at 50,000 x 300 and 60 s, partition ran
    # 76 s and served 469,406, the fast method 55 s and 472,606)
    assert resolve_method(SolveOptions(time_limit=180.0), scr)[0] == "partition"
    assert resolve_method(SolveOptions(time_limit=179.0), scr) == (
        "fast", ["method auto chose fast: 6 (demand, pool) pairs > 5, but a time limit under 180 s leaves its parts too little"])


def test_auto_partition_solves_and_falls_back_to_the_fast_method(tmp_path, monkeypatch):
    """auto's partitioned method (threshold lowered) on the budget day, parts in this process: the optimum
    10, reported as partition asked by auto, in 2 parts. When its parts find no plan serving every
    must_serve demand (made to fail here), the fast method takes the time left and finds 10."""
    import allocator.solve.pipeline as pipeline
    from allocator.problems import NoSolution

    monkeypatch.setattr(pipeline, "AUTO_PARTITION_PAIRS", 5)
    monkeypatch.setattr(pipeline, "AUTO_PARTITION_MIN_SECONDS", 30.0)
    inst = write(tmp_path / "i", _budget_world())
    options = SolveOptions(time_limit=30, executor=ExecutorOptions(workers=1, progress=False))
    result = solve_and_write(inst, tmp_path / "p", options)
    assert (result.method, result.method_requested, result.model_size["parts"]) == ("partition", "auto", 2)
    assert result.plan.served_value == pytest.approx(10.0)
    check_plan_files(inst, tmp_path / "p")

    def no_plan(*args, **kwargs):
        raise NoSolution("the partitioned method could not place must_serve demand(s) d1")

    monkeypatch.setattr(pipeline, "_partition", no_plan)
    result = solve_and_write(inst, tmp_path / "q", options)
    assert (result.method, result.method_requested) == ("fast", "auto")
    assert result.plan.served_value == pytest.approx(10.0)
    assert any("the fast method with the time left" in note for note in result.notes)
    check_plan_files(inst, tmp_path / "q")


def test_partition_whose_parts_miss_a_must_serve_demand_starts_the_whole_instance_from_a_baseline(tmp_path, monkeypatch):
    """The merged parts leave the must_serve d3 out (made so here; seen on the mixed 50,000 x 300 regime day,
    where 20 were left out and auto's fallback to the fast method alone ended 57 % from its bound): the
    whole instance starts from the best baseline, which serves d3, and ends with the optimum 10 (d3 at pB)."""
    import allocator.solve.partition as partition
    from allocator.solve.state import HeuristicPlan

    spec = _budget_world()
    spec["demands"][-1]["must_serve"] = True
    inst = write(tmp_path / "i", spec)
    pairs = screen(read_instance(inst)).pairs

    def parts_missing_d3(instance, scr, options, parts, solve_part, executor):
        return HeuristicPlan(np.zeros(len(pairs), dtype=bool), pd.DataFrame(), ["d3"]), [], ["part 1: failed"]

    monkeypatch.setattr(partition, "solve_partitioned", parts_missing_d3)
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="partition", time_limit=20))
    assert result.method == "partition" and result.plan.served_value == pytest.approx(10.0)
    assert "d3" in set(result.plan.assignments["demand_id"])
    assert any(n.startswith("the merged parts leave 1 must_serve demand(s) out: the whole instance starts from the "
                            "best baseline (value 10)") for n in result.notes), result.notes
    check_plan_files(inst, tmp_path / "p")


def test_partition_never_returns_merged_parts_that_leave_a_must_serve_demand_out(tmp_path, monkeypatch):
    """R10: when the merged parts miss the must_serve d3 and the whole-instance stage finds no plan either
    (made so here), the partitioned method ends with no solution (exit 4) and writes nothing, rather than
    return the merged plan without d3."""
    import allocator.solve.fast as fast
    import allocator.solve.partition as partition
    import allocator.solve.pipeline as pipeline
    from allocator.problems import NoSolution
    from allocator.solve.fast import FastResult
    from allocator.solve.state import HeuristicPlan

    spec = _budget_world()
    spec["demands"][-1]["must_serve"] = True
    inst = write(tmp_path / "i", spec)
    pairs = screen(read_instance(inst)).pairs

    missing_d3 = HeuristicPlan(np.zeros(len(pairs), dtype=bool), pd.DataFrame(), ["d3"])

    def parts_missing_d3(instance, scr, options, parts, solve_part, executor):
        return missing_d3, [], ["part 1: failed"]

    monkeypatch.setattr(pipeline, "_best_heuristic", lambda instance, scr, start, deadline=None: missing_d3)  # no baseline serves d3

    def whole_finds_nothing(instance, scr, options, best_heuristic, warm=None, decomposition_share=1.0):
        return FastResult(np.zeros(len(pairs), dtype=bool), pd.DataFrame(), "no_solution", 0.0, [], {})

    monkeypatch.setattr(partition, "solve_partitioned", parts_missing_d3)
    monkeypatch.setattr(fast, "solve_fast", whole_finds_nothing)
    with pytest.raises(NoSolution, match="could not place must_serve demand.s. d3"):
        solve_and_write(inst, tmp_path / "p", SolveOptions(method="partition", time_limit=20))
    assert not (tmp_path / "p").exists()


def _must_serve_split_world() -> dict:
    """pA and pB hold 10 card-hours each. E1's must_serve m (6 card-hours) may run at either; E2's y (8,
    realtime at home B) only at pB, E3's z (8, realtime at home A) only at pA. The optimum serves m and one
    of y, z (value 14); the Lagrangian bound is 20 (m split over both pools, y and z filling the rest), so
    the LP weights y and z (0.75-1) above m's two plans (1/3-2/3 each)."""
    spec = base()
    spec["enterprises"] += [{"enterprise_id": e, "program_id": "G"} for e in ("E2", "E3")]
    spec["demands"] += [demand("m", 6, must_serve=True), demand("y", 8, enterprise="E2", home="B", latency_class="realtime"),
                        demand("z", 8, enterprise="E3", home="A", latency_class="realtime")]
    return spec


def test_fixing_accepts_the_plans_serving_must_serve_demands_first(tmp_path):
    """Fixing by LP weight alone accepted y and z (value 16) and left no room for m: the price-and-fix plan
    missed a must_serve demand and the baseline was returned. m's plan first: m and one of y, z (14)."""
    inst = write(tmp_path / "i", _must_serve_split_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast"))
    assert result.plan.served_value == pytest.approx(14.0) and result.best_bound == pytest.approx(14.0)
    assert "m" in set(result.plan.assignments["demand_id"])
    assert any(n.startswith("fixing: ") and "plans accepted (value 14)" in n for n in result.notes), result.notes
    assert "plan from price-and-fix (baseline 14); bound from the Lagrangian relaxation" in result.notes
    check_plan_files(inst, tmp_path / "p")


def test_a_plan_missing_must_serve_demands_is_recombined_with_one_serving_them(tmp_path):
    """y and z (value 16) leave m out; the baseline serves m at pA (bill 12) and nothing else (10). The MIP
    over both plans' pairs and E1's keeps what fits of the first around m: m at pA with y at pB, or m at pB
    with z at pA (14, the optimum)."""
    from allocator.solve.decompose import recombine_for_must_serve
    from allocator.solve.restricted import missing_must_serve
    from allocator.solve.state import HeuristicPlan

    instance = read_instance(write(tmp_path / "i", _must_serve_split_world()))
    scr = screen(instance)
    key = list(zip(scr.pairs["demand_id"], scr.pairs["pool_id"]))
    chosen = np.array([k in {("y", "pB"), ("z", "pA")} for k in key])
    plan = HeuristicPlan(chosen, pd.DataFrame({"demand_id": ["y", "z"], "pool_id": ["pB", "pA"], "period": [0, 0],
                                               "card_hours": [8.0, 8.0]}), missing_must_serve(scr, chosen))
    assert plan.unplaced_must_serve == ["m"]
    kept = np.array([k == ("m", "pA") for k in key])
    keeper = HeuristicPlan(kept, pd.DataFrame({"demand_id": ["m"], "pool_id": ["pA"], "period": [0], "card_hours": [6.0]}), [])
    notes: list[str] = []
    repaired = recombine_for_must_serve(instance, scr, plan, keeper, 20.0, 20.0, 0.0, notes)
    served = set(scr.pairs["demand_id"].to_numpy()[repaired.chosen])
    assert repaired.unplaced_must_serve == [] and "m" in served and len(served) == 2
    assert float(scr.pairs["value"].to_numpy()[repaired.chosen].sum()) == pytest.approx(14.0)
    assert notes[0].startswith("MIP placing the 1 must_serve demand(s) price-and-fix left out")


def test_a_part_that_cannot_serve_its_must_serve_demand_is_solved_without_it(tmp_path):
    """In :func:`_budget_world` with d3 must_serve, E2's part holds half of pB (5 card-hours), too little for
    d3 (10): the part was infeasible and its demands lost. It is solved without R10 now (d3 left out,
    said so), and the whole instance places d3: the optimum 10, d3 at pB. (Only the demands the part's
    shares cannot hold lose R10 there.)"""
    spec = _budget_world()
    spec["demands"][-1]["must_serve"] = True
    inst = write(tmp_path / "i", spec)
    options = SolveOptions(method="partition", parts=2, time_limit=30, executor=ExecutorOptions(workers=1, progress=False))
    result = solve_and_write(inst, tmp_path / "p", options)
    relaxed = [n for n in result.notes if "must_serve relaxed in the part" in n]
    assert len(relaxed) == 1 and "failed" not in relaxed[0], result.notes
    assert relaxed[0].endswith("(must_serve relaxed in the part for d3 (window_too_short on the part's share))")
    assert result.plan.served_value == pytest.approx(10.0) and "d3" in set(result.plan.assignments["demand_id"])
    check_plan_files(inst, tmp_path / "p")


def test_the_lp_proof_of_infeasibility_keeps_to_the_time_left(tmp_path):
    """Two must_serve demands of 6 card-hours and one pool of 10 (pB, the programme's only center): the
    LP relaxation proves no plan exists. Without time left no proof is tried (False: the fast method then
    says no solution rather than run past --time-limit; seen at 50,000 x 300, 15 minutes past 300 s)."""
    from allocator.solve.fast import relaxation_infeasible

    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 6, must_serve=True), demand("d2", 6, must_serve=True)]
    instance = read_instance(write(tmp_path / "i", spec))
    scr = screen(instance)
    assert relaxation_infeasible(instance, scr) and relaxation_infeasible(instance, scr, 30.0)
    assert not relaxation_infeasible(instance, scr, 0.5)
    assert not relaxation_infeasible(instance, scr, 30.0, prepare_seconds=10.0)  # its build would take the time


def test_a_part_whose_must_serve_demands_conflict_is_solved_without_r10(tmp_path):
    """E2's d3a and d3b (3 card-hours each, must_serve, realtime at home B: pB only) each fit E2's share of
    pB (6/16 of 10 cards) alone but not together: the part has no plan with R10, so it is solved without
    it (said so); the whole instance serves both and d1 beside them at pB (bill 10 = the budget's 5 yuan
    at rate 0.5): the optimum 10."""
    spec = _budget_world()
    spec["demands"] = spec["demands"][:2] + [
        demand(d, 3, enterprise="E2", home="B", latency_class="realtime", must_serve=True) for d in ("d3a", "d3b")]
    inst = write(tmp_path / "i", spec)
    options = SolveOptions(method="partition", parts=2, time_limit=30, executor=ExecutorOptions(workers=1, progress=False))
    result = solve_and_write(inst, tmp_path / "p", options)
    relaxed = [n for n in result.notes if "every must_serve demand relaxed in the part" in n]
    assert len(relaxed) == 1 and "failed" not in relaxed[0], result.notes
    assert result.plan.served_value == pytest.approx(10.0)
    assert {"d3a", "d3b"} <= set(result.plan.assignments["demand_id"])
    check_plan_files(inst, tmp_path / "p")


def test_a_time_limit_shorter_than_reading_and_writing_is_said(tmp_path, monkeypatch):
    """When reading, screening and the reserve for writing leave the methods less than a second (forced
    here by a writing reserve of 1,000 s), the plan is still the best baseline found, and the notes say
    that the limit could not be held (seen at 50,000 x 300 with --time-limit 30: screening alone 14 s)."""
    import allocator.solve.pipeline as pipeline

    monkeypatch.setattr(pipeline, "finish_seconds", lambda scr: 1000.0)
    inst = write(tmp_path / "i", _budget_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=5))
    assert result.plan.served_value == pytest.approx(10.0)
    assert any(n.startswith("the time limit (5 s) is shorter than reading, screening and writing this instance take "
                            "(about 1000 s)") for n in result.notes), result.notes
    result = solve_and_write(inst, tmp_path / "q", SolveOptions(method="fast", time_limit=5000))
    assert not any("is shorter than reading" in n for n in result.notes)


def test_baselines_after_the_first_stop_at_their_share_of_the_time(tmp_path, monkeypatch):
    """Without a deadline every baseline runs and the best is kept (10 on the budget day); with a deadline
    already passed only the first pass that serves every must-serve demand (greedy here) runs."""
    import allocator.solve.exact as exact

    instance = read_instance(write(tmp_path / "i", _budget_world()))
    scr = screen(instance)
    ran: list[str] = []
    original = exact.place

    def counting(instance, scr, method):
        ran.append(method)
        return original(instance, scr, method)

    monkeypatch.setattr(exact, "place", counting)
    plan = exact._best_heuristic(instance, scr)
    assert ran == ["greedy", "fcfs"] and float(scr.pairs["value"].to_numpy()[plan.chosen].sum()) == pytest.approx(10.0)
    ran.clear()
    exact._best_heuristic(instance, scr, deadline=0.0)
    assert ran == ["greedy"]


def test_baselines_of_equal_value_resolve_as_before(tmp_path, monkeypatch):
    """Ties between the baselines go to greedy, then fcfs, then the cap-aware pass, then must-serve first
    (the order the passes were compared in before they were reordered for the time share)."""
    import allocator.solve.exact as exact
    from allocator.solve.state import HeuristicPlan

    instance = read_instance(write(tmp_path / "i", _budget_world()))
    scr = screen(instance)
    d1 = np.asarray(scr.pairs["demand_id"] == "d1") & np.asarray(scr.pairs["pool_id"] == "pB")
    values = {"greedy": 1.0, "fcfs": 1.0, "cap-aware": 1.0, "must-first": 1.0}
    made: dict[int, str] = {}

    def plan_of(name):
        plan = HeuristicPlan(d1.copy() if values[name] else np.zeros(len(d1), dtype=bool), pd.DataFrame(), [])
        made[id(plan)] = name
        return plan

    monkeypatch.setattr(exact, "place", lambda instance, scr, method: plan_of(method))
    monkeypatch.setattr(exact, "place_in_order", lambda instance, scr, sequence, keep=None: plan_of("cap-aware"))
    monkeypatch.setattr(exact, "must_serve_first", lambda instance, scr: plan_of("must-first"))
    for dropped, expected in (("", "greedy"), ("greedy", "fcfs"), ("fcfs", "cap-aware"), ("cap-aware", "must-first")):
        if dropped:
            values[dropped] = 0.0
        assert made[id(exact._best_heuristic(instance, scr))] == expected
