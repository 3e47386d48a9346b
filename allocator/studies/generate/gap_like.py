"""The `gap-like` family: generalized assignment problems with a known feasible loading.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from allocator.studies.generate.knobs import (
    GAP_COST_RANGE,
    GAP_RESOURCE_RANGE,
    STREAM_GAP,
    Generated,
    Knobs,
)


@dataclass(frozen=True)
class GapLikeSize:
    jobs: int = 100
    centers: int = 1
    pools_per_center: int = 5
    capacity_ratio: float = 0.8
    must_serve_share: float = 1.0

    @classmethod
    def from_knobs(cls, knobs: Knobs) -> GapLikeSize:
        size = cls()
        changes = {"jobs": knobs.demands, "centers": knobs.centers, "pools_per_center": knobs.pools_per_center,
                   "capacity_ratio": knobs.capacity_ratio, "must_serve_share": knobs.must_serve_share}
        return replace(size, **{k: v for k, v in changes.items() if v is not None})

    @property
    def agents(self) -> int:
        return self.centers * self.pools_per_center


def gap_like(seed: int, knobs: Knobs, name: str, description: str) -> Generated:
    """A generalized assignment problem (type C numbers) as an instance, like ``import-gap`` writes it.

    Agents are pools (``pools_per_center`` at each of ``centers`` centers, all in
    one region), jobs are demands. Capacity of agent i:
    ``floor(capacity_ratio x sum_j a_ij / m)`` (0.8 is type C), raised where
    needed so a best-fit assignment of the must-serve jobs fits -- the instance
    is never infeasible. A share of the jobs is must-serve; the others are
    served only if they fit (stage 1 maximizes the served card-hours).
    """
    from allocator.studies.gap.instance import gap_instance_tables
    from allocator.studies.gap.reading import GapProblem

    size = GapLikeSize.from_knobs(knobs)
    rng = np.random.default_rng((seed, STREAM_GAP))
    m, n = size.agents, size.jobs
    resource = rng.integers(GAP_RESOURCE_RANGE[0], GAP_RESOURCE_RANGE[1] + 1, size=(m, n))
    cost = rng.integers(GAP_COST_RANGE[0], GAP_COST_RANGE[1] + 1, size=(m, n))
    must = np.zeros(n, dtype=bool)
    must[rng.permutation(n)[: round(size.must_serve_share * n)]] = True
    capacity = np.floor(size.capacity_ratio * resource.sum(axis=1) / m).astype(np.int64)
    capacity = np.maximum(capacity, best_fit_loads(resource, capacity, must))
    problem = GapProblem(m, n, cost.astype(np.int64), resource.astype(np.int64), capacity)
    toml_text, tables = gap_instance_tables(problem, name, description)
    tables["demands"]["must_serve"] = must
    centers = [f"C{c + 1}" for c in range(size.centers)]
    tables["pools"]["center_id"] = [centers[i // size.pools_per_center] for i in range(m)]
    base = tables["centers"].iloc[0]
    tables["centers"] = pd.DataFrame([base.to_dict() | {"center_id": c} for c in centers], columns=tables["centers"].columns)
    return Generated(toml_text, tables, exact_floats=True)


def best_fit_loads(resource: np.ndarray, capacity: np.ndarray, must: np.ndarray) -> np.ndarray:
    """Loads of a best-fit assignment of the must-serve jobs (largest first).

    Each job goes to the agent where it uses the least resource among those with
    room left, or, if none has room, to the agent that ends least over its capacity.
    """
    m = resource.shape[0]
    load = np.zeros(m, dtype=np.int64)
    jobs = np.flatnonzero(must)
    for j in jobs[np.argsort(-resource[:, jobs].min(axis=0), kind="stable")]:
        fits = load + resource[:, j] <= capacity
        if fits.any():
            agent = int(np.argmin(np.where(fits, resource[:, j], np.iinfo(np.int64).max)))
        else:
            agent = int(np.argmin(load + resource[:, j] - capacity))
        load[agent] += resource[agent, j]
    return load
