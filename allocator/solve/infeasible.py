"""Why an instance has no plan at all: the must-serve demands and the rules that conflict.

An irreducible infeasible subsystem of the stage-1 model (HiGHS's LP IIS, else a
deletion filter over the rule families), each member named with what it means.

:func:`explain_infeasible` takes the stage-1 Pyomo model and its data and names
the must-serve demands and the constraints that conflict:

1. HiGHS computes an irreducible infeasible subset (IIS) of the LP relaxation
   (``iis_strategy`` = from the LP, irreducible). Every row and column bound in it
   is needed: drop any one and the rest is feasible. Rows map back to Pyomo
   component names (``pool_capacity[3,0]``, ``must_serve[d7]``,
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

import time
from dataclasses import dataclass, field

import numpy as np

# Rule families a deletion filter may release; the others define variables (usage
# sums, green, subsidy, served) and stay.
RULE_FAMILIES = ("pool_capacity", "grid_cap", "green_share", "budget_limit", "min_voucher", "min_spend")


MUST_SERVE_ROWS = "must_serve"  # models.must_serve (R10)


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
    highs.setOptionValue("time_limit", float(max(0.1, time_budget_seconds)))  # the IIS's LP solves too
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

    must = [r for r in rows_to_con if family(r) == MUST_SERVE_ROWS]
    rule_rows: dict[str, list[int]] = {}
    for r in rows_to_con:
        if family(r) in RULE_FAMILIES:
            rule_rows.setdefault(family(r), []).append(r)

    def release(rows: list[int]) -> None:
        for r in rows:  # a released row (a must-serve demand, a rule) no longer binds
            highs.changeRowBounds(r, -inf, inf)

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
    must = [c.index() for c in conflict.rows if c.parent_component().local_name == MUST_SERVE_ROWS]
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
            return f"must_serve demand {index} is served at one of its pools ({', '.join(pools)}) (R10)"
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
            return f"enterprise {index}: subsidy = min(sum of r(d, p) x bill, remaining cap) (R8)"
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
