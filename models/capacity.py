"""Pool capacity in every period (R5)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel, usage_entries
from models.terms import usage_terms

RELATIVE_SLACK = 1e-9


def binding_pool_periods(data: ModelData) -> list[tuple[int, int]]:
    """(p, t) where the pairs could together exceed the capacity: only these need a row.

    If the sum of every pair's largest possible usage at (p, t) fits, R5 holds anyway.
    """
    rows = data.usage_rows
    most = rows["cap_card_hours"].clip(upper=rows["usage_card_hours"])
    totals = most.groupby([rows["pool_idx"], rows["t"]]).sum()
    capacity = data.screen.capacity_card_hours
    return [
        (int(p), int(t))
        for (p, t), total in totals.items()
        if total > capacity[p, t] * (1 + RELATIVE_SLACK)
    ]


def add_pool_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """pool_capacity:  sum_{k at p} usage(k, t) <= cards(p, t) * period_hours   [card-hours]

    Only (p, t) of :func:`binding_pool_periods` get a row.
    """
    rows = data.usage_rows
    capacity = data.screen.capacity_card_hours
    binding = binding_pool_periods(data)
    m.POOL_PERIODS = pyo.Set(initialize=binding, dimen=2, ordered=True)
    if not binding:
        return
    groups = rows.groupby(["pool_idx", "t"], sort=False).indices

    @m.Constraint(m.POOL_PERIODS, doc="usage of all demands at pool p within its cards in period t (R5)")
    def pool_capacity(m, p, t):
        return usage_terms(m, rows.iloc[groups[(p, t)]]) <= float(capacity[p, t])


def pool_capacity_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_pool_capacity`, as matrix rows ``pool_capacity``."""
    binding = binding_pool_periods(data)
    if not binding:
        return
    rows = data.usage_rows
    periods = data.screen.capacity_card_hours.shape[1]
    key = rows["pool_idx"].to_numpy() * periods + rows["t"].to_numpy()
    wanted = np.array([p * periods + t for p, t in binding])  # ascending: binding is sorted by (p, t)
    inside = np.isin(key, wanted)
    col, coef = usage_entries(mm, rows[inside])
    row = np.searchsorted(wanted, key[inside])
    capacity = np.array([data.screen.capacity_card_hours[p, t] for p, t in binding])
    mm.add_rows("pool_capacity", row, col, coef, -np.inf, capacity, binding)
