"""Must-serve demands (R10): every must_serve demand is served.

With :mod:`models.assignment`'s ``one_pool_per_demand`` (at most one pool per demand) this makes
a must-serve demand run at exactly one of its allowed pools. A must-serve demand with no allowed
pool at all never reaches the model: the pipeline stops at screening with exit 3 naming it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel
from models.terms import linear


def add_must_serve(m: pyo.ConcreteModel, data: ModelData) -> None:
    """must_serve (R10):  sum_{k of d} assign[k] >= 1    for every must_serve demand d"""
    groups = data.pairs.groupby("demand_id", sort=False).indices
    must = data.pairs.groupby("demand_id", sort=False)["must_serve"].first()
    m.MUST_SERVE_DEMANDS = pyo.Set(initialize=[d for d in groups if bool(must[d])], ordered=True)

    @m.Constraint(m.MUST_SERVE_DEMANDS, doc="every must_serve demand is served (R10)")
    def must_serve(m, d):
        return linear([1.0] * len(groups[d]), (m.assign[int(k)] for k in groups[d])) >= 1


def must_serve_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_must_serve`, as matrix rows ``must_serve``."""
    codes, demands = pd.factorize(data.pairs["demand_id"], sort=False)
    must_demand = data.pairs.groupby(codes, sort=True)["must_serve"].first().to_numpy(dtype=bool)
    if not must_demand.any():
        return
    row_of = np.cumsum(must_demand) - 1  # demand code -> row among the must-serve demands
    on = must_demand[codes]
    cols = mm.columns("assign")[on]
    mm.add_rows("must_serve", row_of[codes[on]], cols, np.ones(int(on.sum())), 1.0, np.inf,
                [d for d, m in zip(demands, must_demand) if m])
