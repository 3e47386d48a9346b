"""Assignment of each demand to at most one allowed pool (R1-R3 by construction; R10)."""

from __future__ import annotations

import pyomo.environ as pyo

from models.data import ModelData
from models.terms import linear


def add_assignment(m: pyo.ConcreteModel, data: ModelData) -> None:
    """assign[k] in {0, 1}: pair k = (d, p) is chosen.

    one_pool_per_demand:  sum_{k of d} assign[k] <= 1    (no splitting across pools)
    must_serve (R10):     sum_{k of d} assign[k]  = 1    for every must_serve demand d
    Pairs that R1-R4 rule out were never created (:mod:`allocator.screening`).
    """
    m.PAIRS = pyo.RangeSet(0, data.n_pairs - 1)
    m.assign = pyo.Var(m.PAIRS, domain=pyo.Binary)
    groups = data.pairs.groupby("demand_id", sort=False).indices
    must = data.pairs.groupby("demand_id", sort=False)["must_serve"].first()
    m.DEMANDS = pyo.Set(initialize=list(groups), ordered=True)

    @m.Constraint(m.DEMANDS, doc="a demand runs wholly at one pool; must_serve demands at exactly one (R10)")
    def one_pool_per_demand(m, d):
        expr = linear([1.0] * len(groups[d]), (m.assign[int(k)] for k in groups[d]))
        return expr == 1 if bool(must[d]) else expr <= 1
