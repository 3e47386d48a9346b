"""Program budgets (R9)."""

from __future__ import annotations

import pyomo.environ as pyo

from models.data import ModelData
from models.subsidy import budget_may_bind


def add_budget(m: pyo.ConcreteModel, data: ModelData) -> None:
    """budget_limit:  sum_{e in g} subsidy(e) <= budget_yuan(g)     [yuan]

    Only programs whose enterprises could together claim more than the budget get a row.
    """
    tight = budget_may_bind(data)
    ent = data.enterprises
    members = {
        g: [e for e in ent.loc[ent["program_id"] == g, "enterprise_id"] if e in m.ENTERPRISES]
        for g in sorted(tight)
    }
    budget = data.programs.set_index("program_id")["budget_yuan"]
    m.TIGHT_PROGRAMS = pyo.Set(initialize=sorted(tight), ordered=True)

    @m.Constraint(m.TIGHT_PROGRAMS, doc="subsidies of a program's enterprises within its budget (R9)")
    def budget_limit(m, g):
        if not members[g]:
            return pyo.Constraint.Skip
        return sum(m.subsidy_yuan[e] for e in members[g]) <= float(budget[g])
