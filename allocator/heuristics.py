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

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.reading import Instance
from allocator.screening import Screen

SLACK = 1e-9


@dataclass
class HeuristicPlan:
    chosen: np.ndarray  # bool per pair k of screen.pairs
    schedule: pd.DataFrame  # demand_id, pool_id, period, card_hours
    unplaced_must_serve: list[str]


class _State:
    """Resources left while demands are placed one by one."""

    def __init__(self, instance: Instance, screen: Screen):
        self.inst = instance
        self.room = screen.capacity_card_hours.copy()  # (pools, periods) card-hours left
        n_centers = len(instance.centers)
        self.energy = np.zeros((n_centers, instance.periods))
        self.green_kwh = screen.green_kwh
        c = instance.centers
        self.pue = c["pue"].to_numpy(dtype=float)
        self.grid_cap = c["grid_kwh_cap"].to_numpy(dtype=float)
        self.share = c["min_green_share"].to_numpy(dtype=float)
        ent = instance.enterprises.set_index("enterprise_id")
        self.rate = ent["rate"].to_dict()
        self.cap_left = (ent["cap_yuan"] - ent["subsidy_ytd_yuan"]).clip(lower=0.0).to_dict()
        self.spend_ytd = ent["spend_ytd_yuan"].to_dict()
        self.program_of = ent["program_id"].to_dict()
        prog = instance.programs.set_index("program_id")
        self.budget_left = prog["budget_yuan"].astype(float).to_dict()
        self.min_voucher = prog["min_voucher_yuan"].to_dict()
        self.min_spend = prog["min_spend_yuan"].to_dict()
        self.bill = {e: 0.0 for e in ent.index}

    def subsidy(self, e: str, bill: float) -> float:
        return min(self.rate[e] * bill, self.cap_left[e])

    def money_ok(self, e: str, extra_bill: float) -> tuple[bool, float]:
        """R8 thresholds and R9 budget after adding ``extra_bill`` to e; returns (ok, subsidy increase)."""
        before, after = self.bill[e], self.bill[e] + extra_bill
        delta = self.subsidy(e, after) - self.subsidy(e, before)
        g = self.program_of[e]
        if delta > self.budget_left[g] + SLACK * max(1.0, abs(self.budget_left[g])):
            return False, delta
        if after > 0:
            tol = SLACK * max(1.0, after)
            if self.subsidy(e, after) < self.min_voucher[g] - tol:
                return False, delta
            if self.spend_ytd[e] + after < self.min_spend[g] - tol:
                return False, delta
        return True, delta

    def fit(self, pair, kw: float) -> dict[int, float] | None:
        """Card-hours per period for the pair, earliest periods first, or None if it does not fit."""
        p, c = int(pair.pool_idx), int(pair.center_idx)
        need = float(pair.usage_card_hours)
        per_period = float(pair.max_card_hours_per_period)
        plan: dict[int, float] = {}
        for t in range(int(pair.release), int(pair.deadline) + 1):
            if need <= SLACK * max(1.0, pair.usage_card_hours):
                break
            take = min(need, per_period, self.room[p, t])
            if take <= 0:
                continue
            take = self._energy_room(c, t, kw, take)
            if take <= 0:
                continue
            plan[t] = take
            need -= take
        if need > SLACK * max(1.0, pair.usage_card_hours):
            return None
        if not self._share_ok(c, plan, kw):
            return None
        return plan

    def _energy_room(self, c: int, t: int, kw: float, take: float) -> float:
        """Largest usage <= take that keeps the grid draw of center c in period t within its cap."""
        if math.isinf(self.grid_cap[c]) or kw == 0:
            return take
        per_card_hour = kw * self.pue[c]
        allowed_energy = self.green_kwh[c, t] + self.grid_cap[c]  # energy at which grid hits the cap
        room_kwh = allowed_energy - self.energy[c, t]
        return max(0.0, min(take, room_kwh / per_card_hour))

    def _share_ok(self, c: int, plan: dict[int, float], kw: float) -> bool:
        if self.share[c] <= 0:
            return True
        energy = self.energy[c].copy()
        for t, amount in plan.items():
            energy[t] += amount * kw * self.pue[c]
        green = np.minimum(energy, self.green_kwh[c]).sum()
        return green >= self.share[c] * energy.sum() - SLACK * max(1.0, energy.sum())

    def commit(self, pair, plan: dict[int, float], kw: float, delta: float) -> None:
        p, c = int(pair.pool_idx), int(pair.center_idx)
        for t, amount in plan.items():
            self.room[p, t] -= amount
            self.energy[c, t] += amount * kw * self.pue[c]
        e = pair.enterprise_id
        self.bill[e] += float(pair.bill_yuan)
        self.budget_left[self.program_of[e]] -= delta


def demand_order(instance: Instance, screen: Screen, method: str) -> list[str]:
    """Must-serve demands first, then file order (fcfs) or value per subsidy yuan (greedy)."""
    d = instance.demands[instance.demands["demand_id"].isin(set(screen.pairs["demand_id"]))]
    position = pd.Series(np.arange(len(d)), index=d["demand_id"])
    must = d.set_index("demand_id")["must_serve"]
    if method == "fcfs":
        key = position
    elif method == "greedy":
        pairs = screen.pairs
        ent = instance.enterprises.set_index("enterprise_id")
        rate = pairs["enterprise_id"].map(ent["rate"]).to_numpy()
        cheapest = pd.Series(rate * pairs["bill_yuan"].to_numpy()).groupby(pairs["demand_id"].to_numpy()).min()
        value = pairs.groupby("demand_id")["value"].first()
        per_yuan = value / cheapest.reindex(value.index).clip(lower=1e-9)
        key = -per_yuan.reindex(position.index)
    else:
        raise ValueError(f"unknown heuristic '{method}'")
    frame = pd.DataFrame({"must": ~must.reindex(position.index), "key": key, "pos": position})
    return list(frame.sort_values(["must", "key", "pos"], kind="stable").index)


def enterprise_sequence(instance: Instance, screen: Screen) -> np.ndarray:
    """Pairs for a cap-aware pass: whole enterprises by value per subsidy yuan if all their
    demands were served at their cheapest pools (min(rate x bill, remaining cap) of R8, so an
    enterprise past its cap pays nothing more for further demands), each enterprise's demands
    by decreasing value, each demand's pools by bill; must-serve demands first."""
    pairs = screen.pairs
    ent = instance.enterprises.set_index("enterprise_id")
    demand = pairs["demand_id"].to_numpy()
    first = pairs.drop_duplicates("demand_id").set_index("demand_id")
    cheapest = pairs.groupby("demand_id", sort=False)["bill_yuan"].min()
    owner = first["enterprise_id"]
    bill_e = cheapest.groupby(owner).sum()
    value_e = first["value"].groupby(owner).sum()
    remaining = (ent["cap_yuan"] - ent["subsidy_ytd_yuan"]).clip(lower=0.0)
    subsidy_e = np.minimum(ent["rate"].reindex(bill_e.index) * bill_e, remaining.reindex(bill_e.index))
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
    state = _State(instance, screen)
    chosen = np.zeros(len(pairs), dtype=bool)
    rows: list[tuple[str, str, int, float]] = []
    if keep is not None:
        chosen |= keep.chosen
        rows += [tuple(r) for r in keep.schedule[["demand_id", "pool_id", "period", "card_hours"]].itertuples(index=False)]
        by_demand = keep.schedule.groupby("demand_id")
        kept = pairs[keep.chosen]
        for k, row in zip(np.flatnonzero(keep.chosen), kept[_PAIR_COLUMNS].to_numpy(dtype=object)):
            pair = _Pair(*row)
            _, delta = state.money_ok(pair.enterprise_id, float(pair.bill_yuan))
            frame = by_demand.get_group(pair.demand_id)
            state.commit(pair, dict(zip(frame["period"].astype(int), frame["card_hours"].astype(float))), float(pair.kw_per_card), delta)
        placed = set(kept["demand_id"])
        sequence = sequence[~pairs["demand_id"].iloc[sequence].isin(placed).to_numpy()]
    records = pairs[_PAIR_COLUMNS].to_numpy(dtype=object)[sequence]
    must = set(instance.demands.loc[instance.demands["must_serve"], "demand_id"])
    missing_must: list[str] = []
    placed_demand = None
    current = None
    for k, row in zip(sequence, records):
        pair = _Pair(*row)
        if pair.demand_id != current:
            if current is not None and placed_demand != current and current in must:
                missing_must.append(current)
            current = pair.demand_id
        if placed_demand == current:
            continue
        ok, delta = state.money_ok(pair.enterprise_id, float(pair.bill_yuan))
        if not ok:
            continue
        plan = state.fit(pair, float(pair.kw_per_card))
        if plan is None:
            continue
        state.commit(pair, plan, float(pair.kw_per_card), delta)
        chosen[k] = True
        placed_demand = current
        rows += [(current, pair.pool_id, t, amount) for t, amount in plan.items() if amount > 0]
    if current is not None and placed_demand != current and current in must:
        missing_must.append(current)
    schedule = pd.DataFrame(rows, columns=["demand_id", "pool_id", "period", "card_hours"])
    return HeuristicPlan(chosen, schedule, missing_must)


_PAIR_COLUMNS = ["demand_id", "enterprise_id", "pool_id", "pool_idx", "center_idx", "usage_card_hours", "bill_yuan",
                 "kw_per_card", "max_card_hours_per_period", "release", "deadline"]


@dataclass
class _Pair:
    demand_id: str
    enterprise_id: str
    pool_id: str
    pool_idx: int
    center_idx: int
    usage_card_hours: float
    bill_yuan: float
    kw_per_card: float
    max_card_hours_per_period: float
    release: int
    deadline: int
