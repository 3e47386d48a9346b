"""R8's thresholds priced exactly (models/cover.py, models/lagrangian.py).

Hand-derived covers and pricings pin the values; brute-force enumeration of every plan of an
enterprise checks the pricing on random prices and per-pair claims; and on small random
instances of each regime the certified bound is compared with the optimum the exact MIP proves,
and column generation must converge (master LP = bound), which it cannot when the pricing is
relaxed.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from allocator.instance.reading import read_instance
from allocator.instance.screening import screen
from allocator.solve.decompose import _column_generation
from allocator.solve.options import SolveOptions
from allocator.solve.pipeline import solve_and_write
from models.cover import cheapest_cover
from models.data import prepare
from models.lagrangian import Multipliers, Relaxation
from models.master import Master
from tests.builders import base, demand, write
from tests.conftest import check_plan_files

pytestmark = pytest.mark.component


def _load(tmp_path, spec):
    inst = read_instance(write(tmp_path / "i", spec))
    scr = screen(inst)
    return inst, scr, prepare(inst, scr)


# -- the cover by itself ----------------------------------------------------------------------------

@pytest.mark.unit
def test_cheapest_cover_by_hand():
    """Demand 0 can add 5 of bill (loss 3) or 3 (loss 1); demand 1 can add 2 (loss 1) or 1 (loss 0.5).
    Need 5: 5 alone costs 3, 3 + 2 costs 2 (best). Need 4: 3 + 1 (1.5). Need 4.5: 3 + 1 is short, 3 + 2
    (2). Need 6: 5 + 1 (3.5). Need 7.1: more than everything (7), no cover."""
    e, d = np.zeros(4, dtype=int), np.array([0, 0, 1, 1])
    loss, gain = np.array([3.0, 1.0, 1.0, 0.5]), np.array([5.0, 3.0, 2.0, 1.0])
    for need, expected, chosen in ((5.0, 2.0, [1, 2]), (4.0, 1.5, [1, 3]), (4.5, 2.0, [1, 2]), (6.0, 3.5, [0, 3]),
                                   (7.1, np.inf, [])):
        cover = cheapest_cover(e, d, loss, np.zeros(4), gain, np.zeros(1), np.array([need]))
        assert cover.loss[0] == pytest.approx(expected), need
        assert cover.chosen.tolist() == chosen, need


@pytest.mark.unit
def test_cheapest_cover_with_two_needs_of_either_sign():
    """Claims per pair: need 3 of claim and 2 of bill. Demand 0: (loss 1, claim +3, bill -1) or
    (loss 2, claim +1, bill +2); demand 1: (loss 1, claim 0, bill +3) or (loss 4, claim +3, bill +2).
    Covers: 0a + 1a (claim 3, bill 2, loss 2); 0b + 1b (4, 4, 6); 1b alone (3, 2, 4); 0a alone
    misses the bill: the least is 2."""
    e, d = np.zeros(4, dtype=int), np.array([0, 0, 1, 1])
    cover = cheapest_cover(e, d, np.array([1.0, 2.0, 1.0, 4.0]), np.array([3.0, 1.0, 0.0, 3.0]),
                           np.array([-1.0, 2.0, 3.0, 2.0]), np.array([3.0]), np.array([2.0]))
    assert cover.loss[0] == pytest.approx(2.0) and cover.chosen.tolist() == [0, 2]


@pytest.mark.unit
def test_cheapest_cover_bounds_what_it_cannot_search():
    """Enterprise 0: twelve demands that can each add 1, 2 or 3 at a loss equal to the gain, need 10.5:
    plans need 11, and partial plans of every sum 0..11 survive every test, more than the 4 allowed, so
    the search gives up: the bound is the larger of the LP's 10.5 and the stepped program's (gains rounded
    up to 64ths of the need: 3 + 3 + 3 + 1 reach it, 10), the plan the best one found (at least 11,
    meeting the need). Enterprise 1 beside it (need 3 from two demands adding 2 each, at losses 1 and 2)
    is solved: both, loss 3. With room enough, enterprise 0 is solved too: 11."""
    e = np.r_[np.zeros(36, dtype=int), np.ones(2, dtype=int)]
    d = np.r_[np.repeat(np.arange(12), 3), [100, 101]]
    gain = np.r_[np.tile([1.0, 2.0, 3.0], 12), [2.0, 2.0]]
    loss = np.r_[np.tile([1.0, 2.0, 3.0], 12), [1.0, 2.0]]
    need = np.array([10.5, 3.0])
    cover = cheapest_cover(e, d, loss, np.zeros(38), gain, np.zeros(2), need, max_states=4)
    assert cover.exact.tolist() == [False, True]
    assert cover.bound.tolist() == pytest.approx([10.5, 3.0]) and cover.loss[0] >= 11.0 and cover.loss[1] == 3.0
    mine = cover.chosen[cover.chosen < 36]
    assert gain[mine].sum() >= 10.5 and loss[mine].sum() == cover.loss[0] and len(set(d[mine])) == len(mine)
    assert cover.chosen[cover.chosen >= 36].tolist() == [36, 37]
    cover = cheapest_cover(e, d, loss, np.zeros(38), gain, np.zeros(2), need)
    assert cover.loss.tolist() == [11.0, 3.0] and cover.exact.all()


@pytest.mark.unit
def test_stepped_bound_by_hand():
    """Need 10 in 4 steps of 2.5: demand 0 adds 6 (rounded up to 3 steps, loss 4) or 3 (2 steps, loss 1);
    demand 1 adds 2 (1 step, loss 1). 3 + 2 = 5 real, 3 steps: short; 6 + 2: 4 steps, loss 5; 6 alone is
    3 steps. So 5, which is also the least loss of a real plan (6 + 2 = 8 < 10: none!) -- the bound may
    stand below plans that do not exist: it only has to stand below those that do."""
    from models.cover import _stepped_bound

    owner, slot, start = np.zeros(3, dtype=int), np.array([0, 0, 1]), np.array([0])
    bound = _stepped_bound(np.array([True]), owner, slot, start, np.array([4.0, 1.0, 1.0]), np.array([6.0, 3.0, 2.0]),
                           np.array([10.0]), steps=4)
    assert bound.tolist() == [5.0]


@pytest.mark.unit
@pytest.mark.parametrize("seed", range(40))
def test_cheapest_cover_matches_enumeration(seed):
    rng = np.random.default_rng(seed)
    rows = []
    for ent in range(3):
        for dem in range(int(rng.integers(0, 5))):
            for _ in range(int(rng.integers(1, 4))):
                rows.append((ent, 10 * ent + dem, rng.integers(0, 10), rng.integers(-3, 8), rng.integers(-3, 8)))
    if not rows:
        return
    e, d, loss, gc, gb = (np.array(c, dtype=float) for c in zip(*rows))
    e, d = e.astype(int), d.astype(int)
    if seed % 2:
        gc[:] = 0.0
    need_c = rng.integers(-2, 12, 3).astype(float) * (seed % 2 == 0)
    need_b = rng.integers(-2, 15, 3).astype(float)
    cover = cheapest_cover(e, d, loss, gc, gb, need_c, need_b, max_states=10**6)
    for ent in range(3):
        idx = np.flatnonzero(e == ent)
        best = np.inf if need_c[ent] > 0 or need_b[ent] > 0 else 0.0
        for combo in itertools.product(*[[None, *idx[d[idx] == x]] for x in sorted(set(d[idx]))]):
            ks = [k for k in combo if k is not None]
            if gc[ks].sum() >= need_c[ent] and gb[ks].sum() >= need_b[ent]:
                best = min(best, float(loss[ks].sum()))
        assert cover.loss[ent] == best, ent
        mine = cover.chosen[e[cover.chosen] == ent]
        if np.isfinite(best) and best > 0:
            assert loss[mine].sum() == best and len(set(d[mine])) == len(mine)
            assert gc[mine].sum() >= need_c[ent] and gb[mine].sum() >= need_b[ent]


# -- pricing an enterprise ----------------------------------------------------------------------------

def _spend_world(min_voucher: float = 0.0, min_spend: float = 0.0) -> dict:
    """pB only (1 yuan), rate 0.5, budget 2; E1 asks d1 (2 card-hours, value 2), d2 (2, value 0.5) and
    d3 (1, value 0.1). A plan must bill at least 3 (min spend 3, or min voucher 1.5 at rate 0.5).

    At budget price 1 each bill yuan costs 0.5: profits d1 1, d2 -0.5, d3 -0.4. The best plan alone is
    d1 (bill 2). Meeting 3: d1 + d3 (profit 0.6, bill 3) or d1 + d2 (0.5, bill 4). So Phi = 0.6 and
    L(1) = 2 x 1 + 0.6 = 2.6, plan {d1, d3}. The one-cover LP (the pricing before) took half of d2 (loss
    0.25 for the one yuan missing, the best ratio): 0.75, L = 2.75."""
    spec = base()
    spec["pools"] = spec["pools"][1:]
    spec["programs"][0].update(budget_yuan=2.0, min_voucher_yuan=min_voucher, min_spend_yuan=min_spend)
    spec["demands"] += [demand("d1", 2), demand("d2", 2, priority=0.25), demand("d3", 1, priority=0.1)]
    return spec


@pytest.mark.parametrize("thresholds", [(0.0, 3.0), (1.5, 0.0)])
def test_pricing_meets_a_threshold_with_the_cheapest_whole_demands(tmp_path, thresholds):
    inst, scr, data = _load(tmp_path, _spend_world(*thresholds))
    r = Relaxation(data)
    y = Multipliers.zeros(r)
    y.budget[:] = 1.0
    priced = r.price(y)
    assert priced.bound == pytest.approx(2.6)
    assert priced.phi.tolist() == pytest.approx([0.6])
    assert sorted(data.pairs["demand_id"][priced.selected]) == ["d1", "d3"]


def _brute_phi(r: Relaxation, y: Multipliers, e: int) -> float:
    """max over every plan of enterprise e (one pair or none per demand) of rho x - y_g min(A, C), plans
    that bill something meeting min voucher (on min(A, C)) and min spend; must-serve demands served."""
    _, cost = r.cheapest_schedule(r.row_price(y))
    rho = r.value - cost
    price = y.budget[r.program[e]]
    demands = np.flatnonzero(r.enterprise_of_demand == e)
    choices = []
    for d in demands:
        ks = list(np.flatnonzero(r.demand == d))
        choices.append(ks if r.must[d] else [None, *ks])
    best = -np.inf
    for combo in itertools.product(*choices):
        ks = np.array([k for k in combo if k is not None], dtype=int)
        bill, claim = r.bill[ks].sum(), r.claim[ks].sum()
        subsidy = min(claim, r.cap_yuan[e])
        if bill > 0 and (subsidy < r.voucher[e] * (1 - 1e-9) or bill < r.spend_need[e] * (1 - 1e-9)):
            continue
        best = max(best, rho[ks].sum() - price * subsidy)
    return best


def _pricing_spec(rng: np.random.Generator) -> dict:
    spec = base()
    spec["pools"].append({"pool_id": "pC", "center_id": "cB", "accelerator": "npu", "cards": 10.0,
                          "price_yuan_per_card_hour": 1.5, "kw_per_card": 0.5})
    spec["compatibility"].append({"stack": "cuda", "accelerator": "npu", "efficiency": 0.8, "adaptation_yuan": 1.0})
    spec["programs"] = [{"program_id": "G", "budget_yuan": 10.0, "rate": 0.5, "enterprise_cap_yuan": float(rng.choice([np.inf, 5.0, 9.0])),
                         "min_voucher_yuan": float(rng.choice([0.0, 2.0, 4.0])), "min_spend_yuan": float(rng.choice([0.0, 6.0, 12.0]))}]
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": "G", "spend_ytd_yuan": float(rng.choice([0.0, 3.0]))}
                           for i in range(3)]
    spec["demands"] = [demand(f"d{j}", float(rng.integers(1, 7)), enterprise=f"E{int(rng.integers(0, 3))}",
                              priority=float(rng.integers(1, 4)), must_serve=bool(rng.random() < 0.1))
                       for j in range(9)]
    return spec


@pytest.mark.parametrize("seed", range(12))
def test_pricing_equals_enumeration_of_every_plan(tmp_path, seed):
    """Phi_e at random prices equals the best of every plan of the enterprise, with one rate per
    enterprise and with per-pair claims (rates by pool, as R8's r(d, p) allows); the plan priced earns it."""
    rng = np.random.default_rng(700 + seed)
    inst, scr, data = _load(tmp_path, _pricing_spec(rng))
    r = Relaxation(data)
    for per_pair in (False, True):
        if per_pair:  # claims at a rate drawn per pair
            r.claim = rng.choice([0.2, 0.5, 0.7], r.n_pairs) * r.bill
            r.rate_low[:], r.rate_high[:] = 0.2, 0.7  # the enterprises may mix rates
        for _ in range(3):
            y = Multipliers(rng.exponential(0.5, r.capacity.shape), np.zeros(r.grid_cap.shape), np.zeros(r.grid_cap.shape),
                            np.zeros(r.n_centers), rng.exponential(1.0, r.n_programs))
            priced = r.price(y)
            _, cost = r.cheapest_schedule(r.row_price(y))
            for e in range(r.n_enterprises):
                expected = _brute_phi(r, y, e)
                assert priced.phi[e] == pytest.approx(expected, abs=1e-9), (per_pair, e)
                if np.isfinite(expected):
                    mine = priced.selected & (r.enterprise == e)
                    earned = (r.value - cost)[mine].sum() - y.budget[r.program[e]] * min(r.claim[mine].sum(), r.cap_yuan[e])
                    assert earned == pytest.approx(expected, abs=1e-9), (per_pair, e)


# -- the bound against the proven optimum, every regime ---------------------------------------------

REGIMES = ("capacity", "fund", "threshold", "cap", "green", "everything")


def _regime_spec(rng: np.random.Generator, regime: str) -> dict:
    """A small day of one regime: 3 pools, 4 enterprises of 1-5 requests, one period or three."""
    periods = int(rng.choice([1, 3])) if regime in ("green", "everything") else 1
    spec = base()
    spec["settings"]["periods"] = periods
    spec["pools"].append({"pool_id": "pC", "center_id": "cB", "accelerator": "npu", "cards": 10.0,
                          "price_yuan_per_card_hour": 1.5, "kw_per_card": 0.5})
    spec["compatibility"].append({"stack": "cuda", "accelerator": "npu", "efficiency": 0.8, "adaptation_yuan": 1.0})
    tight = regime in ("capacity", "everything")
    for p in spec["pools"]:
        p["cards"] = float(rng.integers(1, 4) if tight else rng.integers(6, 12))
    if regime in ("green", "everything"):
        for c in spec["centers"]:
            c["green_kwh"] = float(rng.integers(1, 5))
            c["min_green_share"] = float(rng.choice([0.3, 0.6]))
            c["grid_kwh_cap"] = float(rng.choice([np.inf, 3.0, 6.0]))
    fund = regime in ("fund", "threshold", "everything")  # thresholds bind where money or cards are short
    threshold = regime in ("threshold", "everything")
    capped = regime in ("cap", "everything")
    spec["programs"] = [
        {"program_id": "G", "budget_yuan": float(rng.integers(3, 8) if fund else 1e4), "rate": 0.5,
         "enterprise_cap_yuan": float(rng.choice([2.0, 3.0, 4.0]) if capped else np.inf),
         "min_voucher_yuan": float(rng.choice([2.0, 3.0]) if threshold else 0.0)},
        {"program_id": "H", "budget_yuan": float(rng.integers(2, 6) if fund else 1e4), "rate": 0.3,
         "min_spend_yuan": float(rng.choice([6.0, 9.0]) if threshold else 0.0)},
    ]
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": str(rng.choice(["G", "H"])),
                            "subsidy_ytd_yuan": float(rng.choice([0.0, 1.0]) if capped else 0.0)} for i in range(4)]
    spec["demands"] = []
    for j in range(11):
        release = int(rng.integers(0, periods))
        spec["demands"].append(demand(
            f"d{j}", float(rng.integers(1, 6)), enterprise=f"E{int(rng.integers(0, 4))}",
            latency_class=str(rng.choice(["batch", "batch", "interactive"])), priority=float(rng.integers(1, 4)),
            release=release, deadline=int(rng.integers(release, periods)), max_cards=float(rng.choice([np.inf, 2.0, 3.0]))))
    return spec


def _regime_day_and_optimum(tmp_path, regime: str, seed: int):
    """The small day of ``regime`` and ``seed``, its optimum proven by the exact MIP, and a tolerance."""
    rng = np.random.default_rng(1000 * REGIMES.index(regime) + seed)
    folder = write(tmp_path / "i", _regime_spec(rng, regime))
    exact = solve_and_write(folder, tmp_path / "exact", SolveOptions(method="exact", gap=1e-9, gap_given=True))
    assert exact.status == "optimal"
    optimum = exact.plan.served_value
    return folder, optimum, 1e-6 * max(1.0, optimum)


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("seed", range(4))
def test_bound_holds_and_column_generation_converges_in_every_regime(tmp_path, regime, seed):
    """best_bound >= the exact MIP's proven optimum; column generation with exact pricing ends with the
    master LP at the bound (per period); the fast plan is within [0, optimum] and passes the checker."""
    folder, optimum, slack = _regime_day_and_optimum(tmp_path, regime, seed)
    inst = read_instance(folder)
    scr = screen(inst)
    data = prepare(inst, scr)
    r = Relaxation(data)
    master = Master(r)
    bound, _, rounds, lp = _column_generation(r, master, Multipliers.zeros(r), time.perf_counter() + 30.0)
    assert bound >= optimum - slack
    assert lp == pytest.approx(bound, rel=2e-4, abs=1e-6)  # converged: the pricing is exact
    fast = solve_and_write(folder, tmp_path / "fast", SolveOptions(method="fast", time_limit=20))
    assert fast.plan.served_value <= optimum + slack <= fast.best_bound + 2 * slack
    check_plan_files(folder, tmp_path / "fast")


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("seed", range(2))
def test_fast_path_as_on_a_large_day_keeps_its_bound_in_every_regime(tmp_path, monkeypatch, regime, seed):
    """The same small days with the fast path's MIPs limited to 8 pairs, as on a large day: on one period
    the polish over the pairs of the LP's plans (and wider sets where they fit), on three periods the
    schedule MIPs and widening rounds. Its plan stays within [0, optimum], its bound at least the optimum,
    and the plan passes the checker."""
    import allocator.solve.fast as fast

    folder, optimum, slack = _regime_day_and_optimum(tmp_path, regime, seed)
    monkeypatch.setattr(fast, "POLISH_MAX_COLUMNS", 8)
    large = solve_and_write(folder, tmp_path / "fast", SolveOptions(method="fast", time_limit=5))
    assert large.plan.served_value <= optimum + slack <= large.best_bound + 2 * slack
    check_plan_files(folder, tmp_path / "fast")
