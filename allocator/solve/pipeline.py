"""The plain stages wired together: read -> screen -> build -> solve -> extract -> write.

Each stage is usable on its own from Python; :func:`solve_instance` runs them in
order and times each phase.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from allocator.files import claim_output_folder
from allocator.instance.reading import read_instance
from allocator.instance.screening import Screen, screen
from allocator.instance.types import Instance
from allocator.plan.extract import empty_schedule, extract_plan
from allocator.plan.reasons import refine_reasons
from allocator.plan.writing import write_plan
from allocator.problems import InfeasibleInstance, InstanceTooLarge, NoSolution, some_of
from allocator.solve.backends import solver_version
from allocator.solve.bound import (
    certified_bound,
    certified_bound_and_prices,
    value_upper_bound,
)
from allocator.solve.exact import _best_heuristic, _exact
from allocator.solve.heuristics import (
    place,
)
from allocator.solve.options import METHODS, SolveOptions, remaining
from allocator.solve.partition import PartResult
from allocator.solve.restricted import _value
from allocator.solve.result import SolveResult, _Chosen, relative_gap


def check_must_serve(instance: Instance, scr: Screen) -> None:
    """Exit 3 early when a must_serve demand fails R1-R4 on its own."""
    must = instance.demands.loc[instance.demands["must_serve"], "demand_id"]
    failing = [(d, scr.reasons[d]) for d in must if d in scr.reasons]
    if failing:
        lines = [f"must_serve demand '{d}' cannot be served: {reason}" for d, reason in failing]
        raise InfeasibleInstance("the instance is infeasible:\n  " + "\n  ".join(lines), lines, dict(failing))


MAX_MODEL_COLUMNS = 30_000_000  # assignment plus hourly usage columns this machine class can hold (24 GiB)


def check_model_size(scr: Screen) -> None:
    """Exit 2 before building a model that cannot fit in memory (counted from the screened pairs)."""
    from allocator.solve.fast import model_columns

    columns = model_columns(scr)
    if columns > MAX_MODEL_COLUMNS:
        raise InstanceTooLarge(
            f"the model would have {columns:,} columns ({len(scr.pairs):,} allowed (demand, pool) pairs and their "
            f"hourly usage), more than the {MAX_MODEL_COLUMNS:,} that fit in memory: split the instance "
            "(fewer demands, pools or periods per run)")


AUTO_EXACT_COLUMNS = 2_000  # auto runs the exact MIP alone up to this many model columns
AUTO_DECOMPOSITION_SHARE = 0.5  # above it, the share of the value time the fast method's decomposition gets
# above this many (demand, pool) pairs auto runs the partitioned method (when the solve may start processes and use
# more than one thread): at 50,000 x 300 (2.8 M pairs, baseline regime day, 480 s, 2 cores) the fast method alone
# ended 10.4 % from its bound, 8 parts 1.0 %: a round of column generation, whose work grows with the pairs (the
# hours are summed into one block), took 18 s on the whole instance. Hourly 5,000 x 24 days have 67,000-80,000 pairs.
AUTO_PARTITION_PAIRS = 1_000_000
AUTO_PART_PAIRS = 350_000  # and parts of about this many pairs (8 at 50,000 x 300)
AUTO_PARTITION_MIN_SECONDS = 180.0  # and a --time-limit of at least this (or none): parts need time of their own


def resolve_method(options: SolveOptions, scr: Screen) -> tuple[str, list[str]]:
    """The method to run: ``auto`` is the exact MIP up to AUTO_EXACT_COLUMNS model columns; above, the fast
    path, which up to AUTO_FAST_COLUMNS keeps most of the time for the exact MIP from its plan (its polish
    stage, to --gap or 1e-4), so auto never returns less than the fast method; above AUTO_PARTITION_PAIRS
    pairs the partitioned method (:func:`auto_parts` parts) where the solve may start processes and more than one
    thread, and --time-limit is AUTO_PARTITION_MIN_SECONDS or more (or not given). ``--gap`` is a stopping
    target, never a reason to choose a method (see docs/decisions.md)."""
    from allocator.solve.fast import AUTO_FAST_COLUMNS, model_columns

    if options.method != "auto":
        return options.method, []
    columns = model_columns(scr)
    pairs = len(scr.pairs)
    if pairs > AUTO_PARTITION_PAIRS and options.other_processes and options.threads != 1:
        if options.time_limit is None or options.time_limit >= AUTO_PARTITION_MIN_SECONDS:
            return "partition", [f"method auto chose partition: {pairs:,} (demand, pool) pairs > {AUTO_PARTITION_PAIRS:,}, "
                                 f"{auto_parts(pairs)} parts"]
        return "fast", [f"method auto chose fast: {pairs:,} (demand, pool) pairs > {AUTO_PARTITION_PAIRS:,}, but a time "
                        f"limit under {AUTO_PARTITION_MIN_SECONDS:.0f} s leaves its parts too little"]
    if columns > AUTO_FAST_COLUMNS:
        return "fast", [f"method auto chose fast: {columns:,} model columns > {AUTO_FAST_COLUMNS:,}"]
    if columns > AUTO_EXACT_COLUMNS:
        return "fast", [f"method auto chose fast, then the exact MIP from its plan: {AUTO_EXACT_COLUMNS:,} < "
                        f"{columns:,} model columns <= {AUTO_FAST_COLUMNS:,}"]
    return "exact", [f"method auto chose exact: {columns:,} model columns <= {AUTO_EXACT_COLUMNS:,}"]


def auto_parts(pairs: int) -> int:
    """Parts for auto's partitioned method: about AUTO_PART_PAIRS (demand, pool) pairs each, two at least."""
    return max(2, -(-pairs // AUTO_PART_PAIRS))


def solve_instance(folder: Path, options: SolveOptions | None = None) -> SolveResult:
    """Read, screen, build, solve and extract; raise Infeasible/NoSolution errors as results demand."""
    options = options or SolveOptions()
    if options.method not in METHODS:
        raise ValueError(f"unknown method '{options.method}' (known: {', '.join(METHODS)})")
    t0 = time.perf_counter()
    if options.time_limit is not None and options.deadline is None:  # --time-limit covers reading to writing
        options = dataclasses.replace(options, deadline=t0 + options.time_limit)
    if options.method in ("auto", "exact", "fast", "partition"):
        solver_version(options.solver)  # SolverUnavailable: exit 2, before reading anything
    instance = read_instance(Path(folder))
    return solve_loaded(instance, options, {"load": time.perf_counter() - t0})


def solve_loaded(instance: Instance, options: SolveOptions, seconds: dict[str, float] | None = None) -> SolveResult:
    """The stages after reading, on an instance already in memory (the partitioned method's parts)."""
    seconds = dict(seconds or {"load": 0.0})
    t0 = time.perf_counter()
    started = t0 - seconds.get("load", 0.0)
    if options.time_limit is not None and options.deadline is None:
        options = dataclasses.replace(options, deadline=t0 + options.time_limit)
    scr = screen(instance)
    check_must_serve(instance, scr)
    check_model_size(scr)
    method, notes = resolve_method(options, scr)
    options = dataclasses.replace(options, method=method)
    too_short: list[str] = []
    if options.deadline is not None:  # what the methods get: the limit less reading, screening and a reserve
        end = options.deadline - finish_seconds(scr)  # for extracting, explaining, checking and writing the plan
        if end - time.perf_counter() < 1.0:
            too_short.append(f"the time limit ({options.deadline - started:.0f} s) is shorter than reading, screening and "
                             f"writing this instance take (about {time.perf_counter() - started + finish_seconds(scr):.0f} s): "
                             "the command runs past it, with the first plans found")
        options = dataclasses.replace(options, deadline=end, time_limit=max(0.5, end - time.perf_counter()))
    uses_solver = method in ("exact", "fast", "partition")
    if method == "exact":
        decided = _exact(instance, scr, options, seconds, t0)
    elif method == "fast" and notes:  # auto chose it: the exact MIP takes over if it finds no plan
        method, decided = _auto_fast(instance, scr, options, seconds, t0, notes)
    elif method == "fast":
        decided = _fast(instance, scr, options, seconds, t0)
    elif method == "partition" and notes:  # auto chose it: the fast method takes over if it finds no plan
        method, decided = _auto_partition(instance, scr, options, seconds, t0, notes)
    elif method == "partition":
        decided = _partition(instance, scr, options, seconds, t0)
    else:
        heuristic = place(instance, scr, method)
        if heuristic.unplaced_must_serve:
            raise NoSolution(f"{method} could not place must_serve demand(s) {some_of(heuristic.unplaced_must_serve)}")
        seconds["build"] = 0.0
        seconds["solve"] = time.perf_counter() - t0
        bound, bound_notes, prices = certified_bound_and_prices(instance, scr, options, heuristic,
                                                                seconds=remaining(options))
        decided = _Chosen(heuristic.chosen, heuristic.schedule, "feasible", bound, bound_notes, prices=prices)
        seconds["bound"] = time.perf_counter() - t0 - seconds["solve"]
    decided.notes[:0] = notes + too_short

    t0 = time.perf_counter()
    plan = extract_plan(instance, scr, scr.pairs[decided.chosen], decided.schedule)
    plan.unserved = refine_reasons(instance, scr, plan)
    seconds["extract"] = time.perf_counter() - t0
    bound = plan.served_value if decided.bound is None else decided.bound
    bound = max(bound if np.isfinite(bound) else value_upper_bound(scr), plan.served_value)
    result = SolveResult(
        instance=instance,
        status=decided.status,
        plan=plan,
        best_bound=bound,
        gap=relative_gap(plan.served_value, bound),
        method=method,
        solver=options.solver if uses_solver else "none",
        solver_version=solver_version(options.solver) if uses_solver else "",
        seconds=seconds,
        notes=decided.notes,
        model_size=decided.size,
        cost_bound=decided.cost_bound,
        method_requested=options_requested(options, notes),
        warm=decided.warm,
        prices=decided.prices,
    )
    if options.price_of_a_yuan:
        from allocator.solve.yuan import price_of_a_yuan

        t0 = time.perf_counter()
        result.price_of_a_yuan = price_of_a_yuan(instance, scr, options, result, started, solve_loaded)
        seconds["price_of_a_yuan"] = time.perf_counter() - t0
    return result


FINISH_SECONDS = 0.3  # the plan's extraction, unserved reasons, check and writing take about this
FINISH_SECONDS_PER_PAIR = 8e-6  # plus this per screened pair (10,000 x 95: 2.6 s for 526,000 pairs, and the check)


def finish_seconds(scr: Screen) -> float:
    """Seconds kept from --time-limit for what follows the solve: extraction, reasons, check, writing."""
    return FINISH_SECONDS + FINISH_SECONDS_PER_PAIR * len(scr.pairs)


def options_requested(options: SolveOptions, notes: list[str]) -> str:
    return "auto" if notes and notes[0].startswith("method auto") else options.method


def _fast(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float,
          decomposition_share: float = 1.0) -> _Chosen:
    """Price-and-fix, an hourly schedule where needed, the cost stage (:mod:`allocator.solve.fast`)."""
    from allocator.solve.fast import solve_fast

    result = solve_fast(instance, scr, options, lambda: _best_heuristic(instance, scr, options.start, options.deadline),
                        decomposition_share=decomposition_share)
    seconds["build"] = time.perf_counter() - t0 - sum(v for k, v in result.phases.items() if k != "build")
    seconds["solve"] = sum(v for k, v in result.phases.items() if k != "build")
    seconds.update({f"solve_{k}": v for k, v in result.phases.items() if k != "build"})
    if result.status == "infeasible":
        raise InfeasibleInstance("the instance is infeasible: " + "; ".join(result.notes), result.notes)
    if result.status == "no_solution":
        from allocator.solve.fast import relaxation_infeasible

        if relaxation_infeasible(instance, scr, remaining(options), result.phases.get("build", 0.0)):
            raise InfeasibleInstance("the instance is infeasible: even the LP relaxation cannot serve every must_serve "
                                     "demand within capacity, energy and budget", [])
        raise NoSolution("no plan serving every must_serve demand found within the limits (fast method)")
    return _Chosen(result.chosen, result.schedule, result.status, result.bound, result.notes, result.size, warm=result.warm,
                   prices=_warm_prices(result.warm))


def _auto_fast(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float,
               notes: list[str]) -> tuple[str, _Chosen]:
    """auto above AUTO_EXACT_COLUMNS: the fast method (up to AUTO_FAST_COLUMNS with most of the time kept
    for the exact MIP from its plan, to --gap or 1e-4). If it finds no plan serving every must_serve
    demand, the exact MIP gets the time left: its must-serve rows are hard constraints, where the fast
    method's placement may miss a plan that exists (auto never gives less than another method would)."""
    polish = "then the exact MIP" in notes[0]
    try:
        if polish:
            return "fast", _fast(instance, scr, dataclasses.replace(options, gap_given=True), seconds, t0,
                                 decomposition_share=AUTO_DECOMPOSITION_SHARE)  # --gap or 1e-4: the exact MIP's target
        return "fast", _fast(instance, scr, options, seconds, t0)
    except NoSolution as error:
        if options.deadline is not None and remaining(options) < 1.0:
            raise
        notes.append(f"the fast method found no plan ({error}); the exact MIP with the time left")
        fast_seconds = {f"fast_{k}": v for k, v in seconds.items() if k != "load"}
        decided = _exact(instance, scr, dataclasses.replace(options, method="exact"), seconds, time.perf_counter())
        seconds.update(fast_seconds)
        return "exact", decided


def _auto_partition(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float,
                    notes: list[str]) -> tuple[str, _Chosen]:
    """auto above AUTO_PARTITION_PAIRS: the partitioned method; if its parts find no plan serving every
    must_serve demand, the fast method gets the time left (auto never gives less than another method would)."""
    try:
        return "partition", _partition(instance, scr, dataclasses.replace(options, parts=auto_parts(len(scr.pairs))),
                                       seconds, t0)
    except NoSolution as error:
        if options.deadline is not None and remaining(options) < 1.0:
            raise
        notes.append(f"the partitioned method found no plan ({error}); the fast method with the time left")
        return "fast", _fast(instance, scr, dataclasses.replace(options, method="fast"), seconds, time.perf_counter())


def _partition(instance: Instance, scr: Screen, options: SolveOptions, seconds: dict, t0: float) -> _Chosen:
    """Parts by enterprise solved in parallel, merged and repaired, then improved and bounded on the
    whole instance by the fast method started from the merged plan, the parts' prices and their
    LP plan columns (:mod:`allocator.solve.partition`)."""
    from allocator.solve.decompose import WarmStart
    from allocator.solve.fast import FAST_DEFAULT_GAP, solve_fast
    from allocator.solve.partition import solve_partitioned

    plan, parts, notes = solve_partitioned(instance, scr, options, options.parts, solve_part, options.executor)
    seconds["parts"] = time.perf_counter() - t0
    merged_misses = plan.unplaced_must_serve
    if merged_misses:  # the whole instance starts from the best baseline that serves them, the parts' prices still
        baseline = _best_heuristic(instance, scr, options.start, options.deadline)
        plan = plan if baseline.unplaced_must_serve else baseline
        notes.append(f"the merged parts leave {len(merged_misses)} must_serve demand(s) out: the whole instance starts "
                     + ("from them (the fast method's must-serve placement)" if baseline.unplaced_must_serve else
                        f"from the best baseline (value {_value(scr, plan):,.6g})"))
    t1 = time.perf_counter()
    whole = dataclasses.replace(options, method="fast", gap_given=True, gap=options.gap if options.gap_given else FAST_DEFAULT_GAP)
    if options.time_limit is not None:  # the whole instance gets what the parts left of the limit
        left = remaining(options) if options.deadline is not None else options.time_limit - (t1 - t0)
        whole = dataclasses.replace(whole, time_limit=max(1.0, left))
    priced = [p.warm for p in parts if p.warm is not None]
    result = solve_fast(instance, scr, whole, lambda: plan, warm=WarmStart.combine(priced) if priced else None)
    seconds["whole"] = time.perf_counter() - t1
    seconds["build"] = result.phases.get("build", 0.0)
    seconds["solve"] = time.perf_counter() - t0 - seconds["build"]
    notes.append("the whole instance, from the merged plan" + (f", the mean of {len(priced)} parts' prices and their LP plan columns" if priced else "")
                 + ": " + "; ".join(result.notes))
    if result.status in ("infeasible", "no_solution"):  # keep the merged plan
        if plan.unplaced_must_serve:
            raise NoSolution(f"the partitioned method could not place must_serve demand(s) {some_of(plan.unplaced_must_serve)}")
        bound, bound_notes = certified_bound(instance, scr, options, plan, seconds=0.0)
        return _Chosen(plan.chosen, plan.schedule, "feasible", bound, notes + bound_notes, {"parts": len(parts)})
    return _Chosen(result.chosen, result.schedule, result.status, result.bound, notes, {"parts": len(parts), **result.size},
                   prices=_warm_prices(result.warm))


def _warm_prices(warm):
    """The Lagrangian prices where the fast method's column generation ended (its certified bound's)."""
    return getattr(warm, "prices", None)


def solve_and_write(folder: Path, out: Path, options: SolveOptions | None = None) -> SolveResult:
    """``allocator solve``: check that ``out`` may be written (before any work), solve, then write the
    plan whole -- after the independent checker has passed it (:func:`allocator.plan.writing.write_plan`)."""
    claim_output_folder(out, [folder], "plan folder")
    result = solve_instance(folder, options)
    result.seconds["write"] = write_plan(out, result.plan, result.summary(), result.instance)
    return result


def solve_part(job: tuple[int, Instance, SolveOptions]) -> PartResult:
    """Solve one part in a worker (module level, so it pickles to processes and Dask workers).

    A must_serve demand that the part's share of its pools cannot hold (``window_too_short`` with a
    fraction of the cards) is not must-serve in the part: the part is solved for everything else, and
    the whole-instance stage places the must_serve demands the merged plan leaves out. If the part still
    has no plan serving the rest of its must_serve demands, it is solved once more without R10 (when a
    quarter of its time is left)."""
    index, part, options = job
    options = dataclasses.replace(options, price_of_a_yuan=False)
    t0 = time.perf_counter()
    limit = options.time_limit
    relaxed: list[str] = []
    try:
        while True:
            try:
                result = solve_loaded(part, _time_left(options, limit, t0))
                break
            except (InfeasibleInstance, NoSolution) as error:
                late = limit is not None and time.perf_counter() - t0 > 0.75 * limit
                part, note = _relaxed_part(part, error, late)
                if note is None:
                    raise
                relaxed.append(note)
    except Exception as error:  # noqa: BLE001 - one part failing leaves its demands to the repair pass
        return PartResult(index, [], empty_schedule(), "failed", 0.0, float("inf"), options.method, time.perf_counter() - t0,
                          "; ".join([f"{type(error).__name__}: {error}", *relaxed]))
    a = result.plan.assignments
    return PartResult(index, list(zip(a["demand_id"], a["pool_id"])), result.plan.schedule, result.status,
                      result.plan.served_value, result.best_bound, result.method, time.perf_counter() - t0,
                      error="; ".join(relaxed), warm=result.warm)


def _relaxed_part(part: Instance, error: Exception, late: bool) -> tuple[Instance, str | None]:
    """The part with less of R10 after ``error``, and a note saying what (None: nothing left to relax).

    The must_serve demands the screening ruled out on the part's shares (``error.unservable``) lose the
    flag; otherwise, unless ``late``, every must_serve demand of the part does."""
    demands = part.demands
    must = demands["must_serve"].to_numpy(dtype=bool)
    unservable = getattr(error, "unservable", {})
    if unservable:
        ids = sorted(unservable)
        note = (f"must_serve relaxed in the part for {some_of(ids)} "
                f"({', '.join(sorted(set(unservable.values())))} on the part's share)")
        return _with_must_serve(part, must & ~demands["demand_id"].isin(ids).to_numpy()), note
    if not must.any() or late:
        return part, None
    return (_with_must_serve(part, np.zeros(len(demands), dtype=bool)),
            f"every must_serve demand relaxed in the part ({' '.join(str(error).split())[:200]})")


def _with_must_serve(part: Instance, must: np.ndarray) -> Instance:
    return dataclasses.replace(part, tables={**part.tables, "demands": part.demands.assign(must_serve=must)})


def _time_left(options: SolveOptions, limit: float | None, t0: float) -> SolveOptions:
    """The part's options with what is left of its limit since ``t0`` (its failed attempts count)."""
    if limit is None:
        return options
    return dataclasses.replace(options, time_limit=max(1.0, limit - (time.perf_counter() - t0)))
