"""min-budget: the smallest fund of one programme reaching a target share, derived by hand.

The hand instance (tests/builders.py base world, one period of one hour):
pools pA (region A, 2 yuan per card-hour, 10 card-hours) and pB (region B, 1 yuan,
10 card-hours), programme G at rate 0.5. E1 (no cap) asks d1 = 10 and d2 = 6
card-hours, E2 (cap 2 yuan) asks d3 = 4; all priority 1, batch, so either pool.
Requested value 20. Target 0.7 -> value >= 14, so d1 and at least one of d2, d3:

* d1 + d3 (14): d1 at pB (bill 10, subsidy 5) and d3 at pA (bill 8, subsidy min(4, cap 2) = 2): 7 yuan;
  d3 cannot join d1 at pB (14 > 10 card-hours).
* d1 + d2 (16): d1 at pB (5) + d2 at pA (bill 12, 6) = 11, or d2 at pB (3) + d1 at pA (10) = 13.
* all three need 20 card-hours: one pool gets d1 (10) and the other d2 + d3; at least 5 + 6 + 2 = 13.

So the smallest fund is exactly 7 yuan. With 6.93 yuan (1 % less) the best plan
serves 10 (d2 + d3 at pB for 3 + 2, or d1 alone for 5): below the target.
Without E2's cap d3 would cost 4 and the answer would be 9: the cap is what the
exact subsidy formulation (built with the budget at 0) must get right.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from allocator.cli.budget import min_budget as min_budget_command
from allocator.problems import AllocatorError, InfeasibleInstance
from allocator.solve.options import SolveOptions
from allocator.solve.pipeline import solve_and_write
from allocator.studies.min_budget import solve_min_budget
from tests import builders
from tests.builders import base, demand
from tests.conftest import check_plan_files

HAND_MIN_BUDGET_YUAN = 7.0
HAND_TARGET = 0.7
HAND_REQUESTED_VALUE = 20.0


def hand_spec(budget_yuan: float = 1e6) -> dict:
    spec = base()
    spec["programs"] = [{"program_id": "G", "budget_yuan": budget_yuan, "rate": 0.5}]
    spec["enterprises"] = [{"enterprise_id": "E1", "program_id": "G"},
                           {"enterprise_id": "E2", "program_id": "G", "cap_yuan": 2.0}]
    spec["demands"] = [demand("d1", 10), demand("d2", 6), demand("d3", 4, enterprise="E2")]
    return spec


@pytest.fixture
def hand(tmp_path):
    return builders.write(tmp_path / "hand", hand_spec())


@pytest.mark.component
def test_min_budget_is_the_hand_derived_fund(hand):
    result = solve_min_budget(hand, HAND_TARGET)
    assert result.program_id == "G"
    assert result.min_budget_yuan == pytest.approx(HAND_MIN_BUDGET_YUAN, abs=1e-6)
    assert result.bound_yuan == pytest.approx(HAND_MIN_BUDGET_YUAN, abs=1e-6)
    assert result.status == "optimal"
    assert result.requested_value == HAND_REQUESTED_VALUE
    assert result.served_value >= HAND_TARGET * HAND_REQUESTED_VALUE - 1e-9
    served = dict(zip(result.solve.plan.assignments["demand_id"], result.solve.plan.assignments["pool_id"]))
    assert served == {"d1": "pB", "d3": "pA"}


@pytest.mark.component
def test_the_fund_reaches_the_target_and_one_percent_less_does_not(tmp_path):
    runs = {}
    for label, budget in (("at", HAND_MIN_BUDGET_YUAN), ("below", 0.99 * HAND_MIN_BUDGET_YUAN)):
        folder = builders.write(tmp_path / f"instance-{label}", hand_spec(budget))
        plan = tmp_path / f"plan-{label}"
        runs[label] = solve_and_write(folder, plan, SolveOptions())
        check_plan_files(folder, plan)
    target_value = HAND_TARGET * HAND_REQUESTED_VALUE
    assert runs["at"].plan.served_value >= target_value - 1e-9
    assert runs["below"].plan.served_value < target_value
    assert runs["below"].plan.served_value == pytest.approx(10.0)


@pytest.mark.component
def test_cli_writes_a_checkable_plan_and_the_instance_at_that_budget(hand, tmp_path):
    plan, variant = tmp_path / "plan", tmp_path / "at-min"
    result = CliRunner().invoke(min_budget_command, [str(hand), "--target", "0.7", "-o", str(plan),
                                                     "--instance-out", str(variant)])
    assert result.exit_code == 0, result.output
    summary = json.loads((plan / "summary.json").read_text())
    assert summary["min_budget_yuan"] == pytest.approx(HAND_MIN_BUDGET_YUAN, abs=1e-6)
    assert summary["min_budget_program"] == "G"
    assert summary["method"] == "min-budget"
    assert summary["served_value"] >= 14.0 - 1e-9
    check_plan_files(variant, plan)  # the plan obeys every rule with the budget set to the minimum
    assert "7.00 yuan" in result.output


@pytest.mark.component
def test_target_beyond_capacity_exits_3_and_says_how_much_is_possible(tmp_path):
    spec = hand_spec()
    spec["demands"].append(demand("d4", 8))  # 28 requested, 20 card-hours of pools: at most 20 / 28
    folder = builders.write(tmp_path / "over", spec)
    with pytest.raises(InfeasibleInstance, match=r"at most 71\.4286%"):
        solve_min_budget(folder, 0.75)
    result = CliRunner().invoke(min_budget_command, [str(folder), "--target", "0.75", "-o", str(tmp_path / "p")])
    assert result.exit_code == 3
    assert not (tmp_path / "p").exists()


@pytest.mark.component
def test_target_beyond_screening_exits_3_before_solving(tmp_path):
    spec = hand_spec()
    spec["demands"].append(demand("d5", 20, stack="fortran"))  # no compatible pool: half the value is lost
    folder = builders.write(tmp_path / "screened", spec)
    with pytest.raises(InfeasibleInstance, match="passes screening"):
        solve_min_budget(folder, 0.6)


@pytest.mark.component
def test_zero_target_needs_no_fund(hand):
    assert solve_min_budget(hand, 0.0, plan=False).min_budget_yuan == 0.0


@pytest.mark.unit
def test_several_programmes_need_program_option(tmp_path):
    spec = hand_spec()
    spec["programs"].append({"program_id": "H", "budget_yuan": 5.0, "rate": 0.5})
    folder = builders.write(tmp_path / "two", spec)
    with pytest.raises(AllocatorError, match="choose one with --program"):
        solve_min_budget(folder, 0.5)
    result = CliRunner().invoke(min_budget_command, [str(folder), "--target", "0.5", "--program", "nope",
                                                     "-o", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "unknown programme 'nope'" in result.output
