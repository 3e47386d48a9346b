"""Why requests are left out (allocator.plan.reasons).

Each refined reason has a tiny instance (the world of tests/builders.py: pool pA in
region A at 2 yuan per card-hour, pool pB in region B at 1 yuan, 10 cards each, one
period of one hour, programme G at rate 0.5) where

1. the plan leaves a demand out and refine_reasons names the resource, and
2. the method's own claim is confirmed by editing the instance: relaxing exactly
   that resource and re-solving serves the demand.

A randomized test checks the certificate behind every not_selected:X on many
small instances: with X relaxed, the plan's demands plus the refined one can all
be served together (the solver finds such a plan with all of them must_serve).

Infeasible instances: explain_infeasible names the must-serve demands in conflict
and the constraint (HiGHS IIS for the LP relaxation; a deletion filter otherwise).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from allocator.instance.screening import screen
from allocator.plan.reasons import (
    FAMILIES,
    CenterState,
    fit_table,
    refine_reasons,
    schedule_fits,
)
from allocator.solve.infeasible import explain_infeasible
from tests import builders
from tests.builders import base, demand


def refined(solved) -> dict[str, str]:
    """The refined reasons of a solved plan (what pipeline.py writes to unserved.csv)."""
    instance = solved.result.instance
    table = refine_reasons(instance, screen(instance), solved.result.plan)
    return dict(zip(table["demand_id"], table["reason"]))


def only_pool_a(spec: dict) -> dict:
    """Drop center cB and pool pB: one pool (pA, 10 cards, 2 yuan per card-hour)."""
    spec["centers"] = spec["centers"][:1]
    spec["pools"] = spec["pools"][:1]
    return spec


# --------------------------------------------------------------------------- one instance per reason


def budget_spec() -> dict:
    """Budget 5: d1 (value 20) at pB takes subsidy 5, all of it. d2 could run at pA (room for 10),
    but its subsidy 0.5 x 2 x 10 = 10 exceeds the 0 left: budget binds."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 5.0
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G"})
    spec["demands"] += [demand("d1", 10, priority=2), demand("d2", 10, enterprise="E2")]
    return spec


def capacity_spec() -> dict:
    """One pool of 10 card-hours: d1 (10, value 20) fills it, d2 (5) has no room: capacity binds."""
    spec = only_pool_a(base())
    spec["demands"] += [demand("d1", 10, priority=2), demand("d2", 5)]
    return spec


def grid_spec() -> dict:
    """pA has 100 cards but center cA may draw 10 kWh of grid power (1 kW per card, no green):
    d1 (10 card-hours, value 20) uses all of it, d2 (5) would exceed it: green (R6) binds."""
    spec = only_pool_a(base())
    spec["pools"][0]["cards"] = 100
    spec["centers"][0]["grid_kwh_cap"] = 10.0
    spec["demands"] += [demand("d1", 10, priority=2), demand("d2", 5)]
    return spec


def green_share_spec() -> dict:
    """Two periods; cA has 6 kWh of green power in period 0 only and needs a green share of 0.5.
    d1 (10 card-hours in period 0, value 20) leaves green 6 of 10; d2 (4, either period) would make
    it 6 of 14 < 0.5 wherever it runs: the green share binds."""
    spec = only_pool_a(base())
    spec["settings"]["periods"] = 2
    spec["centers"][0].update(min_green_share=0.5)
    spec["green"] = [{"center_id": "cA", "period": 0, "green_kwh": 6.0}, {"center_id": "cA", "period": 1, "green_kwh": 0.0}]
    spec["demands"] += [demand("d1", 10, priority=2, deadline=0), demand("d2", 4)]
    return spec


def cap_spec() -> dict:
    """The enterprise cap binds only through the minimum voucher (see allocator.plan.reasons).

    Programme G: min voucher 3. E2 has a cap of 2 yuan, so any priced voucher of E2 is at most
    2 < 3. d2 (E2, 8 card-hours) may run at the free pool pF (price 0: no voucher needed), but
    d1 (E1, value 20, runs only on pF's accelerator) fills pF and all of cF's 10 kWh grid cap:
    relaxing capacity alone or green alone does not help. At pB it would bill 8, subsidy
    min(4, 2) = 2 < 3: relaxing the cap alone lets it in (subsidy 4 >= 3).
    """
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 3.0
    spec["centers"].append({"center_id": "cF", "region_id": "A", "kind": "general", "grid_kwh_cap": 10.0})
    spec["pools"].append({"pool_id": "pF", "center_id": "cF", "accelerator": "fgpu", "cards": 10,
                          "price_yuan_per_card_hour": 0.0, "kw_per_card": 1.0})
    spec["compatibility"] += [{"stack": "free", "accelerator": "fgpu", "efficiency": 1.0},
                              {"stack": "cuda", "accelerator": "fgpu", "efficiency": 1.0}]
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G", "cap_yuan": 2.0})
    spec["demands"] += [demand("d1", 10, stack="free", priority=2), demand("d2", 8, enterprise="E2")]
    return spec


def relax(spec: dict, family: str) -> dict:
    """The spec with one resource family removed for everybody (a superset of the method's relaxation)."""
    if family == "budget":
        for p in spec["programs"]:
            p["budget_yuan"] = "inf"
    elif family == "capacity":
        for p in spec["pools"]:
            p["cards"] = 1e6
    elif family == "green":
        for c in spec["centers"]:
            c.update(grid_kwh_cap="inf", min_green_share=0.0)
    elif family == "cap":
        for e in spec["enterprises"]:
            e["cap_yuan"] = "inf"
    return spec


CASES = [
    (budget_spec, "not_selected:budget", "budget"),
    (capacity_spec, "not_selected:capacity", "capacity"),
    (grid_spec, "not_selected:green", "green"),
    (green_share_spec, "not_selected:green", "green"),
    (cap_spec, "not_selected:cap", "cap"),
]


@pytest.mark.component
@pytest.mark.parametrize("make, reason, family", CASES, ids=[c[0].__name__ for c in CASES])
def test_refined_reason_is_named_and_confirmed(solve_spec, make, reason, family):
    s = solve_spec(make())
    assert "d2" not in s.served and s.reasons["d2"] in ("not_selected", reason)  # refined once pipeline.py calls it
    assert refined(s)["d2"] == reason
    # The method's certificate: relaxing the named family alone lets d2 in next to the plan.
    fits = fit_table(s.result.instance, screen(s.result.instance), s.result.plan, ["d2"])
    assert not fits["as_is"].any() and fits[f"without_{family}"].any()
    earlier = FAMILIES[: FAMILIES.index(family)]
    assert not any(fits[f"without_{f}"].any() for f in earlier)
    # And in the instance: relax it, re-solve, d2 is served.
    again = solve_spec(relax(make(), family))
    assert "d2" in again.served, f"relaxing {family} did not let d2 in: {again.reasons}"


@pytest.mark.component
@pytest.mark.parametrize("make, reason, family", CASES, ids=[c[0].__name__ for c in CASES])
def test_relaxing_an_earlier_family_does_not_let_it_in(solve_spec, make, reason, family):
    """The order is honest: each family tried before the named one, relaxed alone, leaves d2 out."""
    for earlier in FAMILIES[: FAMILIES.index(family)]:
        again = solve_spec(relax(make(), earlier))
        assert "d2" not in again.served, f"relaxing {earlier} let d2 in, but the reason says {family}"


@pytest.mark.component
def test_two_binding_resources_stay_plain(solve_spec):
    """Budget 10 and one pool of 10 card-hours: d1 (value 20) takes both the budget and the pool.
    d2 needs budget and capacity: neither relaxation alone lets it in."""
    spec = only_pool_a(base())
    spec["programs"][0]["budget_yuan"] = 10.0
    spec["demands"] += [demand("d1", 10, priority=2), demand("d2", 5)]
    s = solve_spec(spec)
    assert refined(s)["d2"] == "not_selected"
    for family in ("budget", "capacity"):
        assert "d2" not in solve_spec(relax(spec_copy(spec), family)).served


def spec_copy(spec: dict) -> dict:
    import copy

    return copy.deepcopy(spec)


@pytest.mark.component
def test_nothing_binding_stays_plain(solve_spec):
    """d2 has priority 0 (value 0): it would fit, but the cost stage leaves it out. Nothing binds."""
    spec = only_pool_a(base())
    spec["demands"] += [demand("d1", 2), demand("d2", 2, priority=0)]
    s = solve_spec(spec)
    assert "d2" not in s.served
    assert refined(s)["d2"] == "not_selected"


@pytest.mark.component
def test_other_reasons_are_kept(solve_spec):
    """Pre-screen reasons and below_threshold are not touched."""
    spec = only_pool_a(base())
    spec["programs"][0]["min_voucher_yuan"] = 100.0
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G", "eligible": "false"})
    spec["demands"] += [demand("d1", 1), demand("d2", 1, enterprise="E2"), demand("d3", 1, stack="fortran")]
    s = solve_spec(spec)
    assert refined(s) == {"d1": "below_threshold", "d2": "ineligible_enterprise", "d3": "no_compatible_pool"}


# --------------------------------------------------------------------------- the schedule arithmetic


@pytest.mark.unit
def test_schedule_fits_fills_spare_green_first():
    """E = (10, 0) kWh, G = (10, 6), share 0.9, 1 kWh per card-hour: 4 card-hours fit only in
    period 1, where they are green (10 + 4 of 14 >= 12.6); in period 0 they are not (10 of 14)."""
    center = CenterState(np.array([10.0, 0.0]), np.array([10.0, 6.0]), math.inf, 0.9)
    room = np.array([100.0, 100.0])
    limit = np.array([np.inf, np.inf])
    assert schedule_fits(4.0, limit, room, 1.0, center, slice(0, 2))
    assert not schedule_fits(4.0, limit, room, 1.0, center, slice(0, 1))
    # 8 card-hours: at best 6 are green, 16 of 18 < 0.9 x 18 = 16.2; at share 0.85 (15.3) they fit.
    assert not schedule_fits(8.0, limit, room, 1.0, center, slice(0, 2))
    assert schedule_fits(8.0, limit, room, 1.0, CenterState(center.energy_kwh, center.green_kwh, math.inf, 0.85), slice(0, 2))


@pytest.mark.unit
def test_schedule_fits_respects_max_cards_room_and_grid_cap():
    """max_cards allows 6 per period, the pool 10; the grid cap 8 kWh leaves 8 in period 0 and
    8 - 5 = 3 in period 1: at most 6 + 3 = 9 card-hours, 12 with the grid cap relaxed."""
    center = CenterState(np.array([0.0, 5.0]), np.array([0.0, 0.0]), 8.0, 0.0)
    room = np.array([10.0, 10.0])
    assert not schedule_fits(9.5, np.array([6.0, 6.0]), room, 1.0, center, slice(0, 2))
    assert schedule_fits(9.0, np.array([6.0, 6.0]), room, 1.0, center, slice(0, 2))
    assert schedule_fits(12.0, np.array([6.0, 6.0]), room, 1.0, None, slice(0, 2))  # grid relaxed
    assert not schedule_fits(12.5, np.array([6.0, 6.0]), room, 1.0, None, slice(0, 2))


# --------------------------------------------------------------------------- the certificate, at random


def random_spec(rng: np.random.Generator) -> dict:
    """A small random world: 2 periods, 3 pools, budgets, caps, a grid cap and a green share."""
    spec = base()
    spec["settings"]["periods"] = 2
    spec["centers"][0].update(grid_kwh_cap=float(rng.choice([8.0, 15.0, 1e9])), green_kwh=float(rng.integers(0, 8)),
                              min_green_share=float(rng.choice([0.0, 0.3])))
    spec["pools"][0]["cards"] = float(rng.integers(3, 9))
    spec["pools"][1]["cards"] = float(rng.integers(3, 9))
    spec["pools"].append({"pool_id": "pA2", "center_id": "cA", "accelerator": "gpu", "cards": float(rng.integers(2, 6)),
                          "price_yuan_per_card_hour": 1.5, "kw_per_card": 0.5})
    spec["programs"][0]["budget_yuan"] = float(rng.integers(2, 10))
    spec["programs"].append({"program_id": "H", "budget_yuan": float(rng.integers(1, 6)), "rate": 0.3,
                             "min_voucher_yuan": 1.0})
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": "G" if i < 3 else "H",
                            "cap_yuan": float(rng.choice([3.0, 6.0, 100.0]))} for i in range(5)]
    for i in range(12):
        spec["demands"].append(demand(
            f"d{i}", float(rng.integers(1, 9)), enterprise=f"E{rng.integers(0, 5)}",
            home=str(rng.choice(["A", "B"])), latency_class=str(rng.choice(["batch", "batch", "interactive"])),
            max_cards=float(rng.choice([3.0, 6.0, 100.0])), priority=float(rng.integers(1, 4))))
    return spec


@pytest.mark.component
def test_every_refined_reason_has_a_valid_certificate(solve_spec):
    """On 10 random instances, for the first demand of each refined reason: with X relaxed, the plan's
    demands and the refined one are all served together (made must_serve, the solver finds a plan)."""
    rng = np.random.default_rng(20240611)
    confirmed = set()
    for _ in range(10):
        spec = random_spec(rng)
        s = solve_spec(spec)
        checked = set()
        for d, reason in refined(s).items():
            if not reason.startswith("not_selected:") or reason in checked:
                continue
            checked.add(reason)
            family = reason.split(":")[1]
            relaxed = relax(spec_copy(spec), family)
            keep = set(s.served) | {d}
            for row in relaxed["demands"]:
                row["must_serve"] = "true" if row["demand_id"] in keep else "false"
            again = solve_spec(relaxed)  # raises InfeasibleInstance if the certificate were wrong
            assert keep <= set(again.served)
            confirmed.add(family)
    assert {"budget", "capacity"} <= confirmed  # the draw exercises the common families


# --------------------------------------------------------------------------- infeasible instances


def model_of(tmp_path, spec):
    from allocator.instance.reading import read_instance
    from models.build import build_model
    from models.data import prepare

    instance = read_instance(builders.write(tmp_path / "inst", spec))
    data = prepare(instance, screen(instance))
    return build_model(data), data


@pytest.mark.component
def test_two_must_serve_demands_over_capacity(tmp_path):
    """pA holds 10 card-hours; must_serve d1 (8) and d2 (8) cannot both run there. d3 (must_serve, 1)
    and d4 (optional) are not part of the conflict and must not be named."""
    spec = only_pool_a(base())
    spec["demands"] += [demand("d1", 8, must_serve="true"), demand("d2", 8, must_serve="true"),
                        demand("d3", 1, must_serve="true"), demand("d4", 3)]
    lines = explain_infeasible(*model_of(tmp_path, spec))
    text = "\n".join(lines)
    assert lines[0].startswith("must_serve demands d1, d2 cannot all be served together")
    assert "must_serve[d1]" in text and "must_serve[d2]" in text
    assert "pool_capacity[0,0]" in text and "pool pA holds at most 10 card-hours in period 0" in text
    assert "d3" not in text and "d4" not in text


@pytest.mark.component
def test_conflict_that_needs_integrality(tmp_path):
    """Three must_serve demands of 6 card-hours and two pools of 10: the LP relaxation splits one
    across both pools, the MIP cannot. The deletion filter names d1-d3 (not the must_serve d4 of 1)
    and both pools' capacity rows."""
    spec = base()
    spec["demands"] += [demand(f"d{i}", 6, must_serve="true") for i in (1, 2, 3)] + [demand("d4", 1, must_serve="true")]
    lines = explain_infeasible(*model_of(tmp_path, spec))
    text = "\n".join(lines)
    assert lines[0].startswith("must_serve demands d1, d2, d3 cannot all be served together")
    assert "deletion filter" in lines[0]
    assert "pool_capacity[0,0]" in text and "pool_capacity[1,0]" in text
    assert "d4" not in text


@pytest.mark.component
def test_budget_conflict_names_the_programme(tmp_path):
    """Budget 4: must_serve d1 at pB (bill 5, subsidy 2.5) and d2 (bill 5, subsidy 2.5) need 5."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 4.0
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G"})
    spec["demands"] += [demand("d1", 5, must_serve="true"), demand("d2", 5, enterprise="E2", must_serve="true")]
    text = "\n".join(explain_infeasible(*model_of(tmp_path, spec)))
    assert "budget_limit[G]" in text and "programme G" in text
    assert "must_serve[d1]" in text and "must_serve[d2]" in text
