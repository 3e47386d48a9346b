"""The Lagrangian relaxation (models/lagrangian.py), its master (models/master.py) and price-and-fix.

The bound must never fall below the best plan: the hand-derived cases pin its value, and
random small instances compare it, at the prices column generation finds and at random
prices, with the optimum the exact MIP proves.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocator.instance.reading import read_instance
from allocator.instance.screening import screen
from allocator.solve.decompose import (
    WarmStart,
    lagrangian_bound,
    seed_columns,
    solve_by_decomposition,
)
from allocator.solve.exact import _best_heuristic
from allocator.solve.heuristics import place_enterprises, place_in_order
from allocator.solve.options import SolveOptions
from allocator.solve.pipeline import solve_and_write
from allocator.solve.state import PlacementState
from models.build import build_matrix
from models.data import prepare
from models.lagrangian import Multipliers, Relaxation
from models.master import Ledger, Master
from tests.builders import base, demand, write
from tests.conftest import check_plan_files

pytestmark = pytest.mark.component


def _load(tmp_path, spec):
    inst = read_instance(write(tmp_path / "i", spec))
    scr = screen(inst)
    return inst, scr, prepare(inst, scr)


def _lp_bound(data) -> float:
    h = build_matrix(data).to_highs(relax=True)
    h.run()
    return float(h.getInfo().objective_function_value)


def _prices(r: Relaxation, budget: float) -> Multipliers:
    y = Multipliers.zeros(r)
    y.budget[:] = budget
    return y


def _capped_world() -> dict:
    """Budget 1, rate 0.5. E1 (remaining cap 1) asks d1 and d2, 2 card-hours each; E2 (no cap) asks
    d3, 2 card-hours. At pB (1 yuan) each bill is 2. E1 with both demands costs the fund min(0.5 x 4, 1)
    = 1 for value 4; E2 costs 1 for value 2: the optimum serves E1 whole, value 4.

    The big-M LP pays for E1 at the chord: M = 0.5 x 8 (largest bills, at pA) - 1 = 3, so
    S1 >= max(2 - 3z, z) is 0.5 at z = 0.5, leaving 0.5 for half of d3: LP bound 5.
    The Lagrangian at budget price y: L(y) = y + max(2 max(0, 2 - y), 4 - y) + max(0, 2 - y),
    which is 6 - y below y = 2 and 4 above: min 4 = the optimum."""
    spec = base()
    spec["programs"][0]["budget_yuan"] = 1.0
    spec["enterprises"] = [{"enterprise_id": "E1", "program_id": "G", "cap_yuan": 1.0},
                           {"enterprise_id": "E2", "program_id": "G"}]
    spec["demands"] += [demand("d1", 2), demand("d2", 2), demand("d3", 2, enterprise="E2")]
    return spec


def test_bound_is_exact_where_the_big_m_lp_is_not(tmp_path):
    inst, scr, data = _load(tmp_path, _capped_world())
    assert _lp_bound(data) == pytest.approx(5.0)
    r = Relaxation(data)
    assert r.price(_prices(r, 1.0)).bound == pytest.approx(5.0)  # 6 - y
    assert r.price(_prices(r, 2.0)).bound == pytest.approx(4.0)
    assert r.price(_prices(r, 3.0)).bound == pytest.approx(4.0)
    bound, _ = lagrangian_bound(data, 10.0)
    assert bound == pytest.approx(4.0)


def test_fast_method_proves_the_capped_optimum(tmp_path):
    inst = write(tmp_path / "i", _capped_world())
    result = solve_and_write(inst, tmp_path / "p", SolveOptions(method="fast", time_limit=20))
    assert sorted(result.plan.assignments["demand_id"]) == ["d1", "d2"]
    assert result.plan.served_value == pytest.approx(4.0)
    assert result.best_bound == pytest.approx(4.0) and result.status == "optimal"
    check_plan_files(inst, tmp_path / "p")


def _voucher_world() -> dict:
    """Min voucher 1.5, budget 1.2, rate 0.5, E1 only. d1: 2 card-hours (bill 2 at pB, value 2); d2:
    2 card-hours at priority 0.25 (bill 2, value 0.5). A plan must bill at least 1.5 / 0.5 = 3, so d1
    needs d2, and both cost the fund 2 > 1.2: the optimum serves nothing.

    At budget price y the best plan alone is d1 (profit 2 - y), billing 2 < 3: the plans that meet the
    voucher are {d1, d2} (profit 2.5 - 2y) and nothing, so L(y) = 1.2 y + max(0, 2.5 - 2 y):
    L(0.5) = 2.1, L(1.25) = 1.5 (its minimum), L(1.5) = 1.8. The one-cover relaxation priced d1 and d2
    as if a fraction of d2 could be billed (2.25 - 1.5 y, 1.875 at 1.25); the LP bound is 1.8
    (x1 = 0.8, x2 = 0.4)."""
    spec = base()
    spec["programs"][0].update(budget_yuan=1.2, min_voucher_yuan=1.5)
    spec["demands"] += [demand("d1", 2), demand("d2", 2, priority=0.25)]
    return spec


def test_threshold_cover_bound_by_hand(tmp_path):
    inst, scr, data = _load(tmp_path, _voucher_world())
    r = Relaxation(data)
    for price, expected in ((0.5, 2.1), (1.25, 1.5), (1.5, 1.8)):
        assert r.price(_prices(r, price)).bound == pytest.approx(expected, rel=1e-9), price
    assert _lp_bound(data) == pytest.approx(1.8)
    priced = r.price(_prices(r, 1.0))  # the plan returned meets the threshold: both demands
    assert sorted(data.pairs["demand_id"][priced.selected]) == ["d1", "d2"]


def test_a_remaining_cap_below_the_voucher_forbids_billing(tmp_path):
    """E1 has 1 yuan of cap left, the minimum voucher is 2: E1 can never be billed, so at price 0 the
    bound is E2's demand alone (value 3) and E1's plan is empty."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 2.0
    spec["enterprises"] = [{"enterprise_id": "E1", "program_id": "G", "cap_yuan": 1.0},
                           {"enterprise_id": "E2", "program_id": "G"}]
    spec["demands"] += [demand("d1", 5), demand("d2", 3, enterprise="E2")]
    inst, scr, data = _load(tmp_path, spec)
    r = Relaxation(data)
    priced = r.price(Multipliers.zeros(r))
    assert priced.bound == pytest.approx(3.0)
    assert list(data.pairs["demand_id"][priced.selected]) == ["d2"]


def test_time_blocks_sum_capacity_green_and_grid(tmp_path):
    """Four one-hour periods in two blocks: pool capacity 10 card-hours an hour becomes 20 a block,
    cA's grid cap of 3 kWh an hour 6 a block, its green (1, 2, 3, 4 kWh) 3 and 7; d1 (window 1-3,
    at most 2 cards) may use 2 card-hours in block 0 (hour 1) and 4 in block 1 (hours 2-3)."""
    spec = base()
    spec["settings"]["periods"] = 4
    spec["centers"][0].update(grid_kwh_cap=3.0, green_kwh=0.0)
    spec["green"] = [{"center_id": "cA", "period": t, "green_kwh": float(t + 1)} for t in range(4)]
    spec["demands"] += [demand("d1", 6, release=1, deadline=3, max_cards=2)]
    inst, scr, data = _load(tmp_path, spec)
    r = Relaxation(data, blocks=2)
    assert r.periods == 2 and not r.exact
    assert r.capacity.tolist() == [[20.0, 20.0], [20.0, 20.0]]
    assert r.grid_cap[0].tolist() == [6.0, 6.0] and np.isinf(r.grid_cap[1]).all()
    assert r.green_kwh[0].tolist() == [3.0, 7.0]
    at_pa = r.row_pair == int(np.flatnonzero(data.pairs["pool_id"] == "pA")[0])
    assert r.row_period[at_pa].tolist() == [0, 1] and r.row_cap[at_pa].tolist() == [2.0, 4.0]


def test_place_enterprises_meets_a_voucher_together_and_rolls_back(tmp_path):
    """Min voucher 2, pB alone (10 card-hours, 1 yuan). E1's d1 and d2 (3 card-hours each, subsidy 1.5
    each) reach the voucher only together; E2's d3 (2 card-hours, subsidy 1) never does; E3's d4
    (4 card-hours, subsidy 2) does alone. One demand at a time places d4 only. Whole enterprises
    place E1 (6 card-hours), try E2 and roll it back, and so still have the 4 card-hours d4 needs."""
    spec = base()
    spec["programs"][0]["min_voucher_yuan"] = 2.0
    spec["pools"] = spec["pools"][1:]
    spec["enterprises"] += [{"enterprise_id": "E2", "program_id": "G"}, {"enterprise_id": "E3", "program_id": "G"}]
    spec["demands"] += [demand("d1", 3), demand("d2", 3), demand("d3", 2, enterprise="E2"), demand("d4", 4, enterprise="E3")]
    inst, scr, data = _load(tmp_path, spec)
    ids = scr.pairs["demand_id"].to_numpy()
    assert list(ids[place_in_order(inst, scr, np.arange(len(ids))).chosen]) == ["d4"]
    groups = [np.flatnonzero(scr.pairs["enterprise_id"] == e) for e in ("E1", "E2", "E3")]
    plan = place_enterprises(inst, scr, groups)
    assert sorted(ids[plan.chosen]) == ["d1", "d2", "d4"]
    assert plan.schedule["card_hours"].sum() == pytest.approx(10.0)


def test_ledger_accepts_plans_only_while_they_fit(tmp_path):
    """pB holds 10 card-hours: E1's plan (d1, 6 card-hours) fits, then E2's (d2, 6) does not."""
    spec = base()
    spec["pools"] = spec["pools"][1:]
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G"})
    spec["demands"] += [demand("d1", 6), demand("d2", 6, enterprise="E2")]
    inst, scr, data = _load(tmp_path, spec)
    r = Relaxation(data)
    master = Master(r)
    priced = r.price(Multipliers.zeros(r))
    numbers = master.add(master.batch(priced.selected, priced.take_card_hours, np.arange(r.n_enterprises)))
    ledger = Ledger(master)
    assert ledger.fits(numbers[0])
    ledger.accept(numbers[0])
    assert not ledger.fits(numbers[1])
    ok, value = master.solve()
    assert ok and value == pytest.approx(10.0)  # the LP takes 1 + 4/6 of the two plans


# -- validity on random small instances ---------------------------------------------------------------

def _random_spec(rng: np.random.Generator) -> dict:
    periods = int(rng.choice([1, 3]))
    spec = base()
    spec["settings"]["periods"] = periods
    spec["pools"][0]["cards"] = float(rng.integers(2, 7))
    spec["pools"][1]["cards"] = float(rng.integers(2, 7))
    spec["pools"].append({"pool_id": "pC", "center_id": "cB", "accelerator": "npu", "cards": float(rng.integers(2, 6)),
                          "price_yuan_per_card_hour": 1.5, "kw_per_card": 0.5})
    spec["compatibility"].append({"stack": "cuda", "accelerator": "npu", "efficiency": 0.8, "adaptation_yuan": 1.0})
    for c in spec["centers"]:
        c["green_kwh"] = float(rng.integers(0, 6))
        c["min_green_share"] = float(rng.choice([0.0, 0.0, 0.3]))
        c["grid_kwh_cap"] = float(rng.choice([np.inf, 4.0, 8.0]))
    spec["programs"] = [
        {"program_id": "G", "budget_yuan": float(rng.integers(3, 15)), "rate": 0.5,
         "enterprise_cap_yuan": float(rng.choice([np.inf, 4.0, 6.0])), "min_voucher_yuan": float(rng.choice([0.0, 2.0]))},
        {"program_id": "H", "budget_yuan": float(rng.integers(2, 10)), "rate": 0.3,
         "min_spend_yuan": float(rng.choice([0.0, 6.0]))},
    ]
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": str(rng.choice(["G", "H"])),
                            "subsidy_ytd_yuan": float(rng.choice([0.0, 1.0]))} for i in range(5)]
    spec["demands"] = []
    for j in range(12):
        release = int(rng.integers(0, periods))
        spec["demands"].append(demand(
            f"d{j}", float(rng.integers(1, 9)), enterprise=f"E{int(rng.integers(0, 5))}",
            latency_class=str(rng.choice(["batch", "batch", "interactive"])), priority=float(rng.integers(1, 4)),
            release=release, deadline=int(rng.integers(release, periods)), max_cards=float(rng.choice([np.inf, 2.0, 3.0]))))
    return spec


@pytest.mark.parametrize("seed", range(16))
def test_bound_is_never_below_the_proven_optimum(tmp_path, seed):
    """At the prices column generation finds, on time blocks, and at random prices."""
    rng = np.random.default_rng(seed)
    spec = _random_spec(rng)
    folder = write(tmp_path / "i", spec)
    exact = solve_and_write(folder, tmp_path / "exact", SolveOptions(method="exact", gap=1e-9, gap_given=True))
    assert exact.status == "optimal"
    optimum = exact.plan.served_value
    inst = read_instance(folder)
    scr = screen(inst)
    data = prepare(inst, scr)
    slack = 1e-6 * max(1.0, optimum)
    bound, _ = lagrangian_bound(data, 10.0)
    assert bound >= optimum - slack
    if inst.periods > 1:
        assert lagrangian_bound(data, 10.0, blocks=1)[0] >= optimum - slack
    r = Relaxation(data)
    for _ in range(5):
        y = Multipliers(rng.exponential(1.0, r.capacity.shape), rng.exponential(0.2, r.grid_cap.shape),
                        rng.exponential(0.2, r.grid_cap.shape), rng.exponential(0.2, r.n_centers),
                        rng.exponential(1.0, r.n_programs))
        assert r.price(y).bound >= optimum - slack
    fast = solve_and_write(folder, tmp_path / "fast", SolveOptions(method="fast", time_limit=20))
    assert fast.plan.served_value <= optimum + slack <= fast.best_bound + 2 * slack
    check_plan_files(folder, tmp_path / "fast")


@pytest.mark.parametrize("seed", range(6))
def test_priced_plans_keep_their_enterprises_rules(tmp_path, seed):
    """Every plan pricing returns bills each demand at one pool, and meets R8's thresholds."""
    rng = np.random.default_rng(100 + seed)
    inst, scr, data = _load(tmp_path, _random_spec(rng))
    r = Relaxation(data)
    state = PlacementState(inst, scr)
    for _ in range(4):
        y = Multipliers(rng.exponential(1.0, r.capacity.shape), np.zeros(r.grid_cap.shape), np.zeros(r.grid_cap.shape),
                        np.zeros(r.n_centers), rng.exponential(1.0, r.n_programs))
        selected = r.price(y).selected
        demands = data.pairs["demand_id"][selected]
        assert demands.is_unique
        bills = data.pairs["bill_yuan"][selected].groupby(data.pairs["enterprise_id"][selected]).sum()
        claims = data.pairs["claim_yuan"][selected].groupby(data.pairs["enterprise_id"][selected]).sum()
        for e, bill in bills.items():
            state.bill[e], state.claim[e] = float(bill), float(claims[e])
            assert state.thresholds_met(e), (e, bill)
        state.bill = {e: 0.0 for e in state.bill}
        state.claim = {e: 0.0 for e in state.claim}


def test_decomposition_plan_keeps_every_rule_on_a_synthetic_day(tmp_path):
    """A generated 300-demand day (benchmarks/synthetic.py): the plan passes the checker, is at least
    the best baseline and at most the bound."""
    from benchmarks.synthetic import make_instance

    folder = tmp_path / "i"
    make_instance(folder, 300, 12, 1, seed=3)
    result = solve_and_write(folder, tmp_path / "p", SolveOptions(method="fast", time_limit=30))
    inst = read_instance(folder)
    scr = screen(inst)
    baseline = float(scr.pairs["value"].to_numpy()[_best_heuristic(inst, scr).chosen].sum())
    assert baseline <= result.plan.served_value + 1e-9 <= result.best_bound + 1e-9
    check_plan_files(folder, tmp_path / "p")
    dec = solve_by_decomposition(inst, scr, prepare(inst, scr), _best_heuristic(inst, scr), 10.0, 0.005)
    assert dec.exact and dec.bound >= result.plan.served_value - 1e-9


def _seeded_master_value(r: Relaxation, scr, columns) -> tuple[int, float]:
    """A fresh master holding only ``columns`` (no pricing round): how many it took, its LP value."""
    master = Master(r)
    added = seed_columns(r, master, scr, columns, Multipliers.zeros(r))
    ok, value = master.solve()
    assert ok
    return added, value


def test_warm_start_columns_rebuild_the_master_optimum(tmp_path):
    """In :func:`_capped_world` the master's LP optimum is E1's plan {d1, d2} at weight 1 (value 4,
    the bound). The warm start names that column by ids; a fresh master seeded with it alone is at
    4 before any pricing."""
    inst, scr, data = _load(tmp_path, _capped_world())
    dec = solve_by_decomposition(inst, scr, data, _best_heuristic(inst, scr), 10.0, 1e-9)
    columns = dec.warm.columns
    assert columns.groupby("column")["demand_id"].apply(sorted).tolist() == [["d1", "d2"]]
    r = Relaxation(data)
    assert seed_columns(r, Master(r), scr, columns.iloc[:0], Multipliers.zeros(r)) == 0
    assert _seeded_master_value(r, scr, columns) == (1, pytest.approx(4.0))
    # a column naming a pair that was screened out here is dropped whole
    stranger = columns.copy()
    stranger.loc[stranger.index[0], "pool_id"] = "no-such-pool"
    assert seed_columns(r, Master(r), scr, stranger, Multipliers.zeros(r)) == 0


@pytest.mark.parametrize("seed", range(4))
def test_parts_columns_combine_into_a_feasible_whole_master(tmp_path, seed):
    """Parts split capacity, energy and budget and keep enterprises whole, so their LP solutions add
    up to a solution of the whole master: seeded with every part's columns, the whole master's LP
    value is at least the sum of the parts' (each part's columns alone, in a fresh master of the
    part: positive wherever the part can serve anything)."""
    from allocator.solve.partition import split_instance

    rng = np.random.default_rng(300 + seed)
    inst, scr, data = _load(tmp_path, _random_spec(rng))
    warm, parts_value = [], 0.0
    for part in split_instance(inst, scr, 2):
        part_scr = screen(part)
        part_data = prepare(part, part_scr)
        dec = solve_by_decomposition(part, part_scr, part_data, _best_heuristic(part, part_scr), 10.0, 1e-9)
        warm.append(dec.warm)
        part_value = _seeded_master_value(Relaxation(part_data), part_scr, dec.warm.columns)[1]
        assert part_value > 0 or dec.bound <= 0
        parts_value += part_value
    combined = WarmStart.combine(warm)
    assert combined.columns["column"].nunique() == sum(w.columns["column"].nunique() for w in warm)
    # no column mixes enterprises
    owner = combined.columns["demand_id"].map(inst.demands.set_index("demand_id")["enterprise_id"])
    assert (owner.groupby(combined.columns["column"]).nunique() == 1).all()
    whole_value = _seeded_master_value(Relaxation(data), scr, combined.columns)[1]
    assert whole_value >= parts_value - 1e-6 * max(1.0, parts_value)
