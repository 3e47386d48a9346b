"""Bills, subsidies with caps, and the min-voucher / min-spend thresholds (R7, R8)."""

from __future__ import annotations

import pyomo.environ as pyo

from models.data import ModelData
from models.terms import linear

TOLERANCE_YUAN = 1e-6


def budget_may_bind(data: ModelData) -> set[str]:
    """Programs whose budget is below the most their enterprises could ever claim."""
    p = data.programs
    return set(p.loc[p["budget_yuan"] < p["max_subsidy_yuan"] - TOLERANCE_YUAN, "program_id"])


def add_subsidy(m: pyo.ConcreteModel, data: ModelData) -> None:
    """bill_yuan(e) = sum_{k of e} bill_k * assign[k],  bill_k = u_k * price_p + adaptation   (R7)

    subsidy(e) = min(rate_e * bill(e), C_e),  C_e = max(0, cap_yuan - subsidy_ytd_yuan)        (R8)
      * cap can never bind (rate_e * max bill <= C_e): subsidy(e) = rate_e * bill(e), linear;
      * cap may bind and the program budget may bind: exact min with a binary capped[e]
            subsidy <= rate * bill,  subsidy <= C,
            subsidy >= rate * bill - M_e * capped[e],  subsidy >= C_e * capped[e],
            M_e = rate_e * max bill(e) - C_e;
      * cap may bind, budget cannot: only the thresholds read subsidy, and
            min_voucher <= subsidy <= min(rate * bill, C) is exact for them.
    served[e] in {0, 1} is 1 when e has a served demand with a positive bill:
      sum_{k of d, bill_k > 0} assign[k] <= served[e]           for each demand d of e
      subsidy(e) >= min_voucher_yuan * served[e]
      bill(e)    >= (min_spend_yuan - spend_ytd_yuan) * served[e]
    """
    pairs = data.pairs
    ent = data.enterprises.set_index("enterprise_id")
    bill = pairs["bill_yuan"].to_numpy()
    by_ent = pairs.groupby("enterprise_id", sort=True).indices
    m.ENTERPRISES = pyo.Set(initialize=list(by_ent), ordered=True)
    m.bill_yuan = pyo.Expression(
        m.ENTERPRISES, rule=lambda m, e: linear(bill[by_ent[e]], (m.assign[int(k)] for k in by_ent[e]))
    )
    tight_programs = budget_may_bind(data)
    rate = ent["rate"]
    cap = ent["remaining_cap_yuan"]
    cap_may_bind = rate * ent["max_bill_yuan"] > cap + TOLERANCE_YUAN
    threshold_gap = (ent["min_spend_yuan"] - ent["spend_ytd_yuan"]).clip(lower=0.0)
    has_threshold = (ent["min_voucher_yuan"] > 0) | (threshold_gap > 0)

    exact = [e for e in by_ent if cap_may_bind[e] and ent.at[e, "program_id"] in tight_programs]
    exact_set = set(exact)
    bounded = [e for e in by_ent if cap_may_bind[e] and e not in exact_set and ent.at[e, "min_voucher_yuan"] > 0]
    m.CAPPED_ENTERPRISES = pyo.Set(initialize=exact + bounded, ordered=True)
    m.subsidy_var = pyo.Var(
        m.CAPPED_ENTERPRISES, domain=pyo.NonNegativeReals, bounds=lambda m, e: (0.0, float(cap[e]))
    )

    @m.Constraint(m.CAPPED_ENTERPRISES, doc="subsidy at most rate x bill (R8)")
    def subsidy_within_rate(m, e):
        return m.subsidy_var[e] <= float(rate[e]) * m.bill_yuan[e]

    m.EXACT_CAPPED = pyo.Set(initialize=exact, ordered=True)
    m.capped = pyo.Var(m.EXACT_CAPPED, domain=pyo.Binary)

    @m.Constraint(m.EXACT_CAPPED, doc="subsidy at least rate x bill unless the cap binds (R8)")
    def subsidy_at_least_rate(m, e):
        big_m = float(rate[e] * ent.at[e, "max_bill_yuan"] - cap[e])
        return m.subsidy_var[e] >= float(rate[e]) * m.bill_yuan[e] - big_m * m.capped[e]

    @m.Constraint(m.EXACT_CAPPED, doc="subsidy equals the remaining cap when the cap binds (R8)")
    def subsidy_at_least_cap(m, e):
        return m.subsidy_var[e] >= float(cap[e]) * m.capped[e]

    capped_set = exact_set | set(bounded)  # every enterprise whose cap may bind and whose subsidy is read

    def subsidy_rule(m, e):
        # Outside capped_set, either the cap cannot bind (rate * bill is exact) or no
        # budget and no voucher reads the subsidy, so the model never uses this value.
        return m.subsidy_var[e] if e in capped_set else float(rate[e]) * m.bill_yuan[e]

    m.subsidy_yuan = pyo.Expression(m.ENTERPRISES, rule=subsidy_rule)

    # thresholds
    positive = bill > 0
    thr = [e for e in by_ent if has_threshold[e] and positive[by_ent[e]].any()]
    m.THRESHOLD_ENTERPRISES = pyo.Set(initialize=thr, ordered=True)
    m.served = pyo.Var(m.THRESHOLD_ENTERPRISES, domain=pyo.Binary)
    dem_rows = []
    for e in thr:
        idx = by_ent[e]
        idx = idx[positive[idx]]
        for d, ks in pairs.iloc[idx].groupby("demand_id", sort=False).indices.items():
            dem_rows.append((e, d, tuple(int(k) for k in idx[ks])))
    m.THRESHOLD_DEMANDS = pyo.Set(initialize=[(e, d) for e, d, _ in dem_rows], dimen=2, ordered=True)
    ks_of = {(e, d): ks for e, d, ks in dem_rows}

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
        gap = float(threshold_gap[e])
        if gap <= 0:
            return pyo.Constraint.Skip
        return m.bill_yuan[e] >= gap * m.served[e]
