"""Brute force for very small one-period instances: every assignment, every rule checked.

Each demand is either unserved or at one pool; all combinations are enumerated at
once with numpy (at most ~5^7 rows) and every rule of shared/SPEC.md is evaluated
directly from its formula. With one period the usage of a served demand is fixed:
all of u in period 0. The rules are re-derived here, not taken from
:mod:`tests.reference.model` (only the reader is shared), so the MIP is checked
against a second, plainer reading.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import highspy
import numpy as np

from tests.reference.reader import RefInstance, read_instance

TOL = 1e-7  # absolute + relative slack on every inequality
MAX_ROWS = 2_000_000


@dataclass
class BruteResult:
    status: str  # optimal | infeasible
    value: float | None = None
    cost: float | None = None
    assignment: dict[str, str] = field(default_factory=dict)
    feasible_plans: int = 0
    plans: int = 0
    binding: set[str] = field(default_factory=set)  # rules whose removal alone would change (V, K)


def _rate(inst: RefInstance, e_id: str, accelerator: str) -> float:
    """R8, read afresh: own rate; else the best matching rates.csv row of the program; else the program's."""
    ent = inst.enterprises[e_id]
    if ent.rate is not None:
        return ent.rate
    best = None
    for row in inst.rates:
        if row.program != ent.program:
            continue
        if row.accelerator not in (None, accelerator):
            continue
        if row.kind is not None and row.kind != ent.kind:  # an enterprise without kind (None) matches only None
            continue
        best = row.rate if best is None else max(best, row.rate)
    return inst.programs[ent.program].rate if best is None else best


def _pair_ok(inst: RefInstance, d_id: str, p_id: str) -> bool:
    """R1, R2, R3 and R4 (one period: the window holds period 0 and u fits max_cards) for one pair."""
    d = inst.demands[d_id]
    ent = inst.enterprises[d.enterprise]
    pool = inst.pools[p_id]
    center = inst.centers[pool.center]
    if not ent.eligible:
        return False
    pc = inst.program_centers.get(ent.program)
    if pc is not None and pool.center not in pc:
        return False
    if (d.stack, pool.accelerator) not in inst.compatibility:
        return False
    a, b = d.home_region, center.region
    rtt = inst.latency.get((a, b), inst.latency.get((b, a), inst.intra_region_rtt if a == b else math.inf))
    if rtt > inst.latency_limit[d.latency_class]:
        return False
    if not (d.release <= 0 <= d.deadline):
        return False
    eff, _ = inst.compatibility[(d.stack, pool.accelerator)]
    return d.card_hours / eff <= d.max_cards * inst.period_hours * (1 + TOL) + TOL


def brute_force(folder) -> BruteResult:
    inst = folder if isinstance(folder, RefInstance) else read_instance(folder)
    if inst.periods != 1:
        raise ValueError("brute force handles one-period instances only")
    ph = inst.period_hours
    demands = list(inst.demands)
    pools = list(inst.pools)
    centers = list(inst.centers)
    ents = list(inst.enterprises)
    programs = list(inst.programs)
    P, C, E = len(pools), len(centers), len(ents)

    # options per demand: index 0 = unserved, then the pools that pass R1-R4
    options = [[None] + [p for p in pools if _pair_ok(inst, d, p)] for d in demands]
    n_rows = math.prod(len(o) for o in options)
    if n_rows > MAX_ROWS:
        raise ValueError(f"{n_rows} assignments: too many for brute force")
    choice = np.array(list(itertools.product(*[range(len(o)) for o in options])), dtype=np.int64).reshape(n_rows, len(demands))

    used = np.zeros((n_rows, P))  # card-hours per pool (R5)
    bill_e = np.zeros((n_rows, E))  # B_e (R7)
    claim_e = np.zeros((n_rows, E))  # A_e (R8)
    value = np.zeros(n_rows)
    bill_total = np.zeros(n_rows)
    served = np.zeros((n_rows, len(demands)), dtype=bool)
    for i, d_id in enumerate(demands):
        d = inst.demands[d_id]
        e = ents.index(d.enterprise)
        for o, p_id in enumerate(options[i]):
            if p_id is None:
                continue
            rows = choice[:, i] == o
            pool = inst.pools[p_id]
            eff, adapt = inst.compatibility[(d.stack, pool.accelerator)]
            u = d.card_hours / eff
            bill = u * pool.price + adapt
            used[rows, pools.index(p_id)] += u
            bill_e[rows, e] += bill
            claim_e[rows, e] += _rate(inst, d.enterprise, pool.accelerator) * bill
            bill_total[rows] += bill
            value[rows] += d.priority * d.card_hours
            served[rows, i] = True

    rules: dict[str, np.ndarray] = {}  # rule -> which assignments obey it
    def slack(a):
        return TOL * (1 + np.abs(a))

    # R5 capacity
    cap = np.array([inst.cards[(p, 0)] * ph for p in pools])
    rules["R5 capacity"] = np.all(used <= cap + slack(used), axis=1)

    # R6 energy, green, grid (one period: the horizon share is the period's)
    energy = np.zeros((n_rows, C))
    for j, p_id in enumerate(pools):
        pool = inst.pools[p_id]
        c = centers.index(pool.center)
        energy[:, c] += used[:, j] * pool.kw_per_card * inst.centers[pool.center].pue
    green_avail = np.array([inst.green[(c, 0)] for c in centers])
    green = np.minimum(energy, green_avail)
    grid = energy - green
    grid_cap = np.array([inst.centers[c].grid_kwh_cap for c in centers])
    share = np.array([inst.centers[c].min_green_share for c in centers])
    rules["R6 grid cap"] = np.all(grid <= grid_cap + slack(grid), axis=1)
    rules["R6 green share"] = np.all(green >= share * energy - slack(energy), axis=1)

    # R8 subsidy and thresholds
    remaining = np.array([max(0.0, inst.enterprises[e].cap - inst.enterprises[e].subsidy_ytd) for e in ents])
    billed = bill_e > 0
    min_voucher = np.array([inst.programs[inst.enterprises[e].program].min_voucher for e in ents])
    min_spend = np.array([inst.programs[inst.enterprises[e].program].min_spend for e in ents])
    spend_ytd = np.array([inst.enterprises[e].spend_ytd for e in ents])
    rules["R8 min spend"] = np.all(~billed | (spend_ytd + bill_e >= min_spend - slack(bill_e)), axis=1)
    # the cap enters through S_e = min(A_e, C_e): "R8 cap" is S_e = A_e instead, in both the voucher and the budget
    for name, subsidy in (("", np.minimum(claim_e, remaining)), (" uncapped", claim_e)):
        rules["R8 min voucher" + name] = np.all(~billed | (subsidy >= min_voucher - slack(subsidy)), axis=1)
        # R9 budget
        within = np.ones(n_rows, dtype=bool)
        for g in programs:
            mine = [k for k, e in enumerate(ents) if inst.enterprises[e].program == g]
            total = subsidy[:, mine].sum(axis=1)
            within &= total <= inst.programs[g].budget + slack(total)
        rules["R9 budget" + name] = within

    # R10 must serve
    rules["R10 must serve"] = np.all(served[:, [i for i, d in enumerate(demands) if inst.demands[d].must_serve]], axis=1)

    carbon = (grid * np.array([inst.grid_carbon[inst.centers[c].region] for c in centers])).sum(axis=1)
    cost = bill_total + inst.carbon_price * carbon

    def best(ok: np.ndarray) -> int | None:
        if not ok.any():
            return None
        v_best = value[ok].max()
        top = ok & (value >= v_best - 1e-9 * (1 + abs(v_best)))
        return int(np.flatnonzero(top)[np.argmin(cost[top])])

    capped = [r for r in rules if not r.endswith("uncapped")]
    ok = np.logical_and.reduce([rules[r] for r in capped])
    row = best(ok)
    if row is None:
        return BruteResult("infeasible", plans=n_rows)
    def differs(alt: int | None) -> bool:
        return alt is not None and (abs(value[alt] - value[row]) > 1e-9 * (1 + abs(value[row]))
                                    or abs(cost[alt] - cost[row]) > 1e-9 * (1 + abs(cost[row])))

    binding = {r for r in capped if differs(best(np.logical_and.reduce([rules[q] for q in capped if q != r])))}
    without_cap = [q for q in capped if q not in ("R8 min voucher", "R9 budget")] + ["R8 min voucher uncapped", "R9 budget uncapped"]
    if differs(best(np.logical_and.reduce([rules[q] for q in without_cap]))):
        binding.add("R8 cap")
    assignment = {demands[i]: options[i][choice[row, i]] for i in range(len(demands)) if choice[row, i] > 0}
    return BruteResult("optimal", float(value[row]), float(cost[row]), assignment, int(ok.sum()), n_rows, binding)


# ---------------------------------------------------------------- several periods


def _schedule_cost(inst: RefInstance, assignment: dict[str, str]) -> float | None:
    """The least carbon cost (yuan) of any schedule of a fixed assignment obeying R4-R6; None: no schedule does.

    A small LP written with highspy's modelling API (not the matrix of
    :mod:`tests.reference.model`): y[d, t] card-hours of d in period t of its window,
    g[c, t] green kWh with g <= energy and g <= green_kwh.
    """
    h = highspy.Highs()
    h.silent()
    ph = inst.period_hours
    y: dict[tuple[str, int], object] = {}
    for d_id, p_id in assignment.items():
        d = inst.demands[d_id]
        eff, _ = inst.compatibility[(d.stack, inst.pools[p_id].accelerator)]
        window = [t for t in range(d.release, d.deadline + 1) if 0 <= t < inst.periods]
        if not window:
            return None
        for t in window:
            y[(d_id, t)] = h.addVariable(lb=0.0, ub=min(d.max_cards * ph, highspy.kHighsInf))
        h.addConstr(sum(y[(d_id, t)] for t in window) == d.card_hours / eff)  # R4
    cost = 0.0
    for p_id in inst.pools:
        for t in range(inst.periods):
            terms = [y[(d, t)] for d, p in assignment.items() if p == p_id and (d, t) in y]
            if terms:
                h.addConstr(sum(terms) <= inst.cards[(p_id, t)] * ph)  # R5
    for c_id, c in inst.centers.items():
        greens, energies = [], []
        for t in range(inst.periods):
            terms = [y[(d, t)] * (inst.pools[p].kw_per_card * c.pue) for d, p in assignment.items()
                     if inst.pools[p].center == c_id and (d, t) in y]
            if not terms:
                continue
            energy = sum(terms)
            g = h.addVariable(lb=0.0, ub=min(inst.green[(c_id, t)], highspy.kHighsInf))
            h.addConstr(g <= energy)  # green = min(energy, green_kwh): g may sit below, every rule wants it high
            if c.grid_kwh_cap < math.inf:
                h.addConstr(energy - g <= c.grid_kwh_cap)  # R6 grid cap
            cost = cost + inst.carbon_price * inst.grid_carbon[c.region] * (energy - g)
            greens.append(g)
            energies.append(energy)
        if greens and c.min_green_share > 0:
            h.addConstr(sum(greens) >= c.min_green_share * sum(energies))  # R6 horizon share
    if not y:
        return 0.0
    h.minimize(cost if not isinstance(cost, float) else 0 * next(iter(y.values())))
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kModelEmpty):
        raise RuntimeError(f"schedule LP ended {status}")
    return float(h.getObjectiveValue())


def brute_force_multi(folder, max_plans: int = 50_000) -> BruteResult:
    """Every assignment of a tiny instance with any number of periods.

    R1-R3 and R7-R10 are checked directly on each assignment (the subsidy S_e =
    min(A_e, C_e) from its bills); the schedule (R4-R6) of the survivors is decided by
    a small LP, highest value first, every survivor of the best value costed.
    """
    inst = folder if isinstance(folder, RefInstance) else read_instance(folder)
    demands = list(inst.demands)
    options = []
    for d_id in demands:
        d = inst.demands[d_id]
        ent = inst.enterprises[d.enterprise]
        ok = []
        for p_id, pool in inst.pools.items():
            center = inst.centers[pool.center]
            pc = inst.program_centers.get(ent.program)
            a, b = d.home_region, center.region
            rtt = inst.latency.get((a, b), inst.latency.get((b, a), inst.intra_region_rtt if a == b else math.inf))
            if (ent.eligible and (pc is None or pool.center in pc) and (d.stack, pool.accelerator) in inst.compatibility
                    and rtt <= inst.latency_limit[d.latency_class]):
                ok.append(p_id)
        options.append([None] + ok)
    if math.prod(len(o) for o in options) > max_plans:
        raise ValueError("too many assignments for brute force")

    candidates = []  # (value, bill, assignment) obeying R7-R10
    for combo in itertools.product(*options):
        assignment = {d: p for d, p in zip(demands, combo) if p is not None}
        if any(inst.demands[d].must_serve and d not in assignment for d in demands):  # R10
            continue
        bill: dict[str, float] = {}
        claim: dict[str, float] = {}
        per_pool: dict[str, float] = {}
        for d_id, p_id in assignment.items():
            d = inst.demands[d_id]
            pool = inst.pools[p_id]
            eff, adapt = inst.compatibility[(d.stack, pool.accelerator)]
            u = d.card_hours / eff
            b = u * pool.price + adapt  # R7
            bill[d.enterprise] = bill.get(d.enterprise, 0.0) + b
            claim[d.enterprise] = claim.get(d.enterprise, 0.0) + _rate(inst, d.enterprise, pool.accelerator) * b
            per_pool[p_id] = per_pool.get(p_id, 0.0) + u
        if any(u > sum(inst.cards[(p, t)] for t in range(inst.periods)) * inst.period_hours * (1 + TOL) + TOL
               for p, u in per_pool.items()):
            continue  # R5 summed over the horizon: no schedule can exist
        ok = True
        spent: dict[str, float] = {}
        for e_id, b in bill.items():
            ent = inst.enterprises[e_id]
            prog = inst.programs[ent.program]
            s = min(claim[e_id], max(0.0, ent.cap - ent.subsidy_ytd))  # R8
            spent[ent.program] = spent.get(ent.program, 0.0) + s
            if b > 0 and (s < prog.min_voucher - TOL * (1 + s) or ent.spend_ytd + b < prog.min_spend - TOL * (1 + b)):
                ok = False
        if ok and all(s <= inst.programs[g].budget + TOL * (1 + s) for g, s in spent.items()):  # R9
            value = sum(inst.demands[d].priority * inst.demands[d].card_hours for d in assignment)
            candidates.append((value, sum(bill.values()), assignment))

    candidates.sort(key=lambda c: (-c[0], c[1]))
    best = None
    for value, bill_total, assignment in candidates:
        if best is not None and value < best.value - 1e-9 * (1 + abs(best.value)):
            break
        if best is not None and bill_total >= best.cost:
            continue  # carbon costs >= 0: cannot beat the best of this value
        carbon_cost = _schedule_cost(inst, assignment)
        if carbon_cost is None:
            continue
        if best is None or bill_total + carbon_cost < best.cost:
            best = BruteResult("optimal", value, bill_total + carbon_cost, assignment, plans=len(candidates))
    return best or BruteResult("infeasible", plans=len(candidates))
