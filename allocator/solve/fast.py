"""The fast path for large instances: price-and-fix, an hourly schedule, a cost stage.

Measured on the national ladder (benchmarks/README.md), the big-M LP of the allocation
MIP is both slow (9 s at 10,000 demands x 100 pools) and weak where the fund binds
(33 % above the best plan known), and HiGHS alone does not leave its root node in
five minutes. The fast method therefore works on the structure instead:

1. **Bound and plan by decomposition** (:mod:`allocator.solve.decompose`): the Lagrangian
   relaxation of the shared rows, solved by column generation over whole-enterprise
   plans, gives the certified bound; fixing the master's plans that fit, placing the
   rest whole and an integer master give the plan. On one period this is exact, and the
   polish (:func:`polish_sets`) then runs the exact model over the pairs of the LP's plans, and
   while HiGHS proves each set in time, over those of the plans near the LP and every priced pair.
2. **Hourly instances**: the relaxation sums the horizon into TIME_BLOCKS block(s)
   (a valid relaxation, and it converges in a few rounds where the hourly one takes
   hundreds); the integer master on blocks says which demand runs at which pool, and a
   MIP over just those pairs with their hourly usage
   (:func:`allocator.solve.hourly.schedule_assignment`) finds the schedule, dropping what does not fit hour by hour. Single demands then
   fill what is left. With the time left: on a small model (POLISH_MAX_COLUMNS) the exact MIP
   from that plan, whose dual bound then holds for the instance (the block bound ignores the
   windows); on a larger one, widening rounds (:func:`allocator.solve.hourly.widen_hours`): the
   MIP over a neighbourhood of the plan where pools and hours are free, filled with the densest
   other demands' pairs, round after round while each proves its neighbourhood early.
   Beside all this, on models of 20,000-500,000 columns with a second core, HiGHS runs the exact
   MIP on the whole model in a worker process (:mod:`allocator.solve.beside`): its dual bound
   replaces the decomposition's where lower, its incumbent the plan where it serves more.
3. **Cost stage**: the served value held, the cost is minimized on the exact model
   restricted to the served demands' pairs that some priced plan used, time-boxed; above
   POLISH_MAX_COLUMNS columns a rule-keeping descent moves served demands to cheaper pools
   (:func:`allocator.solve.heuristics.cheaper_pools`) instead.

The result is never worse than the best baseline (greedy, fcfs, cap-aware, must-serve first),
which is also the first column of the master and the fallback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd

from allocator.instance.screening import Screen
from allocator.instance.types import Instance
from allocator.plan.extract import empty_schedule, schedule_from_solution
from allocator.solve.beside import COLLECT_SECONDS, ExactBeside
from allocator.solve.beside import wanted as beside_wanted
from allocator.solve.heuristics import cheaper_pools, enterprise_sequence, place_in_order
from allocator.solve.hourly import model_columns, pair_columns, schedule_assignment, widen_hours
from allocator.solve.options import VALUE_HOLD_RELATIVE, SolveOptions
from allocator.solve.progress import Progress
from allocator.solve.restricted import RESTRICTED_MIP_GAP, _better, _value, missing_must_serve, restricted_mip
from allocator.solve.state import HeuristicPlan

FAST_DEFAULT_SECONDS = 60.0  # the fast method's time limit when the user gives none
FAST_DEFAULT_GAP = 0.005  # and its target gap against the certified bound when the user gives none
AUTO_FAST_COLUMNS = 20_000  # above this many assignment + usage columns the default method is fast
COST_STAGE_SHARE = 0.05  # of the time left after the baselines, kept for the cost stage at least
TIME_BLOCKS = 1  # hourly instances: periods summed into this many blocks for the bound and the assignment
SCHEDULE_SHARE = 0.5  # of the value time on hourly instances, kept from the decomposition for the hourly stages
MUST_SERVE_SHARE = 0.3  # hourly days: of the time left, at most, for a MIP placing must_serve demands the baselines left out
POLISH_MAX_COLUMNS = 20_000  # up to this many model columns (all pairs, else the priced ones) a MIP polishes the plan
# a polish set's own gap when a wider set follows: proving the last 0.1 % of a set whose optimum is short of the
# target took the rest of the time (mixed 10,000 x 1: the LP's plans' 3,209 pairs within 0.07 % of their bound
# 189,530 after 3.7 s, 1.2 % below the Lagrangian bound, then 6 s more on the last 0.06 %)
POLISH_SET_GAP = 1e-3
SMALL_SCHEDULE_SHARE = 0.25  # hourly days of at most POLISH_MAX_COLUMNS: the schedule MIPs' share of the value time
# larger hourly days: the schedule MIPs' share, the rest for the widening rounds (on mixed and green 1,500 x 24 h
# days the schedule MIP over the assignment's pairs alone took 53 s of 60 and left no time to widen)
HOURS_SCHEDULE_SHARE = 0.5
# one period, a model above POLISH_MAX_COLUMNS: the decomposition's share of the value time; the polish over the
# pairs of the LP's plans has the rest (10,000 x 1 regime days: capacity 1.9 % -> 0.2 %, large enterprises 2.7 % ->
# 0.2 % of the bound, where the integer master over whole plans had found nothing better in the same time)
EXACT_DECOMPOSITION_SHARE = 0.6
# up to this many model columns; above, column generation needs all the time (50,000 x 300 baseline regime day,
# 2.8 M columns: 18 s a round, the master LP 8 % below the bound when its share ended, and no polish set fits)
EXACT_POLISH_MAX_MODEL_COLUMNS = 1_000_000
# and the integer master stops when its plan has not improved for this share of its time (at 10,000 x 1 it found
# nothing better in 11.7 s on the large-enterprises day, where the polish lifted the plan 1.8 % -> 0.2 % with 15 s)
EXACT_MASTER_STALL = 0.25


@dataclass
class FastResult:
    chosen: np.ndarray
    schedule: pd.DataFrame
    status: str
    bound: float
    notes: list[str]
    size: dict
    phases: dict[str, float] = field(default_factory=dict)
    warm: object = None  # where the decomposition's column generation ended (allocator.solve.decompose.WarmStart)


def solve_fast(instance: Instance, scr: Screen, options: SolveOptions, best_heuristic, warm=None,
               decomposition_share: float = 1.0) -> FastResult:
    """Decomposition bound and plan, an hourly schedule where needed, then the cost stage.
    ``warm``: prices and plan columns to start column generation from (the partitioned method's parts').
    ``decomposition_share``: of the value stages' time, the most the decomposition takes on one period (auto
    on mid-size instances keeps the rest for the exact MIP from its plan).
    A live line (:class:`allocator.solve.progress.Progress`) shows stage, value, bound and gap while it runs."""
    limit = options.time_limit if options.time_limit is not None else FAST_DEFAULT_SECONDS
    deadline = options.deadline if options.deadline is not None else time.perf_counter() + limit
    target_gap = options.gap if options.gap_given else FAST_DEFAULT_GAP
    with Progress(options.progress and not options.verbose) as live, contextlib.ExitStack() as stack:
        # the exact MIP on the other core until the value stages end (allocator.solve.beside)
        value_seconds = (1.0 - COST_STAGE_SHARE) * (deadline - time.perf_counter())
        beside = None
        # only hourly days: on one period the decomposition's bound is the tight one (at 10,000 x 1 in 30 s HiGHS had
        # no bound and no plan on the national-like and everything days); and below POLISH_MAX_COLUMNS the exact MIP
        # from the plan proves the bound on this core
        columns = model_columns(scr)
        if (instance.periods > 1 and columns > POLISH_MAX_COLUMNS
                and beside_wanted(columns, value_seconds, options.threads, options.other_processes)):
            try:
                beside = stack.enter_context(ExactBeside(instance, scr, time.time() + value_seconds - COLLECT_SECONDS,
                                                         target_gap))
            except OSError:  # no worker process to be had (process limits): the fast path runs alone
                pass
        return _solve_fast(instance, scr, options, best_heuristic, warm, live, decomposition_share, deadline, target_gap,
                           beside)


def _solve_fast(instance: Instance, scr: Screen, options: SolveOptions, best_heuristic, warm, live: Progress,
                decomposition_share: float, deadline: float, target_gap: float,
                beside: ExactBeside | None) -> FastResult:
    from allocator.solve.decompose import solve_by_decomposition
    from models.data import prepare

    phases: dict[str, float] = {}
    notes: list[str] = [] if options.solver == "highs" else [f"the fast method runs HiGHS directly, not {options.solver}"]

    t0 = time.perf_counter()
    live.update("build")
    data = prepare(instance, scr)
    phases["build"] = time.perf_counter() - t0
    if data.n_pairs == 0:
        return FastResult(np.zeros(0, dtype=bool), empty_schedule(), "optimal", 0.0, ["no demand has an allowed pair"], {}, phases)
    t0 = time.perf_counter()
    live.update("baselines")
    start: HeuristicPlan = best_heuristic()
    live.update(value=_value(scr, start))
    phases["baselines"] = time.perf_counter() - t0
    notes.append(f"best baseline: value {_value(scr, start):,.6g}")
    hourly = instance.periods > 1 and TIME_BLOCKS < instance.periods
    # one period: price-and-fix accepts plans serving must-serve demands first and usually serves them all, so
    # the MIP placing what the baselines left out waits until after it, from its plan (decisions.md)
    if start.unplaced_must_serve and hourly:
        t0 = time.perf_counter()
        live.update("must-serve")
        start = place_must_serve(instance, scr, start, MUST_SERVE_SHARE * (deadline - t0), notes)
        phases["must_serve"] = time.perf_counter() - t0

    columns = model_columns(scr)
    small = columns <= POLISH_MAX_COLUMNS
    # the value stages get the time; the cost stage what they leave, and at least COST_STAGE_SHARE of it
    value_end = deadline - COST_STAGE_SHARE * (deadline - time.perf_counter())
    left = value_end - time.perf_counter()
    master_stall = math.inf
    if hourly:
        decomposition_seconds = left * (1.0 - SCHEDULE_SHARE)
    elif small or columns > EXACT_POLISH_MAX_MODEL_COLUMNS:
        decomposition_seconds = left * decomposition_share
    else:
        decomposition_seconds, master_stall = left * min(decomposition_share, EXACT_DECOMPOSITION_SHARE), EXACT_MASTER_STALL
    dec = solve_by_decomposition(instance, scr, data, start, max(1.0, decomposition_seconds), target_gap,
                                 progress=live, blocks=TIME_BLOCKS if hourly else None,
                                 warm=warm, master_stall=master_stall)
    phases.update({f"decompose_{k}": v for k, v in dec.phases.items()})
    notes += dec.notes
    size = dict(dec.size)
    if not math.isfinite(dec.bound):
        return FastResult(np.zeros(data.n_pairs, dtype=bool), empty_schedule(), "infeasible", dec.bound,
                          notes + ["no plan can serve every must-serve demand within its enterprise's own rules "
                                   "(the Lagrangian bound is -inf)"], size, phases)
    if dec.exact:
        plan = HeuristicPlan(dec.chosen, dec.schedule, dec.unplaced_must_serve)
    else:
        t0 = time.perf_counter()
        live.update("hours")
        # a small model keeps most of the time for the exact MIP from the hourly plan (the polish below), a
        # large one half of it for the widening rounds
        seconds = (value_end - time.perf_counter()) * (SMALL_SCHEDULE_SHARE if small else HOURS_SCHEDULE_SHARE)
        plan, schedule_notes = schedule_assignment(instance, scr, dec.chosen, max(1.0, seconds), dec.bound, target_gap,
                                                   start, live)
        notes += schedule_notes
        phases["schedule"] = time.perf_counter() - t0
    plan = _better(scr, plan, start)
    if plan.unplaced_must_serve and not hourly:
        t0 = time.perf_counter()
        live.update("must-serve")
        plan = place_must_serve(instance, scr, plan, value_end - t0, notes, "the plan")  # the plan itself if none found
        phases["must_serve"] = time.perf_counter() - t0
    if not dec.exact and not plan.unplaced_must_serve and not small:
        plan = widen_hours(instance, scr, plan, dec, value_end, target_gap, notes, live, phases)
    if beside is not None:
        plan = _take_from_beside(instance, scr, data, beside, plan, dec, value_end, target_gap, notes, live, phases)
    plan = _polish(instance, scr, plan, dec, polish_sets(dec, plan, small), value_end, target_gap, notes, live, phases)
    value = _value(scr, plan)
    live.update("cost", value=value, bound=dec.bound)

    # cost stage on the exact model restricted to the served demands' priced pairs, value held
    t0 = time.perf_counter()
    box = deadline - time.perf_counter()
    served = scr.pairs["demand_id"].isin(set(scr.pairs["demand_id"].to_numpy()[plan.chosen])).to_numpy()
    priced = np.ones(data.n_pairs, dtype=bool) if small else dec.support
    cost_pairs = (priced if priced is not None else plan.chosen) & served | plan.chosen
    cost_columns = int(pair_columns(scr.pairs)[cost_pairs].sum())
    if box > 0.5 and plan.chosen.any() and not plan.unplaced_must_serve and cost_columns <= POLISH_MAX_COLUMNS:
        plan = _cost_stage(instance, scr, plan, cost_pairs, value, box, options, notes)
    elif box > 0.5 and plan.chosen.any() and not plan.unplaced_must_serve:
        plan, moves = cheaper_pools(instance, scr, plan, box)
        notes.append(f"cost stage: {moves:,} demands moved to cheaper pools (too large for a MIP: "
                     f"{cost_columns:,} columns)")
    else:
        notes.append("no time left for the cost stage: the plan keeps its cost")
    phases["cost"] = time.perf_counter() - t0
    bound = max(value, dec.bound)
    status = "optimal" if bound - value <= max(1e-9, 1e-9 * abs(bound)) else "feasible"
    if plan.unplaced_must_serve:
        status = "no_solution"
    return FastResult(plan.chosen, plan.schedule, status, bound, notes, size, phases, dec.warm)


def polish_sets(dec, plan: HeuristicPlan, small: bool) -> list[tuple[str, np.ndarray]]:
    """The pair sets the polish's MIPs run over, narrowest first, each with its label.

    A small model: every pair (the exact MIP from the plan; on an hourly day its dual bound then holds for
    the instance: the block bound ignores the windows). One period (or blocks that are the periods): the
    pairs of the plans of positive LP weight when column generation ended, then those of the plans near the
    LP optimum, then every priced pair, each with the plan's own; those above POLISH_MAX_COLUMNS pairs left out."""
    if small:
        return [("exact MIP from the plan", np.ones(len(plan.chosen), dtype=bool))]
    if not dec.exact:
        return []
    sets: list[tuple[str, np.ndarray]] = []
    for label, pairs in (("MIP over the pairs of the LP's plans", dec.lp_support),
                         ("MIP over the pairs of the plans near the LP", dec.near_support),
                         ("MIP over the priced pairs", dec.support)):
        if pairs is None:
            continue
        allowed = pairs | plan.chosen
        if allowed.sum() <= POLISH_MAX_COLUMNS and (not sets or allowed.sum() > sets[-1][1].sum()):
            sets.append((label, allowed))
    return sets


def _polish(instance: Instance, scr: Screen, plan: HeuristicPlan, dec, sets: list[tuple[str, np.ndarray]],
            value_end: float, target_gap: float, notes: list[str], live: Progress, phases: dict) -> HeuristicPlan:
    """The exact model over each pair set of :func:`polish_sets` in turn, from the plan so far, while time is
    left and the plan is short of the target gap; the next, wider set only when the MIP proved the last one
    (its own gap) with time to spare. Over every pair the MIP's dual bound holds for the instance and
    replaces the decomposition's where lower."""
    for number, (label, allowed) in enumerate(sets):
        value, left = _value(scr, plan), value_end - time.perf_counter()
        if left <= 1.0 or plan.unplaced_must_serve or dec.bound - value <= target_gap * abs(dec.bound):
            break
        live.update("polish")
        t0 = time.perf_counter()
        own_gap = POLISH_SET_GAP if number + 1 < len(sets) else RESTRICTED_MIP_GAP  # a wider set follows
        plan, mip_bound = restricted_mip(instance, scr, allowed, plan, left, dec.bound, target_gap, notes, label,
                                         progress=live, own_gap=None if allowed.all() else own_gap)
        phases["polish"] = phases.get("polish", 0.0) + time.perf_counter() - t0
        if allowed.all() and mip_bound < dec.bound:
            notes.append(f"bound from the exact MIP: {mip_bound:,.6g} (Lagrangian {dec.bound:,.6g})")
            dec.bound = mip_bound
        if mip_bound - _value(scr, plan) > own_gap * max(1.0, abs(mip_bound)):
            break  # the set is not proved: a wider one would not be either
    return plan


def _take_from_beside(instance: Instance, scr: Screen, data, beside: ExactBeside, plan: HeuristicPlan, dec,
                      value_end: float, target_gap: float, notes: list[str], live: Progress,
                      phases: dict) -> HeuristicPlan:
    """The exact MIP's answer from the other core: its dual bound where it is below the decomposition's (it holds
    for the instance), its incumbent (completed by the cap-aware pass) where it serves more value. While the
    plan is short of the target gap, the value stages' time left is the worker's; else only an answer ready now."""
    t0 = time.perf_counter()
    short = dec.bound - _value(scr, plan) > target_gap * abs(dec.bound)
    live.update("exact MIP beside")
    answer = beside.result(max(0.5, value_end - t0) if short else 0.05)  # it stops COLLECT_SECONDS before value_end
    phases["beside_wait"] = time.perf_counter() - t0
    if answer is None:
        notes.append("the exact MIP beside gave no answer in time")
        return plan
    said = [f"bound {answer.bound:,.6g}" if math.isfinite(answer.bound) else "no bound",
            f"plan value {answer.value:,.6g}" if answer.value is not None else "no plan"]
    notes.append(f"the exact MIP beside (HiGHS on the whole model, other core): {', '.join(said)}")
    if math.isfinite(answer.bound) and answer.bound < dec.bound:
        notes.append(f"bound from the exact MIP beside: {answer.bound:,.6g} (Lagrangian {dec.bound:,.6g})")
        dec.bound = answer.bound
    if answer.assign is not None and answer.value > _value(scr, plan):
        chosen = answer.assign > 0.5
        mip_plan = HeuristicPlan(chosen, schedule_from_solution(data.pairs, data.usage_rows, chosen, answer.usage),
                                 missing_must_serve(scr, chosen))
        mip_plan = place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=mip_plan)
        better = _better(scr, mip_plan, plan)
        if better is mip_plan:
            notes.append(f"the exact MIP beside's plan taken: value {_value(scr, mip_plan):,.6g}")
        plan = better
    live.update(value=_value(scr, plan), bound=dec.bound)
    return plan


def place_must_serve(instance: Instance, scr: Screen, start: HeuristicPlan, seconds: float,
                     notes: list[str], whose: str = "the baselines") -> HeuristicPlan:
    """The start (``whose`` plan, for the note) left must_serve demands out (first fit can block them:
    thresholds, budgets, green power): the exact model over every pair of the enterprises with must_serve
    demands, beside the start's pairs, stopped at its first plan (R10 is a hard row there), then completed
    by the cap-aware pass. Returns the start when that finds no plan within ``seconds``."""
    pairs = scr.pairs
    demands = instance.demands
    owners = set(demands.loc[demands["must_serve"], "enterprise_id"])
    allowed = pairs["enterprise_id"].isin(owners).to_numpy()
    n_missing = len(start.unplaced_must_serve)
    # stop at the first plan: any incumbent is within 100 % of a positive bound
    plan, _ = restricted_mip(instance, scr, allowed, start, seconds, max(1.0, _value(scr, start)) * 1e6, 1.0, notes,
                             f"MIP placing the {n_missing} must_serve demand(s) {whose} left out")
    if plan.unplaced_must_serve:
        return start
    return place_in_order(instance, scr, enterprise_sequence(instance, scr), keep=plan)


def _cost_stage(instance: Instance, scr: Screen, plan: HeuristicPlan, allowed: np.ndarray, value: float,
                seconds: float, options: SolveOptions, notes: list[str]) -> HeuristicPlan:
    """Minimize cost with the served value held at ``value``, over the ``allowed`` pairs."""
    from models.build import build_matrix
    from models.data import prepare
    from models.start import matrix_start

    t_end = time.perf_counter() + seconds
    pairs = scr.pairs
    kept = np.flatnonzero(allowed)
    sub = dataclasses.replace(scr, pairs=pairs.iloc[kept].reset_index(drop=True))
    data = prepare(instance, sub)
    mm = build_matrix(data)
    h = mm.to_highs()
    h.setOptionValue("output_flag", bool(options.verbose))
    if options.threads:
        h.setOptionValue("threads", int(options.threads))
    objective = mm.objective("value")
    nz = np.flatnonzero(objective).astype(np.int32)
    h.addRow(value - VALUE_HOLD_RELATIVE * (abs(value) + 1.0), highspy.kHighsInf, len(nz), nz, objective[nz])
    cost = mm.objective("cost")
    h.changeColsCost(mm.n_cols, np.arange(mm.n_cols, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMinimize)
    index, start = matrix_start(mm, data, plan.chosen[kept], plan.schedule)
    h.setSolution(len(index), index, start)
    h.setOptionValue("time_limit", float(max(0.1, t_end - time.perf_counter())))  # its build counts too
    h.setOptionValue("mip_rel_gap", 1e-4 if options.cost_gap is None else options.cost_gap)
    if options.cost_stage_max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(options.cost_stage_max_nodes))
    h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        notes.append("cost stage found no plan in its time: the plan keeps its cost")
        return plan
    col = np.asarray(h.getSolution().col_value)
    chosen_sub = col[mm.columns("assign")] > 0.5
    if float(data.pairs["value"].to_numpy()[chosen_sub].sum()) < value - VALUE_HOLD_RELATIVE * (abs(value) + 1.0):
        return plan
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[kept[chosen_sub]] = True
    notes.append(f"cost stage over {len(kept):,} pairs: {h.modelStatusToString(h.getModelStatus())} after "
                 f"{info.mip_node_count} nodes")
    return HeuristicPlan(chosen, schedule_from_solution(data.pairs, data.usage_rows, chosen_sub, col[mm.columns("usage")]), [])


def relaxation_infeasible(instance: Instance, scr: Screen, seconds: float | None = None,
                          prepare_seconds: float = 0.0) -> bool:
    """True when the LP relaxation of the exact model is proven infeasible within ``seconds`` (a proof
    that no plan exists); False when it is feasible or not decided in time (the limit counts the build:
    a 50,000 x 300 day's LP ran 15 minutes past a 300 s limit before it had one). Not tried when
    ``seconds`` is under 1 s + 3 x ``prepare_seconds`` (the model data's build, measured by the caller:
    the matrix takes longer)."""
    from models.build import build_matrix
    from models.data import prepare

    t_end = None if seconds is None else time.perf_counter() + seconds
    if t_end is not None and seconds < 1.0 + 3.0 * prepare_seconds:
        return False
    h = build_matrix(prepare(instance, scr)).to_highs(relax=True)
    if t_end is not None:
        left = t_end - time.perf_counter()
        if left < 0.5:
            return False
        h.setOptionValue("time_limit", float(left))
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kInfeasible

