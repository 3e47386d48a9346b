"""Bills, subsidies with caps, and the min-voucher / min-spend thresholds (R7, R8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel
from models.terms import linear

TOLERANCE_YUAN = 1e-6


def budget_may_bind(data: ModelData) -> set[str]:
    """Programs whose budget is below the most their enterprises could ever claim."""
    p = data.programs
    return set(p.loc[p["budget_yuan"] < p["max_subsidy_yuan"] - TOLERANCE_YUAN, "program_id"])


@dataclass
class SubsidySets:
    """Which enterprises need which subsidy variables (shared by the Pyomo and matrix builds)."""

    by_ent: dict  # enterprise -> pair indices k
    exact: list  # cap and budget may both bind: exact min with a binary
    bounded: list  # cap may bind, budget cannot, a minimum voucher reads the subsidy
    thresholds: list  # enterprises with a minimum voucher or spend and a billed pair
    threshold_demands: list  # (enterprise, demand, pair indices with a positive bill)
    ent: pd.DataFrame  # enterprises indexed by id
    threshold_gap: pd.Series  # min_spend - spend_ytd, at least 0

    @property
    def capped(self) -> list:
        return self.exact + self.bounded


def subsidy_sets(data: ModelData) -> SubsidySets:
    pairs = data.pairs
    ent = data.enterprises.set_index("enterprise_id")
    bill = pairs["bill_yuan"].to_numpy()
    by_ent = pairs.groupby("enterprise_id", sort=True).indices
    tight_programs = budget_may_bind(data)
    cap_may_bind = ent["max_claim_yuan"] > ent["remaining_cap_yuan"] + TOLERANCE_YUAN
    threshold_gap = (ent["min_spend_yuan"] - ent["spend_ytd_yuan"]).clip(lower=0.0)
    has_threshold = (ent["min_voucher_yuan"] > 0) | (threshold_gap > 0)
    keys = list(by_ent)  # enterprises with pairs, sorted
    may_bind = cap_may_bind.reindex(keys).to_numpy(dtype=bool)
    tight = ent["program_id"].reindex(keys).isin(tight_programs).to_numpy(dtype=bool)
    voucher = (ent["min_voucher_yuan"].reindex(keys) > 0).to_numpy(dtype=bool)
    positive = bill > 0
    billed = pd.Series(positive).groupby(pairs["enterprise_id"].to_numpy()).any().reindex(keys).to_numpy(dtype=bool)
    with_threshold = has_threshold.reindex(keys).to_numpy(dtype=bool) & billed
    exact = [e for e, m, t in zip(keys, may_bind, tight) if m and t]
    bounded = [e for e, m, t, v in zip(keys, may_bind, tight, voucher) if m and not t and v]
    thr = [e for e, w in zip(keys, with_threshold) if w]
    return SubsidySets(by_ent, exact, bounded, thr, threshold_demand_rows(pairs, thr, positive), ent, threshold_gap)


def threshold_demand_rows(pairs: pd.DataFrame, thr: list, positive: np.ndarray) -> list:
    """(enterprise, demand, pair positions with a positive bill) for the enterprises ``thr``: in their
    order, each one's demands in the order of their first such pair."""
    rank = {e: i for i, e in enumerate(thr)}
    mask = positive & pairs["enterprise_id"].map(rank).notna().to_numpy()
    at = np.flatnonzero(mask)
    groups = pairs.iloc[at].groupby(["enterprise_id", "demand_id"], sort=False).indices
    ordered = sorted(groups.items(), key=lambda item: (rank[item[0][0]], at[item[1][0]]))
    return [(e, d, tuple(int(k) for k in at[ks])) for (e, d), ks in ordered]


def add_subsidy(m: pyo.ConcreteModel, data: ModelData) -> None:
    """bill_yuan(e) = sum_{k of e} bill_k * assign[k],  bill_k = u_k * price_p + adaptation   (R7)

    claim(e) = sum_{k of e} a_k * assign[k],  a_k = r(d, p) * bill_k (``claim_yuan``, the pair's
    rate r(d, p) of R8 from :func:`allocator.instance.derived.pair_rates`)
    subsidy(e) = min(claim(e), C_e),  C_e = max(0, cap_yuan - subsidy_ytd_yuan)                (R8)
      * cap can never bind (max claim(e) <= C_e): subsidy(e) = claim(e), linear;
      * cap may bind and the program budget may bind: exact min with a binary capped[e]
            subsidy <= claim,  subsidy <= C,
            subsidy >= claim - M_e * capped[e],  subsidy >= C_e * capped[e],
            M_e = max claim(e) - C_e  (each demand at its pool of the largest claim);
      * cap may bind, budget cannot: only the thresholds read subsidy, and
            min_voucher <= subsidy <= min(claim, C) is exact for them.
    served[e] in {0, 1} is 1 when e has a served demand with a positive bill:
      sum_{k of d, bill_k > 0} assign[k] <= served[e]           for each demand d of e
      subsidy(e) >= min_voucher_yuan * served[e]
      bill(e)    >= (min_spend_yuan - spend_ytd_yuan) * served[e]
    """
    sets = subsidy_sets(data)
    ent, by_ent = sets.ent, sets.by_ent
    bill = data.pairs["bill_yuan"].to_numpy()
    m.ENTERPRISES = pyo.Set(initialize=list(by_ent), ordered=True)
    m.bill_yuan = pyo.Expression(
        m.ENTERPRISES, rule=lambda m, e: linear(bill[by_ent[e]], (m.assign[int(k)] for k in by_ent[e]))
    )
    claim = data.pairs["claim_yuan"].to_numpy()
    m.claim_yuan = pyo.Expression(
        m.ENTERPRISES, rule=lambda m, e: linear(claim[by_ent[e]], (m.assign[int(k)] for k in by_ent[e]))
    )
    cap = ent["remaining_cap_yuan"]
    m.CAPPED_ENTERPRISES = pyo.Set(initialize=sets.capped, ordered=True)
    m.subsidy_var = pyo.Var(
        m.CAPPED_ENTERPRISES, domain=pyo.NonNegativeReals, bounds=lambda m, e: (0.0, float(cap[e]))
    )

    @m.Constraint(m.CAPPED_ENTERPRISES, doc="subsidy at most the claim sum r(d, p) x bill (R8)")
    def subsidy_within_rate(m, e):
        return m.subsidy_var[e] <= m.claim_yuan[e]

    m.EXACT_CAPPED = pyo.Set(initialize=sets.exact, ordered=True)
    m.capped = pyo.Var(m.EXACT_CAPPED, domain=pyo.Binary)

    @m.Constraint(m.EXACT_CAPPED, doc="subsidy at least the claim unless the cap binds (R8)")
    def subsidy_at_least_rate(m, e):
        big_m = float(ent.at[e, "max_claim_yuan"] - cap[e])
        return m.subsidy_var[e] >= m.claim_yuan[e] - big_m * m.capped[e]

    @m.Constraint(m.EXACT_CAPPED, doc="subsidy equals the remaining cap when the cap binds (R8)")
    def subsidy_at_least_cap(m, e):
        return m.subsidy_var[e] >= float(cap[e]) * m.capped[e]

    capped_set = set(sets.capped)  # every enterprise whose cap may bind and whose subsidy is read

    def subsidy_rule(m, e):
        # Outside capped_set, either the cap cannot bind (the claim is exact) or no
        # budget and no voucher reads the subsidy, so the model never uses this value.
        return m.subsidy_var[e] if e in capped_set else m.claim_yuan[e]

    m.subsidy_yuan = pyo.Expression(m.ENTERPRISES, rule=subsidy_rule)

    # thresholds
    m.THRESHOLD_ENTERPRISES = pyo.Set(initialize=sets.thresholds, ordered=True)
    m.served = pyo.Var(m.THRESHOLD_ENTERPRISES, domain=pyo.Binary)
    m.THRESHOLD_DEMANDS = pyo.Set(initialize=[(e, d) for e, d, _ in sets.threshold_demands], dimen=2, ordered=True)
    ks_of = {(e, d): ks for e, d, ks in sets.threshold_demands}

    @m.Constraint(m.THRESHOLD_DEMANDS, doc="an enterprise with a billed demand counts as served")
    def served_if_billed(m, e, d):
        ks = ks_of[(e, d)]
        return linear([1.0] * len(ks), (m.assign[k] for k in ks)) <= m.served[e]

    @m.Constraint(m.THRESHOLD_ENTERPRISES, doc="subsidy of a served enterprise reaches the minimum voucher (R8)")
    def min_voucher(m, e):
        mv = float(ent.at[e, "min_voucher_yuan"])
        if mv <= 0:
            return pyo.Constraint.Skip
        if float(cap[e]) < mv - TOLERANCE_YUAN:
            return m.served[e] == 0  # the voucher can never reach the minimum
        return m.subsidy_yuan[e] >= mv * m.served[e]

    @m.Constraint(m.THRESHOLD_ENTERPRISES, doc="annual spend of a served enterprise reaches the minimum (R8)")
    def min_spend(m, e):
        gap = float(sets.threshold_gap[e])
        if gap <= 0:
            return pyo.Constraint.Skip
        return m.bill_yuan[e] >= gap * m.served[e]


def subsidy_entries(mm: MatrixModel, data: ModelData, sets: SubsidySets, enterprises: list) -> tuple:
    """(row number within ``enterprises``, column, coefficient) of subsidy(e) for each listed e:
    the column ``subsidy[e]`` where the cap may bind and is read, else claim(e) = sum a_k assign[k]."""
    claim = data.pairs["claim_yuan"].to_numpy()
    assign = mm.columns("assign")
    sub_col = dict(zip(sets.capped, mm.columns("subsidy")))
    rows, cols, coefs = [], [], []
    for i, e in enumerate(enterprises):
        if e in sub_col:
            rows.append(np.array([i])), cols.append(np.array([sub_col[e]])), coefs.append(np.array([1.0]))
        else:
            ks = sets.by_ent[e]
            rows.append(np.full(len(ks), i)), cols.append(assign[ks]), coefs.append(claim[ks])
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(coefs)


def bill_entries(mm: MatrixModel, data: ModelData, sets: SubsidySets, enterprises: list,
                 column: str = "bill_yuan") -> tuple:
    """(row number within ``enterprises``, column, coefficient) of bill(e) for each listed e
    (of claim(e) with ``column`` "claim_yuan")."""
    bill = data.pairs[column].to_numpy()
    assign = mm.columns("assign")
    ks = [sets.by_ent[e] for e in enterprises]
    if not ks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    rows = np.concatenate([np.full(len(k), i) for i, k in enumerate(ks)])
    k = np.concatenate(ks)
    return rows, assign[k], bill[k]


def subsidy_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_subsidy`, as matrix rows (same names as its constraints)."""
    sets = subsidy_sets(data)
    ent = sets.ent
    cap = ent["remaining_cap_yuan"]
    sub = mm.add_columns("subsidy", np.zeros(len(sets.capped)), cap.reindex(sets.capped).to_numpy(dtype=float))
    n_cap = len(sets.capped)
    # subsidy - claim <= 0
    r, c, v = bill_entries(mm, data, sets, sets.capped, "claim_yuan")
    mm.add_rows("subsidy_within_rate", np.concatenate([np.arange(n_cap), r]), np.concatenate([sub, c]),
                np.concatenate([np.ones(n_cap), -v]), -np.inf, 0.0, sets.capped)
    n_ex = len(sets.exact)
    capped = mm.add_columns("capped", np.zeros(n_ex), np.ones(n_ex), integer=True)
    if n_ex:
        cap_x = cap.reindex(sets.exact).to_numpy(dtype=float)
        big_m = ent["max_claim_yuan"].reindex(sets.exact).to_numpy(dtype=float) - cap_x
        r, c, v = bill_entries(mm, data, sets, sets.exact, "claim_yuan")
        idx = np.arange(n_ex)
        # subsidy - claim + M * capped >= 0
        mm.add_rows("subsidy_at_least_rate", np.concatenate([idx, r, idx]), np.concatenate([sub[idx], c, capped]),
                    np.concatenate([np.ones(n_ex), -v, big_m]), 0.0, np.inf, sets.exact)
        # subsidy - C * capped >= 0
        mm.add_rows("subsidy_at_least_cap", np.concatenate([idx, idx]), np.concatenate([sub[idx], capped]),
                    np.concatenate([np.ones(n_ex), -cap_x]), 0.0, np.inf, sets.exact)
    thr = sets.thresholds
    served = mm.add_columns("served", np.zeros(len(thr)), np.ones(len(thr)), integer=True)
    if not thr:
        return
    served_of = dict(zip(thr, served))
    assign = mm.columns("assign")
    dem = sets.threshold_demands
    r = np.concatenate([np.full(len(ks), i) for i, (_, _, ks) in enumerate(dem)])
    ks = np.concatenate([np.array(ks) for _, _, ks in dem])
    mm.add_rows("served_if_billed", np.concatenate([r, np.arange(len(dem))]),
                np.concatenate([assign[ks], [served_of[e] for e, _, _ in dem]]),
                np.concatenate([np.ones(len(ks)), -np.ones(len(dem))]), -np.inf, 0.0, [(e, d) for e, d, _ in dem])
    mv = ent["min_voucher_yuan"].reindex(thr).to_numpy(dtype=float)
    never = [e for e, v in zip(thr, mv) if v > 0 and float(cap[e]) < v - TOLERANCE_YUAN]
    voucher = [e for e, v in zip(thr, mv) if v > 0 and float(cap[e]) >= v - TOLERANCE_YUAN]
    # the voucher can never reach the minimum: served == 0, as a row so it carries the family's name
    mm.add_rows("min_voucher_never", np.arange(len(never)), [served_of[e] for e in never], np.ones(len(never)),
                0.0, 0.0, never)
    if voucher:
        r, c, v = subsidy_entries(mm, data, sets, voucher)
        need = ent["min_voucher_yuan"].reindex(voucher).to_numpy(dtype=float)
        mm.add_rows("min_voucher", np.concatenate([r, np.arange(len(voucher))]),
                    np.concatenate([c, [served_of[e] for e in voucher]]), np.concatenate([v, -need]), 0.0, np.inf, voucher)
    spend = [e for e in thr if sets.threshold_gap[e] > 0]
    if spend:
        r, c, v = bill_entries(mm, data, sets, spend)
        need = sets.threshold_gap.reindex(spend).to_numpy(dtype=float)
        mm.add_rows("min_spend", np.concatenate([r, np.arange(len(spend))]),
                    np.concatenate([c, [served_of[e] for e in spend]]), np.concatenate([v, -need]), 0.0, np.inf, spend)
