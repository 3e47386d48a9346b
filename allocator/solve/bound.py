"""The certified upper bound on the served value of every plan (Lagrangian, else trivial).
"""

from __future__ import annotations

import numpy as np

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.solve.options import SolveOptions


def value_upper_bound(scr: Screen) -> float:
    """Sum of the values of every demand that passed screening: a bound no plan can beat."""
    return float(scr.pairs.drop_duplicates("demand_id")["value"].sum())


BOUND_SECONDS = 30.0  # column generation time for the bound of a heuristic plan when no --time-limit is given


EXACT_BOUND_SECONDS = 5.0  # at most this (and 5 % of --time-limit) for the Lagrangian bound beside the exact MIP


def certified_bound(instance: Instance, scr: Screen, options: SolveOptions, start=None,
                    seconds: float | None = None) -> tuple[float, list[str]]:
    """An upper bound on the served value of every plan: the Lagrangian bound of :mod:`models.lagrangian`
    (column generation, time-boxed); the trivial bound (every screened demand's value) without pairs or time."""
    from allocator.solve.decompose import lagrangian_bound
    from allocator.solve.fast import TIME_BLOCKS
    from models.data import prepare

    if seconds is None:
        seconds = options.time_limit if options.time_limit is not None else BOUND_SECONDS
    trivial = value_upper_bound(scr)
    if seconds <= 0 or scr.pairs.empty:
        return trivial, ["best_bound is the total value of every screened demand"]
    blocks = TIME_BLOCKS if instance.periods > TIME_BLOCKS else None
    bound, rounds = lagrangian_bound(prepare(instance, scr), seconds, start, blocks)
    if not np.isfinite(bound):
        return trivial, ["best_bound is the total value of every screened demand"]
    where = f" on {TIME_BLOCKS} time block(s)" if blocks else ""
    return min(bound, trivial), [f"best_bound is the Lagrangian bound{where} ({rounds} pricing rounds)"]
