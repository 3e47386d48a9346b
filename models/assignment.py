"""Assignment of each demand to at most one allowed pool (R1-R3 by construction: only screened pairs exist)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel
from models.terms import linear


def add_assignment(m: pyo.ConcreteModel, data: ModelData) -> None:
    """assign[k] in {0, 1}: pair k = (d, p) is chosen.

    one_pool_per_demand:  sum_{k of d} assign[k] <= 1    (no splitting across pools)
    Pairs that R1-R4 rule out were never created (:mod:`allocator.instance.screening`); must-serve
    demands are :mod:`models.must_serve` (R10).
    """
    m.PAIRS = pyo.RangeSet(0, data.n_pairs - 1)
    m.assign = pyo.Var(m.PAIRS, domain=pyo.Binary)
    groups = data.pairs.groupby("demand_id", sort=False).indices
    m.DEMANDS = pyo.Set(initialize=list(groups), ordered=True)

    @m.Constraint(m.DEMANDS, doc="a demand runs wholly at one pool")
    def one_pool_per_demand(m, d):
        return linear([1.0] * len(groups[d]), (m.assign[int(k)] for k in groups[d])) <= 1


def assignment_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_assignment`, as matrix rows: columns ``assign``, rows ``one_pool_per_demand``."""
    n = data.n_pairs
    cols = mm.add_columns("assign", np.zeros(n), np.ones(n), integer=True)
    codes, demands = pd.factorize(data.pairs["demand_id"], sort=False)
    mm.add_rows("one_pool_per_demand", codes, cols, np.ones(n), -np.inf, 1.0, list(demands))
