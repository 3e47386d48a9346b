"""What a solve returns: the plan, status, certified bound and gap, and what each phase took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator import __version__
from allocator.instance.types import Instance
from allocator.plan.extract import Plan
from allocator.solve.options import Method, Status

if TYPE_CHECKING:
    from allocator.solve.decompose import WarmStart
    from models.lagrangian import Multipliers


@dataclass
class SolveResult:
    """What a solve returns: the plan, its status, the certified bound and gap, and how it was made.

    ``best_bound`` is a proven upper bound on the served value of every plan, so ``gap`` =
    (best_bound - value) / best_bound says how far from optimal the plan can be.
    """

    instance: Instance
    status: Status
    plan: Plan
    best_bound: float
    gap: float
    method: Method
    solver: str
    solver_version: str
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model_size: dict[str, int] = field(default_factory=dict)
    cost_bound: float | None = None  # proven lower bound on the cost K (stage 2)
    method_requested: str = ""
    warm: WarmStart | None = None  # where the fast method's column generation ended, for the partitioned method
    prices: Multipliers | None = None  # Lagrangian prices of the certified bound, where the method has them
    price_of_a_yuan: dict | None = None  # per programme: value served per extra yuan of fund (allocator.solve.yuan)

    def summary(self) -> dict:
        inst = self.instance
        plan = self.plan
        return {
            "instance": inst.name,
            "instance_path": str(Path(inst.folder).resolve()),
            "instance_sha256": inst.files_sha256,
            "method": self.method,
            "method_requested": self.method_requested or self.method,
            "solver": self.solver,
            "solver_version": self.solver_version,
            "allocator_version": __version__,
            "status": self.status,
            "served_value": plan.served_value,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "total_bill_yuan": plan.total_bill_yuan,
            "total_subsidy_yuan": plan.total_subsidy_yuan,
            "carbon_kg": plan.carbon_kg,
            "cost_yuan": plan.cost,
            "cost_bound_yuan": self.cost_bound,
            "cost_gap": None if self.cost_bound is None else cost_gap(plan.cost, self.cost_bound),
            "demands_served": int(len(plan.assignments)),
            "demands_total": int(len(inst.demands)),
            "wall_seconds": self.seconds,
            "model": self.model_size,
            "notes": self.notes,
            **({"price_of_a_yuan": self.price_of_a_yuan} if self.price_of_a_yuan is not None else {}),
        }


def relative_gap(value: float, bound: float) -> float:
    """(bound - value) / |bound|, 0 when both are 0: how far the value may be from optimal."""
    if abs(bound) < 1e-12:
        return 0.0 if abs(value) < 1e-12 else float("inf")
    return max(0.0, (bound - value) / abs(bound))


def cost_gap(cost: float, bound: float) -> float:
    """(K - bound) / |K|, 0 when both are 0: how far the cost may be above the cheapest plan of that value."""
    if abs(cost) < 1e-12:
        return 0.0
    return max(0.0, (cost - bound) / abs(cost))


@dataclass
class _Chosen:
    """What a method decided: the chosen pairs, their schedule and what is known of optimality."""

    chosen: np.ndarray
    schedule: pd.DataFrame
    status: str
    bound: float
    notes: list[str]
    size: dict[str, int] = field(default_factory=dict)
    cost_bound: float | None = None
    warm: object = None
    prices: object = None  # Lagrangian prices of the bound (models.lagrangian.Multipliers), if any

