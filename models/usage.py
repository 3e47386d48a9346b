"""Per-period usage inside each demand's window (R4)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel
from models.terms import linear


def add_usage(m: pyo.ConcreteModel, data: ModelData) -> None:
    """usage[j] >= 0: card-hours pair k uses in period t (one variable per usage row j).

    Bounds:        usage[j] <= min(max_cards * period_hours, cards(p, t) * period_hours)
    window_total:  sum_{t in release..deadline} usage(k, t) = u_k * assign[k]   (R4)
    A pair whose window is a single period needs no variable: its usage is u_k * assign[k].
    Periods outside the window have no variable at all (usage 0).
    """
    rows = data.usage_rows[data.usage_rows["var_j"] >= 0]
    cap = rows["cap_card_hours"].to_numpy()
    m.USAGE_VARS = pyo.RangeSet(0, data.n_usage_vars - 1)
    m.usage = pyo.Var(m.USAGE_VARS, domain=pyo.NonNegativeReals, bounds=lambda m, j: (0.0, float(cap[j])))
    groups = rows.groupby("k", sort=True)["var_j"].apply(list)
    u = data.pairs["usage_card_hours"].to_numpy()
    m.MULTI_PERIOD_PAIRS = pyo.Set(initialize=[int(k) for k in groups.index], ordered=True)

    @m.Constraint(m.MULTI_PERIOD_PAIRS, doc="usage over the window sums to u_k when assigned, else 0 (R4)")
    def window_total(m, k):
        js = groups[k]
        return linear([1.0] * len(js), (m.usage[int(j)] for j in js)) == float(u[k]) * m.assign[k]


def usage_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_usage`, as matrix rows: columns ``usage``, rows ``window_total``."""
    rows = data.usage_rows[data.usage_rows["var_j"] >= 0]
    cols = mm.add_columns("usage", np.zeros(len(rows)), rows["cap_card_hours"].to_numpy(dtype=float))
    k = rows["k"].to_numpy()
    pairs, row_of = np.unique(k, return_inverse=True)
    u = data.pairs["usage_card_hours"].to_numpy()
    assign = mm.columns("assign")
    n = len(pairs)
    mm.add_rows(
        "window_total",
        np.concatenate([row_of, np.arange(n)]),
        np.concatenate([cols[rows["var_j"].to_numpy()], assign[pairs]]),
        np.concatenate([np.ones(len(rows)), -u[pairs]]),
        0.0, 0.0, [int(p) for p in pairs],
    )
