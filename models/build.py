"""Build the Pyomo model: a flat list of constraint families, in order."""

from __future__ import annotations

import pyomo.environ as pyo

from models.assignment import add_assignment
from models.budget import add_budget
from models.capacity import add_pool_capacity
from models.data import ModelData
from models.energy import add_energy
from models.objective import add_objectives
from models.subsidy import add_subsidy
from models.usage import add_usage


def build_model(data: ModelData) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name=data.instance.name or "allocator")
    add_assignment(m, data)  # R1-R3 (by screening), one pool per demand, R10
    add_usage(m, data)  # R4
    add_pool_capacity(m, data)  # R5
    add_energy(m, data)  # R6
    add_subsidy(m, data)  # R7, R8
    add_budget(m, data)  # R9
    add_objectives(m, data)
    return m
