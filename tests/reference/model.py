"""The rules R1-R10 of shared/SPEC.md as one MIP, built directly with highspy.

Independent of the product (no ``allocator``, no ``models``, no Pyomo). Meant for
small instances: every pair gets a binary, every (pair, period) a usage column.

Columns
    x[k]      binary, pair k = (demand d, pool p) served (pairs screened by R1-R4, see ``pairs``)
    y[k,t]    card-hours of pair k in period t of d's window, 0 <= y <= max_cards * period_hours
    g[c,t]    green kWh used at center c in period t, 0 <= g <= green_kwh(c, t)
    S[e]      subsidy of enterprise e (yuan)
    z[e]      binary, e's cap binds (S = C_e) rather than its claim (S = A_e); only when the
              claim can exceed the remaining cap
    w[e]      binary, e has a positive bill (B_e > 0): the thresholds apply

Rows
    usage     sum_t y[k,t] = u_k x[k]                           (R4; y = 0 when x = 0)
    one_pool  sum_p x[d,p] <= 1, = 1 when must_serve            (no splitting; R10)
    capacity  sum_k y[k,t] <= cards(p,t) * period_hours          (R5)
    green     g[c,t] <= energy(c,t) = sum y * kw_per_card * pue  (R6)
    grid_cap  energy(c,t) - g[c,t] <= grid_kwh_cap               (R6)
    share     sum_t g[c,t] >= min_green_share * sum_t energy      (R6)
    subsidy   S <= A, S <= C, S >= A - M z, S >= C z             (R8: S = min(A, C) exactly)
    billed    w[e] >= x[k] for every pair with bill > 0           (R8: thresholds only when B_e > 0)
    voucher   S[e] >= min_voucher * w[e]                          (R8)
    spend     spend_ytd + B_e >= min_spend * w[e]                 (R8)
    budget    sum_{e of g} S[e] <= budget_yuan                    (R9)

g only needs to be at most min(energy, green_kwh): every rule asks for more green, so
a plan is feasible with some g iff it is with g = min(energy, green_kwh); the cost
stage pays for grid = energy - g and so takes g at that min whenever carbon costs.

Objective: stage 1 max V = sum priority * card_hours * x; stage 2 V >= V* - 1e-6 (1 + |V*|),
min K = sum bill * x + carbon_price * sum_{c,t} grid_carbon(region c) * (energy - g).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import highspy
import numpy as np

from tests.reference.reader import RefInstance, read_instance

INF = math.inf
VALUE_SLACK = 1e-6  # stage 2 keeps V >= V* - VALUE_SLACK * (1 + |V*|)
CHECK_TOL = 1e-6  # absolute + relative tolerance of the post-solve rule check (SPEC)


# ---------------------------------------------------------------- R8 rate


def subsidy_rate(inst: RefInstance, enterprise_id: str, accelerator: str) -> float:
    """r(d, p) of R8 for a demand of ``enterprise_id`` at a pool with ``accelerator``."""
    ent = inst.enterprises[enterprise_id]
    if ent.rate is not None:
        return ent.rate
    applicable = [
        row.rate
        for row in inst.rates
        if row.program == ent.program
        and (row.accelerator is None or row.accelerator == accelerator)
        and (row.kind is None or (ent.kind is not None and row.kind == ent.kind))
    ]
    if applicable:
        return max(applicable)
    return inst.programs[ent.program].rate


# ---------------------------------------------------------------- pairs (R1-R4)


@dataclass(frozen=True)
class Pair:
    demand: str
    pool: str
    usage: float  # u = card_hours / efficiency
    bill: float  # R7
    rate: float  # R8
    periods: tuple[int, ...]  # the window
    per_period_max: tuple[float, ...]  # min(max_cards, cards(p, t)) * period_hours


def pairs(inst: RefInstance) -> list[Pair]:
    """Every (demand, pool) that R1-R4 allow, with the pool empty (R5 per period alone)."""
    out = []
    ph = inst.period_hours
    for d_id, d in inst.demands.items():
        ent = inst.enterprises[d.enterprise]
        if not ent.eligible:  # R1
            continue
        limit = inst.latency_limit[d.latency_class]
        window = tuple(t for t in range(d.release, d.deadline + 1) if 0 <= t < inst.periods)
        for p_id, p in inst.pools.items():
            c = inst.centers[p.center]
            if not inst.designated(ent.program, p.center):  # R1
                continue
            compat = inst.compatibility.get((d.stack, p.accelerator))
            if compat is None:  # R2
                continue
            if inst.rtt(d.home_region, c.region) > limit:  # R3
                continue
            eff, adapt = compat
            u = d.card_hours / eff
            per = tuple(min(d.max_cards, inst.cards[(p_id, t)]) * ph for t in window)
            if u > sum(per) * (1 + 1e-9) + 1e-9:  # R4 with R5 alone: cannot fit even when empty
                continue
            out.append(Pair(d_id, p_id, u, u * p.price + adapt, subsidy_rate(inst, d.enterprise, p.accelerator), window, per))
    return out


# ---------------------------------------------------------------- a tiny LP builder


class _Lp:
    def __init__(self):
        self.lb, self.ub, self.cost, self.integer = [], [], [], []
        self.row_lb, self.row_ub, self.rows = [], [], []

    def col(self, lb=0.0, ub=INF, integer=False) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.cost.append(0.0)
        self.integer.append(integer)
        return len(self.lb) - 1

    def row(self, entries: dict[int, float], lb=-INF, ub=INF) -> None:
        entries = {j: v for j, v in entries.items() if v != 0.0}
        self.rows.append(entries)
        self.row_lb.append(lb)
        self.row_ub.append(ub)

    def highs_lp(self, maximize: bool) -> highspy.HighsLp:
        inf = highspy.kHighsInf
        def clip(a):
            return np.clip(np.asarray(a, dtype=float), -inf, inf)
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.lb)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.asarray(self.cost, dtype=float)
        lp.col_lower_ = clip(self.lb)
        lp.col_upper_ = clip(self.ub)
        lp.row_lower_ = clip(self.row_lb)
        lp.row_upper_ = clip(self.row_ub)
        starts, index, value = [0], [], []
        for r in self.rows:
            for j, v in sorted(r.items()):
                index.append(j)
                value.append(v)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = lp.num_col_
        lp.a_matrix_.num_row_ = lp.num_row_
        lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(value, dtype=float)
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in self.integer]
        lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        return lp


# ---------------------------------------------------------------- the model


@dataclass
class _Model:
    lp: _Lp
    pairs: list[Pair]
    x: list[int]
    y: dict[tuple[int, int], int]  # (k, t) -> column
    value_coef: dict[int, float]  # column -> priority * card_hours
    cost_coef: dict[int, float]  # column -> yuan


def build(inst: RefInstance, allowed: list[Pair]) -> _Model:
    lp = _Lp()
    ph = inst.period_hours
    x = [lp.col(0.0, 1.0, integer=True) for _ in allowed]
    y = {}
    for k, pr in enumerate(allowed):
        for t, cap in zip(pr.periods, pr.per_period_max):
            y[(k, t)] = lp.col(0.0, cap)
        # R4: the usage spread over the window sums to u (and is 0 when not served)
        lp.row({**{y[(k, t)]: 1.0 for t in pr.periods}, x[k]: -pr.usage}, 0.0, 0.0)

    # no splitting; R10
    by_demand: dict[str, list[int]] = {}
    for k, pr in enumerate(allowed):
        by_demand.setdefault(pr.demand, []).append(k)
    for d_id, d in inst.demands.items():
        ks = by_demand.get(d_id, [])
        if d.must_serve:
            lp.row({x[k]: 1.0 for k in ks}, 1.0, 1.0)  # empty row 1 <= 0 <= 1: infeasible, as it should be
        elif len(ks) > 1:
            lp.row({x[k]: 1.0 for k in ks}, -INF, 1.0)

    # R5 capacity
    at_pool_period: dict[tuple[str, int], list[int]] = {}
    for (k, t), j in y.items():
        at_pool_period.setdefault((allowed[k].pool, t), []).append(j)
    for (p_id, t), js in at_pool_period.items():
        lp.row({j: 1.0 for j in js}, -INF, inst.cards[(p_id, t)] * ph)

    # R6 energy, green, grid
    energy: dict[tuple[str, int], dict[int, float]] = {}
    for (k, t), j in y.items():
        pool = inst.pools[allowed[k].pool]
        kwh = pool.kw_per_card * inst.centers[pool.center].pue
        energy.setdefault((pool.center, t), {})[j] = kwh
    cost_coef: dict[int, float] = {}
    green_cols: dict[str, dict[int, float]] = {}
    energy_by_center: dict[str, dict[int, float]] = {}
    for (c_id, t), terms in energy.items():
        c = inst.centers[c_id]
        g = lp.col(0.0, inst.green[(c_id, t)])
        lp.row({**{j: -v for j, v in terms.items()}, g: 1.0}, -INF, 0.0)  # g <= energy
        if c.grid_kwh_cap < INF:
            lp.row({**terms, g: -1.0}, -INF, c.grid_kwh_cap)  # grid = energy - g <= cap
        green_cols.setdefault(c_id, {})[g] = 1.0
        for j, v in terms.items():
            energy_by_center.setdefault(c_id, {})[j] = v
        price = inst.carbon_price * inst.grid_carbon[c.region]
        if price:
            for j, v in terms.items():
                cost_coef[j] = cost_coef.get(j, 0.0) + price * v
            cost_coef[g] = -price
    for c_id, gs in green_cols.items():
        share = inst.centers[c_id].min_green_share
        if share > 0:
            lp.row({**gs, **{j: -share * v for j, v in energy_by_center[c_id].items()}}, 0.0, INF)

    # R7 bills, R8 subsidies, R9 budgets
    by_enterprise: dict[str, list[int]] = {}
    for k, pr in enumerate(allowed):
        by_enterprise.setdefault(inst.demands[pr.demand].enterprise, []).append(k)
    subsidy_cols: dict[str, list[int]] = {}
    for e_id, ks in by_enterprise.items():
        ent = inst.enterprises[e_id]
        prog = inst.programs[ent.program]
        claim = {x[k]: allowed[k].rate * allowed[k].bill for k in ks}  # A_e
        bill = {x[k]: allowed[k].bill for k in ks}  # B_e
        cap = max(0.0, ent.cap - ent.subsidy_ytd)  # C_e
        big = sum(claim.values())  # no plan claims more
        s = lp.col(0.0, INF)
        subsidy_cols.setdefault(ent.program, []).append(s)
        if cap >= big:  # the cap never binds: S = A
            lp.row({**{j: -v for j, v in claim.items()}, s: 1.0}, 0.0, 0.0)
        else:
            z = lp.col(0.0, 1.0, integer=True)
            lp.row({**{j: -v for j, v in claim.items()}, s: 1.0}, -INF, 0.0)  # S <= A
            lp.ub[s] = cap  # S <= C
            lp.row({**{j: -v for j, v in claim.items()}, s: 1.0, z: big}, 0.0, INF)  # S >= A - M z
            lp.row({s: 1.0, z: -cap}, 0.0, INF)  # S >= C z
        need_spend = prog.min_spend - ent.spend_ytd
        if prog.min_voucher > 0 or need_spend > 0:
            positive = [k for k in ks if allowed[k].bill > 0]
            if positive:
                w = lp.col(0.0, 1.0, integer=True)
                for k in positive:
                    lp.row({w: 1.0, x[k]: -1.0}, 0.0, INF)
                if prog.min_voucher > 0:
                    lp.row({s: 1.0, w: -prog.min_voucher}, 0.0, INF)
                if need_spend > 0:
                    lp.row({**bill, w: -need_spend}, 0.0, INF)
    for g_id, ss in subsidy_cols.items():
        budget = inst.programs[g_id].budget
        if budget < INF:
            lp.row({s: 1.0 for s in ss}, -INF, budget)

    value_coef = {}
    for k, pr in enumerate(allowed):
        d = inst.demands[pr.demand]
        value_coef[x[k]] = d.priority * d.card_hours
        cost_coef[x[k]] = cost_coef.get(x[k], 0.0) + pr.bill
    return _Model(lp, allowed, x, y, value_coef, cost_coef)


# ---------------------------------------------------------------- solving


@dataclass
class RefResult:
    status: str  # optimal | infeasible | no_solution | feasible (a limit stopped a stage)
    value: float | None = None  # V*
    cost: float | None = None  # K* among plans of value >= V* - slack
    assignment: dict[str, str] = field(default_factory=dict)  # demand -> pool
    proven_value: bool = False
    proven_cost: bool = False
    value_bound: float | None = None  # stage 1 dual bound
    bill: float | None = None
    subsidy: dict[str, float] = field(default_factory=dict)  # enterprise -> S_e
    carbon_kg: float | None = None
    schedule: dict[tuple[str, str, int], float] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)  # post-solve check of the chosen plan
    pairs: int = 0


def _highs(lp: highspy.HighsLp, time_limit: float) -> highspy.Highs:
    h = highspy.Highs()
    h.silent()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    return h


def _outcome(h: highspy.Highs) -> str:
    status = h.getModelStatus()
    if status in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kModelEmpty):
        return "optimal"
    if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return "infeasible"
    if h.getInfo().primal_solution_status == 2:  # kSolutionStatusFeasible
        return "feasible"
    return "no_solution"


def _as_instance(folder_or_inst) -> RefInstance:
    return folder_or_inst if isinstance(folder_or_inst, RefInstance) else read_instance(folder_or_inst)


def reference_solve(folder, time_limit: float = 60.0) -> RefResult:
    """The lexicographic optimum (V*, then K*) of an instance folder (or a read RefInstance)."""
    inst = _as_instance(folder)
    allowed = pairs(inst)
    placeable = {pr.demand for pr in allowed}
    if any(d.must_serve and d_id not in placeable for d_id, d in inst.demands.items()):
        return RefResult(status="infeasible", pairs=len(allowed))  # R10 with no allowed pool
    if not allowed:  # nothing can be served: the empty plan
        return RefResult(status="optimal", value=0.0, cost=0.0, proven_value=True, proven_cost=True,
                         value_bound=0.0, bill=0.0, carbon_kg=0.0)
    m = build(inst, allowed)
    for j, v in m.value_coef.items():
        m.lp.cost[j] = v
    h = _highs(m.lp.highs_lp(maximize=True), time_limit)
    h.run()
    status = _outcome(h)
    if status in ("infeasible", "no_solution"):
        return RefResult(status=status, pairs=len(allowed))
    v_star = h.getInfo().objective_function_value
    bound = h.getInfo().mip_dual_bound
    proven_value = status == "optimal"
    first = np.asarray(h.getSolution().col_value)

    # stage 2: keep the value, minimize the cost
    n = len(m.lp.lb)
    m.lp.row(dict(m.value_coef), v_star - VALUE_SLACK * (1 + abs(v_star)), INF)
    m.lp.cost = [m.cost_coef.get(j, 0.0) for j in range(n)]
    h2 = _highs(m.lp.highs_lp(maximize=False), time_limit)
    sol = highspy.HighsSolution()
    sol.col_value = list(first)
    sol.value_valid = True
    h2.setSolution(sol)
    h2.run()
    status2 = _outcome(h2)
    if status2 in ("infeasible", "no_solution"):  # cannot happen: stage 1's plan is feasible
        col = first
        status2 = "feasible"
    else:
        col = np.asarray(h2.getSolution().col_value)
    res = _result(inst, m, col)
    res.status = "optimal" if (proven_value and status2 == "optimal") else "feasible"
    res.proven_value = proven_value
    res.proven_cost = status2 == "optimal"
    res.value_bound = bound
    return res


def _result(inst: RefInstance, m: _Model, col: np.ndarray) -> RefResult:
    chosen = [k for k in range(len(m.pairs)) if col[m.x[k]] > 0.5]
    assignment = {m.pairs[k].demand: m.pairs[k].pool for k in chosen}
    schedule = {}
    for (k, t), j in m.y.items():
        if col[m.x[k]] > 0.5 and col[j] > 1e-9:
            schedule[(m.pairs[k].demand, m.pairs[k].pool, t)] = float(col[j])
    res = RefResult(status="optimal", assignment=assignment, schedule=schedule, pairs=len(m.pairs))
    _fill_plan_numbers(inst, {m.pairs[k].demand: m.pairs[k] for k in chosen}, schedule, res)
    return res


def _fill_plan_numbers(inst: RefInstance, chosen: dict[str, Pair], schedule, res: RefResult) -> None:
    """V, K, S_e and carbon recomputed from the plan with the SPEC's formulas, and the rules checked."""
    def tol(a):
        return CHECK_TOL * (1 + abs(a))
    ph = inst.period_hours
    res.value = sum(inst.demands[d].priority * inst.demands[d].card_hours for d in chosen)
    res.bill = sum(pr.bill for pr in chosen.values())
    used: dict[tuple[str, int], float] = {}
    for (d, p, t), a in schedule.items():
        used[(p, t)] = used.get((p, t), 0.0) + a
    for d, pr in chosen.items():
        got = sum(a for (dd, _, _), a in schedule.items() if dd == d)
        if abs(got - pr.usage) > tol(pr.usage):
            res.violations.append(f"R4 {d}: scheduled {got} of {pr.usage}")
    for (p, t), a in used.items():
        if a > inst.cards[(p, t)] * ph + tol(a):
            res.violations.append(f"R5 {p} period {t}: {a} > {inst.cards[(p, t)] * ph}")
    carbon = 0.0
    for c_id, c in inst.centers.items():
        e_sum = g_sum = 0.0
        for t in range(inst.periods):
            e = sum(a * inst.pools[p].kw_per_card * c.pue for (p, tt), a in used.items() if tt == t and inst.pools[p].center == c_id)
            g = min(e, inst.green[(c_id, t)])
            if e - g > c.grid_kwh_cap + tol(e):
                res.violations.append(f"R6 grid cap {c_id} period {t}")
            carbon += (e - g) * inst.grid_carbon[c.region]
            e_sum += e
            g_sum += g
        if g_sum < c.min_green_share * e_sum - tol(e_sum):
            res.violations.append(f"R6 green share {c_id}")
    res.carbon_kg = carbon
    res.cost = res.bill + inst.carbon_price * carbon
    by_program: dict[str, float] = {}
    for e_id, ent in inst.enterprises.items():
        mine = [pr for d, pr in chosen.items() if inst.demands[d].enterprise == e_id]
        if not mine:
            continue
        prog = inst.programs[ent.program]
        b = sum(pr.bill for pr in mine)
        a = sum(pr.rate * pr.bill for pr in mine)
        s = min(a, max(0.0, ent.cap - ent.subsidy_ytd))
        res.subsidy[e_id] = s
        by_program[ent.program] = by_program.get(ent.program, 0.0) + s
        if b > 0 and s < prog.min_voucher - tol(s):
            res.violations.append(f"R8 min voucher {e_id}: {s}")
        if b > 0 and ent.spend_ytd + b < prog.min_spend - tol(b):
            res.violations.append(f"R8 min spend {e_id}")
    for g_id, s in by_program.items():
        if s > inst.programs[g_id].budget + tol(s):
            res.violations.append(f"R9 budget {g_id}: {s} > {inst.programs[g_id].budget}")
    for d_id, d in inst.demands.items():
        if d.must_serve and d_id not in chosen:
            res.violations.append(f"R10 {d_id}")


@dataclass
class Evaluation:
    feasible: bool
    value: float | None = None
    cost: float | None = None  # the least K of any schedule of this assignment
    reason: str = ""
    result: RefResult | None = None


def reference_evaluate(folder, assignment: dict[str, str], time_limit: float = 60.0) -> Evaluation:
    """Whether a given assignment {demand: pool} obeys R1-R10 under some schedule, and its least cost.

    Checks a plan independently of how it was scheduled: the pairs must pass R1-R4
    screening, then the MIP with x fixed to the assignment is solved for cost.
    """
    inst = _as_instance(folder)
    allowed = pairs(inst)
    known = {(pr.demand, pr.pool) for pr in allowed}
    for d, p in assignment.items():
        if (d, p) not in known:
            return Evaluation(False, reason=f"{d} at {p} fails R1-R4 (designation, compatibility, latency or window)")
    m = build(inst, allowed)
    for k, pr in enumerate(allowed):
        on = assignment.get(pr.demand) == pr.pool
        m.lp.lb[m.x[k]] = m.lp.ub[m.x[k]] = 1.0 if on else 0.0
    m.lp.cost = [m.cost_coef.get(j, 0.0) for j in range(len(m.lp.lb))]
    h = _highs(m.lp.highs_lp(maximize=False), time_limit)
    h.run()
    status = _outcome(h)
    if status == "infeasible":
        return Evaluation(False, reason="no schedule obeys R4-R10 for this assignment")
    if status == "no_solution":
        return Evaluation(False, reason="time limit")
    res = _result(inst, m, np.asarray(h.getSolution().col_value))
    return Evaluation(not res.violations, res.value, res.cost, "; ".join(res.violations), res)


if __name__ == "__main__":  # pragma: no cover - a manual check: python -m tests.reference.model FOLDER
    import sys

    r = reference_solve(Path(sys.argv[1]))
    print(r.status, r.value, r.cost, r.assignment, r.violations)
