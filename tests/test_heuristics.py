"""The fcfs and greedy baselines: arrival order, cheapest pool, and every rule kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocator.instance.reading import read_instance
from allocator.instance.screening import screen
from allocator.solve.heuristics import (
    cheaper_pools,
    enterprise_sequence,
    must_serve_first,
    place,
    place_enterprises,
    place_in_order,
)
from allocator.solve.state import HeuristicPlan
from tests.builders import base, demand, write

pytestmark = pytest.mark.component


def _capacity_race() -> dict:
    """Only pB (10 card-hours): d1 (8) arrives first, d2 (5, priority 3, value 15) second."""
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 8), demand("d2", 5, priority=3)]
    return spec


def test_fcfs_takes_arrivals_in_order(solve_spec):
    s = solve_spec(_capacity_race(), method="fcfs")
    assert s.served == {"d1": "pB"}
    assert s.reasons == {"d2": "not_selected:capacity"}
    assert s.result.status == "feasible"
    assert s.result.method == "fcfs"


def test_greedy_takes_value_per_subsidy_yuan(solve_spec):
    """d2: 15 / 2.5 = 6 per yuan beats d1: 8 / 4 = 2 per yuan."""
    s = solve_spec(_capacity_race(), method="greedy")
    assert s.served == {"d2": "pB"}


def test_exact_never_serves_less_than_fcfs(solve_spec):
    spec = _capacity_race()
    exact = solve_spec(spec)
    fcfs = solve_spec(spec, method="fcfs")
    assert exact.result.plan.served_value == pytest.approx(15.0)
    assert exact.result.plan.served_value >= fcfs.result.plan.served_value


def test_fcfs_places_at_the_cheapest_pool_with_room(solve_spec):
    """pB (1 yuan) has 10 card-hours: d1 (6) goes there, d2 (6) no longer fits and goes to pA (2 yuan)."""
    spec = base()
    spec["demands"] += [demand("d1", 6), demand("d2", 6)]
    s = solve_spec(spec, method="fcfs")
    assert s.served == {"d1": "pB", "d2": "pA"}


def test_fcfs_respects_budget_cap_and_voucher(solve_spec):
    """Budget 5, min voucher 1.5: d1 (E1, 6 -> subsidy 3) first, d2 (E2, 2 -> 1 < 1.5) below the voucher,
    d3 (E3, 6 -> 3 > 2 left) over budget, d4 (E4, 4 -> 2) fits exactly."""
    spec = base()
    spec["programs"][0].update(budget_yuan=5.0, min_voucher_yuan=1.5)
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["pools"][1]["cards"] = 100
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": "G"} for i in (1, 2, 3, 4)]
    spec["demands"] += [demand("d1", 6, enterprise="E1"), demand("d2", 2, enterprise="E2"),
                        demand("d3", 6, enterprise="E3"), demand("d4", 4, enterprise="E4")]
    s = solve_spec(spec, method="fcfs")
    assert s.served == {"d1": "pB", "d4": "pB"}
    assert s.reasons == {"d2": "below_threshold", "d3": "not_selected:budget"}
    assert s.row("programs", program_id="G")["remaining_yuan"] == pytest.approx(0.0)


def test_fcfs_respects_grid_cap_and_windows(solve_spec):
    """Two hourly periods; cB grid cap 2 kWh, no green: each period takes at most 2 card-hours at pB.
    d1 (4 card-hours, 2 cards max) fills pB in both periods; d2 (2) goes to pA."""
    spec = base()
    spec["settings"].update(periods=2, period_hours=1.0)
    spec["centers"][1].update(grid_kwh_cap=2.0)
    spec["demands"] += [demand("d1", 4, max_cards=2), demand("d2", 2)]
    s = solve_spec(spec, method="fcfs")
    assert s.served == {"d1": "pB", "d2": "pA"}


def test_must_serve_placed_first(solve_spec):
    spec = _capacity_race()
    spec["demands"][1]["must_serve"] = "true"
    s = solve_spec(spec, method="fcfs")
    assert s.served == {"d2": "pB"}


def _cheaper_pools_from_pa(tmp_path, spec: dict, schedule: list[tuple[str, int, float]]):
    """cheaper_pools from the plan that runs every demand at pA as ``schedule`` (demand, period,
    card-hours) says; returns the screen, the plan and the number of moves."""
    inst = read_instance(write(tmp_path / "i", spec))
    scr = screen(inst)
    at_a = (scr.pairs["pool_id"] == "pA").to_numpy()
    rows = pd.DataFrame(schedule, columns=["demand_id", "period", "card_hours"]).assign(pool_id="pA")
    start = HeuristicPlan(at_a, rows[["demand_id", "pool_id", "period", "card_hours"]], [])
    plan, moves = cheaper_pools(inst, scr, start, seconds=10.0)
    return scr, plan, moves


def test_cheaper_pools_moves_what_fits_and_keeps_the_rest(tmp_path):
    """pA (2 yuan, 20 cards) holds d1 (4 card-hours, bill 8) and d2 (8, bill 16); pB (1 yuan) has 10.
    Largest bill first: d2 moves to pB (bill 8); d1 then finds 2 card-hours at pB, needs 4, and stays.
    Total bill 24 -> 16, the cheapest split (d1 at pB instead would leave d2 at pA: 20)."""
    spec = base()
    spec["pools"][0]["cards"] = 20
    spec["demands"] += [demand("d1", 4), demand("d2", 8)]
    scr, plan, moves = _cheaper_pools_from_pa(tmp_path, spec, [("d1", 0, 4.0), ("d2", 0, 8.0)])
    placed = dict(zip(scr.pairs["demand_id"][plan.chosen], scr.pairs["pool_id"][plan.chosen]))
    assert moves == 1 and placed == {"d1": "pA", "d2": "pB"}
    assert float(scr.pairs["bill_yuan"].to_numpy()[plan.chosen].sum()) == pytest.approx(16.0)
    assert sorted(map(tuple, plan.schedule[["demand_id", "pool_id"]].to_numpy())) == [("d1", "pA"), ("d2", "pB")]
    assert np.isclose(plan.schedule["card_hours"].sum(), 12.0)


def test_cheaper_pools_keeps_the_green_share_of_the_center_a_demand_leaves(tmp_path):
    """Two hours. cA (min green share 0.5) has 10 green kWh in hour 0 and none in hour 1. At pA
    (2 yuan) x runs in hour 0 (10 kWh, all green) and y, realtime and so bound to region A, in hour 1
    (10 kWh, all grid): share 10 / 20 = 0.5. Moving x to the cheaper pB would leave cA at 0 / 10,
    breaking R6's green share: x stays, nothing moves."""
    spec = base()
    spec["settings"]["periods"] = 2
    spec["settings"]["latency_classes"] = {"realtime": 5.0, "batch": 1000.0}
    spec["centers"][0]["min_green_share"] = 0.5
    spec["green"] = [{"center_id": "cA", "period": 0, "green_kwh": 10.0}, {"center_id": "cA", "period": 1, "green_kwh": 0.0}]
    spec["demands"] += [demand("x", 10, release=0, deadline=0), demand("y", 10, latency_class="realtime", release=1, deadline=1)]
    scr, plan, moves = _cheaper_pools_from_pa(tmp_path, spec, [("x", 0, 10.0), ("y", 1, 10.0)])
    assert moves == 0
    assert dict(zip(scr.pairs["demand_id"][plan.chosen], scr.pairs["pool_id"][plan.chosen])) == {"x": "pA", "y": "pA"}


def _whole_enterprise_pass(tmp_path, spec: dict):
    """must_serve_first and place_enterprises (E1's pairs, cheapest bill first) on ``spec``: the demand -> pool
    maps of their plans (None: no plan), the instance and its screen."""
    inst = read_instance(write(tmp_path / "i", spec))
    scr = screen(inst)
    pairs = scr.pairs

    def served(plan: HeuristicPlan | None) -> dict | None:
        return None if plan is None else dict(zip(pairs["demand_id"][plan.chosen], pairs["pool_id"][plan.chosen]))

    cheapest_first = np.lexsort((pairs["bill_yuan"].to_numpy(), pairs["demand_id"].to_numpy()))
    return (served(must_serve_first(inst, scr)), served(place_enterprises(inst, scr, [cheapest_first], dearest_retry=True)),
            inst, scr)


def test_an_enterprise_below_its_minimum_spend_at_cheap_pools_is_placed_at_dear_ones(tmp_path):
    """Minimum spend 15: d1 (10 card-hours) bills 10 at pB (1 yuan) and 20 at pA (2 yuan). At its cheapest
    pool E1 misses the threshold; the retry at the dearest pool (must-serve placement) meets it."""
    spec = base()
    spec["programs"][0]["min_spend_yuan"] = 15.0
    spec["demands"] += [demand("d1", 10)]
    _, whole, inst, scr = _whole_enterprise_pass(tmp_path, spec)
    assert whole == {"d1": "pA"}
    cheapest_first = np.lexsort((scr.pairs["bill_yuan"].to_numpy(), scr.pairs["demand_id"].to_numpy()))
    assert not place_enterprises(inst, scr, [cheapest_first]).chosen.any()  # without the retry: rolled back


def test_must_serve_first_serves_requests_that_reach_the_voucher_only_together(tmp_path):
    """Minimum voucher 6 at rate 0.5: d1 and d2 (5 card-hours each, must-serve) claim 2.5 at pB and 5 at pA
    alone, below it everywhere, so every demand-by-demand baseline leaves both out. Together at pB (10 cards)
    they claim 5, still short; together at pA 10: must_serve_first places both at pA."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 6.0
    spec["demands"] += [demand("d1", 5, must_serve="true"), demand("d2", 5, must_serve="true")]
    first, _, inst, scr = _whole_enterprise_pass(tmp_path, spec)
    assert first == {"d1": "pA", "d2": "pA"}
    for method in ("greedy", "fcfs"):
        assert place(inst, scr, method).unplaced_must_serve == ["d1", "d2"]
    assert place_in_order(inst, scr, enterprise_sequence(inst, scr)).unplaced_must_serve == ["d1", "d2"]


def test_must_serve_first_takes_the_owners_other_requests_when_its_must_serve_ones_miss_the_voucher(tmp_path):
    """As above, but only d1 is must-serve: alone it claims at most 5 < 6; with E1's d2 at pA, 10."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 6.0
    spec["demands"] += [demand("d1", 5, must_serve="true"), demand("d2", 5)]
    first, _, inst, scr = _whole_enterprise_pass(tmp_path, spec)
    assert first == {"d1": "pA", "d2": "pA"}
    spec["demands"][0]["must_serve"] = "false"
    assert _whole_enterprise_pass(tmp_path / "none", spec)[0] is None  # no must-serve demand: no such baseline


def test_fast_method_serves_must_serve_requests_that_reach_the_voucher_only_together(solve_spec):
    """The same day: the fast method serves both and its cost stage finds the cheapest plan that meets the
    voucher, one at pB and one at pA (claims 2.5 + 5 = 7.5 >= 6, bill 5 + 10 = 15; both at pA bill 20)."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 6.0
    spec["demands"] += [demand("d1", 5, must_serve="true"), demand("d2", 5, must_serve="true")]
    s = solve_spec(spec, method="fast", time_limit=20)
    assert sorted(s.served.values()) == ["pA", "pB"]
    assert s.result.plan.served_value == pytest.approx(10.0)
    assert s.result.plan.total_bill_yuan == pytest.approx(15.0)
