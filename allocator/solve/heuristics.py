"""Rule-respecting one-pass heuristics: first-come-first-served and greedy.

Today's practice is first-come-first-served approval: applications are taken in
arrival (file) order and each is approved if some allowed pool still has room and
the fund and the enterprise cap still cover it, placed at the cheapest such pool.
``greedy`` takes demands by decreasing priority-weighted value per subsidy yuan.
Must-serve demands are placed first in both. Every accepted demand keeps all of
R1-R10 true for the plan so far, so the final plan passes ``allocator check``.

The same pass gives the exact method a starting incumbent (a MIP start) and a
fallback plan when the solver finds none within its time limit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.solve.state import SLACK, HeuristicPlan, PairRecord, PlacementState, commit_kept, pair_records


def demand_order(instance: Instance, screen: Screen, method: str) -> list[str]:
    """Must-serve demands first, then file order (fcfs) or value per subsidy yuan (greedy)."""
    d = instance.demands[instance.demands["demand_id"].isin(set(screen.pairs["demand_id"]))]
    position = pd.Series(np.arange(len(d)), index=d["demand_id"])
    must = d.set_index("demand_id")["must_serve"]
    if method == "fcfs":
        key = position
    elif method == "greedy":
        pairs = screen.pairs
        cheapest = pd.Series(pairs["claim_yuan"].to_numpy()).groupby(pairs["demand_id"].to_numpy()).min()
        value = pairs.groupby("demand_id")["value"].first()
        per_yuan = value / cheapest.reindex(value.index).clip(lower=1e-9)
        key = -per_yuan.reindex(position.index)
    else:
        raise ValueError(f"unknown heuristic '{method}'")
    frame = pd.DataFrame({"must": ~must.reindex(position.index), "key": key, "pos": position})
    return list(frame.sort_values(["must", "key", "pos"], kind="stable").index)


def enterprise_sequence(instance: Instance, screen: Screen) -> np.ndarray:
    """Pairs for a cap-aware pass: whole enterprises by value per subsidy yuan if all their
    demands were served at their pools of the smallest claim (min(sum of r(d, p) x bill, remaining
    cap) of R8, so an enterprise past its cap pays nothing more for further demands), each enterprise's demands
    by decreasing value, each demand's pools by bill; must-serve demands first. Computed once
    per screen (it depends on nothing else)."""
    cached = screen.__dict__.get("_enterprise_sequence")
    if cached is not None and cached[0] is instance and len(cached[1]) == len(screen.pairs):
        return cached[1]
    sequence = _enterprise_sequence(instance, screen)
    screen.__dict__["_enterprise_sequence"] = (instance, sequence)
    return sequence


def _enterprise_sequence(instance: Instance, screen: Screen) -> np.ndarray:
    pairs = screen.pairs
    ent = instance.enterprises.set_index("enterprise_id")
    demand = pairs["demand_id"].to_numpy()
    first = pairs.drop_duplicates("demand_id").set_index("demand_id")
    cheapest = pairs.groupby("demand_id", sort=False)["claim_yuan"].min()
    owner = first["enterprise_id"]
    claim_e = cheapest.groupby(owner).sum()
    value_e = first["value"].groupby(owner).sum()
    remaining = remaining_cap_yuan(ent)
    subsidy_e = np.minimum(claim_e, remaining.reindex(claim_e.index))
    per_yuan = value_e / subsidy_e.clip(lower=1e-9)
    key_e = pd.Series(demand).map(owner).map(per_yuan).to_numpy()
    codes = pd.factorize(demand, sort=False)[0]
    must = pairs["must_serve"].to_numpy(dtype=bool)
    return np.lexsort((pairs["pool_idx"].to_numpy(), pairs["bill_yuan"].to_numpy(), codes,
                       -pairs["value"].to_numpy(), -key_e, ~must))


def place(instance: Instance, screen: Screen, method: str = "fcfs") -> HeuristicPlan:
    """One pass over the demands; each is placed at its cheapest pool where every rule still holds."""
    pairs = screen.pairs
    order = demand_order(instance, screen, method)
    rank = pd.Series(np.arange(len(order)), index=order)
    # every pair once, by the demand's turn, then cheapest bill, then pool order
    turn = pairs["demand_id"].map(rank).to_numpy()
    return place_in_order(instance, screen, np.lexsort((pairs["pool_idx"].to_numpy(), pairs["bill_yuan"].to_numpy(), turn)))


def place_in_order(instance: Instance, screen: Screen, sequence: np.ndarray, keep: HeuristicPlan | None = None) -> HeuristicPlan:
    """Try the pairs in ``sequence`` (each demand's pairs consecutive, must-serve demands first);
    a demand takes the first of its pairs where every rule still holds.

    ``keep`` is a plan already made (for instance the merge of a partitioned solve): its pairs
    and schedule are committed first, unchanged, and the pass only adds demands it left out.
    """
    pairs = screen.pairs
    state = PlacementState(instance, screen)
    chosen = np.zeros(len(pairs), dtype=bool)
    rows: list[tuple[str, str, int, float]] = []
    if keep is not None:
        chosen |= keep.chosen
        rows += commit_kept(state, screen, keep)
        placed = set(pairs["demand_id"].to_numpy()[keep.chosen])
        sequence = sequence[~pairs["demand_id"].iloc[sequence].isin(placed).to_numpy()]
    records = pair_records(screen)[sequence]
    must = set(instance.demands.loc[instance.demands["must_serve"], "demand_id"])
    missing_must: list[str] = []
    ids = pairs["demand_id"].to_numpy()[sequence]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, dtype=int)
    ends = np.r_[starts[1:], len(ids)]
    bills = pairs["bill_yuan"].to_numpy()[sequence]
    claims = pairs["claim_yuan"].to_numpy()[sequence]
    # each demand's pools in order of claim: once the budget cannot pay one, it cannot pay the later ones
    same = ids[1:] == ids[:-1]
    claim_ascending = bool(np.all(claims[1:][same] >= claims[:-1][same]))
    most_bill = np.maximum.reduceat(bills, starts) if len(starts) else np.zeros(0)  # each demand's largest bill
    most_claim = np.maximum.reduceat(claims, starts) if len(starts) else np.zeros(0)  # and largest claim
    for a, b, bill_top, claim_top in zip(starts, ends, most_bill, most_claim):
        current, e = records[a][0], records[a][1]
        if not state.thresholds_met(e, state.bill[e] + bill_top, state.claim[e] + claim_top):
            if current in must:  # no pool of the demand lifts e over its thresholds
                missing_must.append(current)
            continue
        placed_here = False
        for i in range(a, b):
            pair = PairRecord(*records[i])
            ok, delta, budget = state.money_check(e, float(pair.bill_yuan), float(pair.claim_yuan))
            if not ok:
                if budget and claim_ascending:
                    break
                continue
            plan = state.fit(pair, float(pair.kw_per_card))
            if plan is None:
                continue
            state.commit(pair, plan, float(pair.kw_per_card), delta)
            chosen[sequence[i]] = True
            placed_here = True
            rows += [(current, pair.pool_id, t, amount) for t, amount in plan.items() if amount > 0]
            break
        if not placed_here and current in must:
            missing_must.append(current)
    schedule = pd.DataFrame(rows, columns=["demand_id", "pool_id", "period", "card_hours"])
    return HeuristicPlan(chosen, schedule, missing_must)


def place_enterprises(instance: Instance, screen: Screen, groups: list[np.ndarray], keep: HeuristicPlan | None = None,
                      dearest_retry: bool = False) -> HeuristicPlan:
    """Place whole enterprises: ``groups`` holds, per enterprise, its pairs in order of preference.
    Within a group every demand takes the first of its pairs
    that fits the capacity, energy and budget left; the thresholds of R8 are checked once, on the
    enterprise's total bill, and an enterprise that misses them is rolled back whole.

    A demand-by-demand pass (:func:`place_in_order`) can never serve an enterprise whose single
    demands each fall below the minimum voucher although their sum would not; this pass can.
    ``keep`` is committed first, unchanged; must-serve demands should come in the first groups.
    ``dearest_retry``: an enterprise that misses its thresholds is tried once more with each demand at its
    dearest pool where it fits (a larger bill meets a minimum spend or voucher that the cheap pools cannot).
    Only for must-serve placement: where the fund binds, dearer placements spend it on fewer demands (the
    national-like 1000 x 1 regime day's price-and-fix fell from 2,712 to 2,473 with it).
    """
    pairs = screen.pairs
    state = PlacementState(instance, screen)
    chosen = np.zeros(len(pairs), dtype=bool)
    rows: list[tuple] = []
    records = pair_records(screen)
    placed: set = set()
    if keep is not None:
        chosen |= keep.chosen
        rows += commit_kept(state, screen, keep)
        placed = set(pairs["demand_id"].to_numpy()[keep.chosen])
    smallest_claim = pairs.groupby("demand_id", sort=False)["claim_yuan"].min().to_dict()
    bill = pairs["bill_yuan"].to_numpy(dtype=float)
    for group in groups:
        if not len(group):
            continue
        e = records[group[0]][1]
        g = state.program_of[e]
        first_claim = min(smallest_claim[records[k][0]] for k in group)
        if state.rise(e, first_claim) > state.budget_left[g] + SLACK * max(1.0, abs(state.budget_left[g])):
            continue  # the budget cannot pay even its smallest claim
        saved = (state.room.copy(), state.energy.copy(), state.budget_left[g], state.bill[e], state.claim[e])
        new_pairs, new_rows = _place_group(state, records, group, placed)
        if new_pairs and not state.thresholds_met(e):  # below its thresholds at the pools it prefers
            _restore(state, e, g, saved)
            if not dearest_retry:
                continue
            group = np.asarray(group)
            dearest_first = group[np.lexsort((-bill[group], pd.factorize(pairs["demand_id"].to_numpy()[group])[0]))]
            new_pairs, new_rows = _place_group(state, records, dearest_first, placed)
            if new_pairs and not state.thresholds_met(e):
                _restore(state, e, g, saved)
                continue
        chosen[new_pairs] = True
        placed.update(records[k][0] for k in new_pairs)
        rows += new_rows
    must = set(instance.demands.loc[instance.demands["must_serve"], "demand_id"])
    schedule = pd.DataFrame(rows, columns=["demand_id", "pool_id", "period", "card_hours"])
    return HeuristicPlan(chosen, schedule, sorted(must & set(pairs["demand_id"]) - placed))


def _place_group(state: PlacementState, records, group, placed: set) -> tuple[list[int], list[tuple]]:
    """Commit each demand of ``group`` (pairs in order of preference) at the first of its pairs that fits the
    capacity, energy and budget left; the thresholds are the caller's. Returns the pairs and schedule rows."""
    new_pairs: list[int] = []
    new_rows: list[tuple] = []
    done: set = set()
    for k in group:
        record = records[k]
        if record[0] in done or record[0] in placed:
            continue
        if record[9] == record[10] and state.room[record[3], record[9]] < record[5] - SLACK * max(1.0, record[5]):
            continue  # one period and not the room for it there
        pair = PairRecord(*record)
        e = pair.enterprise_id
        g = state.program_of[e]
        delta = state.rise(e, float(pair.claim_yuan))
        if delta > state.budget_left[g] + SLACK * max(1.0, abs(state.budget_left[g])):
            continue
        plan = state.fit(pair, float(pair.kw_per_card))
        if plan is None:
            continue
        state.commit(pair, plan, float(pair.kw_per_card), delta)
        new_pairs.append(int(k))
        done.add(pair.demand_id)
        new_rows += [(pair.demand_id, pair.pool_id, t, amount) for t, amount in plan.items() if amount > 0]
    return new_pairs, new_rows


def _restore(state: PlacementState, e, g, saved: tuple) -> None:
    """Undo a group's commits: the room, energy, budget and enterprise totals as ``saved`` before it."""
    state.room, state.energy = saved[0].copy(), saved[1].copy()
    state.budget_left[g], state.bill[e], state.claim[e] = saved[2], saved[3], saved[4]


def must_serve_first(instance: Instance, screen: Screen) -> HeuristicPlan | None:
    """A baseline for days with must-serve demands: each owner's must-serve demands placed together first
    (their thresholds on the enterprise's total, so requests that miss the minimum voucher one by one can
    still be served together), owners whose must-serve demands alone miss them with the rest of their
    demands, then the cap-aware pass over everything else. None when no demand is must-serve.
    (The demand-by-demand passes left all 112 must-serve demands of a 5,000 x 24 h day out: none of
    them reaches a 10,000 yuan minimum voucher alone.)"""
    pairs = screen.pairs
    must = pairs["must_serve"].to_numpy(dtype=bool)
    if not must.any():
        return None
    sequence = enterprise_sequence(instance, screen)
    owner = pairs["enterprise_id"].to_numpy()
    plan = place_enterprises(instance, screen, _groups(sequence[must[sequence]], owner), dearest_retry=True)
    if plan.unplaced_must_serve:
        missing = pairs["demand_id"].isin(set(plan.unplaced_must_serve)).to_numpy()
        whole = np.isin(owner, np.unique(owner[missing]))
        plan = place_enterprises(instance, screen, _groups(sequence[whole[sequence]], owner), keep=plan, dearest_retry=True)
    return place_in_order(instance, screen, sequence, keep=plan)


def _groups(sequence: np.ndarray, owner: np.ndarray) -> list[np.ndarray]:
    """``sequence`` split by enterprise, in order of each enterprise's first pair, each keeping its order."""
    if not len(sequence):
        return []
    codes, _ = pd.factorize(owner[sequence], sort=False)
    order = np.argsort(codes, kind="stable")
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(sequence[order], cuts)


def cheaper_pools(instance: Instance, screen: Screen, plan: HeuristicPlan, seconds: float) -> tuple[HeuristicPlan, int]:
    """The cost stage for plans too large for a MIP: every served demand, largest bill first, moves to
    the pair that lowers the cost K (bill + carbon price x grid emissions) most among those where it
    fits with every rule kept (capacity, energy, green share where it goes and where it leaves, budget,
    thresholds); the served demands
    stay the same. Returns the plan and the number of moves."""
    import time

    deadline = time.perf_counter() + seconds
    pairs = screen.pairs
    state = PlacementState(instance, screen)
    commit_kept(state, screen, plan)
    records = pair_records(screen)
    centers = instance.centers
    intensity = centers["region_id"].map(instance.regions.set_index("region_id")["grid_carbon_kg_per_kwh"]).fillna(0.0)
    carbon = instance.carbon_price_yuan_per_kg * intensity.to_numpy(dtype=float)  # yuan per grid kWh
    schedule = {}
    for d, pool, t, amount in plan.schedule[["demand_id", "pool_id", "period", "card_hours"]].itertuples(index=False):
        schedule.setdefault(d, {})[int(t)] = schedule.get(d, {}).get(int(t), 0.0) + float(amount)
    demand = pairs["demand_id"].to_numpy()
    bill = pairs["bill_yuan"].to_numpy(dtype=float)
    claim = pairs["claim_yuan"].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, demand[1:] != demand[:-1]])
    bounds = dict(zip(demand[starts], zip(starts, np.r_[starts[1:], len(demand)])))
    chosen = plan.chosen.copy()
    moves = 0
    for k in np.flatnonzero(plan.chosen)[np.argsort(-bill[plan.chosen], kind="stable")]:
        if time.perf_counter() > deadline:
            break
        current = PairRecord(*records[k])
        a, b = bounds[current.demand_id]
        others = [j for j in range(a, b) if j != k]
        if not others:
            continue
        kept_plan = schedule.get(current.demand_id, {})
        cost_before = state.grid_kwh(int(current.center_idx)) * carbon[int(current.center_idx)]
        state.uncommit(current, kept_plan, float(current.kw_per_card))
        base = cost_before - state.grid_kwh(int(current.center_idx)) * carbon[int(current.center_idx)]  # carbon of k
        best = (bill[k] + base, None, None, None)
        e = current.enterprise_id
        # leaving its center can break that center's green share (R6): then only moves within it
        may_leave = state.share_holds(int(current.center_idx))
        for j in sorted(others, key=lambda j: bill[j]):
            if bill[j] >= best[0]:
                break
            pair = PairRecord(*records[j])
            if not may_leave and int(pair.center_idx) != int(current.center_idx):
                continue
            delta = state.rise(e, claim[j])
            g = state.program_of[e]
            if delta > state.budget_left[g] + SLACK * max(1.0, abs(state.budget_left[g])):
                continue
            fit = state.fit(pair, float(pair.kw_per_card))
            if fit is None:
                continue
            c = int(pair.center_idx)
            grid_before = state.grid_kwh(c)
            state.commit(pair, fit, float(pair.kw_per_card), delta)
            cost = bill[j] + (state.grid_kwh(c) - grid_before) * carbon[c]
            met = state.thresholds_met(e)
            state.uncommit(pair, fit, float(pair.kw_per_card))
            if met and cost < best[0] - SLACK * max(1.0, best[0]):
                best = (cost, j, pair, fit)
        if best[1] is None:
            _, delta = state.money_ok(e, bill[k], claim[k])
            state.commit(current, kept_plan, float(current.kw_per_card), delta)
            continue
        _, j, pair, fit = best
        _, delta = state.money_ok(e, bill[j], claim[j])
        state.commit(pair, fit, float(pair.kw_per_card), delta)
        chosen[k], chosen[j] = False, True
        schedule[current.demand_id] = fit
        moves += 1
    rows = [(d, pairs["pool_id"].iat[k], t, amount) for k in np.flatnonzero(chosen)
            for d in [demand[k]] for t, amount in schedule.get(d, {}).items() if amount > 0]
    return HeuristicPlan(chosen, pd.DataFrame(rows, columns=["demand_id", "pool_id", "period", "card_hours"]),
                         plan.unplaced_must_serve), moves


