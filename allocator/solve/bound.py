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
    bound, notes, _ = certified_bound_and_prices(instance, scr, options, start, seconds)
    return bound, notes


def certified_bound_and_prices(instance: Instance, scr: Screen, options: SolveOptions, start=None,
                               seconds: float | None = None) -> tuple[float, list[str], object]:
    """:func:`certified_bound` and the Lagrangian prices (:class:`models.lagrangian.Multipliers`) it was
    reached at, None when the bound is the trivial one; their budget prices give the price of a yuan
    (:mod:`allocator.solve.yuan`)."""
    from allocator.solve.decompose import lagrangian_prices
    from allocator.solve.fast import TIME_BLOCKS
    from models.data import prepare

    if seconds is None:
        seconds = options.time_limit if options.time_limit is not None else BOUND_SECONDS
    trivial = value_upper_bound(scr)
    if seconds <= 0 or scr.pairs.empty:
        return trivial, ["best_bound is the total value of every screened demand"], None
    blocks = TIME_BLOCKS if instance.periods > TIME_BLOCKS else None
    bound, prices, rounds = lagrangian_prices(prepare(instance, scr), seconds, start, blocks)
    if not np.isfinite(bound):
        return trivial, ["best_bound is the total value of every screened demand"], None
    where = f" on {TIME_BLOCKS} time block(s)" if blocks else ""
    return min(bound, trivial), [f"best_bound is the Lagrangian bound{where} ({rounds} pricing rounds)"], prices
