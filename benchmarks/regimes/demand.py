"""Programmes, enterprises and demands of a regime instance, and the money that binds them.

Demand sizes are drawn as shapes first (log-normal cards x window x fill) and then
fitted to the regime's ``demand_ratio`` of the card-hours on offer, each demand kept
below 80 % of what a big pool could run in its window. The money of the day is
estimated the same way everywhere (and documented in benchmarks/README.md):

* a demand's **estimated bill** is its card-hours at the mean price of the pools of
  its stack's native accelerator (efficiency 1.0 in compatibility.csv; the mean over all
  pools if there is none);
* an enterprise **asks** its rate times the sum of its estimated bills, and **claims**
  min(asked, C_e) with C_e = max(0, cap - subsidy_ytd);
* a programme's **claim** is the sum over its eligible enterprises; its budget is
  ``fund_share`` times that claim.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchmarks.regimes.knobs import (
    HUBS,
    NATIONAL,
    NATIONAL_FUND_YUAN_PER_DEMAND,
    TEMPLATES,
    Knobs,
    ProgramTemplate,
)
from benchmarks.regimes.network import rtt_between
from benchmarks.synthetic import (
    ACCELERATORS,
    LATENCY_CLASSES_MS,
    LATENCY_MIX,
    STACK_MIX,
    _ids,
    _pick,
)

EAST = [h[0] for h in HUBS if not h[3]]
WEST = [h[0] for h in HUBS if h[3]]


def templates_for(knobs: Knobs, n_programs: int) -> tuple[ProgramTemplate, ...]:
    return (NATIONAL,) if knobs.national else TEMPLATES[:n_programs]


def designated(rng: np.random.Generator, templates: tuple[ProgramTemplate, ...], centers: pd.DataFrame) -> pd.DataFrame:
    """program_centers.csv: a share of the centers (biased to the programme's home hub), western ones for Guizhou."""
    rows = []
    western = centers["region_id"].isin(WEST).to_numpy()
    for t in templates:
        if t.designated_share is None:
            continue
        pool = np.flatnonzero(western) if t.western_only and western.any() else np.arange(len(centers))
        k = max(min(2, len(pool)), round(t.designated_share * len(pool)))  # at least two centers where there are
        bias = np.where(centers["region_id"].iloc[pool].to_numpy() == t.home, 3.0, 1.0)
        chosen = set(rng.choice(pool, size=k, replace=False, p=bias / bias.sum()).tolist())
        home = np.flatnonzero(centers["region_id"].to_numpy() == t.home)
        if len(home) and not chosen & set(home.tolist()):  # a programme always buys from its home hub if it can
            chosen.add(int(home[0]))
        rows += [(t.program_id, c) for c in sorted(centers["center_id"].iloc[sorted(chosen)])]
    return pd.DataFrame(rows, columns=["program_id", "center_id"])


def _enterprise_sizes(rng: np.random.Generator, shape: str, n: int) -> list[int]:
    """Numbers of requests per enterprise summing to n."""
    if n <= 0:
        return []
    draw = {
        "small": lambda k: rng.integers(1, 3, k),
        "large": lambda k: 50 + np.floor(np.exp(rng.normal(3.3, 0.6, k))),
        "threshold": lambda k: 2 + np.floor(np.exp(rng.normal(1.5, 0.6, k))),
        "national": lambda k: 1 + rng.poisson(3.0, k),
        "normal": lambda k: 1 + np.floor(np.exp(rng.normal(1.0, 0.9, k))),
    }[shape]
    sizes = draw(n).astype(int)  # every size is >= 1, so n draws always suffice
    cut = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    sizes = sizes[:cut].tolist()
    sizes[-1] -= sum(sizes) - n
    if shape == "large" and len(sizes) > 1 and sizes[-1] < 50:
        last = sizes.pop()
        sizes[-1] += last
    return [s for s in sizes if s > 0]


def enterprises_and_demands(
    rng: np.random.Generator,
    knobs: Knobs,
    templates: tuple[ProgramTemplate, ...],
    n_demands: int,
    periods: int,
    period_hours: float,
    stacks: list[str],
    center_regions: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Enterprises (id, program_id, home) and demands without sizes; also each demand's relative size shape.

    A realtime demand's home is a hub with a center (``center_regions``, one per center).
    The returned demands carry window (release, deadline), ``fill`` (share of the window a
    demand keeps its max_cards busy) and ``tight`` (tight-windows knob of its home region).
    """
    n_g = len(templates)
    share = rng.dirichlet(np.full(n_g, 4.0))
    counts = rng.multinomial(n_demands - n_g, share) + 1 if n_demands >= n_g else np.ones(n_g, dtype=int)
    ent_program, ent_home, ent_stack, demand_ent = [], [], [], []
    stack_mix = {s: w for s, w in STACK_MIX.items() if s in stacks}
    for g, (t, count) in enumerate(zip(templates, counts)):
        sizes = _enterprise_sizes(rng, knobs.programs[g].shape, int(count))
        first = len(ent_program)
        for size in sizes:
            home = t.home if (t.home and rng.random() < 0.6) else str(rng.choice(EAST if rng.random() < 0.8 else WEST))
            ent_program.append(t.program_id)
            ent_home.append(home)
            ent_stack.append(str(_pick(rng, stack_mix, 1)[0]))
        demand_ent += np.repeat(np.arange(first, len(ent_program)), sizes).tolist()
    n_e = len(ent_program)
    enterprises = pd.DataFrame({"enterprise_id": _ids("e", n_e), "program_id": ent_program, "home": ent_home})
    order = rng.permutation(len(demand_ent))  # demand ids do not follow enterprises
    e_of = np.array(demand_ent)[order]
    n = len(e_of)
    home_e = np.array(ent_home, dtype=object)[e_of]
    elsewhere = np.where(rng.random(n) < 0.8, rng.choice(EAST, n), rng.choice(WEST, n)).astype(object)
    home = np.where(rng.random(n) < 0.85, home_e, elsewhere)
    stack = np.where(rng.random(n) < 0.75, np.array(ent_stack, dtype=object)[e_of], _pick(rng, stack_mix, n))
    latency = _pick(rng, LATENCY_MIX, n)
    # realtime work is asked for where a center is (it cannot leave its home hub)
    stranded = (latency == "realtime") & ~np.isin(home, center_regions)
    home[stranded] = rng.choice(np.array(center_regions, dtype=object), int(stranded.sum()))
    tight = np.array([knobs.region(r).windows for r in home])
    weight = np.array([knobs.region(r).demand_weight for r in home])
    if periods > 1:
        short = max(1, periods // 6)
        length = np.where(tight, rng.integers(1, short + 1, n), rng.integers(math.ceil(periods / 2), periods + 1, n))
        # tight windows crowd into working hours (08:00-18:00 of a day) for 70 % of the demands
        busy_lo, busy_hi = int(periods * 8 / 24), max(int(periods * 8 / 24), int(periods * 18 / 24))
        anywhere = rng.integers(0, periods - length + 1)
        busy = np.minimum(rng.integers(busy_lo, busy_hi + 1, n), periods - length)
        release = np.where(tight & (rng.random(n) < 0.7), busy, anywhere)
    else:
        length = np.ones(n, dtype=int)
        release = np.zeros(n, dtype=int)
    fill = np.where(tight, rng.uniform(0.8, 1.0, n), rng.uniform(0.3, 0.8, n))
    shape = np.exp(rng.normal(0.0, 0.9, n)) * length * period_hours * fill * weight
    demands = pd.DataFrame({
        "demand_id": _ids("d", n),
        "enterprise_id": enterprises["enterprise_id"].to_numpy()[e_of],
        "home_region": home,
        "stack": stack,
        "latency_class": latency,
        "release": release.astype(int),
        "deadline": (release + length - 1).astype(int),
        "priority": rng.choice([1.0, 1.0, 1.0, 1.5, 2.0], n),
        "fill": fill,
        "tight": tight,
        "limited": tight | (rng.random(n) < 1 / 3) | (periods > 1),  # has a finite max_cards
    })
    return enterprises, demands, shape


def threshold_bills(knobs: Knobs, templates: tuple[ProgramTemplate, ...]) -> dict[str, float]:
    """Per programme: the bill at which its thresholds are met (min voucher / rate, min spend); programmes
    without thresholds get the geometric mean of the others (their requests keep the common scale)."""
    reach = {
        t.program_id: max(t.min_voucher_yuan / t.rate if t.rate > 0 else 0.0, t.min_spend_yuan)
        for g, t in enumerate(templates) if knobs.programs[g].thresholds
    }
    mean = math.exp(np.mean(np.log(list(reach.values())))) if reach else 1.0
    return {t.program_id: reach.get(t.program_id, mean) for t in templates}


def servable(demands: pd.DataFrame, program: np.ndarray, program_centers: pd.DataFrame, pools: pd.DataFrame,
              compat: pd.DataFrame) -> np.ndarray:
    """Per demand: some pool at a designated center of its programme runs its stack (latency and windows ignored)."""
    designated = program_centers.groupby("program_id")["center_id"].apply(set).to_dict()
    runs = compat.groupby("stack")["accelerator"].apply(set).to_dict()
    pairs = set()
    for g in set(program):
        at = pools if g not in designated else pools[pools["center_id"].isin(designated[g])]
        for stack, accs in runs.items():
            if at["accelerator"].isin(accs).any():
                pairs.add((g, stack))
    return np.array([(g, s) in pairs for g, s in zip(program, demands["stack"])], dtype=bool)


def top_k_median(relative: np.ndarray, enterprise: np.ndarray, k: int) -> float:
    """Median over enterprises of the sum of their k largest ``relative`` bills (k lowered to the largest
    enterprise's request count when no enterprise has k requests)."""
    frame = pd.DataFrame({"e": enterprise, "r": relative}).sort_values(["e", "r"], ascending=[True, False])
    rank = frame.groupby("e").cumcount()
    k = min(k, int(rank.max()) + 1)
    sums = frame[rank < k].groupby("e")["r"].sum()[frame.groupby("e").size() >= k]
    return float(np.median(sums))


def fit_sizes(shape: np.ndarray, upper: np.ndarray, total: float) -> np.ndarray:
    """min(s * shape, upper) summing to ``total`` (bisection on s); ``upper`` itself when it sums to less."""
    if upper.sum() <= total:
        return upper.copy()
    lo, hi = 0.0, 1.0
    while np.minimum(hi * shape, upper).sum() < total:
        hi *= 2.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if np.minimum(mid * shape, upper).sum() < total:
            lo = mid
        else:
            hi = mid
    return np.minimum(hi * shape, upper)


def usable_cards(demands: pd.DataFrame, program: np.ndarray, program_centers: pd.DataFrame, pools: pd.DataFrame,
                 centers: pd.DataFrame, compat: pd.DataFrame, cards: np.ndarray) -> np.ndarray:
    """Per demand: the cards of a big pool it may use (designated, compatible, within latency; the 90th
    percentile of those pools' mean cards, their maximum below 10 pools); NaN where it may use none."""
    per_pool = cards.mean(axis=1)
    designated = program_centers.groupby("program_id")["center_id"].apply(set).to_dict()
    runs = compat.groupby("stack")["accelerator"].apply(set).to_dict()
    region = pools["center_id"].map(centers.set_index("center_id")["region_id"]).to_numpy()
    center = pools["center_id"].to_numpy()
    acc = pools["accelerator"].to_numpy()
    keys = list(zip(program, demands["stack"], demands["home_region"], demands["latency_class"]))
    big: dict[tuple, float] = {}
    for key in set(keys):
        g, stack, home, klass = key
        ok = np.array([
            a in runs.get(stack, ()) and (g not in designated or c in designated[g])
            and rtt_between(home, r) <= LATENCY_CLASSES_MS[klass]
            for a, c, r in zip(acc, center, region)
        ], dtype=bool)
        usable = per_pool[ok]
        big[key] = (float(np.quantile(usable, 0.9)) if len(usable) >= 10 else float(usable.max())) if len(usable) else math.nan
    return np.array([big[k] for k in keys])


def size_demands(
    ratio: float, demands: pd.DataFrame, shape: np.ndarray, cards: np.ndarray, big: np.ndarray, period_hours: float
) -> tuple[np.ndarray, float]:
    """Card-hours for every demand: ``ratio`` times the card-hours on offer, as far as the demands can hold.

    A demand holds at most 80 % of what a big pool it may use (``big``, see :func:`usable_cards`;
    of all pools where it may use none) runs in its window. Returns (card_hours, ratio used).
    """
    per_pool = cards.mean(axis=1)
    fallback = float(np.quantile(per_pool, 0.9)) if len(per_pool) >= 10 else float(per_pool.max())
    length = (demands["deadline"] - demands["release"] + 1).to_numpy()
    upper = 0.8 * np.where(np.isnan(big), fallback, big) * period_hours * length
    capacity = float(cards.sum()) * period_hours
    ratio = min(ratio, 0.85 * upper.sum() / capacity)
    return fit_sizes(shape, upper, ratio * capacity), ratio


def native_prices(pools: pd.DataFrame, compat: pd.DataFrame) -> dict[str, float]:
    """Mean price of the pools of each stack's native accelerator (mean of all pools if it has none)."""
    native = compat[compat["efficiency"] >= 1.0]
    native_acc = dict(zip(native["stack"], native["accelerator"]))
    mean_by_acc = pools.groupby("accelerator")["price_yuan_per_card_hour"].mean()
    overall = float(pools["price_yuan_per_card_hour"].mean())
    stacks = [v[0] for v in ACCELERATORS.values()]
    return {s: float(mean_by_acc.get(native_acc.get(s, ""), overall)) for s in stacks}


def estimated_bills(demands: pd.DataFrame, pools: pd.DataFrame, compat: pd.DataFrame) -> np.ndarray:
    prices = native_prices(pools, compat)
    return demands["card_hours"].to_numpy() * demands["stack"].map(prices).to_numpy(dtype=float)


def money(
    rng: np.random.Generator,
    knobs: Knobs,
    templates: tuple[ProgramTemplate, ...],
    enterprises: pd.DataFrame,
    demands: pd.DataFrame,
    bills: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """programs.csv and enterprises.csv: rates, caps, year-to-date subsidy, eligibility, thresholds and budgets."""
    n_e = len(enterprises)
    bill_e = enterprises["enterprise_id"].map(pd.Series(bills).groupby(demands["enterprise_id"].to_numpy()).sum()).fillna(0.0)
    bill_e = bill_e.to_numpy()
    eligible = np.ones(n_e, dtype=bool)
    eligible[rng.permutation(n_e)[: int(0.02 * n_e)]] = False
    subsidy_ytd = np.zeros(n_e)
    rows = []
    for g, t in enumerate(templates):
        pk = knobs.programs[g]
        members = (enterprises["program_id"] == t.program_id).to_numpy()
        asked = t.rate * bill_e
        min_voucher = t.min_voucher_yuan if pk.thresholds else 0.0
        min_spend = t.min_spend_yuan if pk.thresholds else 0.0
        cap = t.enterprise_cap_yuan
        idx = np.flatnonzero(members)
        if pk.cap_binding and len(idx):
            q = float(np.quantile(asked[members & eligible] if (members & eligible).any() else asked[members],
                                  rng.uniform(0.15, 0.3)))
            cap = max(10.0, round(q, -1), 1.5 * min_voucher)
            near = rng.permutation(idx)[: math.ceil(0.25 * len(idx))]
            subsidy_ytd[near] = np.round(rng.uniform(0.8, 0.97, len(near)) * cap)
        else:
            some = idx[rng.random(len(idx)) < 0.1]
            subsidy_ytd[some] = np.round(rng.uniform(0.1, 0.5, len(some)) * cap, -1)
        remaining = np.maximum(0.0, cap - subsidy_ytd)
        claim = float(np.minimum(asked, remaining)[members & eligible].sum())
        if knobs.national:
            budget = round(NATIONAL_FUND_YUAN_PER_DEMAND * len(demands))
        else:
            budget = max(1.0, float(round(rng.uniform(*pk.fund_share) * claim)))
            # a programme with thresholds keeps money for at least four enterprises that meet them
            budget = max(budget, 4.0 * max(min_voucher, t.rate * min_spend))
        rows.append((t.program_id, float(budget), t.rate, cap, min_voucher, min_spend))
    programs = pd.DataFrame(
        rows, columns=["program_id", "budget_yuan", "rate", "enterprise_cap_yuan", "min_voucher_yuan", "min_spend_yuan"]
    )
    table = pd.DataFrame({
        "enterprise_id": enterprises["enterprise_id"],
        "program_id": enterprises["program_id"],
        "eligible": np.where(eligible, "true", "false"),
        "subsidy_ytd_yuan": subsidy_ytd,
        "spend_ytd_yuan": 0.0,
    })
    return programs, table
