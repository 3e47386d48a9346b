"""What a rule-keeping pass knows while it places demands one by one: the room left in every pool and
period, the energy of every center, each enterprise's bill and claim and each fund's budget left
(:class:`PlacementState`), and the screened pairs as plain records (:func:`pair_records`).

Every baseline and repair pass (:mod:`allocator.solve.heuristics`) commits a demand only when
:class:`PlacementState` says every rule still holds, so its plans pass ``allocator check``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance

SLACK = 1e-9


@dataclass
class HeuristicPlan:
    chosen: np.ndarray  # bool per pair k of screen.pairs
    schedule: pd.DataFrame  # demand_id, pool_id, period, card_hours
    unplaced_must_serve: list[str]


class PlacementState:
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
        self.cap_left = remaining_cap_yuan(ent).to_dict()
        self.spend_ytd = ent["spend_ytd_yuan"].to_dict()
        self.program_of = ent["program_id"].to_dict()
        prog = instance.programs.set_index("program_id")
        self.budget_left = prog["budget_yuan"].astype(float).to_dict()
        self.min_voucher = prog["min_voucher_yuan"].to_dict()
        self.min_spend = prog["min_spend_yuan"].to_dict()
        self.bill = {e: 0.0 for e in ent.index}
        self.claim = {e: 0.0 for e in ent.index}  # A_e: sum of r(d, p) x bill of e's placed demands

    def subsidy(self, e: str, claim: float) -> float:
        """S_e = min(A_e, C_e) of R8 for a claim A_e (sum of r(d, p) x bill)."""
        return min(claim, self.cap_left[e])

    def rise(self, e: str, extra_claim: float) -> float:
        """How much e's subsidy grows when ``extra_claim`` is added to its claim."""
        return self.subsidy(e, self.claim[e] + extra_claim) - self.subsidy(e, self.claim[e])

    def money_ok(self, e: str, extra_bill: float, extra_claim: float) -> tuple[bool, float]:
        """R8 thresholds and R9 budget after adding a demand of bill ``extra_bill`` and claim
        ``extra_claim`` (r(d, p) x bill) to e; returns (ok, subsidy increase)."""
        ok, delta, _ = self.money_check(e, extra_bill, extra_claim)
        return ok, delta

    def money_check(self, e: str, extra_bill: float, extra_claim: float) -> tuple[bool, float, bool]:
        """(ok, subsidy increase, the budget is what failed): a larger claim fails the budget too, since
        the subsidy min(A, C) never falls as the claim grows."""
        after = self.bill[e] + extra_bill
        delta = self.rise(e, extra_claim)
        g = self.program_of[e]
        if delta > self.budget_left[g] + SLACK * max(1.0, abs(self.budget_left[g])):
            return False, delta, True
        if after > 0:
            tol = SLACK * max(1.0, after)
            if self.subsidy(e, self.claim[e] + extra_claim) < self.min_voucher[g] - tol:
                return False, delta, False
            if self.spend_ytd[e] + after < self.min_spend[g] - tol:
                return False, delta, False
        return True, delta, False

    def thresholds_met(self, e: str, bill: float | None = None, claim: float | None = None) -> bool:
        """R8's minimum voucher and minimum spend, for e's bill and claim so far, or ``bill`` and ``claim``
        (nothing billed: met); a larger bill and claim meet them whenever smaller ones do."""
        bill = self.bill[e] if bill is None else bill
        claim = self.claim[e] if claim is None else claim
        if bill <= 0:
            return True
        g = self.program_of[e]
        tol = SLACK * max(1.0, bill)
        return self.subsidy(e, claim) >= self.min_voucher[g] - tol and self.spend_ytd[e] + bill >= self.min_spend[g] - tol

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

    def share_holds(self, c: int) -> bool:
        """R6's minimum green share of center c over the horizon, as committed so far."""
        return self._share_ok(c, {}, 0.0)

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
        self.claim[e] += float(pair.claim_yuan)
        self.budget_left[self.program_of[e]] -= delta

    def uncommit(self, pair, plan: dict[int, float], kw: float) -> None:
        """Take a committed pair out again (its usage, energy, bill and subsidy)."""
        p, c = int(pair.pool_idx), int(pair.center_idx)
        for t, amount in plan.items():
            self.room[p, t] += amount
            self.energy[c, t] -= amount * kw * self.pue[c]
        e = pair.enterprise_id
        before = self.subsidy(e, self.claim[e])
        self.bill[e] -= float(pair.bill_yuan)
        self.claim[e] -= float(pair.claim_yuan)
        self.budget_left[self.program_of[e]] += before - self.subsidy(e, self.claim[e])

    def grid_kwh(self, c: int) -> float:
        """Grid energy of center c over the horizon: sum_t max(0, energy - green)."""
        return float(np.maximum(self.energy[c] - self.green_kwh[c], 0.0).sum())


def pair_records(screen: Screen) -> np.ndarray:
    """The pairs' columns the passes read, as Python objects, built once per screen (a national
    instance has millions of pairs, and every pass would otherwise convert them again)."""
    cached = screen.__dict__.get("_pass_records")
    if cached is None or len(cached) != len(screen.pairs):
        cached = screen.pairs[PAIR_COLUMNS].to_numpy(dtype=object)
        screen.__dict__["_pass_records"] = cached
    return cached


def commit_kept(state: PlacementState, screen: Screen, keep: HeuristicPlan) -> list[tuple]:
    """Commit a plan already made (its pairs and schedule, unchanged) to ``state``; its schedule rows."""
    schedule = keep.schedule
    demand = schedule["demand_id"].to_numpy(dtype=object)
    period = schedule["period"].to_numpy(dtype=int)
    amount = schedule["card_hours"].to_numpy(dtype=float)
    order = np.argsort(demand, kind="stable")
    ids, first = np.unique(demand[order], return_index=True)
    bounds = dict(zip(ids, zip(first, np.r_[first[1:], len(order)])))
    for row in pair_records(screen)[keep.chosen]:
        pair = PairRecord(*row)
        _, delta = state.money_ok(pair.enterprise_id, float(pair.bill_yuan), float(pair.claim_yuan))
        a, b = bounds.get(pair.demand_id, (0, 0))
        state.commit(pair, dict(zip(period[order[a:b]].tolist(), amount[order[a:b]].tolist())), float(pair.kw_per_card), delta)
    return list(zip(demand.tolist(), schedule["pool_id"].to_numpy(dtype=object).tolist(), period.tolist(), amount.tolist()))


PAIR_COLUMNS = ["demand_id", "enterprise_id", "pool_id", "pool_idx", "center_idx", "usage_card_hours", "bill_yuan",
                 "kw_per_card", "max_card_hours_per_period", "release", "deadline", "claim_yuan"]


@dataclass
class PairRecord:
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
    claim_yuan: float  # r(d, p) x bill_yuan (R8)
