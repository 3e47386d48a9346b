"""Build the model: a flat list of constraint families, in order, as Pyomo or as a numpy matrix."""

from __future__ import annotations

import pyomo.environ as pyo

from models.assignment import add_assignment, assignment_rows
from models.budget import add_budget, budget_rows
from models.capacity import add_pool_capacity, pool_capacity_rows
from models.data import ModelData
from models.energy import add_energy, energy_rows
from models.matrix import MatrixModel
from models.must_serve import add_must_serve, must_serve_rows
from models.objective import add_objectives, objective_terms
from models.subsidy import add_subsidy, subsidy_rows
from models.usage import add_usage, usage_rows


def build_model(data: ModelData) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name=data.instance.name or "allocator")
    add_assignment(m, data)  # R1-R3 (by screening), one pool per demand
    add_must_serve(m, data)  # R10
    add_usage(m, data)  # R4
    add_pool_capacity(m, data)  # R5
    add_energy(m, data)  # R6
    add_subsidy(m, data)  # R7, R8
    add_budget(m, data)  # R9
    add_objectives(m, data)
    return m


def build_matrix(data: ModelData) -> MatrixModel:
    """The same model, family by family, as a sparse matrix for ``highspy`` (no Pyomo objects)."""
    mm = MatrixModel()
    assignment_rows(mm, data)  # R1-R3 (by screening), one pool per demand
    must_serve_rows(mm, data)  # R10
    usage_rows(mm, data)  # R4
    pool_capacity_rows(mm, data)  # R5
    energy_rows(mm, data)  # R6
    subsidy_rows(mm, data)  # R7, R8
    budget_rows(mm, data)  # R9
    objective_terms(mm, data)
    return mm
