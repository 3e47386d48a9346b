"""Each rule R1-R10 and the objective on a tiny instance whose optimum changes if the rule is dropped.

The world of tests/builders.py: pool pA in region A (2 yuan per card-hour) and the
cheaper pool pB in region B (1 yuan), 30 ms apart; rate 0.5; one period of one hour.
Every expected number below is derived by hand in the test's docstring.
"""

from __future__ import annotations

import pytest

from allocator.problems import InfeasibleInstance
from tests.builders import base, demand

pytestmark = pytest.mark.component


def test_r1_ineligible_enterprise_is_never_served(solve_spec):
    """E2 is ineligible: its demand d1 is left out although pB has room. d2 (E1) runs at pB, bill 5."""
    spec = base()
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G", "eligible": "false"})
    spec["demands"] += [demand("d1", 5, enterprise="E2"), demand("d2", 5)]
    s = solve_spec(spec)
    assert s.served == {"d2": "pB"}
    assert s.reasons == {"d1": "ineligible_enterprise"}
    assert s.result.plan.served_value == pytest.approx(5.0)


def test_r1_only_designated_centers(solve_spec):
    """G designates cA only, so d1 runs at pA (bill 2 x 5 = 10) though pB would cost 5."""
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cA"}]
    spec["demands"] += [demand("d1", 5)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA"}
    assert s.row("assignments", demand_id="d1")["bill_yuan"] == pytest.approx(10.0)


def test_r1_no_designated_pool_is_reported(solve_spec):
    """A program whose designated center has no pool: reason no_designated_center."""
    spec = base()
    spec["centers"].append({"center_id": "cEmpty", "region_id": "A", "kind": "general"})
    spec["programs"].append({"program_id": "H", "budget_yuan": 100, "rate": 0.5})
    spec["program_centers"] = [{"program_id": "H", "center_id": "cEmpty"}]
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "H"})
    spec["demands"] += [demand("d1", 1, enterprise="E2"), demand("d2", 1)]
    s = solve_spec(spec)
    assert s.served == {"d2": "pB"}
    assert s.reasons == {"d1": "no_designated_center"}


def test_r2_efficiency_scales_usage_and_bill(solve_spec):
    """cuda on npu at efficiency 0.5: u = 4 / 0.5 = 8 card-hours; bill 8 x 0.5 = 4 < 8 at pA (gpu)."""
    spec = base()
    spec["pools"][1].update(accelerator="npu", price_yuan_per_card_hour=0.5)
    spec["compatibility"].append({"stack": "cuda", "accelerator": "npu", "efficiency": 0.5})
    spec["demands"] += [demand("d1", 4), demand("d2", 1, stack="fortran")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB"}
    row = s.row("assignments", demand_id="d1")
    assert row["usage_card_hours"] == pytest.approx(8.0)
    assert row["bill_yuan"] == pytest.approx(4.0)
    assert s.reasons == {"d2": "no_compatible_pool"}


def test_r2_usage_after_efficiency_must_fit(solve_spec):
    """With 7 npu cards, u = 8 no longer fits pB: d1 goes to pA (gpu, u = 4, bill 8)."""
    spec = base()
    spec["pools"][1].update(accelerator="npu", price_yuan_per_card_hour=0.5, cards=7)
    spec["compatibility"].append({"stack": "cuda", "accelerator": "npu", "efficiency": 0.5})
    spec["demands"] += [demand("d1", 4)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA"}
    assert s.row("assignments", demand_id="d1")["bill_yuan"] == pytest.approx(8.0)


def test_r3_latency_classes(solve_spec):
    """realtime (5 ms) and interactive (20 ms) from A stay at pA (1 ms); batch goes to pB (30 ms)."""
    spec = base()
    spec["demands"] += [
        demand("rt", 1, latency_class="realtime"),
        demand("ia", 1, latency_class="interactive"),
        demand("bt", 1, latency_class="batch"),
        demand("far", 1, home="B", latency_class="realtime", stack="cuda"),
    ]
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]  # only the far center
    s = solve_spec(spec)
    assert s.served == {"bt": "pB", "far": "pB"}
    assert s.reasons == {"rt": "no_pool_within_latency", "ia": "no_pool_within_latency"}
    assert s.row("assignments", demand_id="bt")["rtt_ms"] == pytest.approx(30.0)
    assert s.row("assignments", demand_id="far")["rtt_ms"] == pytest.approx(1.0)  # intra-region default


def test_r3_latency_is_symmetric_and_classes_configurable(solve_spec):
    """latency.csv gives only (B, A) = 30; a 'custom' class of 35 ms admits pB, realtime does not."""
    spec = base()
    spec["latency"] = [{"from_region": "B", "to_region": "A", "rtt_ms": 30.0}]
    spec["settings"]["latency_classes"] = {"custom": 35.0}
    spec["demands"] += [demand("c", 3, latency_class="custom"), demand("rt", 3, latency_class="realtime")]
    s = solve_spec(spec)
    assert s.served == {"c": "pB", "rt": "pA"}


def test_r3_unreachable_region(solve_spec):
    """Region C has no latency row: RTT to A and B is infinite; only batch (no limit) may leave C."""
    spec = base()
    spec["regions"].append({"region_id": "C"})
    spec["demands"] += [demand("b", 1, home="C"), demand("i", 1, home="C", latency_class="interactive")]
    s = solve_spec(spec)
    assert s.served == {"b": "pB"}
    assert s.reasons == {"i": "no_pool_within_latency"}


def test_r4_window_and_max_cards(solve_spec):
    """3 periods of 2 h; pB has no cards in period 0. d1 needs 8 card-hours at most 2 cards,
    released in 0, due by 2: pB can give 2 x 2 = 4 in each of periods 1 and 2 -> schedule 4 + 4 at pB."""
    spec = base()
    spec["settings"].update(periods=3, period_hours=2.0)
    spec["capacity"] = [{"pool_id": "pB", "period": 0, "cards": 0}]
    spec["demands"] += [demand("d1", 8, max_cards=2, release=0, deadline=2)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB"}
    sched = s.table("schedule").sort_values("period")
    assert sched["period"].tolist() == [1, 2]
    assert sched["card_hours"].tolist() == pytest.approx([4.0, 4.0])


def test_r4_short_window_moves_the_demand(solve_spec):
    """Same, due by period 1: pB can give only 4 < 8 inside the window, so d1 runs at pA (4 + 4 in 0, 1)."""
    spec = base()
    spec["settings"].update(periods=3, period_hours=2.0)
    spec["capacity"] = [{"pool_id": "pB", "period": 0, "cards": 0}]
    spec["demands"] += [demand("d1", 8, max_cards=2, release=0, deadline=1), demand("d2", 100, max_cards=2)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA"}
    assert s.reasons == {"d2": "window_too_short"}  # 2 cards x 2 h x 3 periods = 12 < 100
    sched = s.table("schedule").sort_values("period")
    assert sched["period"].tolist() == [0, 1]
    assert sched["card_hours"].tolist() == pytest.approx([4.0, 4.0])


def test_r5_pool_capacity(solve_spec):
    """Only pB (10 card-hours): d1 = 6, d2 = 5, d3 = 4. The most value that fits is {d1, d3} = 10."""
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 6), demand("d2", 5), demand("d3", 4)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB", "d3": "pB"}
    assert s.reasons == {"d2": "not_selected:capacity"}
    assert s.row("pools", pool_id="pB", period=0)["used_card_hours"] == pytest.approx(10.0)


def test_r6_grid_cap(solve_spec):
    """cB: 2 kWh green, grid cap 3 kWh. Two 4-card-hour demands (1 kW per card): both at pB would draw
    8 kWh, 6 from the grid > 3. So one runs at pA: bills 4 + 8 = 12, cB energy 4, green 2, grid 2."""
    spec = base()
    spec["centers"][1].update(green_kwh=2.0, grid_kwh_cap=3.0)
    spec["demands"] += [demand("d1", 4), demand("d2", 4)]
    s = solve_spec(spec)
    assert sorted(s.served.values()) == ["pA", "pB"]
    assert s.result.plan.total_bill_yuan == pytest.approx(12.0)
    row = s.row("centers", center_id="cB", period=0)
    assert (row["energy_kwh"], row["green_kwh"], row["grid_kwh"]) == pytest.approx((4.0, 2.0, 2.0))


def test_r6_min_green_share(solve_spec):
    """cB: 2 kWh green, at least 50 % green over the horizon, so at most 4 kWh there. Two 3-card-hour
    demands: 6 kWh at cB would be 33 % green. One moves to pA: bills 3 + 6 = 9."""
    spec = base()
    spec["centers"][1].update(green_kwh=2.0, min_green_share=0.5)
    spec["demands"] += [demand("d1", 3), demand("d2", 3)]
    s = solve_spec(spec)
    assert sorted(s.served.values()) == ["pA", "pB"]
    assert s.result.plan.total_bill_yuan == pytest.approx(9.0)


def test_r6_green_per_period_override_and_pue(solve_spec):
    """Two periods; cB has green 0 in period 0 (green.csv) and 10 in period 1, pue 1.5, and needs 100 %
    green. d1 (3 card-hours, window 0-1) must run in period 1 at pB: energy 3 x 1 x 1.5 = 4.5 kWh."""
    spec = base()
    spec["settings"].update(periods=2, period_hours=1.0)
    spec["centers"][1].update(green_kwh=10.0, min_green_share=1.0, pue=1.5)
    spec["green"] = [{"center_id": "cB", "period": 0, "green_kwh": 0.0}]
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 3)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB"}
    sched = s.table("schedule")
    assert sched["period"].tolist() == [1]
    row = s.row("centers", center_id="cB", period=1)
    assert (row["energy_kwh"], row["green_kwh"], row["grid_kwh"]) == pytest.approx((4.5, 4.5, 0.0))


def test_r7_bill_includes_adaptation(solve_spec):
    """pB runs 'npu' with a 10-yuan adaptation: d1 (5 card-hours) costs 10 at pA, 5 + 10 = 15 at pB -> pA.
    d2 (20 card-hours) costs 40 at pA, 20 + 10 = 30 at pB -> pB."""
    spec = base()
    spec["pools"][1].update(accelerator="npu")
    spec["compatibility"].append({"stack": "cuda", "accelerator": "npu", "efficiency": 1.0, "adaptation_yuan": 10.0})
    spec["pools"][0]["cards"] = 100
    spec["pools"][1]["cards"] = 100
    spec["demands"] += [demand("d1", 5), demand("d2", 20)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA", "d2": "pB"}
    assert s.row("assignments", demand_id="d2")["bill_yuan"] == pytest.approx(30.0)
    assert s.result.plan.total_bill_yuan == pytest.approx(40.0)


def test_r8_cap_limits_subsidy_so_budget_serves_both(solve_spec):
    """Budget 10. E1 has cap 5 with 3 used: C = 2, so d1 (bill 20) gets min(10, 2) = 2; d2 (E2, bill 16)
    gets 8. 2 + 8 = 10 fits the budget: both served. Without the cap, 10 + 8 = 18 would not."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 10.0
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["pools"][1]["cards"] = 100
    spec["enterprises"] = [
        {"enterprise_id": "E1", "program_id": "G", "cap_yuan": 5.0, "subsidy_ytd_yuan": 3.0},
        {"enterprise_id": "E2", "program_id": "G"},
    ]
    spec["demands"] += [demand("d1", 20), demand("d2", 16, enterprise="E2")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB", "d2": "pB"}
    assert s.row("assignments", demand_id="d1")["subsidy_yuan"] == pytest.approx(2.0)
    assert s.row("assignments", demand_id="d1")["enterprise_pays_yuan"] == pytest.approx(18.0)
    assert s.row("assignments", demand_id="d2")["subsidy_yuan"] == pytest.approx(8.0)
    assert s.row("enterprises", enterprise_id="E1")["cap_remaining_yuan"] == pytest.approx(0.0)
    assert s.row("programs", program_id="G")["remaining_yuan"] == pytest.approx(0.0)


def test_r8_capped_subsidy_still_counts_in_full_against_budget(solve_spec):
    """Budget 6. E1 cap 5: d1 (bill 20) gets min(10, 5) = 5; E2's d2 (bill 4) gets 2; 5 + 2 = 7 > 6,
    so only one is served: d1, the larger value. A model that let the subsidy fall below
    min(rate x bill, cap) would wrongly serve both."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 6.0
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["pools"][1]["cards"] = 100
    spec["enterprises"] = [
        {"enterprise_id": "E1", "program_id": "G", "cap_yuan": 5.0},
        {"enterprise_id": "E2", "program_id": "G"},
    ]
    spec["demands"] += [demand("d1", 20), demand("d2", 4, enterprise="E2")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB"}
    assert s.row("assignments", demand_id="d1")["subsidy_yuan"] == pytest.approx(5.0)
    assert s.reasons == {"d2": "not_selected:budget"}


def test_r8_subsidy_split_in_proportion_to_bills(solve_spec):
    """E1 (cap 3) runs d1 (bill 8) and d2 (bill 4) at pB: rate 0.5 x 12 = 6 > 3, so S = 3,
    split 8 : 4 over the demands -> 2 and 1."""
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["pools"][1]["cards"] = 100
    spec["enterprises"] = [{"enterprise_id": "E1", "program_id": "G", "cap_yuan": 3.0}]
    spec["demands"] += [demand("d1", 8), demand("d2", 4)]
    s = solve_spec(spec)
    assert s.row("assignments", demand_id="d1")["subsidy_yuan"] == pytest.approx(2.0)
    assert s.row("assignments", demand_id="d2")["subsidy_yuan"] == pytest.approx(1.0)
    assert s.row("enterprises", enterprise_id="E1")["subsidy_yuan"] == pytest.approx(3.0)


def test_r8_min_voucher(solve_spec):
    """Min voucher 3 yuan. d1 (E1, 4 card-hours): at pB the subsidy is 0.5 x 4 = 2 < 3, at pA 0.5 x 8 = 4:
    d1 runs at the dearer pA. d2 (E2, 1 card-hour) reaches at most 0.5 x 2 = 1: below_threshold."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 3.0
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G"})
    spec["demands"] += [demand("d1", 4), demand("d2", 1, enterprise="E2")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA"}
    assert s.row("assignments", demand_id="d1")["subsidy_yuan"] == pytest.approx(4.0)
    assert s.reasons == {"d2": "below_threshold"}


def test_r8_min_voucher_met_together(solve_spec):
    """Min voucher 3. E1's d1 and d2 (3 card-hours each) at pB: each alone gives 1.5 < 3, together 3:
    both served at pB (bill 6) rather than one at pA."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 3.0
    spec["demands"] += [demand("d1", 3), demand("d2", 3)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB", "d2": "pB"}
    assert s.row("enterprises", enterprise_id="E1")["subsidy_yuan"] == pytest.approx(3.0)


def test_r8_min_spend_counts_spend_to_date(solve_spec):
    """Min spend 10. E1 (nothing spent): d1 (6 card-hours) must bill >= 10, so pA (12), not pB (6).
    E2 spent 8 already: d2 (3 card-hours) at pB gives 8 + 3 = 11 >= 10."""
    spec = base()
    spec["programs"][0]["min_spend_yuan"] = 10.0
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G", "spend_ytd_yuan": 8.0})
    spec["demands"] += [demand("d1", 6), demand("d2", 3, enterprise="E2")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA", "d2": "pB"}


def test_r9_budget(solve_spec):
    """Budget 5 at pB (bill = card-hours, subsidy half): d1 6 -> 3, d2 4 -> 2, d3 5 -> 2.5 (one enterprise
    each). {d1, d2} uses exactly 5 for value 10, the best that fits; {d1, d3} would need 5.5."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 5.0
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": "G"} for i in (1, 2, 3)]
    spec["demands"] += [demand("d1", 6, enterprise="E1"), demand("d2", 4, enterprise="E2"), demand("d3", 5, enterprise="E3")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB", "d2": "pB"}
    assert s.row("programs", program_id="G")["subsidy_yuan"] == pytest.approx(5.0)
    assert s.result.plan.served_value == pytest.approx(10.0)


def test_r10_must_serve_displaces_more_value(solve_spec):
    """Only pB (10 card-hours): d1 = 8 would give the most value, but d2 = 5 is must_serve: V = 5."""
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 8), demand("d2", 5, must_serve="true")]
    s = solve_spec(spec)
    assert s.served == {"d2": "pB"}
    assert s.result.plan.served_value == pytest.approx(5.0)


def test_r10_must_serve_failing_screen_is_infeasible(tmp_path):
    from allocator.solve.pipeline import solve_instance
    from tests import builders

    spec = base()
    spec["demands"] += [demand("d1", 1, stack="fortran", must_serve="true")]
    with pytest.raises(InfeasibleInstance, match="d1.*no_compatible_pool"):
        solve_instance(builders.write(tmp_path / "i", spec))


def test_r10_conflicting_must_serve_is_infeasible(tmp_path):
    from allocator.solve.pipeline import solve_instance
    from tests import builders

    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] += [demand("d1", 6, must_serve="true"), demand("d2", 6, must_serve="true")]
    with pytest.raises(InfeasibleInstance, match="d1"):
        solve_instance(builders.write(tmp_path / "i", spec))


def test_objective_value_before_cost(solve_spec):
    """priority 3 on a 2-card-hour demand (value 6) beats a 5-card-hour one (value 5) when only one fits."""
    spec = base()
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["pools"][1]["cards"] = 5
    spec["demands"] += [demand("d1", 5), demand("d2", 2, priority=3)]
    s = solve_spec(spec)
    assert s.served == {"d2": "pB"}
    assert s.result.plan.served_value == pytest.approx(6.0)


def test_objective_carbon_price_picks_the_greener_center(solve_spec):
    """Same price at both pools; region A emits 1 kg/kWh, B 0.1; carbon 1 yuan/kg. d1 (2 card-hours,
    1 kW) costs 2 + 2 at pA and 2 + 0.2 at pB: pB, carbon 0.2 kg."""
    spec = base()
    spec["settings"]["carbon_price_yuan_per_kg"] = 1.0
    spec["regions"] = [{"region_id": "A", "grid_carbon_kg_per_kwh": 1.0}, {"region_id": "B", "grid_carbon_kg_per_kwh": 0.1}]
    spec["pools"][0]["price_yuan_per_card_hour"] = 1.0
    spec["demands"] += [demand("d1", 2)]
    s = solve_spec(spec)
    assert s.served == {"d1": "pB"}
    assert s.result.plan.carbon_kg == pytest.approx(0.2)
    assert s.result.status == "optimal"


@pytest.fixture(params=["exact", "fast", "exact-matrix"])
def solve_spec(request, solve_spec):
    """Every rule test runs three times: the exact MIP (Pyomo), the fast method (numpy matrix,
    LP bound, rounding, MIP over every column at this size) and the exact MIP built as a numpy matrix
    (what the year's days run) must reach the same hand-derived optimum."""

    def run(spec: dict, **options):
        if request.param == "fast" and "method" not in options:
            options = {"method": "fast", "gap": 1e-6, "gap_given": True, **options}
        if request.param == "exact-matrix" and "method" not in options:
            options = {"method": "exact", "gap": 1e-6, "exact_on_matrix": True, **options}
        return solve_spec(spec, **options)

    return run
