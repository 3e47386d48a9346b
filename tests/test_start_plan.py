"""A plan to start from (SolveOptions.start): the smaller fund's plan in a sweep. Kept when it keeps every
rule of this instance, refused otherwise; never a worse plan than the baselines."""

from __future__ import annotations

import pytest

from allocator.instance.reading import read_instance
from allocator.instance.screening import screen
from allocator.solve.exact import _best_heuristic, start_plan
from allocator.solve.options import StartPlan
from tests.builders import base, demand, write

pytestmark = pytest.mark.component


@pytest.fixture
def one_pool(tmp_path):
    """pA: 10 card-hours. a (6), b (5), c (5): every baseline takes a first (value 6); b + c is 10."""
    spec = base()
    spec["pools"] = spec["pools"][:1]
    spec["demands"] = [demand("a", 6), demand("b", 5), demand("c", 5)]
    folder = write(tmp_path / "i", spec)
    instance = read_instance(folder)
    return folder, instance, screen(instance)


def value(scr, plan) -> float:
    return float(scr.pairs["value"].to_numpy()[plan.chosen].sum())


def test_a_start_that_keeps_the_rules_is_used(one_pool):
    _, instance, scr = one_pool
    assert value(scr, _best_heuristic(instance, scr)) == 6.0
    start = StartPlan((("b", "pA"), ("c", "pA")), (("b", "pA", 0, 5.0), ("c", "pA", 0, 5.0)))
    assert value(scr, _best_heuristic(instance, scr, start)) == 10.0


def test_a_start_that_breaks_a_rule_or_names_an_unknown_pair_is_no_start(one_pool):
    _, instance, scr = one_pool
    over_capacity = StartPlan((("a", "pA"), ("b", "pA")), (("a", "pA", 0, 6.0), ("b", "pA", 0, 5.0)))
    assert start_plan(instance, scr, over_capacity) is None
    unknown_pool = StartPlan((("b", "pB"),), (("b", "pB", 0, 5.0),))
    assert start_plan(instance, scr, unknown_pool) is None
    assert value(scr, _best_heuristic(instance, scr, over_capacity)) == 6.0


@pytest.mark.unit
def test_a_sweep_point_below_the_smaller_fund_is_solved_again_from_its_plan(monkeypatch):
    import allocator.studies.sweep.run as run
    from allocator.studies.sweep.points import SweepPoint
    from allocator.studies.sweep.run import PointTask, SolveSettings, monotone_repairs

    def task(budget: float, rate: float = 0.5) -> PointTask:
        return PointTask(SweepPoint(budget_yuan=budget, rate=rate), {}, budget, 100.0, SolveSettings())

    small, large, other_line = task(1.0), task(2.0), task(2.0, rate=0.3)
    plan_small = StartPlan((("b", "pA"),), (("b", "pA", 0, 5.0),))
    solved = {small.point.key: ({"served_value_opt": 10.0}, plan_small),
              large.point.key: ({"served_value_opt": 9.0}, None),  # within the gap, but less with more money
              other_line.point.key: ({"served_value_opt": 3.0}, None)}  # another line: nothing to compare
    starts = []

    def again(point_task, start=None):
        starts.append((point_task.point.key, start))
        return {"served_value_opt": 10.0}, start

    monkeypatch.setattr(run, "solve_point", again)
    repaired = list(monotone_repairs([large, other_line, small], solved))
    assert [t.point.key for t, _, _ in repaired] == [large.point.key]
    assert starts == [(large.point.key, plan_small)]
