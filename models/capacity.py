"""Pool capacity in every period (R5)."""

from __future__ import annotations

import pyomo.environ as pyo

from models.data import ModelData
from models.terms import usage_terms

RELATIVE_SLACK = 1e-9


def add_pool_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """pool_capacity:  sum_{k at p} usage(k, t) <= cards(p, t) * period_hours   [card-hours]

    Only (p, t) where the pairs could together exceed the capacity get a row:
    if the sum of every pair's largest possible usage there fits, R5 holds anyway.
    """
    rows = data.usage_rows
    most = rows["cap_card_hours"].clip(upper=rows["usage_card_hours"])
    totals = most.groupby([rows["pool_idx"], rows["t"]]).sum()
    capacity = data.screen.capacity_card_hours
    binding = [
        (int(p), int(t))
        for (p, t), total in totals.items()
        if total > capacity[p, t] * (1 + RELATIVE_SLACK)
    ]
    m.POOL_PERIODS = pyo.Set(initialize=binding, dimen=2, ordered=True)
    if not binding:
        return
    groups = rows.groupby(["pool_idx", "t"], sort=False).indices

    @m.Constraint(m.POOL_PERIODS, doc="usage of all demands at pool p within its cards in period t (R5)")
    def pool_capacity(m, p, t):
        return usage_terms(m, rows.iloc[groups[(p, t)]]) <= float(capacity[p, t])
