"""Must-serve demands that a known plan serves: the instance stays feasible by construction.

A greedy pass places whole enterprises' requests into a reserved share of the capacity
(60 % of every pool in every period), at centers with a green share or a grid cap only
into 60 % of the energy that keeps both in every period (E_t <= G_t / share and
E_t <= G_t + grid cap, split over the center's pools by their power draw),
checks the enterprise's R8 thresholds and its programme's budget (at most half of it), and
then marks the placed requests must_serve. The placements are the **witness**: a plan that
serves exactly them obeys R1-R10 (tests/test_regimes.py checks it with ``allocator check``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from benchmarks.regimes.network import rtt_between
from benchmarks.synthetic import LATENCY_CLASSES_MS

RESERVED = 0.6  # share of each pool's card-hours (and of a green-bound center's green supply) the witness may use
BUDGET_SHARE = 0.8  # share of a programme's budget the witness may spend
MARGIN = 1e-3  # yuan: thresholds are met with this much to spare


@dataclass
class Witness:
    """A feasible plan serving every must_serve demand: chosen (demand, pool) and its schedule."""

    assignments: list[tuple[str, str]] = field(default_factory=list)  # (demand_id, pool_id)
    schedule: list[tuple[str, str, int, float]] = field(default_factory=list)  # (demand_id, pool_id, period, card_hours)


def must_serve(
    rng: np.random.Generator,
    shares: dict[str, float],
    demands: pd.DataFrame,
    enterprises: pd.DataFrame,
    programs: pd.DataFrame,
    pools: pd.DataFrame,
    centers: pd.DataFrame,
    compat: pd.DataFrame,
    program_centers: pd.DataFrame,
    cards: np.ndarray,
    green: np.ndarray,
    period_hours: float,
) -> tuple[np.ndarray, Witness]:
    """must_serve flags for ``demands`` (about ``shares[program]`` of each programme's demands) and their witness."""
    flags = np.zeros(len(demands), dtype=bool)
    witness = Witness()
    if not any(v > 0 for v in shares.values()):
        return flags, witness
    n_p = cards.shape[0]
    center_index = {c: i for i, c in enumerate(centers["center_id"])}
    pool_center = pools["center_id"].map(center_index).to_numpy()
    kw = pools["kw_per_card"].to_numpy(dtype=float)
    pue = centers["pue"].to_numpy(dtype=float)[pool_center]
    price = pools["price_yuan_per_card_hour"].to_numpy(dtype=float)
    acc = pools["accelerator"].to_numpy()
    pool_region = centers["region_id"].to_numpy()[pool_center]

    # free card-hours per (pool, period): the reserved share of capacity, and of the green supply where R6 binds
    free = RESERVED * cards * period_hours
    bound = ((centers["min_green_share"] > 0) | np.isfinite(centers["grid_kwh_cap"])).to_numpy()
    # energy E_t <= G_t / share keeps min(E_t, G_t) >= share * E_t in every period, and E_t <= G_t + cap the grid cap
    share = centers["min_green_share"].to_numpy()
    by_share = np.divide(green, share[:, None], out=np.full_like(green, np.inf), where=share[:, None] > 0)
    allowed = np.minimum(by_share, green + centers["grid_kwh_cap"].to_numpy()[:, None])
    draw = cards.mean(axis=1) * kw
    center_draw = np.bincount(pool_center, weights=draw, minlength=len(centers))
    for p in np.flatnonzero(bound[pool_center] & (kw > 0)):
        c = pool_center[p]
        part = draw[p] / center_draw[c] if center_draw[c] > 0 else 0.0
        free[p] = np.minimum(free[p], RESERVED * allowed[c] * part / (kw[p] * pue[p]))

    eff = {(s, a): (float(e), float(x)) for s, a, e, x in compat[["stack", "accelerator", "efficiency", "adaptation_yuan"]].itertuples(index=False)}
    # per stack, over pools: efficiency (0 where the stack does not run) and adaptation cost
    eff_of = {s: np.array([eff.get((s, a), (0.0, 0.0))[0] for a in acc]) for s in compat["stack"].unique()}
    adapt_of = {s: np.array([eff.get((s, a), (0.0, 0.0))[1] for a in acc]) for s in compat["stack"].unique()}
    designated = program_centers.groupby("program_id")["center_id"].apply(set).to_dict()
    centers_of_pool = pools["center_id"].to_numpy()
    candidates: dict[tuple, np.ndarray] = {}

    def pools_for(program: str, stack: str, home: str, klass: str) -> np.ndarray:
        key = (program, stack, home, klass)
        if key not in candidates:
            limit = LATENCY_CLASSES_MS[klass]
            ok = [
                p for p in range(n_p)
                if (stack, acc[p]) in eff
                and (program not in designated or centers_of_pool[p] in designated[program])
                and rtt_between(home, pool_region[p]) <= limit
            ]
            candidates[key] = np.array(ok, dtype=int)
        return candidates[key]

    ent = enterprises.set_index("enterprise_id").to_dict("index")
    prog = programs.set_index("program_id").to_dict("index")
    by_enterprise = pd.Series(np.arange(len(demands))).groupby(demands["enterprise_id"].to_numpy()).apply(list).to_dict()
    demand_program = demands["enterprise_id"].map(lambda e: ent[e]["program_id"]).to_numpy()
    target = {g: math.ceil(shares.get(g, 0.0) * int((demand_program == g).sum())) for g in prog}
    count = dict.fromkeys(prog, 0)
    spent = dict.fromkeys(prog, 0.0)
    stack_of = demands["stack"].to_numpy()
    home_of = demands["home_region"].to_numpy()
    class_of = demands["latency_class"].to_numpy()
    demand_ids = demands["demand_id"].to_numpy()
    pool_ids = pools["pool_id"].to_numpy()
    ch = demands["card_hours"].to_numpy(dtype=float)
    per_period = demands["max_cards"].to_numpy(dtype=float) * period_hours
    release = demands["release"].to_numpy()
    deadline = demands["deadline"].to_numpy()

    for e in rng.permutation(np.array(sorted(by_enterprise), dtype=object)):
        if all(count[g] >= target[g] for g in target):
            break
        row = ent[e]
        g = row["program_id"]
        if target.get(g, 0) <= count[g] or str(row["eligible"]) != "true":
            continue
        rate = float(prog[g]["rate"])
        remaining_cap = max(0.0, float(prog[g]["enterprise_cap_yuan"]) - float(row["subsidy_ytd_yuan"]))
        min_voucher, min_spend = float(prog[g]["min_voucher_yuan"]), float(prog[g]["min_spend_yuan"])
        spend_ytd = float(row["spend_ytd_yuan"])
        placed: list[tuple[int, int, list[tuple[int, float]], float]] = []  # (demand, pool, [(t, ch)], bill)

        def meets(bill: float, rate=rate, cap=remaining_cap, mv=min_voucher, ms=min_spend, ytd=spend_ytd) -> bool:
            return bill > 0 and min(rate * bill, cap) >= mv + MARGIN and ytd + bill >= ms + MARGIN

        bill_e = 0.0
        for d in rng.permutation(by_enterprise[e]):
            if count[g] + len(placed) >= target[g] and meets(bill_e):
                break
            stack = stack_of[d]
            cand = pools_for(g, stack, home_of[d], class_of[d])
            if not len(cand):
                continue
            r, dl = release[d], deadline[d] + 1
            u = ch[d] / eff_of[stack][cand]
            avail = np.minimum(free[cand, r:dl], per_period[d]).sum(axis=1)
            fits = np.flatnonzero(avail >= u * (1 + 1e-6) + 1e-6)
            if not len(fits):
                continue
            j = fits[np.argmax(avail[fits])]
            p = int(cand[j])
            left, parts = float(u[j]), []
            for t in range(r, dl):
                take = min(left, per_period[d], free[p, t])
                if take > 0:
                    parts.append((t, take))
                    free[p, t] -= take
                    left -= take
                if left <= 0:
                    break
            if left > 1e-9:  # cannot happen (avail >= u), but never leave a partial placement
                for t, take in parts:
                    free[p, t] += take
                continue
            parts[-1] = (parts[-1][0], parts[-1][1] + left)  # left is 0 up to round-off
            bill = float(u[j]) * price[p] + adapt_of[stack][p]
            placed.append((int(d), p, parts, bill))
            bill_e += bill
        subsidy = min(rate * bill_e, remaining_cap)
        if placed and meets(bill_e) and spent[g] + subsidy <= BUDGET_SHARE * float(prog[g]["budget_yuan"]):
            spent[g] += subsidy
            count[g] += len(placed)
            for d, p, parts, _ in placed:
                flags[d] = True
                witness.assignments.append((demand_ids[d], pool_ids[p]))
                witness.schedule += [(demand_ids[d], pool_ids[p], t, x) for t, x in parts]
        else:
            for _, p, parts, _ in placed:
                for t, take in parts:
                    free[p, t] += take
    return flags, witness
