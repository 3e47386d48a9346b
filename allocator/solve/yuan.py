"""The price of a yuan: what one more yuan of each programme's fund would serve.

For every programme, ``summary.json`` (``price_of_a_yuan``) and the report give:

* **the fund does not bind** -- a budget at least what its enterprises could ever claim
  (every demand at its pool of the largest claim r(d, p) x bill, each enterprise's remaining
  cap applied): one more yuan serves nothing, the price is 0;
* **the budget multiplier of the certified bound** -- where the method's best_bound comes with
  Lagrangian prices y (:mod:`models.lagrangian`: the fast and partitioned methods, and the
  bound computed beside the exact MIP and the baselines). L(y) is linear in each budget with
  slope y_g, so for every change d of programme g's budget, ``L(y) + y_g x d`` is a certified
  upper bound on the served value with that budget: y_g (value per yuan) bounds what extra fund
  can add beyond L(y). When L(y) is close to the plan's value it is the marginal value itself;
  the Lagrangian dual is convex in the budget, so y_g is a subgradient: an average over nearby
  funds, not the step a single yuan makes (the optimum is a step function of the fund);
* **a re-solve** -- where the instance is small enough (the exact method, its plan proven
  optimal, at most RESOLVE_MAX_COLUMNS model columns, and the solve so fast that one re-solve
  per binding programme is expected within RESOLVE_MAX_SECONDS, and within ``--time-limit``),
  the programme's budget is raised by RESOLVE_STEP (1 %) and the instance solved again exactly:
  (V' - V) / d is the served value the extra 1 % buys, per yuan (a difference within the two
  solves' gaps reads as 0). This confirms (or corrects) the multiplier; ``precision`` is what
  the two gaps allow, per yuan.

``value_per_yuan`` is the re-solve's figure where there is one, else the multiplier's, and
``source`` says which.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.solve.options import SolveOptions
from allocator.solve.result import SolveResult

RESOLVE_MAX_COLUMNS = 5_000  # exact instances up to this many model columns are re-solved with a larger fund
RESOLVE_STEP = 0.01  # the larger fund: the budget x (1 + this), at least RESOLVE_MIN_YUAN more
RESOLVE_MIN_YUAN = 1.0
RESOLVE_MAX_SECONDS = 10.0  # re-solve only if (seconds the solve took) x (binding programmes) is at most this
RESOLVE_TIME_SHARE = 0.25  # under --time-limit: and only if all re-solves are expected within this share of it
RESOLVE_TIME_FACTOR = 3.0  # each re-solve may take this many times the first solve (at least 1 s)
# ... and at least this many seconds without --time-limit: a 0.2 s solve's 1 s re-solve ended 'feasible' (its
# cost stage cut short) on a loaded machine, and the price of a yuan fell back to the multiplier
RESOLVE_MIN_SECONDS_UNLIMITED = 5.0
BIND_TOLERANCE = 1e-6  # relative: a budget this close to the largest claim cannot bind


def claimable_yuan(instance: Instance, scr: Screen) -> pd.Series:
    """Per programme: the most its enterprises could ever be paid: sum over enterprises of
    min(sum over their screened demands of the largest claim r(d, p) x bill, remaining cap)."""
    pairs = scr.pairs
    programs = instance.programs["program_id"]
    if pairs.empty:
        return pd.Series(0.0, index=programs)
    largest = pairs.groupby("demand_id", sort=False).agg(enterprise_id=("enterprise_id", "first"),
                                                         claim=("claim_yuan", "max"))
    claim_e = largest.groupby("enterprise_id")["claim"].sum()
    ent = instance.enterprises.set_index("enterprise_id")
    paid = np.minimum(claim_e, remaining_cap_yuan(ent).reindex(claim_e.index))
    return paid.groupby(ent["program_id"].reindex(claim_e.index)).sum().reindex(programs).fillna(0.0)


BOUND_AT_PRICES_MAX_PAIRS = 50_000  # above this, L(y) is not evaluated again (the multiplier is still given)


def budget_prices(instance: Instance, scr: Screen, prices) -> tuple[dict[str, float], float | None] | None:
    """(programme -> y_g, L(y)) for Lagrangian prices y of this instance (L(y) None above
    BOUND_AT_PRICES_MAX_PAIRS pairs), or None without prices."""
    if prices is None or scr.pairs.empty:
        return None
    if len(scr.pairs) > BOUND_AT_PRICES_MAX_PAIRS:
        programs = list(instance.programs["program_id"])
        if len(prices.budget) == len(programs):
            return dict(zip(programs, (float(y) for y in prices.budget))), None
        return None
    from allocator.solve.fast import TIME_BLOCKS
    from models.data import prepare
    from models.lagrangian import Relaxation

    data = prepare(instance, scr)
    for blocks in (None, TIME_BLOCKS):
        relaxation = Relaxation(data, blocks)
        if prices.fits(relaxation):
            bound = float(relaxation.price(prices).bound)
            return dict(zip(relaxation.program_ids, (float(y) for y in prices.budget))), bound
    return None


def price_of_a_yuan(instance: Instance, scr: Screen, options: SolveOptions, result, started: float,
                    solve: Callable[[Instance, SolveOptions], SolveResult]) -> dict:
    """The ``price_of_a_yuan`` entry of summary.json: per programme, see the module docstring.

    ``result`` is the :class:`~allocator.solve.result.SolveResult` of the solve (its plan, method,
    status and Lagrangian prices); ``started`` is when the command started (perf_counter), for
    the time limit; ``solve`` solves an instance in memory (the pipeline's ``solve_loaded``), for
    the confirming re-solve with a larger fund.
    """
    plan = result.plan
    claimable = claimable_yuan(instance, scr)
    spent = plan.programs.set_index("program_id")["subsidy_yuan"]
    multipliers = budget_prices(instance, scr, result.prices)
    budgets = instance.programs.set_index("program_id")["budget_yuan"].astype(float)
    binding = [g for g, b in budgets.items()
               if math.isfinite(b) and b < claimable[g] * (1 - BIND_TOLERANCE) - BIND_TOLERANCE]
    solve_seconds = time.perf_counter() - started
    resolve_ok, why_not = _may_resolve(scr, options, result, solve_seconds, len(binding))
    out: dict[str, dict] = {}
    for g, budget in budgets.items():
        entry: dict = {"budget_yuan": budget, "subsidy_yuan": float(spent.get(g, 0.0)),
                       "claimable_yuan": float(claimable[g])}
        if g not in binding:
            entry.update(value_per_yuan=0.0, source=f"the fund does not bind: its enterprises can claim at most "
                                                    f"{claimable[g]:,.2f} yuan")
            out[g] = entry
            continue
        if multipliers is not None:
            y, bound = multipliers
            entry["bound_value_per_yuan"] = y.get(g, 0.0)
            entry["bound_at_these_prices"] = bound
        if resolve_ok:
            entry["resolve"] = _resolve(instance, g, budget, options, result, solve_seconds, solve)
        entry.update(_headline(entry, why_not))
        out[g] = entry
    return out


def _headline(entry: dict, why_not: str) -> dict:
    resolve = entry.get("resolve")
    if resolve is not None and resolve.get("value_per_yuan") is not None:
        return {"value_per_yuan": resolve["value_per_yuan"],
                "source": f"re-solve with a fund larger by {resolve['extra_yuan']:,.2f} yuan "
                          f"({100 * RESOLVE_STEP:g} %): ({resolve['served_value']:,.6g} - {resolve['base_value']:,.6g}) / "
                          f"{resolve['extra_yuan']:,.2f}, to within {resolve['precision']:.2g} by the gaps"
                          + (f"; the certified bound's budget multiplier is {entry['bound_value_per_yuan']:.4g}"
                             if "bound_value_per_yuan" in entry else "")}
    if "bound_value_per_yuan" in entry:
        reason = f"; not re-solved: {resolve['note']}" if resolve is not None else (f"; not re-solved: {why_not}" if why_not else "")
        at = entry.get("bound_at_these_prices")
        bound = f"{at:,.6g}" if at is not None else "the bound at those prices"
        return {"value_per_yuan": entry["bound_value_per_yuan"],
                "source": "budget multiplier of the certified (Lagrangian) bound: a fund larger by d yuan serves at most "
                          f"{bound} + {entry['bound_value_per_yuan']:.6g} x d{reason}"}
    return {"value_per_yuan": None, "source": "not known: the method has no multiplier" + (f" and {why_not}" if why_not else "")}


def _may_resolve(scr: Screen, options: SolveOptions, result, seconds: float, binding: int) -> tuple[bool, str]:
    from allocator.solve.fast import model_columns

    if result.method != "exact":
        return False, f"the method is {result.method}, re-solves are made for the exact method only"
    if result.status != "optimal":
        return False, "the plan is not proven optimal"
    columns = model_columns(scr)
    if columns > RESOLVE_MAX_COLUMNS:
        return False, f"{columns:,} model columns > {RESOLVE_MAX_COLUMNS:,}"
    if seconds * binding > RESOLVE_MAX_SECONDS:
        return False, f"the solve took {seconds:.1f} s, {binding} re-solve(s) would take too long"
    if options.time_limit is not None and seconds * (1 + binding) > RESOLVE_TIME_SHARE * options.time_limit:
        return False, "the time limit leaves no room"
    return True, ""


def _resolve(instance: Instance, program_id: str, budget: float, options: SolveOptions, result, seconds: float,
             solve_loaded: Callable[[Instance, SolveOptions], SolveResult]) -> dict:
    """Solve again with the programme's budget raised by RESOLVE_STEP; the value it adds per yuan."""
    from allocator.problems import AllocatorError

    extra = max(RESOLVE_MIN_YUAN, RESOLVE_STEP * budget)
    programs = instance.programs.copy()
    programs.loc[programs["program_id"] == program_id, "budget_yuan"] = budget + extra
    larger = dataclasses.replace(instance, tables={**instance.tables, "programs": programs})
    limit = max(1.0 if options.time_limit is not None else RESOLVE_MIN_SECONDS_UNLIMITED, RESOLVE_TIME_FACTOR * seconds)
    again = dataclasses.replace(options, method="exact", price_of_a_yuan=False, time_limit=limit, progress=False)
    base = result.plan.served_value
    entry = {"extra_yuan": extra, "base_value": base}
    try:
        other = solve_loaded(larger, again)
    except AllocatorError as error:
        return {**entry, "value_per_yuan": None, "note": f"the re-solve failed: {error}"}
    entry.update(served_value=other.plan.served_value, status=other.status, gap=other.gap)
    if other.status != "optimal":
        return {**entry, "value_per_yuan": None, "note": f"the re-solve ended {other.status} (gap {other.gap:.3g})"}
    precision = (result.gap * abs(result.best_bound) + other.gap * abs(other.best_bound)) / extra
    difference = other.plan.served_value - base
    entry["value_per_yuan"] = max(0.0, difference) / extra if difference > -precision * extra else None
    entry["precision"] = precision
    if entry["value_per_yuan"] is None:
        entry["note"] = "the larger fund served less, beyond the gaps"
    return entry
