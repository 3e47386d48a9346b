"""A relaxation of the hourly model with no usage variables: capacities summed over intervals.

The exact model has a usage variable per (pair, hour of its window); at 5,000
demands x 24 hours that is a million columns and its LP alone outlasts a two-minute
budget. Dropping the hours and keeping only the assignment gives a model 13 times
smaller whose every constraint is implied by the exact one, so its LP optimum is
still an upper bound on the value of any plan (a certified bound):

interval_capacity:  sum_{k at p, window(k) inside I} u_k * assign[k] <= sum_{t in I} cards(p, t) * period_hours
    for the intervals I of :func:`interval_family` (the horizon, its halves, quarters, ...
    and every single period): a demand whose window lies inside I runs wholly inside I.
interval_energy:    the same for a center's energy against sum_{t in I} (green_kwh(c, t) + grid_kwh_cap(c)),
    since energy - green <= grid cap and green <= green_kwh in every period (R6).
green_total:        sum_k energy_k * assign[k] <= sum_t green_kwh(c, t) / min_green_share(c),
    since sum_t green >= share * sum_t energy and green <= green_kwh.
Assignment, subsidy, budget and objective are the exact families (R1-R3, R7-R10).
"""

from __future__ import annotations

import numpy as np

from models.assignment import assignment_rows
from models.budget import budget_rows
from models.data import ModelData
from models.matrix import MatrixModel
from models.objective import objective_terms
from models.subsidy import subsidy_rows

RELATIVE_SLACK = 1e-9


def interval_family(periods: int) -> list[tuple[int, int]]:
    """The horizon, then blocks of half, a quarter, ... of its length, down to single periods."""
    out: list[tuple[int, int]] = []
    length = periods
    while True:
        out += [(a, min(a + length, periods) - 1) for a in range(0, periods, length)]
        if length == 1:
            return list(dict.fromkeys(out))
        length = max(1, length // 2)


def _inside(data: ModelData, intervals: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(pair k, interval i) for every interval containing the pair's whole window."""
    release = data.pairs["release"].to_numpy()
    deadline = data.pairs["deadline"].to_numpy()
    a = np.array([i[0] for i in intervals])
    b = np.array([i[1] for i in intervals])
    k, i = np.nonzero((release[:, None] >= a[None, :]) & (deadline[:, None] <= b[None, :]))
    return k, i


def _interval_rows(mm: MatrixModel, name: str, k: np.ndarray, group: np.ndarray, coef: np.ndarray,
                   limit: np.ndarray, labels: list) -> None:
    """Rows sum coef * assign[k] <= limit[group], kept only where the entries could exceed the limit."""
    totals = np.bincount(group, weights=coef, minlength=len(limit))
    binding = np.flatnonzero(np.isfinite(limit) & (totals > limit * (1 + RELATIVE_SLACK)))
    if not len(binding):
        return
    row_of = np.full(len(limit), -1)
    row_of[binding] = np.arange(len(binding))
    on = row_of[group] >= 0
    mm.add_rows(name, row_of[group][on], mm.columns("assign")[k[on]], coef[on], -np.inf, limit[binding],
                [labels[j] for j in binding])


def interval_capacity_rows(mm: MatrixModel, data: ModelData) -> None:
    capacity = data.screen.capacity_card_hours
    periods = capacity.shape[1]
    intervals = interval_family(periods)
    k, i = _inside(data, intervals)
    pool = data.pairs["pool_idx"].to_numpy()[k]
    cum = np.concatenate([np.zeros((capacity.shape[0], 1)), np.cumsum(capacity, axis=1)], axis=1)
    a = np.array([iv[0] for iv in intervals])
    b = np.array([iv[1] for iv in intervals])
    limit_pi = cum[:, b + 1] - cum[:, a]  # (pools, intervals)
    group = pool * len(intervals) + i
    labels = [(p, intervals[j]) for p in range(capacity.shape[0]) for j in range(len(intervals))]
    _interval_rows(mm, "interval_capacity", k, group, data.pairs["usage_card_hours"].to_numpy()[k],
                   limit_pi.ravel(), labels)


def interval_energy_rows(mm: MatrixModel, data: ModelData) -> None:
    inst = data.instance
    centers = inst.centers
    grid_cap = centers["grid_kwh_cap"].to_numpy(dtype=float)
    green = data.screen.green_kwh
    periods = green.shape[1]
    kwh = (data.pairs["usage_card_hours"] * data.pairs["kw_per_card"]).to_numpy() \
        * centers["pue"].to_numpy(dtype=float)[data.pairs["center_idx"].to_numpy()]
    center = data.pairs["center_idx"].to_numpy()
    n_centers = len(centers)
    if np.isfinite(grid_cap).any():
        intervals = interval_family(periods)
        k, i = _inside(data, intervals)
        per_period = green + grid_cap[:, None]
        cum = np.concatenate([np.zeros((n_centers, 1)), np.cumsum(per_period, axis=1)], axis=1)
        a = np.array([iv[0] for iv in intervals])
        b = np.array([iv[1] for iv in intervals])
        limit = np.where(np.isfinite(grid_cap)[:, None], cum[:, b + 1] - cum[:, a], np.inf)
        labels = [(c, intervals[j]) for c in range(n_centers) for j in range(len(intervals))]
        _interval_rows(mm, "interval_energy", k, center[k] * len(intervals) + i, kwh[k], limit.ravel(), labels)
    share = centers["min_green_share"].to_numpy(dtype=float)
    if (share > 0).any():
        limit = np.where(share > 0, green.sum(axis=1) / np.where(share > 0, share, 1.0), np.inf)
        k = np.arange(data.n_pairs)
        _interval_rows(mm, "green_total", k, center, kwh, limit, list(range(n_centers)))


def build_relaxation(data: ModelData) -> MatrixModel:
    """The interval relaxation as a matrix model (no usage, no green columns)."""
    mm = MatrixModel()
    assignment_rows(mm, data)
    mm.add_columns("usage", np.zeros(0), np.zeros(0))
    interval_capacity_rows(mm, data)
    interval_energy_rows(mm, data)
    subsidy_rows(mm, data)
    budget_rows(mm, data)
    objective_terms(mm, data)
    return mm
