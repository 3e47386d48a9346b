"""Run a sweep: solve every point (optimizer and FCFS) in parallel, repair monotonicity in the fund,
then write the table, charts and summary. The package docstring (:mod:`allocator.studies.sweep`) has
the rules of a sweep.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from allocator.executor import ExecutorOptions, run_tasks
from allocator.files import start_incremental_folder, write_summary, write_text_atomic
from allocator.instance.reading import read_instance
from allocator.instance.types import Instance
from allocator.problems import (
    AllocatorError,
    InfeasibleInstance,
    InvalidInstance,
    NoSolution,
)
from allocator.solve.options import SolveOptions, StartPlan
from allocator.studies.sweep.charts import write_reports
from allocator.studies.sweep.points import (
    SweepAxes,
    SweepOptions,
    SweepPoint,
    fund_yuan,
    reference_budget,
    scope_programs,
    sweep_points,
)
from allocator.studies.sweep.summary import (
    SweepContext,
    SweepSummary,
    _matching_funds,
    summarize,
)
from allocator.studies.sweep.table import (
    METHOD_FIELDS,
    SweepTable,
    read_sweep,
    sweep_columns,
)
from allocator.studies.sweep.variants import (
    load_instance_files,
    variant_files,
    write_files,
)

COST_STAGE_MAX_NODES = 500  # the cost stage ends after this many nodes, not after wall seconds: deterministic


@dataclass(frozen=True)
class SolveSettings:
    time_limit: float | None = None  # seconds per exact solve
    gap: float = 1e-4
    fcfs: bool = True


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs to solve one point (picklable; no shared file system needed)."""

    point: SweepPoint
    files: dict[str, bytes]
    fund_yuan: float
    requested_value: float
    settings: SolveSettings


def monotone_repairs(tasks: list[PointTask], solved: dict[str, tuple[dict, StartPlan | None]]):
    """Points that served less than the next smaller fund of their line, solved again from that fund's
    plan (still feasible with more money): yields (task, row, plan). So more money never serves less.

    The points are first solved in parallel and independently; within the MIP gap a larger fund can
    end slightly below a smaller one (issue 14 saw 330,435 after 330,455). Lines are walked from the
    smallest fund up, each repaired point becoming the start of the next.
    """
    lines: dict[SweepPoint, list[PointTask]] = {}
    for task in tasks:
        lines.setdefault(task.point.line, []).append(task)
    for line in lines.values():
        previous = None
        for task in sorted(line, key=lambda t: t.fund_yuan):
            row, plan = solved[task.point.key]
            if previous is not None and previous[1] is not None and _served(row) < _served(previous[0]) - 1e-9 * (
                    1.0 + abs(_served(previous[0]))):
                row, plan = solve_point(task, previous[1])
                yield task, row, plan
            previous = (row, plan)


def _served(row: dict) -> float:
    value = row.get("served_value_opt")
    return float(value) if value is not None and value == value else float("-inf")


def solve_point(task: PointTask, start: StartPlan | None = None) -> tuple[dict[str, object], StartPlan | None]:
    """Solve one point with the exact method (from ``start``) and fcfs; its row of sweep.csv and the
    optimizer's plan (the start of the next point of the line)."""
    with tempfile.TemporaryDirectory(prefix="allocator-sweep-") as tmp:
        folder = write_files(Path(tmp) / "instance", task.files)
        exact = _solve_method(folder, "exact", task, start)
        fcfs = _solve_method(folder, "fcfs", task) if task.settings.fcfs else None
    row: dict[str, object] = {"key": task.point.key, **asdict(task.point), "fund_yuan": task.fund_yuan}
    row.update(_suffixed(exact.fields, "opt"))
    notes = [f"opt: {exact.note}"] if exact.note else []
    if fcfs is not None:
        fcfs.fields["gap"] = _gap_to_bound(fcfs.fields["served_value"], exact.best_bound)
        row.update(_suffixed(fcfs.fields, "fcfs"))
        row["extra_share"] = _difference(exact.fields["served_share"], fcfs.fields["served_share"])
        notes += [f"fcfs: {fcfs.note}"] if fcfs.note else []
    row["notes"] = "; ".join(notes)
    return row, exact.plan


@dataclass
class _MethodOutcome:
    fields: dict[str, object]
    best_bound: float
    note: str = ""
    plan: StartPlan | None = None


def _solve_method(folder: Path, method: str, task: PointTask, start: StartPlan | None = None) -> _MethodOutcome:
    """Solve with one method; an infeasible, unsolved or invalid point is a row with that status."""
    from allocator.solve.pipeline import solve_instance

    options = SolveOptions(time_limit=task.settings.time_limit if method == "exact" else None,
                           gap=task.settings.gap, threads=1, method=method,
                           cost_stage_max_nodes=COST_STAGE_MAX_NODES, start=start, price_of_a_yuan=False,
                           other_processes=False)
    t0 = time.perf_counter()
    try:
        result = solve_instance(folder, options)
    except InfeasibleInstance as error:
        return _failed("infeasible", str(error).replace("\n", " "), t0)
    except NoSolution as error:
        return _failed("no_solution", str(error), t0)
    except InvalidInstance as error:
        return _failed("invalid", "; ".join(str(p) for p in error.problems[:3]), t0)
    seconds = time.perf_counter() - t0
    value_gap = task.settings.gap if method == "exact" else None
    return _MethodOutcome(plan_metrics(result, task.requested_value, seconds, value_gap), result.best_bound,
                          plan=StartPlan.of(result.plan.assignments, result.plan.schedule))


def plan_metrics(result, requested_value: float, seconds: float, value_gap: float | None = None) -> dict[str, object]:
    """The per-method columns of a sweep row from a SolveResult (the marginal value per yuan is filled
    when the table is finished, from the neighbouring points).

    ``status`` answers the sweep's question, the served value: ``optimal`` when it is proven within
    ``value_gap`` (the cost stage of a sweep point stops after a fixed number of nodes, for
    determinism, so its proof depends on the budget row and would label equal plans differently).
    """
    from allocator.render.mix import domestic_shares

    plan = result.plan
    proven = value_gap is not None and result.status in ("optimal", "feasible") and result.gap <= value_gap + 1e-12
    domestic_card_hours, domestic_subsidy = domestic_shares(plan.assignments)
    pools = plan.pools
    capacity = float(pools["capacity_card_hours"].sum()) if len(pools) else 0.0
    used = float(pools["used_card_hours"].sum()) if len(pools) else 0.0
    return {
        "status": "optimal" if proven else result.status,
        "served_value": plan.served_value,
        "served_share": plan.served_value / requested_value if requested_value > 0 else 0.0,
        "demands_served": int(len(plan.assignments)),
        "subsidy_yuan": plan.total_subsidy_yuan,
        "bill_yuan": plan.total_bill_yuan,
        "carbon_kg": plan.carbon_kg,
        "utilization": used / capacity if capacity > 0 else 0.0,
        "domestic_card_hours_share": domestic_card_hours,
        "domestic_subsidy_share": domestic_subsidy,
        "marginal_value_per_yuan": None,
        "gap": result.gap,
        "seconds": seconds,
    }


def _failed(status: str, note: str, t0: float) -> _MethodOutcome:
    fields = {name: None for name in METHOD_FIELDS}
    fields.update(status=status, seconds=time.perf_counter() - t0)
    return _MethodOutcome(fields, math.nan, note)


def _gap_to_bound(value: object, bound: float) -> float | None:
    """How far a baseline's value is below the optimizer's proven bound: (bound - value) / bound."""
    if value is None or not math.isfinite(bound):
        return None
    from allocator.solve.result import relative_gap

    return relative_gap(float(value), bound)


def _difference(a: object, b: object) -> float | None:
    return None if a is None or b is None else float(a) - float(b)


def _suffixed(fields: dict[str, object], suffix: str) -> dict[str, object]:
    return {f"{name}_{suffix}": fields[name] for name in METHOD_FIELDS}


@dataclass
class SweepOutcome:
    table: pd.DataFrame
    solved: list[str]  # keys of the points solved in this run
    skipped: list[str]  # keys found in sweep.csv already (--resume)
    summary: SweepSummary
    files: dict[str, Path] = field(default_factory=dict)


def run_sweep(folder: Path, out: Path, axes: SweepAxes, options: SweepOptions | None = None) -> SweepOutcome:
    """Solve every point (skipping finished ones with ``resume``), then write the plots and the summary."""
    options = options or SweepOptions()
    instance = read_instance(Path(folder))
    scope = scope_programs(instance, axes)
    points = sweep_points(instance, scope, axes)
    files = load_instance_files(Path(folder))
    requested = requested_value(instance)
    settings = SolveSettings(options.time_limit, options.gap, options.fcfs)
    out = start_incremental_folder(Path(out), [Path(folder)], options.resume, "sweep")
    manifest = _manifest(instance, scope, settings, axes)
    _check_manifest(out, manifest, options.resume)
    table = SweepTable(out / "sweep.csv", sweep_columns(options.fcfs), options.resume)
    _write_json(out / "sweep.json", manifest)
    todo = [p for p in points if p.key not in table.done]
    tasks = [PointTask(p, variant_files(files, instance, scope, p, axes.rate_row), fund_yuan(instance, scope, p), requested,
                       settings) for p in todo]
    executor = ExecutorOptions(options.workers, options.scheduler, options.progress, "sweep points")
    solved: dict[str, tuple[dict, StartPlan | None]] = {}
    try:
        for i, (row, plan) in run_tasks(solve_point, tasks, executor):
            table.append(row)
            solved[tasks[i].point.key] = (row, plan)
        for task, row, plan in monotone_repairs(tasks, solved):
            table.append(row)  # the later row of a key replaces the earlier one
            solved[task.point.key] = (row, plan)
    finally:
        table.close()
    table.finish()
    frame = read_sweep(out / "sweep.csv")
    context = SweepContext(instance.name, scope, axes, requested, int(len(instance.demands)),
                           fund_yuan(instance, scope, reference_budget(instance, scope, axes.budget)),
                           int(len(instance.programs)))
    matches = _matching_funds(frame, files, instance, scope, context, options)
    summary = summarize(frame, context, matches)
    paths = write_reports(frame, context, summary, out)
    write_summary(out, {"kind": "sweep", "status": "complete", "instance": instance.name, "points": len(points),
                        "files": sorted(p.name for p in [out / "sweep.csv", *paths.values()])})
    return SweepOutcome(frame, [p.key for p in todo], [p.key for p in points if p.key in table.done], summary, paths)


def requested_value(instance: Instance) -> float:
    """Sum over every demand of priority x card_hours."""
    from allocator.studies.min_budget import requested_value as value

    return value(instance)


def _manifest(instance: Instance, scope: Sequence[str], settings: SolveSettings, axes: SweepAxes) -> dict:
    """What the rows of sweep.csv depend on besides their point: --resume refuses a different one."""
    return {"instance": instance.name, "instance_sha256": instance.files_sha256, "programs": list(scope),
            "rate_row": axes.rate_row.text if axes.rate_row is not None else None, **asdict(settings)}


def _check_manifest(out: Path, manifest: dict, resume: bool) -> None:
    path = out / "sweep.json"
    if not resume or not (out / "sweep.csv").is_file():
        return
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    differing = sorted(k for k in manifest if old.get(k) != _json_round_trip(manifest[k]))
    if differing:
        raise AllocatorError(
            f"--resume: {out / 'sweep.csv'} was made with a different {', '.join(differing)}; "
            "run without --resume to start again"
        )


def _json_round_trip(value: object) -> object:
    return json.loads(json.dumps(value))


def _write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
