"""The partitioned method (``--method partition --parts K``), after POP (Narayanan et al., SOSP 2021).

The instance is split into K parts by enterprise, so that every enterprise's cap
and thresholds (R8) stay whole inside one part. Each part gets a share of every
shared resource: a programme's budget in proportion to what the part's
enterprises could claim from it, and every pool's cards, every center's green
power and grid cap in proportion to the card-hours the part requests. The
parts are solved in parallel on the shared executor (local worker processes, or
a Dask cluster with ``--scheduler``), each with the fast method (or the exact
one when it is small), and their plans are merged.

Why the merge is a valid plan: the shares of each budget, pool capacity, green
supply and grid cap add up to the whole, so sums of the parts' usage, energy and
subsidies stay within them (R5, R9); green(c, t) = min(energy, green_kwh) of the
whole is at least the sum of the parts' green, so the green share and the grid
cap of R6 hold too. The merged plan is then repaired and improved: one
rule-keeping pass over the demands the parts left out places whatever still fits
in the capacity and budget the parts did not use. The same argument makes the
parts' LP solutions add up to a solution of the whole instance's master: the
whole-instance stage (``allocator.solve.pipeline._partition``) starts its column
generation from the parts' prices and their LP plan columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.executor import ExecutorOptions, run_tasks, slots
from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.plan.extract import empty_schedule
from allocator.solve.heuristics import enterprise_sequence, place_in_order
from allocator.solve.options import SolveOptions
from allocator.solve.state import HeuristicPlan

DEFAULT_PARTS = 4
PART_SHARE = 0.5  # of --time-limit for the rounds of parts; the rest improves and bounds the whole instance


@dataclass
class PartResult:
    index: int
    pairs: list[tuple[str, str]]  # (demand_id, pool_id) served
    schedule: pd.DataFrame
    status: str
    served_value: float
    best_bound: float
    method: str
    seconds: float
    error: str = ""
    warm: object = None  # the part's prices and LP plan columns (fast method), to start the whole instance from


def assign_parts(instance: Instance, scr: Screen, parts: int) -> dict[str, int]:
    """Enterprise -> part: largest requesters first, each to the part with the least value so far."""
    first = scr.pairs.drop_duplicates("demand_id")
    value = first.groupby("enterprise_id")["value"].sum().sort_values(ascending=False, kind="stable")
    load = np.zeros(parts)
    part_of: dict[str, int] = {}
    for e, v in value.items():
        i = int(np.argmin(load))
        part_of[e] = i
        load[i] += v
    for e in instance.enterprises["enterprise_id"]:  # enterprises with no allowed pair: anywhere
        part_of.setdefault(e, 0)
    return part_of


def split_instance(instance: Instance, scr: Screen, parts: int) -> list[Instance]:
    """K instances with the demands of their enterprises and their shares of every shared resource."""
    part_of = assign_parts(instance, scr, parts)
    demands = instance.demands
    part_of_demand = demands["enterprise_id"].map(part_of).fillna(0).astype(int).to_numpy()
    card_hours = demands["card_hours"].to_numpy(dtype=float)
    total = card_hours.sum()
    weight = np.array([card_hours[part_of_demand == i].sum() for i in range(parts)])
    weight = weight / total if total > 0 else np.full(parts, 1.0 / parts)

    # what each part's enterprises could claim from their programme, if every demand were served
    first = scr.pairs.drop_duplicates("demand_id")
    asked_e = scr.pairs.groupby("demand_id")["claim_yuan"].max().groupby(first.set_index("demand_id")["enterprise_id"]).sum()
    ent = instance.enterprises.set_index("enterprise_id")
    remaining = remaining_cap_yuan(ent)
    claim = np.minimum(asked_e.reindex(ent.index).fillna(0.0), remaining)
    claim_by = pd.DataFrame({"program_id": ent["program_id"], "part": ent.index.map(part_of), "claim": claim.to_numpy()})
    share = claim_by.pivot_table(index="program_id", columns="part", values="claim", aggfunc="sum", fill_value=0.0)

    out = []
    for i in range(parts):
        if not (part_of_demand == i).any():
            continue  # nothing to solve (fewer enterprises than parts)
        t = {k: v.copy() for k, v in instance.tables.items()}
        t["demands"] = demands[part_of_demand == i].copy()
        programs = t["programs"]
        total_claim = share.sum(axis=1).reindex(programs["program_id"]).fillna(0.0).to_numpy()
        mine = (share[i] if i in share.columns else pd.Series(0.0, index=share.index)).reindex(programs["program_id"]).fillna(0.0).to_numpy()
        fraction = np.where(total_claim > 0, mine / np.where(total_claim > 0, total_claim, 1.0), 1.0 / parts)
        programs["budget_yuan"] = programs["budget_yuan"].to_numpy(dtype=float) * fraction
        t["pools"]["cards"] = t["pools"]["cards"].to_numpy(dtype=float) * weight[i]
        if not t["capacity"].empty:
            t["capacity"]["cards"] = t["capacity"]["cards"].to_numpy(dtype=float) * weight[i]
        for column in ("green_kwh", "grid_kwh_cap"):
            t["centers"][column] = t["centers"][column].to_numpy(dtype=float) * weight[i]
        if not t["green"].empty:
            t["green"]["green_kwh"] = t["green"]["green_kwh"].to_numpy(dtype=float) * weight[i]
        out.append(dataclasses.replace(instance, tables=t, name=f"{instance.name} part {i + 1}/{parts}"))
    return out


def solve_partitioned(instance: Instance, scr: Screen, options: SolveOptions, parts: int,
                      solve_part: Callable[[tuple[int, Instance, SolveOptions]], PartResult],
                      executor: ExecutorOptions | None = None) -> tuple[HeuristicPlan, list[PartResult], list[str]]:
    """Split, solve the parts in parallel, merge, repair; returns the plan, the parts and notes.

    ``solve_part`` solves one part in a worker (:func:`allocator.solve.pipeline.solve_part`, the
    whole pipeline on the part's instance); it is module level, so it pickles to processes and
    Dask workers.
    """
    pieces = split_instance(instance, scr, parts)
    # each part chooses its method by its own size: an explicit --gap is the whole instance's target and
    # must not force the exact MIP onto a part too large for it (auto keeps exact when --gap is given)
    part_options = dataclasses.replace(options, method="auto", gap_given=False, progress=False, verbose=False, deadline=None,
                                       other_processes=False)
    if part_options.time_limit is not None:
        part_options = dataclasses.replace(part_options, time_limit=max(1.0, PART_SHARE * part_options.time_limit / _waves(parts, executor)))
    executor = executor or ExecutorOptions(progress=False, description="parts")
    results: list[PartResult] = [None] * len(pieces)  # type: ignore[list-item]
    for i, result in run_tasks(solve_part, [(i, p, part_options) for i, p in enumerate(pieces)], executor):
        results[i] = result
    key = pd.MultiIndex.from_frame(scr.pairs[["demand_id", "pool_id"]])
    served = [pair for r in results for pair in r.pairs]
    chosen = key.isin(served)
    schedule = pd.concat([r.schedule for r in results if len(r.schedule)], ignore_index=True) if served else empty_schedule()
    merged = HeuristicPlan(np.asarray(chosen), schedule, [])
    notes = [f"part {r.index + 1}: {r.status} by {r.method}, value {r.served_value:,.6g}, {r.seconds:.1f} s"
             + (f" ({r.error})" if r.error else "") for r in results]
    values = scr.pairs["value"].to_numpy()
    before = float(values[merged.chosen].sum())
    repaired = place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=merged)
    notes.append(f"merged parts: value {before:,.6g}; the repair pass added {float(values[repaired.chosen].sum()) - before:,.6g}")
    return repaired, results, notes


def _waves(parts: int, executor: ExecutorOptions | None) -> int:
    """How many rounds of parts the workers (local, or the Dask cluster's threads) run one after another."""
    return -(-parts // slots(executor))

