"""Tests of allocator.check: the independent plan checker.

A tiny instance and a valid plan are written by hand below (every number worked
out from shared/SPEC.md, not from the solver); each test then breaks the plan
(or tightens the instance) in one way and expects the checker to name the rule.

The instance: 2 periods of 10 h; regions E and W (RTT 30 ms); center C1 (E) with
GPU pool P1, center C2 (W) with GPU pool P2 and CPU pool P3, center C3 (W) with
no pools. Program PR1 (rate 0.5, min voucher 40) designates C2 only, PR2 (rate
0.3, min spend 500) may use every center, PR3 designates C3. The valid plan serves
D1 (P2, must_serve), D2 (P3) and D3 (P1); the other seven demands are unserved,
one for each reason.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from allocator.check.report import close
from allocator.check.run import check_plan
from allocator.problems import InvalidInstance
from tests.check_world import (
    INSTANCE_FILES,
    PLAN_FILES,
    SUMMARY,
    assert_caught,
    edit,
    edit_instance,
    sha256_of,
    violations_about,
    write_folder,
    write_summary,
)

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- the valid plan


def test_valid_plan_passes(instance_dir: Path, plan_dir: Path) -> None:
    report = check_plan(instance_dir, plan_dir)
    assert report.violations == []
    assert report.ok and report.exit_code == 0


def test_tolerance_is_absolute_plus_relative() -> None:
    assert close(1e6, 1e6 + 0.9)  # 1e-6 + 1e-6 * 1e6 = 1.000001
    assert not close(1e6, 1e6 + 1.1)
    assert close(0.0, 9e-7) and not close(0.0, 2e-6)
    assert close(float("inf"), float("inf")) and not close(float("inf"), 1e300)


def test_small_round_off_is_accepted(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D1,E1,P2,C2,W,gpu,20,100,40,60,1", "D1,E1,P2,C2,W,gpu,20.0000001,100.00000005,40,60,1")
    assert check_plan(instance_dir, plan_dir).ok


def test_invalid_instance_raises(instance_dir: Path, plan_dir: Path) -> None:
    (instance_dir / "pools.csv").unlink()
    with pytest.raises(InvalidInstance):
        check_plan(instance_dir, plan_dir)


# --------------------------------------------------------------------------- files and coverage


def test_missing_file(instance_dir: Path, plan_dir: Path) -> None:
    (plan_dir / "centers.csv").unlink()
    assert_caught(check_plan(instance_dir, plan_dir), "files", "centers.csv", "missing")


def test_wrong_columns(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "schedule.csv", "demand_id,pool_id,period,card_hours", "demand_id,pool_id,period,card_hours,note")
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "files", "schedule.csv", "note")


def test_columns_in_another_order_are_fine(instance_dir: Path, plan_dir: Path) -> None:
    (plan_dir / "programs.csv").write_text(
        "subsidy_yuan,program_id,remaining_yuan,budget_yuan\n48,PR1,952,1000\n36,PR2,inf,inf\n0,PR3,100,100\n", encoding="utf-8"
    )
    assert check_plan(instance_dir, plan_dir).ok


def test_unparsable_number(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "pools.csv", "P3,1,0,100,0", "P3,1,zero,100,0")
    assert_caught(check_plan(instance_dir, plan_dir), "files", "pools.csv", "line 7", "not a number")


def test_demand_missing_from_both_files(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D8,E2,not_selected:capacity\n", "")
    assert_caught(check_plan(instance_dir, plan_dir), "coverage", "D8", "neither")


def test_demand_in_both_files(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D10,E1,no_compatible_pool\n", "D10,E1,no_compatible_pool\nD2,E1,not_selected\n")
    assert_caught(check_plan(instance_dir, plan_dir), "coverage", "D2", "both")


def test_unknown_demand(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D10,E1,no_compatible_pool\n", "D10,E1,no_compatible_pool\nD99,E1,not_selected\n")
    assert_caught(check_plan(instance_dir, plan_dir), "coverage", "D99")


def test_wrong_enterprise_column(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D8,E2,", "D8,E1,")
    assert_caught(check_plan(instance_dir, plan_dir), "consistency", "D8", "E2")


# --------------------------------------------------------------------------- R1-R3


def test_non_designated_center(instance_dir: Path, plan_dir: Path) -> None:
    # D1 (program PR1: only C2 designated) moved to P1 at C1; batch, so latency is fine.
    edit(plan_dir, "assignments.csv", "D1,E1,P2,C2,W,gpu,20,100,40,60,1", "D1,E1,P1,C1,E,gpu,20,200,40,160,30")
    edit(plan_dir, "schedule.csv", "D1,P2,0,10\nD1,P2,1,10", "D1,P1,0,10\nD1,P1,1,10")
    assert_caught(check_plan(instance_dir, plan_dir), "R1 designated center", "D1", "C1", "PR1")


def test_ineligible_enterprise_served(instance_dir: Path, plan_dir: Path) -> None:
    edit_instance(instance_dir, plan_dir, "enterprises.csv", "E2,PR2,true", "E2,PR2,false")
    assert_caught(check_plan(instance_dir, plan_dir), "R1 eligibility", "D3", "E2")


def test_incompatible_pool(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D1,E1,P2,C2,W,gpu,20,100,40,60,1", "D1,E1,P3,C2,W,cpu,20,100,40,60,1")
    assert_caught(check_plan(instance_dir, plan_dir), "R2 compatibility", "D1", "P3")


def test_wrong_usage(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D2,E1,P3,C2,W,cpu,20,", "D2,E1,P3,C2,W,cpu,21,")
    assert_caught(check_plan(instance_dir, plan_dir), "R2 usage", "D2")


def test_latency_violated(instance_dir: Path, plan_dir: Path) -> None:
    # D3 is realtime (5 ms) from E; P2 sits in W, 30 ms away.
    edit(plan_dir, "assignments.csv", "D3,E2,P1,C1,E,gpu,12,120,36,84,1", "D3,E2,P2,C2,W,gpu,12,60,18,42,30")
    edit(plan_dir, "schedule.csv", "D3,P1,1,12", "D3,P2,1,10\nD3,P2,0,2")
    assert_caught(check_plan(instance_dir, plan_dir), "R3 latency", "D3", "realtime")


def test_wrong_rtt_column(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D2,E1,P3,C2,W,cpu,20,20,8,12,30", "D2,E1,P3,C2,W,cpu,20,20,8,12,1")
    assert_caught(check_plan(instance_dir, plan_dir), "R3 rtt_ms", "D2")


def test_pool_columns_inconsistent(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D2,E1,P3,C2,W,cpu", "D2,E1,P3,C1,W,cpu")
    assert_caught(check_plan(instance_dir, plan_dir), "consistency", "D2", "center_id")


# --------------------------------------------------------------------------- R4-R6


def test_schedule_outside_window(instance_dir: Path, plan_dir: Path) -> None:
    # D2's window is period 0 only.
    edit(plan_dir, "schedule.csv", "D2,P3,0,20", "D2,P3,1,20")
    assert_caught(check_plan(instance_dir, plan_dir), "R4 window", "D2", "period 1")


def test_schedule_sum_differs_from_usage(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "schedule.csv", "D1,P2,1,10", "D1,P2,1,9")
    assert_caught(check_plan(instance_dir, plan_dir), "R4 schedule", "D1", "usage")


def test_schedule_above_max_cards(instance_dir: Path, plan_dir: Path) -> None:
    # D1 may use at most 2 cards * 10 h = 20 card-hours per period; P2 has 20 in period 1.
    edit(plan_dir, "schedule.csv", "D1,P2,0,10\nD1,P2,1,10", "D1,P2,0,-1\nD1,P2,1,21")
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "R4 max_cards", "D1", "period 1")
    assert_caught(report, "R4 schedule", "negative")


def test_schedule_for_unserved_demand(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "schedule.csv", "D3,P1,1,12\n", "D3,P1,1,12\nD8,P1,0,1\n")
    assert_caught(check_plan(instance_dir, plan_dir), "R4 schedule", "D8", "unserved")


def test_over_capacity(instance_dir: Path, plan_dir: Path) -> None:
    # P2 has 1.5 cards in period 0 (capacity.csv): 15 card-hours; D1 all in period 0 uses 20.
    edit(plan_dir, "schedule.csv", "D1,P2,0,10\nD1,P2,1,10", "D1,P2,0,20")
    assert_caught(check_plan(instance_dir, plan_dir), "R5 capacity", "pool P2 period 0", "20 card-hours > 15")


def test_pools_table_wrong(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "pools.csv", "P1,1,12,20,0.6", "P1,1,12,40,0.3")
    assert_caught(check_plan(instance_dir, plan_dir), "R5 table", "pools.csv pool P1 period 1", "capacity_card_hours")


def test_pools_table_missing_row(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "pools.csv", "P3,1,0,100,0\n", "")
    assert_caught(check_plan(instance_dir, plan_dir), "pools.csv", "P3", "no row")


def test_grid_cap_exceeded(instance_dir: Path, plan_dir: Path) -> None:
    # D3 moved to period 0, where C1 has no green power: 9 kWh from the grid > cap 5.
    edit(plan_dir, "schedule.csv", "D3,P1,1,12", "D3,P1,0,12")
    assert_caught(check_plan(instance_dir, plan_dir), "R6 grid cap", "center C1 period 0")


def test_green_share_violated(instance_dir: Path, plan_dir: Path) -> None:
    # D3 split 6 / 6: C1 gets 4.5 kWh grid (<= cap 5) and 4.5 green of 9 kWh < 0.6 * 9.
    edit(plan_dir, "schedule.csv", "D3,P1,1,12", "D3,P1,0,6\nD3,P1,1,6")
    edit(plan_dir, "pools.csv", "P1,0,0,40,0\nP1,1,12,20,0.6", "P1,0,6,40,0.15\nP1,1,6,20,0.3")
    edit(plan_dir, "centers.csv", "C1,0,0,0,0\nC1,1,9,9,0", "C1,0,4.5,0,4.5\nC1,1,4.5,4.5,0")
    write_summary(plan_dir, instance_dir, carbon_kg=1.0 + 4.5 * 0.8, cost_yuan=240.0 + 0.1 * (1.0 + 4.5 * 0.8))
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "R6 green share", "center C1")
    assert not violations_about(report, "grid cap")
    assert len(report.violations) == 1, report.violations


def test_centers_table_wrong(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "centers.csv", "C2,1,6,4,2", "C2,1,6,6,0")
    assert_caught(check_plan(instance_dir, plan_dir), "R6 table", "centers.csv center C2 period 1", "green_kwh")


# --------------------------------------------------------------------------- R7-R10


def test_wrong_bill(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D3,E2,P1,C1,E,gpu,12,120,36,84,1", "D3,E2,P1,C1,E,gpu,12,110,33,77,1")
    assert_caught(check_plan(instance_dir, plan_dir), "R7 bill", "D3")


def test_wrong_subsidy_split(instance_dir: Path, plan_dir: Path) -> None:
    # Right total for E1 (48) but split 38 / 10 instead of in proportion to bills 100 / 20.
    edit(plan_dir, "assignments.csv", "D1,E1,P2,C2,W,gpu,20,100,40,60,1", "D1,E1,P2,C2,W,gpu,20,100,38,62,1")
    edit(plan_dir, "assignments.csv", "D2,E1,P3,C2,W,cpu,20,20,8,12,30", "D2,E1,P3,C2,W,cpu,20,20,10,10,30")
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "R8 subsidy split", "D1")
    assert_caught(report, "R8 subsidy split", "D2")


def test_subsidy_over_cap(instance_dir: Path, plan_dir: Path) -> None:
    # E1's remaining cap is 48; paying rate * bill = 50 + 10 = 60 exceeds it.
    edit(plan_dir, "assignments.csv", "D1,E1,P2,C2,W,gpu,20,100,40,60,1", "D1,E1,P2,C2,W,gpu,20,100,50,50,1")
    edit(plan_dir, "assignments.csv", "D2,E1,P3,C2,W,cpu,20,20,8,12,30", "D2,E1,P3,C2,W,cpu,20,20,10,10,30")
    assert_caught(check_plan(instance_dir, plan_dir), "R8 cap", "enterprise E1", "60")


def test_min_voucher_not_met(instance_dir: Path, plan_dir: Path) -> None:
    # D5 served alone for E4: bill 20, S = min(0.5 * 20, 100 - 80) = 10 < 40.
    edit(plan_dir, "unserved.csv", "D5,E4,below_threshold\n", "")
    edit(plan_dir, "assignments.csv", "D3,E2,P1,C1,E,gpu,12,120,36,84,1\n",
         "D3,E2,P1,C1,E,gpu,12,120,36,84,1\nD5,E4,P2,C2,W,gpu,4,20,10,10,1\n")
    edit(plan_dir, "schedule.csv", "D3,P1,1,12\n", "D3,P1,1,12\nD5,P2,0,4\n")
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "R8 min voucher", "enterprise E4", "PR1")


def test_min_spend_not_met(instance_dir: Path, plan_dir: Path) -> None:
    edit_instance(instance_dir, plan_dir, "enterprises.csv", "E2,PR2,true,,,0,400", "E2,PR2,true,,,0,300")
    assert_caught(check_plan(instance_dir, plan_dir), "R8 min spend", "enterprise E2")


def test_enterprises_table_wrong(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "enterprises.csv", "E4,PR1,0,0,20", "E4,PR1,0,0,100")
    assert_caught(check_plan(instance_dir, plan_dir), "R8 table", "enterprises.csv enterprise E4", "cap_remaining_yuan")


def test_budget_exceeded(instance_dir: Path, plan_dir: Path) -> None:
    edit_instance(instance_dir, plan_dir, "programs.csv", "PR1,1000,", "PR1,45,")
    edit(plan_dir, "programs.csv", "PR1,1000,48,952", "PR1,45,48,-3")
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "R9 budget", "program PR1", "48")
    assert len(report.violations) == 1, report.violations


def test_programs_table_wrong(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "programs.csv", "PR1,1000,48,952", "PR1,1000,48,1000")
    assert_caught(check_plan(instance_dir, plan_dir), "R9 table", "programs.csv program PR1", "remaining_yuan")


def test_must_serve_missing(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "assignments.csv", "D1,E1,P2,C2,W,gpu,20,100,40,60,1\n", "")
    edit(plan_dir, "schedule.csv", "D1,P2,0,10\nD1,P2,1,10\n", "")
    edit(plan_dir, "unserved.csv", "D5,E4,below_threshold\n", "D5,E4,below_threshold\nD1,E1,not_selected\n")
    assert_caught(check_plan(instance_dir, plan_dir), "R10 must_serve", "D1")


# --------------------------------------------------------------------------- summary.json


def test_summary_total_off(instance_dir: Path, plan_dir: Path) -> None:
    write_summary(plan_dir, instance_dir, total_bill_yuan=241.0)
    assert_caught(check_plan(instance_dir, plan_dir), "summary", "total_bill_yuan", "241")


def test_summary_carbon_and_value_off(instance_dir: Path, plan_dir: Path) -> None:
    write_summary(plan_dir, instance_dir, carbon_kg=0.0, served_value=70.0)
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "summary", "carbon_kg")
    assert_caught(report, "summary", "served_value")


def test_summary_bound_below_value(instance_dir: Path, plan_dir: Path) -> None:
    write_summary(plan_dir, instance_dir, best_bound=71.0)
    assert_caught(check_plan(instance_dir, plan_dir), "summary", "best_bound")


def test_summary_missing_field_and_bad_status(instance_dir: Path, plan_dir: Path) -> None:
    summary = copy.deepcopy(SUMMARY) | {"instance_sha256": sha256_of(instance_dir), "status": "no_solution"}
    del summary["gap"]
    del summary["wall_seconds"]["write"]
    (plan_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    report = check_plan(instance_dir, plan_dir)
    assert_caught(report, "summary", "'gap'")
    assert_caught(report, "summary", "'write'")
    assert_caught(report, "summary", "status", "no_solution")


def test_summary_for_other_instance_files(instance_dir: Path, plan_dir: Path) -> None:
    edit(instance_dir, "instance.toml", 'name = "tiny-check"', 'name = "tiny-check"\ndescription = "changed"')
    assert_caught(check_plan(instance_dir, plan_dir), "summary", "instance_sha256", "instance.toml")


# --------------------------------------------------------------------------- reasons


def test_wrong_prescreen_reason(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D6,E1,no_pool_within_latency", "D6,E1,not_selected")
    assert_caught(check_plan(instance_dir, plan_dir), "reason", "D6", "no_pool_within_latency")


def test_prescreen_reason_out_of_order(instance_dir: Path, plan_dir: Path) -> None:
    # D10 has no compatible pool; it is within latency of nothing relevant, but the earlier filter wins.
    edit(plan_dir, "unserved.csv", "D10,E1,no_compatible_pool", "D10,E1,no_pool_within_latency")
    assert_caught(check_plan(instance_dir, plan_dir), "reason", "D10", "no_compatible_pool")


def test_prescreen_reason_for_screened_demand(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D8,E2,not_selected:capacity", "D8,E2,window_too_short")
    assert_caught(check_plan(instance_dir, plan_dir), "reason", "D8", "passes every pre-screen filter")


def test_unknown_reason(instance_dir: Path, plan_dir: Path) -> None:
    edit(plan_dir, "unserved.csv", "D8,E2,not_selected:capacity", "D8,E2,not_selected:weather")
    assert_caught(check_plan(instance_dir, plan_dir), "reason", "D8", "not_selected:weather")


def test_below_threshold_implausible(instance_dir: Path, plan_dir: Path) -> None:
    # D8 alone at P1: bill 400, S = 120 (min voucher 0), spend 400 + 400 >= 500: it meets them.
    edit(plan_dir, "unserved.csv", "D8,E2,not_selected:capacity", "D8,E2,below_threshold")
    assert_caught(check_plan(instance_dir, plan_dir), "reason", "D8", "below_threshold", "alone meets the thresholds")


def test_not_selected_refinements_accepted(instance_dir: Path, plan_dir: Path) -> None:
    for reason in ("not_selected", "not_selected:budget", "not_selected:green", "not_selected:cap", "below_threshold"):
        text = (plan_dir / "unserved.csv").read_text(encoding="utf-8")
        line = next(row for row in text.splitlines() if row.startswith("D5,"))
        edit(plan_dir, "unserved.csv", line, f"D5,E4,{reason}")
        assert check_plan(instance_dir, plan_dir).ok, reason


def test_window_too_short_is_recomputed(instance_dir: Path, plan_dir: Path) -> None:
    # D7 with 200 card-hours, up to 100 cards, over both periods: P3 (10 cards) holds
    # min(100, 10) * 10 h * 2 = 200 card-hours alone, exactly enough, so window_too_short is wrong.
    edit_instance(instance_dir, plan_dir, "demands.csv", "D7,E2,W,mpi,batch,500,1,1,1", "D7,E2,W,mpi,batch,200,100,0,1")
    assert_caught(check_plan(instance_dir, plan_dir), "reason", "D7", "passes every pre-screen filter")


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "instance", INSTANCE_FILES)


@pytest.fixture
def plan_dir(tmp_path: Path, instance_dir: Path) -> Path:
    folder = write_folder(tmp_path / "plan", PLAN_FILES)
    write_summary(folder, instance_dir)
    return folder
