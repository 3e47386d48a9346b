"""The lexicographic objective: served value first, then cost."""

from __future__ import annotations

import pyomo.environ as pyo

from models.data import ModelData
from models.energy import carbon_yuan_per_kwh
from models.matrix import MatrixModel
from models.terms import linear


def add_objectives(m: pyo.ConcreteModel, data: ModelData) -> None:
    """served_value V = sum_k priority_d * card_hours_d * assign[k]                  (maximize first)
    cost K = sum_k bill_k * assign[k]
           + carbon_price_yuan_per_kg * sum_{c,t} grid_kwh(c, t) * grid_carbon_kg_per_kwh(region of c)

    Both objectives are declared; the solver activates one at a time (stage 1: V,
    stage 2: K with V held at its stage-1 value).
    """
    pairs = data.pairs
    m.served_value_expr = pyo.Expression(expr=linear(pairs["value"].to_numpy(), (m.assign[k] for k in m.PAIRS)))
    carbon = carbon_yuan_per_kwh(data)
    bills = linear(pairs["bill_yuan"].to_numpy(), (m.assign[k] for k in m.PAIRS))
    carbon_cost = sum(float(carbon[c]) * m.grid_kwh[c, t] for (c, t) in m.CENTER_PERIODS if carbon[c] > 0)
    m.cost_expr = pyo.Expression(expr=bills + carbon_cost)
    m.served_value = pyo.Objective(expr=m.served_value_expr, sense=pyo.maximize)
    m.cost = pyo.Objective(expr=m.cost_expr, sense=pyo.minimize)
    m.cost.deactivate()


def objective_terms(mm: MatrixModel, data: ModelData) -> None:
    """The same objectives as :func:`add_objectives` on the matrix: the value of each pair and its bill
    (the carbon part of the cost is added by :func:`models.energy.energy_rows`)."""
    assign = mm.columns("assign")
    mm.add_objective("value", assign, data.pairs["value"].to_numpy(dtype=float))
    mm.add_objective("cost", assign, data.pairs["bill_yuan"].to_numpy(dtype=float))
