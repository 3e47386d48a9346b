"""Program budgets (R9)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel
from models.subsidy import budget_may_bind, subsidy_entries, subsidy_sets


def add_budget(m: pyo.ConcreteModel, data: ModelData) -> None:
    """budget_limit:  sum_{e in g} subsidy(e) <= budget_yuan(g)     [yuan]

    Only programs whose enterprises could together claim more than the budget get a row.
    """
    tight = budget_may_bind(data)
    members = program_members(data, tight)
    budget = data.programs.set_index("program_id")["budget_yuan"]
    m.TIGHT_PROGRAMS = pyo.Set(initialize=sorted(tight), ordered=True)

    @m.Constraint(m.TIGHT_PROGRAMS, doc="subsidies of a program's enterprises within its budget (R9)")
    def budget_limit(m, g):
        if not members[g]:
            return pyo.Constraint.Skip
        return sum(m.subsidy_yuan[e] for e in members[g]) <= float(budget[g])


def program_members(data: ModelData, programs) -> dict:
    """Enterprises with at least one allowed pair, per program."""
    ent = data.enterprises
    present = set(data.pairs["enterprise_id"])
    return {g: [e for e in ent.loc[ent["program_id"] == g, "enterprise_id"] if e in present] for g in sorted(programs)}


def budget_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_budget`, as matrix rows ``budget_limit``."""
    members = {g: es for g, es in program_members(data, budget_may_bind(data)).items() if es}
    if not members:
        return
    sets = subsidy_sets(data)
    flat = [e for es in members.values() for e in es]
    program_row = np.concatenate([np.full(len(es), i) for i, es in enumerate(members.values())])
    r, c, v = subsidy_entries(mm, data, sets, flat)
    budget = data.programs.set_index("program_id")["budget_yuan"].reindex(list(members)).to_numpy(dtype=float)
    mm.add_rows("budget_limit", program_row[r], c, v, -np.inf, budget, list(members))
