"""The day-2 relabelling (issue 17): a request left out because the fund is empty says
``not_selected:budget``, not ``below_threshold``.

E2's d2 and d3 each miss the minimum voucher alone (subsidy 2 < 3) but meet it together
(4 >= 3): their size never keeps them out, the fund does. E3's d4 alone is its enterprise's
only request (subsidy 0.5 < 3): below_threshold, whatever the fund.
"""

from __future__ import annotations

import pytest

from allocator.solve.options import SolveOptions
from allocator.solve.pipeline import solve_and_write
from allocator.studies.advance import advance_instance
from tests.builders import base, demand
from tests.conftest import check_plan_files

pytestmark = pytest.mark.component


def spec(budget: float) -> dict:
    """pB only (1 yuan per card-hour, 100 cards); G: rate 0.5, min voucher 3, budget ``budget``.
    d1 (E1, 10 card-hours): subsidy 5, value 10; d2, d3 (E2, 4 each): 2 + 2, value 8; d4 (E3, 1): 0.5."""
    s = base()
    s["programs"][0].update(budget_yuan=budget, min_voucher_yuan=3.0)
    s["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    s["pools"][1]["cards"] = 100
    s["enterprises"] = [{"enterprise_id": e, "program_id": "G"} for e in ("E1", "E2", "E3")]
    s["demands"] += [demand("d1", 10), demand("d2", 4, enterprise="E2"), demand("d3", 4, enterprise="E2"),
                     demand("d4", 1, enterprise="E3")]
    return s


def test_the_empty_fund_is_named_on_day_one_and_day_two(solve_spec, tmp_path):
    """Budget 5: d1 (5 for value 10) beats d2 + d3 (4 for 8) and leaves 0, less than any voucher.
    Day 2 (advance): the fund is 0 and d2, d3 are still not_selected:budget (they were
    below_threshold before the fix, on both days)."""
    day1 = solve_spec(spec(5.0))
    assert day1.served == {"d1": "pB"}
    assert day1.reasons == {"d2": "not_selected:budget", "d3": "not_selected:budget", "d4": "below_threshold"}
    advance_instance(day1.instance_dir, day1.plan_dir, tmp_path / "day2")
    plan2 = tmp_path / "plan2"
    solve_and_write(tmp_path / "day2", plan2, SolveOptions())
    check_plan_files(tmp_path / "day2", plan2)
    from tests.conftest import Solved

    day2 = Solved(None, plan2, tmp_path / "day2")
    assert day2.served == {}
    assert day2.reasons == {"d2": "not_selected:budget", "d3": "not_selected:budget", "d4": "below_threshold"}


def test_with_money_the_pair_is_served(solve_spec):
    """The same requests with a fund of 9: d1, d2 and d3 are all served (5 + 4); d4 still cannot be."""
    full = solve_spec(spec(9.0))
    assert full.served == {"d1": "pB", "d2": "pB", "d3": "pB"}
    assert full.reasons == {"d4": "below_threshold"}
