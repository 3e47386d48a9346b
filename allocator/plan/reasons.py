"""Why each request was left out: ``not_selected`` refined into the binding resource.

The method is exact for the question it states. (Why an instance has no plan at all is
:mod:`allocator.solve.infeasible`.)

not_selected refined into the binding resource
==============================================

A demand that passes pre-screening and is not ``below_threshold`` is
``not_selected``. :func:`refine_reasons` names the resource that keeps it out:

    not_selected:budget    its programme's budget (R9)
    not_selected:capacity  the cards of its candidate pools (R5)
    not_selected:green     the grid cap and green share of its candidate centers (R6)
    not_selected:cap       its enterprise's annual cap (R8)

**The question.** Keep every other served demand exactly where and when the plan
runs it (same pool, same card-hours per period, so the same pool usage, center
energy, enterprise bills and subsidies). Could the demand be added at one of its
candidate pools -- the pools that survive pre-screening, R1-R4 -- with some
schedule inside its window, so that every rule holds?

* If yes, as the instance stands, nothing is binding: the reason stays plain
  ``not_selected`` (a plan stopped by a time limit, a heuristic plan, or a demand
  of zero value, which the value stage has no reason to add).
* Otherwise the families are relaxed **one at a time**, in the order budget,
  capacity, green, cap, and the first whose removal alone lets the demand in
  names the reason. Relaxing means: budget -- its programme's budget_yuan = inf;
  capacity -- no card limit on its candidate pools (its own max_cards still holds);
  green -- no grid_kwh_cap and no min_green_share at its candidate centers;
  cap -- its enterprise's cap_yuan = inf (which raises the enterprise's subsidy to
  its claim A_e = sum of r(d, p) x bill, for the plan's own demands too, and so also
  draws on the budget).
* If no single relaxation lets it in (two or more resources bind together), the
  reason stays plain ``not_selected``.
* A demand whose enterprise has nothing billed and that misses the thresholds alone
  (it can be served only together with other requests of its enterprise, so the
  one-demand test above never lets it in) is ``not_selected:budget`` when its
  programme's budget left is below the least subsidy any plan serving it must pay,
  ``max(min_voucher, min(a_min, C_e))`` with a_min its smallest claim r(d, p) x bill
  (:func:`budget_short_of_thresholds`). This is the empty fund of a later day: a
  voucher of at least min_voucher cannot come out of what is left.

A ``not_selected:X`` is therefore a certificate: the plan plus this demand (at the
pool and schedule the test found) is a plan that obeys every rule once X is
relaxed -- so relaxing X in the instance lets the request in, unless the
re-solve prefers something of more value.

**The arithmetic** (no solver: the plan's leftovers are enough). For candidate
pair (demand d, pool p at center c, enterprise e of programme g), with u its usage,
b its bill, r = r(d, p) its rate (R8), a = kw_per_card(p) * pue(c) its kWh per card-hour,
and from the plan: used(p, t), energy E(c, t), green G(c, t) available, B_e, the claim
A_e = sum of r x bill over e's served demands, S_e, C_e = max(0, cap - subsidy_ytd),
and the budget left L_g:

* thresholds (R8): only if e has nothing billed yet and b > 0:
  min(r * b, C_e) >= min_voucher and spend_ytd + b >= min_spend;
* budget (R9): min(A_e + r * b, C_e) - S_e <= L_g;
* schedule (R4, R5, R6): per period t of the window, the most it may run is
  ``up_t = min(max_cards * period_hours, cards(p, t) * period_hours - used(p, t),
  (G(c, t) + grid_kwh_cap(c) - E(c, t)) / a)``; it fits if sum_t up_t >= u.
  Green power min(E + a x, G) is concave in the schedule x, so the best green the
  demand can add is a * min(u, sum_t min(up_t, max(0, G - E) / a)) (fill the
  periods with spare green first); the green share holds iff
  sum_t min(E, G) + that >= min_green_share * (sum_t E + a * u).
  Each condition is exact, so "fits" is decided exactly (to 1e-9 relative round-off).

:func:`fit_table` returns these tests per candidate pair, for inspection and tests.

The cap can keep a demand out only through the minimum voucher: S_e =
min(A_e, C_e) never blocks serving by itself, and relaxing it only raises
subsidies (so it draws more on the budget). It binds when C_e < min_voucher for an
enterprise with nothing billed -- and then every priced pool of the demand misses
the voucher, so the demand is ``below_threshold`` unless it also has a free pool
(bill 0). With the order above, ``not_selected:cap`` is thus reported only when
the free pools are blocked by both capacity and green power at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.plan.extract import UNSERVED_COLUMNS, Plan

NOT_SELECTED = "not_selected"


FAMILIES = ("budget", "capacity", "green", "cap")  # relaxed one at a time, in this order


ROUND_OFF = 1e-9  # relative (and absolute, in yuan / card-hours / kWh) slack of "fits"


@dataclass(frozen=True)
class Leftovers:
    """What the plan leaves of every resource, as arrays indexed like the screen."""

    used_card_hours: np.ndarray  # (pools, periods)
    energy_kwh: np.ndarray  # (centers, periods)
    enterprises: pd.DataFrame  # indexed by enterprise_id: bill_yuan B_e, claim_yuan A_e, subsidy_yuan S_e, ...
    budget_left_yuan: pd.Series  # program_id -> budget - plan subsidy


def leftovers(instance: Instance, screen: Screen, plan: Plan) -> Leftovers:
    """The plan's pool usage, center energy, enterprise bills and subsidies, and budgets left."""
    n_periods = screen.capacity_card_hours.shape[1]
    used = _grid(plan.pools, "pool_id", "used_card_hours", screen.pool_index, n_periods)
    energy = _grid(plan.centers, "center_id", "energy_kwh", screen.center_index, n_periods)
    ent = instance.enterprises.set_index("enterprise_id")[["program_id", "cap_yuan", "subsidy_ytd_yuan", "spend_ytd_yuan"]]
    planned = plan.enterprises.set_index("enterprise_id")
    served = plan.assignments[["demand_id", "pool_id", "enterprise_id"]].merge(
        screen.pairs[["demand_id", "pool_id", "claim_yuan"]], on=["demand_id", "pool_id"], how="left")
    claim = served.groupby("enterprise_id")["claim_yuan"].sum()
    ent = ent.assign(
        bill_yuan=planned["bill_yuan"].reindex(ent.index).fillna(0.0),
        claim_yuan=claim.reindex(ent.index).fillna(0.0),
        subsidy_yuan=planned["subsidy_yuan"].reindex(ent.index).fillna(0.0),
        remaining_cap_yuan=remaining_cap_yuan(ent),
    )
    programs = instance.programs.set_index("program_id")
    ent = ent.assign(
        min_voucher_yuan=ent["program_id"].map(programs["min_voucher_yuan"]),
        min_spend_yuan=ent["program_id"].map(programs["min_spend_yuan"]),
    )
    spent = ent.groupby("program_id")["subsidy_yuan"].sum()
    left = programs["budget_yuan"] - spent.reindex(programs.index).fillna(0.0)
    return Leftovers(used, energy, ent, left)


def _grid(table: pd.DataFrame, key: str, column: str, index: dict[str, int], n_periods: int) -> np.ndarray:
    """A (rows, periods) array from a long plan table (pools.csv / centers.csv)."""
    out = np.zeros((len(index), n_periods))
    if len(table):
        rows = table[key].map(index).to_numpy(dtype=int)
        out[rows, table["period"].to_numpy(dtype=int)] = table[column].to_numpy(dtype=float)
    return out


def _slack(x: np.ndarray | float) -> np.ndarray | float:
    return ROUND_OFF * (1.0 + np.abs(x))


def thresholds_met(pairs: pd.DataFrame, ent: pd.DataFrame, cap_relaxed: bool) -> np.ndarray:
    """R8 thresholds when the pair's demand is added (per pair).

    An enterprise already billed in the plan meets them and adding work keeps them
    met; one with nothing billed must meet them with this demand's bill alone.
    A bill of 0 never triggers them.
    """
    e = ent.loc[pairs["enterprise_id"].to_numpy()]
    b = pairs["bill_yuan"].to_numpy()
    cap = np.full(len(b), np.inf) if cap_relaxed else e["remaining_cap_yuan"].to_numpy()
    subsidy = np.minimum(pairs["claim_yuan"].to_numpy(), cap)
    voucher = e["min_voucher_yuan"].to_numpy()
    spend = e["spend_ytd_yuan"].to_numpy() + b
    minimum_spend = e["min_spend_yuan"].to_numpy()
    ok = (subsidy >= voucher - _slack(voucher)) & (spend >= minimum_spend - _slack(minimum_spend))
    return (b <= 0) | (e["bill_yuan"].to_numpy() > 0) | ok


def budget_holds(pairs: pd.DataFrame, ent: pd.DataFrame, budget_left: pd.Series, cap_relaxed: bool) -> np.ndarray:
    """R9 when the pair's demand is added: the rise of its enterprise's subsidy fits the budget left.

    With the cap relaxed, the enterprise's subsidy becomes its whole claim A_e + r(d, p) x b,
    the plan's own demands included.
    """
    e = ent.loc[pairs["enterprise_id"].to_numpy()]
    a = pairs["claim_yuan"].to_numpy()
    cap = np.full(len(a), np.inf) if cap_relaxed else e["remaining_cap_yuan"].to_numpy()
    rise = np.minimum(e["claim_yuan"].to_numpy() + a, cap) - e["subsidy_yuan"].to_numpy()
    left = e["program_id"].map(budget_left).to_numpy(dtype=float)
    return rise <= left + _slack(left)


@dataclass(frozen=True)
class CenterState:
    """One center's rules and the plan's energy there, for the schedule test."""

    energy_kwh: np.ndarray  # (periods,) E(c, t)
    green_kwh: np.ndarray  # (periods,) G(c, t) available
    grid_cap_kwh: float
    min_green_share: float


def schedule_fits(u: float, limit: np.ndarray, room: np.ndarray, kwh_per_card_hour: float, center: CenterState | None,
                  window: slice) -> bool:
    """Can u card-hours be spread over the window within ``limit`` (per period, card-hours)
    and, unless ``center`` is None (green relaxed), the center's grid cap and green share?

    ``limit`` is max_cards * period_hours; ``room`` the pool's card-hours left (inf when
    capacity is relaxed). Both are per period over the whole horizon.
    """
    up = np.clip(np.minimum(limit[window], room[window]), 0.0, None)  # a full pool's round-off is no room
    a = kwh_per_card_hour
    if center is None or a <= 0:
        return float(np.sum(up)) >= u * (1.0 - ROUND_OFF)
    energy, green = center.energy_kwh, center.green_kwh
    if math.isfinite(center.grid_cap_kwh):
        grid_room = np.clip((green[window] + center.grid_cap_kwh - energy[window]) / a, 0.0, None)
        up = np.minimum(up, grid_room)
    if float(np.sum(up)) < u * (1.0 - ROUND_OFF):
        return False
    if center.min_green_share <= 0:
        return True
    green_room = np.clip((green[window] - energy[window]) / a, 0.0, None)
    best_green = a * min(u, float(np.sum(np.minimum(up, green_room))))
    have = float(np.sum(np.minimum(energy, green)))
    need = center.min_green_share * (float(np.sum(energy)) + a * u)
    return have + best_green >= need - _slack(need)


def fit_table(instance: Instance, screen: Screen, plan: Plan, demand_ids=None) -> pd.DataFrame:
    """Per candidate pair of each demand (default: every ``not_selected`` one), whether it fits
    next to the plan as the instance stands (``as_is``) and with each family alone relaxed
    (``without_budget``, ``without_capacity``, ``without_green``, ``without_cap``).
    """
    if demand_ids is None:
        demand_ids = plan.unserved.loc[plan.unserved["reason"] == NOT_SELECTED, "demand_id"]
    pairs = screen.pairs[screen.pairs["demand_id"].isin(set(demand_ids))].reset_index(drop=True)
    columns = ["demand_id", "pool_id", "as_is", *(f"without_{f}" for f in FAMILIES)]
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("demand_id", "pool_id") else bool) for c in columns})
    left = leftovers(instance, screen, plan)
    ent = left.enterprises
    thr = {relaxed: thresholds_met(pairs, ent, relaxed) for relaxed in (False, True)}
    money = {relaxed: budget_holds(pairs, ent, left.budget_left_yuan, relaxed) for relaxed in (False, True)}
    sched = _schedule_tests(instance, screen, pairs, left)
    out = pd.DataFrame({"demand_id": pairs["demand_id"], "pool_id": pairs["pool_id"]})
    out["as_is"] = thr[False] & money[False] & sched["as_is"]
    out["without_budget"] = thr[False] & sched["as_is"]
    out["without_capacity"] = thr[False] & money[False] & sched["capacity"]
    out["without_green"] = thr[False] & money[False] & sched["green"]
    out["without_cap"] = thr[True] & money[True] & sched["as_is"]
    return out[columns]


def _schedule_tests(instance: Instance, screen: Screen, pairs: pd.DataFrame, left: Leftovers) -> dict[str, np.ndarray]:
    """:func:`schedule_fits` per pair: as is, with the pool's cards relaxed, with the center's R6 relaxed;
    the same arithmetic, vectorized over every (pair, period of its window)."""
    centers = instance.centers
    room = screen.capacity_card_hours - left.used_card_hours
    pue = centers["pue"].to_numpy(dtype=float)
    release = pairs["release"].to_numpy(dtype=int)
    length = pairs["deadline"].to_numpy(dtype=int) - release + 1
    row = np.repeat(np.arange(len(pairs)), length)
    t = np.repeat(release, length) + (np.arange(len(row)) - np.repeat(np.cumsum(length) - length, length))
    pool = pairs["pool_idx"].to_numpy(dtype=int)[row]
    c_pair = pairs["center_idx"].to_numpy(dtype=int)
    c = c_pair[row]
    a_pair = pairs["kw_per_card"].to_numpy(dtype=float) * pue[c_pair]
    a = a_pair[row]
    u = pairs["usage_card_hours"].to_numpy(dtype=float)
    limit = pairs["max_card_hours_per_period"].to_numpy(dtype=float)[row]
    energy, green = left.energy_kwh, screen.green_kwh
    grid_cap = centers["grid_kwh_cap"].to_numpy(dtype=float)
    share = centers["min_green_share"].to_numpy(dtype=float)
    powered = a > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        grid_room = np.where(np.isfinite(grid_cap[c]) & powered,
                             np.clip((green[c, t] + grid_cap[c] - energy[c, t]) / np.where(powered, a, 1.0), 0.0, None), np.inf)
        green_room = np.where(powered, np.clip((green[c, t] - energy[c, t]) / np.where(powered, a, 1.0), 0.0, None), np.inf)
    have = np.minimum(energy, green).sum(axis=1)
    total = energy.sum(axis=1)

    def fits(up: np.ndarray, with_center: bool) -> np.ndarray:
        up = np.clip(up, 0.0, None)  # a full pool's round-off is no room
        if not with_center:
            return np.bincount(row, weights=up, minlength=len(pairs)) >= u * (1.0 - ROUND_OFF)
        up = np.minimum(up, grid_room)
        ok = np.bincount(row, weights=up, minlength=len(pairs)) >= u * (1.0 - ROUND_OFF)
        best_green = a_pair * np.minimum(u, np.bincount(row, weights=np.minimum(up, green_room), minlength=len(pairs)))
        need = share[c_pair] * (total[c_pair] + a_pair * u)
        shared = (share[c_pair] > 0) & (a_pair > 0)
        return ok & (~shared | (have[c_pair] + best_green >= need - _slack(need)))

    as_room = np.minimum(limit, room[pool, t])
    return {"as_is": fits(as_room, True), "capacity": fits(limit, True), "green": fits(as_room, False)}


def binding_family(fits: pd.DataFrame) -> str:
    """The refined reason of one demand from its rows of :func:`fit_table`."""
    if fits["as_is"].any():
        return NOT_SELECTED
    for family in FAMILIES:
        if fits[f"without_{family}"].any():
            return f"{NOT_SELECTED}:{family}"
    return NOT_SELECTED


def budget_short_of_thresholds(instance: Instance, screen: Screen, plan: Plan, demand_ids) -> list[str]:
    """Demands (of ``demand_ids``) of an enterprise with nothing billed, that miss R8's thresholds alone,
    and whose programme has less budget left than the least subsidy S_e of any plan serving them:
    S_e >= min_voucher (the bill is positive) and S_e = min(A_e, C_e) >= min(a_min, C_e), a_min the
    demand's smallest claim over its pools.
    """
    pairs = screen.pairs[screen.pairs["demand_id"].isin(set(demand_ids))]
    if pairs.empty:
        return []
    left = leftovers(instance, screen, plan)
    ent = left.enterprises
    least = pairs.groupby("demand_id").agg(enterprise_id=("enterprise_id", "first"), bill=("bill_yuan", "min"),
                                           claim=("claim_yuan", "min"))
    e = ent.loc[least["enterprise_id"].to_numpy()]
    unbilled = e["bill_yuan"].to_numpy() <= 0
    alone_fails = ~thresholds_met(pairs, ent, cap_relaxed=False)
    fails_everywhere = pd.Series(alone_fails).groupby(pairs["demand_id"].to_numpy()).all().reindex(least.index)
    subsidy = np.maximum(e["min_voucher_yuan"].to_numpy(),
                         np.minimum(least["claim"].to_numpy(), e["remaining_cap_yuan"].to_numpy()))
    budget = e["program_id"].map(left.budget_left_yuan).to_numpy(dtype=float)
    short = (unbilled & fails_everywhere.to_numpy(dtype=bool) & (least["bill"].to_numpy() > 0)
             & (subsidy > budget + _slack(budget)))
    return list(least.index[short])


def refine_reasons(instance: Instance, screen: Screen, plan: Plan) -> pd.DataFrame:
    """``plan.unserved`` with every ``not_selected`` refined to the binding resource where one alone binds.

    See the module docstring for the method. Other reasons are kept as they are.
    """
    unserved = plan.unserved.copy()
    chosen = unserved["reason"] == NOT_SELECTED
    if not chosen.any():
        return unserved[UNSERVED_COLUMNS].reset_index(drop=True)
    table = fit_table(instance, screen, plan, unserved.loc[chosen, "demand_id"])
    refined = {d: binding_family(rows) for d, rows in table.groupby("demand_id", sort=False)}
    plain = [d for d, reason in refined.items() if reason == NOT_SELECTED]
    for d in budget_short_of_thresholds(instance, screen, plan, plain):
        refined[d] = f"{NOT_SELECTED}:budget"
    unserved.loc[chosen, "reason"] = unserved.loc[chosen, "demand_id"].map(refined).fillna(NOT_SELECTED)
    return unserved[UNSERVED_COLUMNS].reset_index(drop=True)
