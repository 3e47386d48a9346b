"""The hindsight bound against brute force on small years: every assignment of every request to a
(day, pool) of its window or to nothing is enumerated, each day checked against the rules (capacity,
R8 with the year-to-date cap and the minimum voucher), the year against the annual fund; the best
served value is what a policy knowing every arrival could reach. The bound must never be below it,
and on a year where the relaxation is exact it must equal it."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.studies.year.hindsight import hindsight_bound
from allocator.studies.year.run import load_year
from tests import builders
from tests.year_world import world

pytestmark = pytest.mark.component


def brute_force(year) -> float:
    """The best served value of any sequence of daily plans (one period a day, as in the small world)."""
    inst, table, n_days = year.instance, year.requests.table.set_index("demand_id"), year.requests.days
    pairs = year.pairs
    ent = inst.enterprises.set_index("enterprise_id")
    prog = inst.programs.set_index("program_id")
    day_cards = dict(zip(inst.pools["pool_id"], year.capacity_card_hours.sum(axis=1)))
    options = []
    for d, group in pairs.groupby("demand_id", sort=True):
        first, last = int(table.at[d, "day"]), min(n_days - 1, table.at[d, "last_day"])
        choices = [None] + [(t, row) for t in range(first, int(last) + 1) for row in group.itertuples(index=False)]
        options.append(choices)
    best = 0.0
    for combo in itertools.product(*options):
        chosen = [c for c in combo if c is not None]
        value = sum(row.value for _, row in chosen)
        if value <= best:
            continue
        ok, spent = True, {g: 0.0 for g in prog.index}
        ytd = {e: ent.at[e, "subsidy_ytd_yuan"] for e in ent.index}
        for t in range(n_days):
            today = [row for day, row in chosen if day == t]
            used: dict[str, float] = {}
            bills: dict[str, float] = {}
            for row in today:
                used[row.pool_id] = used.get(row.pool_id, 0.0) + row.usage_card_hours
                bills[row.enterprise_id] = bills.get(row.enterprise_id, 0.0) + row.bill_yuan
            if any(u > day_cards[p] + 1e-9 for p, u in used.items()):
                ok = False
                break
            for e, b in bills.items():
                g = ent.at[e, "program_id"]
                s = min(ent.at[e, "rate"] * b, max(0.0, ent.at[e, "cap_yuan"] - ytd[e]))
                if b > 0 and s < prog.at[g, "min_voucher_yuan"] - 1e-9:
                    ok = False
                ytd[e] += s
                spent[g] += s
            if not ok:
                break
        if ok and all(spent[g] <= prog.at[g, "budget_yuan"] + 1e-9 for g in prog.index):
            best = value
    return best


def small_year(folder: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    spec = world(budget_g=float(rng.integers(2, 9)), budget_h=float(rng.integers(1, 4)), cards=float(rng.integers(4, 9)))
    spec["enterprises"][1]["cap_yuan"] = float(rng.choice([1.0, 2.5, math.inf]))
    rows = []
    for i in range(5):
        rows.append({"demand_id": f"r{i}", "enterprise_id": str(rng.choice(["E1", "E2", "F1"])), "home_region": "B",
                     "stack": str(rng.choice(["cuda", "rocm"])), "latency_class": "batch",
                     "card_hours": float(rng.integers(1, 7)), "priority": float(rng.choice([1.0, 2.0])),
                     "day": int(rng.integers(0, 3)), "max_wait_days": str(rng.choice(["0", "1", "inf"]))})
    spec["demands"] = []
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}, {"program_id": "H", "center_id": "cB"},
                               {"program_id": "H", "center_id": "cA"}]
    instance = builders.write(folder / "instance", spec)
    pd.DataFrame(rows).to_csv(folder / "arrivals.csv", index=False)
    return instance


@pytest.mark.parametrize("seed", range(12))
def test_the_bound_is_never_below_the_best_year(tmp_path, seed):
    instance = small_year(tmp_path, seed)
    year = load_year(instance, tmp_path / "arrivals.csv", 3)
    bound = hindsight_bound(year).bound
    best = brute_force(year)
    assert bound >= best - 1e-9
    trivial = float(year.pairs.drop_duplicates("demand_id")["value"].sum())
    assert bound <= trivial + 1e-6


def test_the_bound_is_exact_when_only_the_fund_binds(tmp_path):
    """G: budget 3, pB only (1 yuan per card-hour, rate 0.5), plenty of cards, no voucher. Requests (value,
    subsidy): a (2 x 2 card-hours = 4, 1), b (2, 1), c (1 x 4 = 4, 2), d (1 x 6 = 6, 3), on days 0, 1, 1, 2.
    The best year serves a and c (value 8, subsidy 3; a + b is 6, d alone 6); the LP can do no better:
    a (4 per yuan) then 2 yuan at 2 per yuan. The bound is 8 plus the fen slack's worth."""
    spec = world(budget_g=3.0, budget_h=0.0, cards=100.0)
    spec["programs"][0]["min_voucher_yuan"] = 0.0
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["demands"] = []
    instance = builders.write(tmp_path / "instance", spec)
    rows = [("a", 2, 2.0, 0), ("b", 2, 1.0, 1), ("c", 4, 1.0, 1), ("d", 6, 1.0, 2)]
    pd.DataFrame([{"demand_id": d, "enterprise_id": "E1", "home_region": "B", "stack": "cuda", "latency_class": "batch",
                   "card_hours": ch, "priority": p, "day": day, "max_wait_days": "inf"} for d, ch, p, day in rows]
                 ).to_csv(tmp_path / "arrivals.csv", index=False)
    year = load_year(instance, tmp_path / "arrivals.csv", 3)
    bound = hindsight_bound(year).bound
    assert brute_force(year) == pytest.approx(8.0)
    # budget row: 3 yuan + 1 fen per request of G (4 requests): 3.04; the extra 0.04 yuan buys 0.04 x 2 of value.
    assert bound == pytest.approx(8.0 + 0.04 * 2, abs=1e-6)
