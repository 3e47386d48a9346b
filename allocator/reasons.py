"""Why each request was left out, and why an instance has no plan at all.

Two questions a planner has to answer for, each with a method that is exact for
the question it states.

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
  rate x bill, for the plan's own demands too, and so also draws on the budget).
* If no single relaxation lets it in (two or more resources bind together), the
  reason stays plain ``not_selected``.

A ``not_selected:X`` is therefore a certificate: the plan plus this demand (at the
pool and schedule the test found) is a plan that obeys every rule once X is
relaxed -- so relaxing X in the instance lets the request in, unless the
re-solve prefers something of more value.

**The arithmetic** (no solver: the plan's leftovers are enough). For candidate
pair (demand d, pool p at center c, enterprise e of programme g), with u its usage,
b its bill, a = kw_per_card(p) * pue(c) its kWh per card-hour, and from the plan:
used(p, t), energy E(c, t), green G(c, t) available, B_e, S_e, C_e = max(0,
cap - subsidy_ytd), and the budget left L_g:

* thresholds (R8): only if e has nothing billed yet and b > 0:
  min(rate * b, C_e) >= min_voucher and spend_ytd + b >= min_spend;
* budget (R9): min(rate * (B_e + b), C_e) - S_e <= L_g;
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
min(rate * B_e, C_e) never blocks serving by itself, and relaxing it only raises
subsidies (so it draws more on the budget). It binds when C_e < min_voucher for an
enterprise with nothing billed -- and then every priced pool of the demand misses
the voucher, so the demand is ``below_threshold`` unless it also has a free pool
(bill 0). With the order above, ``not_selected:cap`` is thus reported only when
the free pools are blocked by both capacity and green power at once.

Infeasible instances: the smallest conflicting set
==================================================

:func:`explain_infeasible` takes the stage-1 Pyomo model and its data and names
the must-serve demands and the constraints that conflict:

1. HiGHS computes an irreducible infeasible subset (IIS) of the LP relaxation
   (``iis_strategy`` = from the LP, irreducible). Every row and column bound in it
   is needed: drop any one and the rest is feasible. Rows map back to Pyomo
   component names (``pool_capacity[3,0]``, ``one_pool_per_demand[d7]``,
   ``budget_limit[G]``), and those to pools, periods, demands, centers,
   enterprises and programmes.
2. If the LP relaxation is feasible (the conflict needs integrality: no splitting
   across pools, thresholds), a deletion filter on the MIP finds a set that is
   irreducible in its must-serve demands and in the rule families: release each
   must-serve demand in turn and keep it released if the rest is still
   infeasible; then the same for each rule family (capacity, grid cap, green
   share, budget, min voucher, min spend) and for each row of the families kept.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.plan import UNSERVED_COLUMNS, Plan
from allocator.reading import Instance
from allocator.screening import Screen

NOT_SELECTED = "not_selected"
FAMILIES = ("budget", "capacity", "green", "cap")  # relaxed one at a time, in this order
ROUND_OFF = 1e-9  # relative (and absolute, in yuan / card-hours / kWh) slack of "fits"


# --------------------------------------------------------------------------- the plan's leftovers


@dataclass(frozen=True)
class Leftovers:
    """What the plan leaves of every resource, as arrays indexed like the screen."""

    used_card_hours: np.ndarray  # (pools, periods)
    energy_kwh: np.ndarray  # (centers, periods)
    enterprises: pd.DataFrame  # indexed by enterprise_id
    budget_left_yuan: pd.Series  # program_id -> budget - plan subsidy


def leftovers(instance: Instance, screen: Screen, plan: Plan) -> Leftovers:
    """The plan's pool usage, center energy, enterprise bills and subsidies, and budgets left."""
    n_periods = screen.capacity_card_hours.shape[1]
    used = _grid(plan.pools, "pool_id", "used_card_hours", screen.pool_index, n_periods)
    energy = _grid(plan.centers, "center_id", "energy_kwh", screen.center_index, n_periods)
    ent = instance.enterprises.set_index("enterprise_id")[["program_id", "rate", "cap_yuan", "subsidy_ytd_yuan", "spend_ytd_yuan"]]
    planned = plan.enterprises.set_index("enterprise_id")
    ent = ent.assign(
        bill_yuan=planned["bill_yuan"].reindex(ent.index).fillna(0.0),
        subsidy_yuan=planned["subsidy_yuan"].reindex(ent.index).fillna(0.0),
        remaining_cap_yuan=(ent["cap_yuan"] - ent["subsidy_ytd_yuan"]).clip(lower=0.0),
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


# --------------------------------------------------------------------------- the three tests of a pair


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
    subsidy = np.minimum(e["rate"].to_numpy() * b, cap)
    voucher = e["min_voucher_yuan"].to_numpy()
    spend = e["spend_ytd_yuan"].to_numpy() + b
    minimum_spend = e["min_spend_yuan"].to_numpy()
    ok = (subsidy >= voucher - _slack(voucher)) & (spend >= minimum_spend - _slack(minimum_spend))
    return (b <= 0) | (e["bill_yuan"].to_numpy() > 0) | ok


def budget_holds(pairs: pd.DataFrame, ent: pd.DataFrame, budget_left: pd.Series, cap_relaxed: bool) -> np.ndarray:
    """R9 when the pair's demand is added: the rise of its enterprise's subsidy fits the budget left.

    With the cap relaxed, the enterprise's subsidy becomes rate x bill for all its
    served work, the plan's included.
    """
    e = ent.loc[pairs["enterprise_id"].to_numpy()]
    b = pairs["bill_yuan"].to_numpy()
    cap = np.full(len(b), np.inf) if cap_relaxed else e["remaining_cap_yuan"].to_numpy()
    rise = np.minimum(e["rate"].to_numpy() * (e["bill_yuan"].to_numpy() + b), cap) - e["subsidy_yuan"].to_numpy()
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


# --------------------------------------------------------------------------- per pair, per relaxation


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
    unserved.loc[chosen, "reason"] = unserved.loc[chosen, "demand_id"].map(refined).fillna(NOT_SELECTED)
    return unserved[UNSERVED_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- infeasible instances

# Rule families a deletion filter may release; the others define variables (usage
# sums, green, subsidy, served) and stay.
RULE_FAMILIES = ("pool_capacity", "grid_cap", "green_share", "budget_limit", "min_voucher", "min_spend")
MUST_SERVE_ROWS = "one_pool_per_demand"
IIS_STRATEGY_FROM_LP_IRREDUCIBLE = 2 | 4  # highspy.IisStrategy kIisStrategyFromLp | kIisStrategyIrreducible


@dataclass
class Conflict:
    """Members of a conflict: constraint rows (Pyomo ConstraintData) and column bounds (VarData, 'lower'/'upper')."""

    rows: list = field(default_factory=list)
    bounds: list[tuple[object, str]] = field(default_factory=list)
    method: str = ""
    notes: list[str] = field(default_factory=list)


def explain_infeasible(model, data, time_budget_seconds: float = 60.0) -> list[str]:
    """Name the must-serve demands and the constraints that conflict in an infeasible model.

    ``model`` is the stage-1 model of :func:`models.build.build_model` and ``data`` its
    :class:`models.data.ModelData`. The first line names the must-serve demands, each
    further line one member of the conflict with its Pyomo name and what it means.
    """
    from pyomo.contrib.solver.solvers.highs import Highs

    opt = Highs()
    opt.set_instance(model)
    highs = opt._solver_model
    highs.setOptionValue("output_flag", False)
    rows_to_con = dict(opt._solver_con_to_pyomo_con_map)
    cols_to_var = _columns_to_vars(model, opt._pyomo_var_to_solver_var_map)
    conflict = _lp_iis(highs, rows_to_con, cols_to_var)
    if not conflict.rows:
        conflict = _deletion_filter(highs, rows_to_con, time.perf_counter() + time_budget_seconds)
    return describe_conflict(conflict, model, data)


def _columns_to_vars(model, var_map: dict[int, int]) -> dict[int, object]:
    import pyomo.environ as pyo

    by_id = {id(v): v for v in model.component_data_objects(pyo.Var, descend_into=True)}
    return {col: by_id[vid] for vid, col in var_map.items() if vid in by_id}


def _lp_iis(highs, rows_to_con: dict[int, object], cols_to_var: dict[int, object]) -> Conflict:
    """The IIS HiGHS computes for the LP relaxation; empty when the relaxation is feasible."""
    highs.setOptionValue("iis_strategy", IIS_STRATEGY_FROM_LP_IRREDUCIBLE)
    _, iis = highs.getIis()
    conflict = Conflict(method="an irreducible infeasible subset of the LP relaxation (HiGHS IIS)")
    if not iis.valid_:
        return conflict
    in_conflict = 1  # highspy.IisStatus.kIisStatusInConflict
    row_status = list(iis.row_status_)
    for row in iis.row_index_:
        if row < len(row_status) and row_status[row] != in_conflict:
            continue
        con = rows_to_con.get(int(row))
        if con is not None:
            conflict.rows.append(con)
    lower, upper, boxed = 2, 3, 4  # highspy.IisBoundStatus
    for col, bound in zip(iis.col_index_, iis.col_bound_):
        var = cols_to_var.get(int(col))
        if var is None or bound not in (lower, upper, boxed):
            continue
        side = {lower: "lower", upper: "upper", boxed: "both"}[int(bound)]
        conflict.bounds.append((var, side))
    return conflict


def _deletion_filter(highs, rows_to_con: dict[int, object], deadline: float) -> Conflict:
    """A must-serve-, family- and row-irreducible conflict of the MIP, by releasing members one at a time."""
    import highspy

    inf = highspy.kHighsInf
    n_cols = highs.getNumCol()
    highs.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), np.zeros(n_cols))  # feasibility only
    conflict = Conflict(method="a deletion filter on the MIP (the LP relaxation alone is feasible)")
    lp = highs.getLp()
    lower, upper = list(lp.row_lower_), list(lp.row_upper_)

    def family(row: int) -> str:
        return rows_to_con[row].parent_component().local_name

    must = [r for r in rows_to_con if family(r) == MUST_SERVE_ROWS and lower[r] >= 1.0 - 1e-9]
    rule_rows: dict[str, list[int]] = {}
    for r in rows_to_con:
        if family(r) in RULE_FAMILIES:
            rule_rows.setdefault(family(r), []).append(r)

    def release(rows: list[int]) -> None:
        for r in rows:  # a must-serve row keeps "at most one pool"; a rule row goes
            highs.changeRowBounds(r, -inf, upper[r] if family(r) == MUST_SERVE_ROWS else inf)

    def restore(rows: list[int]) -> None:
        for r in rows:
            highs.changeRowBounds(r, lower[r], upper[r])

    def still_infeasible() -> bool | None:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        highs.setOptionValue("time_limit", remaining)
        highs.run()
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return True
        if status in (highspy.HighsModelStatus.kOptimal,) or highs.getInfo().primal_solution_status == 2:
            return False
        return None

    def keep_needed(groups: list[list[int]]) -> list[list[int]]:
        needed = []
        for group in groups:
            release(group)
            verdict = still_infeasible()
            if verdict is True:
                continue  # not needed: leave it released
            restore(group)
            needed.append(group)
            if verdict is None:
                conflict.notes.append("the time budget ran out: the conflict may not be minimal")
        return needed

    kept_must = keep_needed([[r] for r in must])
    kept_families = keep_needed(list(rule_rows.values()))
    kept_rows = keep_needed([[r] for group in kept_families for r in group])
    conflict.rows = [rows_to_con[g[0]] for g in kept_must + kept_rows]
    conflict.notes = sorted(set(conflict.notes))
    return conflict


def describe_conflict(conflict: Conflict, model, data) -> list[str]:
    """Readable lines: the must-serve demands first, then every member with its meaning."""
    must_serve = set(data.pairs.loc[data.pairs["must_serve"], "demand_id"])
    must = [c.index() for c in conflict.rows
            if c.parent_component().local_name == MUST_SERVE_ROWS and c.index() in must_serve]
    lines = []
    if must:
        lines.append(f"must_serve demands {', '.join(str(d) for d in must)} cannot all be served together "
                     f"(found as {conflict.method}):")
    else:
        lines.append(f"the rules conflict even without must_serve demands (found as {conflict.method}):")
    names = _Names(data)
    families = sorted({c.parent_component().local_name for c in conflict.rows})
    lines.append(f"conflicting constraint families: {', '.join(families)}")
    lines += [f"  {c.name}: {names.row(c)}" for c in conflict.rows]
    zero = [var for var, side in conflict.bounds if side == "lower" and (var.lb or 0.0) == 0.0]
    lines += [f"  {var.name} ({side} bound): {names.bound(var, side)}"
              for var, side in conflict.bounds if not (side == "lower" and (var.lb or 0.0) == 0.0)]
    if zero:
        lines.append(f"  and {len(zero)} variable(s) at their lower bound 0 (no demand can hand back capacity)")
    lines += [f"note: {n}" for n in conflict.notes]
    return lines


class _Names:
    """What a model row or column stands for, in the instance's own ids."""

    def __init__(self, data) -> None:
        self.data = data
        inst = data.instance
        self.pools = list(inst.pools["pool_id"])
        self.centers = list(inst.centers["center_id"])
        self.pairs = data.pairs
        usage = data.usage_rows[data.usage_rows["var_j"] >= 0]
        self.usage = dict(zip(usage["var_j"].to_numpy(), zip(usage["k"].to_numpy(), usage["t"].to_numpy())))

    def pair(self, k: int) -> str:
        row = self.pairs.iloc[int(k)]
        return f"demand {row['demand_id']} at pool {row['pool_id']}"

    def row(self, con) -> str:
        family, index = con.parent_component().local_name, con.index()
        inst = self.data.instance
        if family == MUST_SERVE_ROWS:
            pools = self.pairs.loc[self.pairs["demand_id"] == index, "pool_id"]
            return f"must_serve demand {index} runs wholly at one of its pools ({', '.join(pools)})"
        if family == "pool_capacity":
            p, t = index
            return (f"pool {self.pools[p]} holds at most {self.data.screen.capacity_card_hours[p, t]:g} card-hours "
                    f"in period {t} (R5)")
        if family == "window_total":
            row = self.pairs.iloc[int(index)]
            return (f"{self.pair(index)} needs {row['usage_card_hours']:g} card-hours within periods "
                    f"{int(row['release'])}..{int(row['deadline'])} (R4)")
        if family in ("grid_cap", "green_within_energy"):
            c, t = index
            what = "grid energy within its grid_kwh_cap" if family == "grid_cap" else "green power at most its energy"
            return f"center {self.centers[c]} in period {t}: {what} (R6)"
        if family == "green_share":
            share = inst.centers["min_green_share"].iat[index]
            return f"center {self.centers[index]}: green at least {share:g} of its energy over the horizon (R6)"
        if family == "budget_limit":
            budget = inst.programs.set_index("program_id")["budget_yuan"][index]
            return f"programme {index}: subsidies within its budget of {budget:,.2f} yuan (R9)"
        if family in ("min_voucher", "min_spend"):
            return f"enterprise {index}: {family.replace('_', ' ')} threshold of its programme (R8)"
        if family == "served_if_billed":
            e, d = index
            return f"enterprise {e} counts as served when demand {d} is billed (R8)"
        if family.startswith("subsidy"):
            return f"enterprise {index}: subsidy = min(rate x bill, remaining cap) (R8)"
        return family

    def bound(self, var, side: str) -> str:
        family, index = var.parent_component().local_name, var.index()
        if family == "usage":
            k, t = self.usage.get(int(index), (None, None))
            if k is None:
                return "usage"
            cap = self.data.usage_rows.loc[self.data.usage_rows["var_j"] == index, "cap_card_hours"].iat[0]
            return f"{self.pair(k)} may use at most {cap:g} card-hours in period {int(t)} (max_cards and cards, R4)"
        if family == "assign":
            return f"{self.pair(index)} is chosen at most once"
        if family == "green":
            c, t = index
            return f"center {self.centers[c]} has {self.data.screen.green_kwh[c, t]:g} kWh of green power in period {t} (R6)"
        if family == "subsidy_var":
            return f"enterprise {index}: subsidy within its remaining cap (R8)"
        return family
