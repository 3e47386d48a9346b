"""Sweeps for budget officers: what a fund of each size buys, optimized and first-come-first-served.

``allocator sweep`` solves modified copies of one instance, one per point of the
cartesian product of the parameter values given:

* ``budget``: the fund. Yuan values set ``budget_yuan`` of one programme (``--program``,
  or the only programme); factors written ``x0.5`` multiply ``budget_yuan`` of every
  programme in scope (``--program``, or all of them).
* ``rate``: the programme's standard subsidy rate (programmes in scope). Enterprises
  that follow the standard (empty ``rate`` cell, or the programme's old rate) follow
  the new one; enterprises with a special rate of their own keep it.
* ``cap``: the programme's ``enterprise_cap_yuan``, with the same rule for enterprises;
  a factor ``x2`` multiplies the programme's cap and every special cap too.
* ``green_share``: ``min_green_share`` of every center.

The instance's own fund (its budget, or ``x1``) is always one of the budget points, so
the summary can compare the methods at it. Every point is solved with the exact
method and with ``fcfs`` in one task; tasks run through :func:`allocator.executor.run_tasks`
(local worker processes, or a Dask cluster). A task carries the instance's files as
bytes, so a cluster's workers need no shared file system. Each finished point is
appended to ``sweep.csv`` and flushed at once; ``--resume`` skips the points already
there. Every solve uses one solver thread and the rows are sorted by parameters, so
the table is the same whatever the number of workers or the engine, apart from the
``seconds_*`` columns, and apart from points whose solve is cut by the wall clock: a
``--time-limit`` that is hit, or the time box of the cost stage in
:func:`allocator.solving.solve_model` (those points end with status ``feasible``;
their served value is still reproducible when the value stage ended by its gap).

After the points: ``sweep.png``, ``sweep.html`` (plotly, self-contained) and
``summary.md``. The fund the optimizer needs to match what FCFS buys at the
instance's own fund comes from one min-budget MIP per line (:mod:`allocator.min_budget`)
when the fund is one programme's, and otherwise from interpolation on the sweep;
the summary says which.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.executor import ExecutorOptions, run_tasks
from allocator.problems import AllocatorError, InfeasibleInstance, InvalidInstance, NoSolution
from allocator.reading import Instance, read_instance
from allocator.schema import TABLES

YUAN_PER_MILLION = 1e6
MONEY_SUFFIXES = {"k": 1e3, "K": 1e3, "M": 1e6}
SCALE_PREFIX = "x"
TABLE_STEMS = frozenset(t.stem for t in TABLES)

PARAMETERS = ("budget_yuan", "budget_scale", "rate", "cap_yuan", "cap_scale", "green_share")
LINE_PARAMETERS = ("rate", "cap_yuan", "cap_scale", "green_share")  # one plotted line per combination
POINT_COLUMNS = ["key", *PARAMETERS, "fund_yuan"]
METHOD_FIELDS = ["status", "served_value", "served_share", "demands_served", "subsidy_yuan", "bill_yuan",
                 "carbon_kg", "utilization", "gap", "seconds"]
TIMING_COLUMNS = ("seconds_opt", "seconds_fcfs")
COST_STAGE_MAX_NODES = 500  # the cost stage ends after this many nodes, not after wall seconds: deterministic
SHARE_TOLERANCE = 1e-9  # "at least as much" when comparing served values of two methods


# --------------------------------------------------------------------------- parameter values


@dataclass(frozen=True)
class Values:
    """The values of one swept parameter: absolute numbers, or factors on the instance's own values."""

    numbers: tuple[float, ...]
    scale: bool = False


def parse_values(text: str, *, money: bool = False, allow_scale: bool = False,
                 low: float = 0.0, high: float = math.inf) -> Values:
    """Parse ``a,b,c`` and ranges ``start:stop:num`` (inclusive linspace), mixed freely.

    ``money``: numbers may end in k (thousand) or M (million) yuan: ``500k``, ``2.5M``.
    ``allow_scale``: tokens written ``x0.5`` (a range ``x0.5:x2:4``) are factors. A list is
    all factors or all absolute. Values outside [low, high] (factors: below 0) are errors.
    Duplicates are dropped, the first order kept. Raises ValueError with the reason.
    """
    tokens = [t.strip() for t in text.split(",") if t.strip()]
    if not tokens:
        raise ValueError("no values given")
    numbers: list[float] = []
    kinds: set[bool] = set()
    for token in tokens:
        values, scale = _parse_token(token, money=money, allow_scale=allow_scale)
        kinds.add(scale)
        numbers += values
    if len(kinds) > 1:
        raise ValueError(f"mix of factors ({SCALE_PREFIX}F) and absolute values in '{text}': use one kind")
    scale = kinds.pop()
    lo, hi = (0.0, math.inf) if scale else (low, high)
    for x in numbers:
        if not lo <= x <= hi or math.isnan(x):
            raise ValueError(f"{_plain(x)} is outside {_plain(lo)}..{_plain(hi)}")
    return Values(tuple(dict.fromkeys(_tidy(x) for x in numbers)), scale)


def _parse_token(token: str, *, money: bool, allow_scale: bool) -> tuple[list[float], bool]:
    parts = token.split(":")
    if len(parts) == 1:
        scale, x = _parse_number(parts[0], money=money, allow_scale=allow_scale)
        return [x], scale
    if len(parts) != 3:
        raise ValueError(f"'{token}': a range is start:stop:num")
    start_scale, start = _parse_number(parts[0], money=money, allow_scale=allow_scale)
    stop_scale, stop = _parse_number(parts[1], money=money, allow_scale=allow_scale, scale_default=start_scale)
    if start_scale != stop_scale:
        raise ValueError(f"'{token}': start and stop must both be factors or both absolute")
    try:
        count = int(parts[2])
    except ValueError:
        raise ValueError(f"'{token}': the number of values '{parts[2]}' is not an integer") from None
    if count < 1:
        raise ValueError(f"'{token}': the number of values must be at least 1")
    return [float(x) for x in np.linspace(start, stop, count)], start_scale


def _parse_number(text: str, *, money: bool, allow_scale: bool, scale_default: bool = False) -> tuple[bool, float]:
    """(is a factor, value) of one number such as 0.5, 1e7, 2.5M, x0.5, inf."""
    text = text.strip()
    scale = scale_default
    if text[:1] == SCALE_PREFIX:
        if not allow_scale:
            raise ValueError(f"'{text}': factors ({SCALE_PREFIX}F) are not accepted here")
        scale, text = True, text[1:]
    factor = 1.0
    if money and not scale and text[-1:] in MONEY_SUFFIXES:
        factor, text = MONEY_SUFFIXES[text[-1]], text[:-1]
    try:
        return scale, float(text) * factor
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None


def _tidy(x: float) -> float:
    """Round away linspace noise (0.30000000000000004 -> 0.3): 12 significant digits."""
    return float(f"{x:.12g}") if math.isfinite(x) else x


def _plain(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class SweepAxes:
    """What to sweep; None = keep the instance's own value."""

    budget: Values | None = None
    rate: Values | None = None
    cap: Values | None = None
    green_share: Values | None = None
    program_id: str | None = None


# --------------------------------------------------------------------------- points


@dataclass(frozen=True)
class SweepPoint:
    """One modified copy of the instance; None fields keep the instance's values."""

    budget_yuan: float | None = None
    budget_scale: float | None = None
    rate: float | None = None
    cap_yuan: float | None = None
    cap_scale: float | None = None
    green_share: float | None = None

    @property
    def key(self) -> str:
        """A stable text naming the point ('budget_yuan=10000000.0;rate=0.5'; 'base' for no change)."""
        parts = [f"{name}={value!r}" for name, value in asdict(self).items() if value is not None]
        return ";".join(parts) or "base"

    @property
    def line(self) -> SweepPoint:
        """The point without its budget: the line it belongs to in the plots."""
        return replace(self, budget_yuan=None, budget_scale=None)


def scope_programs(instance: Instance, axes: SweepAxes) -> list[str]:
    """The programmes whose budget, rate and cap the sweep changes: ``--program``, or all of them."""
    known = list(instance.programs["program_id"])
    if axes.program_id is not None:
        if axes.program_id not in known:
            raise AllocatorError(f"unknown programme '{axes.program_id}' (programmes: {', '.join(known)})")
        return [axes.program_id]
    if axes.budget is not None and not axes.budget.scale and len(known) > 1:
        raise AllocatorError(
            f"budget values in yuan need --program (the instance has {len(known)} programmes: {', '.join(known)}); "
            f"or scale every programme with factors such as {SCALE_PREFIX}0.5,{SCALE_PREFIX}1,{SCALE_PREFIX}2"
        )
    return known


def reference_budget(instance: Instance, scope: Sequence[str], budget: Values | None) -> SweepPoint:
    """The budget part of the point at the instance's own fund."""
    if budget is None:
        return SweepPoint()
    if budget.scale:
        return SweepPoint(budget_scale=1.0)
    return SweepPoint(budget_yuan=_tidy(_program_value(instance, scope[0], "budget_yuan")))


def sweep_points(instance: Instance, scope: Sequence[str], axes: SweepAxes) -> list[SweepPoint]:
    """The cartesian product of the values given, the instance's own fund added to the budget values."""
    reference = reference_budget(instance, scope, axes.budget)
    if axes.budget is None:
        budgets = [reference]
    elif axes.budget.scale:
        budgets = [SweepPoint(budget_scale=x) for x in axes.budget.numbers]
    else:
        budgets = [SweepPoint(budget_yuan=x) for x in axes.budget.numbers]
    if reference not in budgets:
        budgets.append(reference)
    rates = _axis(axes.rate, "rate", "rate")
    caps = _axis(axes.cap, "cap_yuan", "cap_scale")
    greens = _axis(axes.green_share, "green_share", "green_share")
    points = []
    for b, r, c, g in itertools.product(budgets, rates, caps, greens):
        points.append(SweepPoint(b.budget_yuan, b.budget_scale, r.get("rate"), c.get("cap_yuan"), c.get("cap_scale"),
                                 g.get("green_share")))
    return points


def _axis(values: Values | None, absolute: str, factor: str) -> list[dict[str, float]]:
    if values is None:
        return [{}]
    name = factor if values.scale else absolute
    return [{name: x} for x in values.numbers]


def _program_value(instance: Instance, program_id: str, column: str) -> float:
    return float(instance.programs.set_index("program_id").at[program_id, column])


def point_budget_yuan(instance: Instance, program_id: str, point: SweepPoint, scope: Sequence[str]) -> float:
    """The programme's budget at the point."""
    base = _program_value(instance, program_id, "budget_yuan")
    if program_id not in scope:
        return base
    if point.budget_yuan is not None:
        return point.budget_yuan
    if point.budget_scale is not None:
        return base * point.budget_scale
    return base


def fund_yuan(instance: Instance, scope: Sequence[str], point: SweepPoint) -> float:
    """The fund of the point: the sum of the budgets of the programmes in scope."""
    return float(sum(point_budget_yuan(instance, g, point, scope) for g in scope))


# --------------------------------------------------------------------------- instance variants


def load_instance_files(folder: Path) -> dict[str, bytes]:
    """instance.toml and every table file of the folder, by file name (other files are left out)."""
    files = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and (path.name == "instance.toml"
                               or (path.suffix in (".csv", ".parquet") and path.stem in TABLE_STEMS)):
            files[path.name] = path.read_bytes()
    return files


def variant_files(files: dict[str, bytes], instance: Instance, scope: Sequence[str],
                  point: SweepPoint) -> dict[str, bytes]:
    """The files of the instance modified as the point says (see the module docstring for the rules)."""
    out = dict(files)
    if any(v is not None for v in (point.budget_yuan, point.budget_scale, point.rate, point.cap_yuan, point.cap_scale)):
        programs = _read_table(out, "programs")
        _put_table(out, "programs", _edit_programs(programs, instance, scope, point))
    if any(v is not None for v in (point.rate, point.cap_yuan, point.cap_scale)):
        enterprises = _read_table(out, "enterprises")
        _put_table(out, "enterprises", _edit_enterprises(enterprises, instance, scope, point))
    if point.green_share is not None:
        centers = _read_table(out, "centers")
        centers["min_green_share"] = _cell(point.green_share)
        _put_table(out, "centers", centers)
    return out


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Write an instance folder from its files; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def _edit_programs(programs: pd.DataFrame, instance: Instance, scope: Sequence[str], point: SweepPoint) -> pd.DataFrame:
    program = programs["program_id"].str.strip()
    for g in scope:
        row = program == g
        programs.loc[row, "budget_yuan"] = _cell(point_budget_yuan(instance, g, point, scope))
        if point.rate is not None:
            programs.loc[row, "rate"] = _cell(point.rate)
        if point.cap_yuan is not None or point.cap_scale is not None:
            old_cap = _program_value(instance, g, "enterprise_cap_yuan")
            new_cap = point.cap_yuan if point.cap_yuan is not None else old_cap * point.cap_scale
            programs.loc[row, "enterprise_cap_yuan"] = _cell(new_cap)
    return programs


def _edit_enterprises(enterprises: pd.DataFrame, instance: Instance, scope: Sequence[str],
                      point: SweepPoint) -> pd.DataFrame:
    """Enterprises following their programme's standard follow its new rate / cap; special ones keep theirs."""
    program = enterprises["program_id"].str.strip()
    for g in scope:
        mine = program == g
        if point.rate is not None and "rate" in enterprises:
            old = _program_value(instance, g, "rate")
            follows = mine & enterprises["rate"].map(lambda cell: _equals(cell, old))
            enterprises.loc[follows, "rate"] = _cell(point.rate)
        if "cap_yuan" not in enterprises:
            continue
        if point.cap_yuan is not None:
            old = _program_value(instance, g, "enterprise_cap_yuan")
            follows = mine & enterprises["cap_yuan"].map(lambda cell: _equals(cell, old))
            enterprises.loc[follows, "cap_yuan"] = _cell(point.cap_yuan)
        elif point.cap_scale is not None:
            special = mine & (enterprises["cap_yuan"].str.strip() != "")
            scaled = enterprises.loc[special, "cap_yuan"].map(lambda cell: _scaled_cell(cell, point.cap_scale))
            enterprises.loc[special, "cap_yuan"] = scaled
    return enterprises


def _equals(cell: str, value: float) -> bool:
    """A non-empty cell holding ``value`` (so it follows the programme's standard)."""
    try:
        x = float(cell)
    except ValueError:
        return False
    return x == value or math.isclose(x, value, rel_tol=1e-12, abs_tol=1e-12)


def _scaled_cell(cell: str, factor: float) -> str:
    try:
        return _cell(float(cell) * factor)
    except ValueError:
        return cell  # not a number: left for validation to report


def _cell(x: float) -> str:
    """A number as a CSV cell, exactly (repr round-trips)."""
    return "inf" if math.isinf(x) and x > 0 else repr(float(x))


def _read_table(files: dict[str, bytes], stem: str) -> pd.DataFrame:
    """A table as text cells ('' for empty), from its CSV or Parquet file."""
    if f"{stem}.csv" in files:
        frame = pd.read_csv(io.BytesIO(files[f"{stem}.csv"]), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    elif f"{stem}.parquet" in files:
        frame = pd.read_parquet(io.BytesIO(files[f"{stem}.parquet"])).map(_text_of)
    else:
        raise AllocatorError(f"the instance has no {stem}.csv or {stem}.parquet")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _text_of(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def _put_table(files: dict[str, bytes], stem: str, frame: pd.DataFrame) -> None:
    """Store a modified table as CSV (a Parquet original is replaced by it)."""
    files.pop(f"{stem}.parquet", None)
    files[f"{stem}.csv"] = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


# --------------------------------------------------------------------------- one point


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


def solve_point(task: PointTask) -> dict[str, object]:
    """Solve one point with the exact method and fcfs; returns its row of sweep.csv."""
    with tempfile.TemporaryDirectory(prefix="allocator-sweep-") as tmp:
        folder = write_files(Path(tmp) / "instance", task.files)
        exact = _solve_method(folder, "exact", task)
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
    return row


@dataclass
class _MethodOutcome:
    fields: dict[str, object]
    best_bound: float
    note: str = ""


def _solve_method(folder: Path, method: str, task: PointTask) -> _MethodOutcome:
    """Solve with one method; an infeasible, unsolved or invalid point is a row with that status."""
    from allocator.pipeline import solve_instance
    from allocator.solving import SolveOptions

    options = SolveOptions(time_limit=task.settings.time_limit if method == "exact" else None,
                           gap=task.settings.gap, threads=1, method=method,
                           cost_stage_max_nodes=COST_STAGE_MAX_NODES)
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
    return _MethodOutcome(plan_metrics(result, task.requested_value, seconds), result.best_bound)


def plan_metrics(result, requested_value: float, seconds: float) -> dict[str, object]:
    """The per-method columns of a sweep row from a SolveResult."""
    plan = result.plan
    pools = plan.pools
    capacity = float(pools["capacity_card_hours"].sum()) if len(pools) else 0.0
    used = float(pools["used_card_hours"].sum()) if len(pools) else 0.0
    return {
        "status": result.status,
        "served_value": plan.served_value,
        "served_share": plan.served_value / requested_value if requested_value > 0 else 0.0,
        "demands_served": int(len(plan.assignments)),
        "subsidy_yuan": plan.total_subsidy_yuan,
        "bill_yuan": plan.total_bill_yuan,
        "carbon_kg": plan.carbon_kg,
        "utilization": used / capacity if capacity > 0 else 0.0,
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
    from allocator.pipeline import relative_gap

    return relative_gap(float(value), bound)


def _difference(a: object, b: object) -> float | None:
    return None if a is None or b is None else float(a) - float(b)


def _suffixed(fields: dict[str, object], suffix: str) -> dict[str, object]:
    return {f"{name}_{suffix}": fields[name] for name in METHOD_FIELDS}


def sweep_columns(fcfs: bool) -> list[str]:
    """The columns of sweep.csv, in order."""
    columns = POINT_COLUMNS + [f"{name}_opt" for name in METHOD_FIELDS]
    if fcfs:
        columns += [f"{name}_fcfs" for name in METHOD_FIELDS] + ["extra_share"]
    return columns + ["notes"]


# --------------------------------------------------------------------------- streamed table


class SweepTable:
    """sweep.csv written a row at a time (append + flush), sorted once at the end.

    A row is a whole line or, after a hard kill, a torn last line that the next
    ``--resume`` drops.
    """

    def __init__(self, path: Path, columns: list[str], resume: bool):
        self.path = Path(path)
        self.columns = columns
        rows = self._valid_rows() if resume else []
        self._rewrite(rows)
        self.done = {row[0] for row in rows}
        self._file = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, lineterminator="\n")

    def append(self, row: dict[str, object]) -> None:
        self._writer.writerow([_csv_cell(row.get(c)) for c in self.columns])
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def finish(self) -> None:
        """Close and rewrite the file sorted by the parameters (deterministic order)."""
        self.close()
        rows = self._valid_rows()
        index = {c: i for i, c in enumerate(self.columns)}
        rows.sort(key=lambda r: (tuple(_sort_number(r[index[c]]) for c in ("fund_yuan", *PARAMETERS)), r[0]))
        self._rewrite(rows)

    def _valid_rows(self) -> list[list[str]]:
        """Rows of the existing file with the expected header and cell count (unique by key)."""
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
        if not lines or lines[0] != self.columns:
            return []
        rows: dict[str, list[str]] = {}
        for row in lines[1:]:
            if len(row) == len(self.columns) and row[0]:
                rows[row[0]] = row
        return list(rows.values())

    def _rewrite(self, rows: list[list[str]]) -> None:
        tmp = self.path.with_suffix(".csv.partial")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(rows)
        os.replace(tmp, self.path)


def _csv_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _sort_number(cell: str) -> float:
    return -math.inf if cell == "" else float(cell)


def read_sweep(path: Path) -> pd.DataFrame:
    """sweep.csv as a DataFrame (pandas' default parser reads the repr-written floats back exactly)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepOptions:
    workers: int | None = None  # local worker processes; default one per core
    scheduler: str | None = None  # Dask scheduler address
    time_limit: float | None = None  # seconds per exact solve (and per min-budget solve)
    gap: float = 1e-4
    fcfs: bool = True
    resume: bool = False
    min_budget: bool = True  # the matching fund by a min-budget MIP when the fund is one programme's
    progress: bool = True


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
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(instance, scope, settings)
    _check_manifest(out, manifest, options.resume)
    table = SweepTable(out / "sweep.csv", sweep_columns(options.fcfs), options.resume)
    _write_json(out / "sweep.json", manifest)
    todo = [p for p in points if p.key not in table.done]
    tasks = [PointTask(p, variant_files(files, instance, scope, p), fund_yuan(instance, scope, p), requested, settings)
             for p in todo]
    executor = ExecutorOptions(options.workers, options.scheduler, options.progress, "sweep points")
    try:
        for _, row in run_tasks(solve_point, tasks, executor):
            table.append(row)
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
    return SweepOutcome(frame, [p.key for p in todo], [p.key for p in points if p.key in table.done], summary, paths)


def requested_value(instance: Instance) -> float:
    """Sum over every demand of priority x card_hours."""
    from allocator.min_budget import requested_value as value

    return value(instance)


def _manifest(instance: Instance, scope: Sequence[str], settings: SolveSettings) -> dict:
    """What the rows of sweep.csv depend on besides their point: --resume refuses a different one."""
    return {"instance": instance.name, "instance_sha256": instance.files_sha256, "programs": list(scope),
            **asdict(settings)}


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
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class SweepContext:
    """What the reports need to know about the sweep besides its table."""

    instance_name: str
    scope: Sequence[str]
    axes: SweepAxes
    requested_value: float
    demands_total: int
    reference_fund_yuan: float
    programs_total: int  # programmes of the instance (the scope may be one of them)

    @property
    def fund_phrase(self) -> str:
        """'' when the fund is every programme's budget, else which programme it is."""
        if len(self.scope) == self.programs_total:
            return ""
        return " of programme " + ", ".join(f"'{g}'" for g in self.scope)

    @property
    def x_column(self) -> str:
        """The plots' horizontal axis: the fund when it is swept, else the first swept parameter."""
        if self.axes.budget is not None:
            return "fund_yuan"
        for axis, absolute, factor in (("rate", "rate", "rate"), ("cap", "cap_yuan", "cap_scale"),
                                       ("green_share", "green_share", "green_share")):
            values = getattr(self.axes, axis)
            if values is not None:
                return factor if values.scale else absolute
        return "fund_yuan"


@dataclass(frozen=True)
class MatchingFund:
    """The fund the optimizer needs to serve what FCFS serves at the instance's own fund."""

    fund_yuan: float | None
    how: str  # "min-budget MIP ...", "interpolation on the sweep", or why there is none


@dataclass
class LineSummary:
    label: str  # the line's non-budget parameters ("" when only the budget varies)
    fund_phrase: str  # which programme's fund ("" for all)
    reference_fund_yuan: float
    opt_share: float | None
    fcfs_share: float | None
    match: MatchingFund | None


@dataclass
class SweepSummary:
    lines: list[LineSummary]
    points: int
    opt_statuses: dict[str, int]
    opt_below_fcfs: list[str]  # keys of points where the optimizer served less than fcfs

    def sentences(self) -> list[str]:
        return [_sentence(line) for line in self.lines]


def line_label(row: pd.Series | dict) -> str:
    names = {"rate": "rate", "cap_yuan": "cap", "cap_scale": "cap x", "green_share": "green share"}
    parts = []
    for column in LINE_PARAMETERS:
        value = row.get(column)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            parts.append(f"{names[column]} {_money(value) + ' yuan' if column == 'cap_yuan' else f'{value:g}'}")
    return ", ".join(parts)


def _reference_rows(frame: pd.DataFrame, context: SweepContext) -> pd.DataFrame:
    """The rows at the instance's own fund, one per line."""
    return frame[np.isclose(frame["fund_yuan"], context.reference_fund_yuan, rtol=1e-12, atol=1e-9)]


def summarize(frame: pd.DataFrame, context: SweepContext, matches: dict[str, MatchingFund]) -> SweepSummary:
    """The figures of summary.md: per line, the shares at the instance's own fund and the matching fund."""
    lines = []
    for _, row in _reference_rows(frame, context).iterrows():
        label = line_label(row)
        lines.append(LineSummary(
            label, context.fund_phrase, float(row["fund_yuan"]), _number(row.get("served_share_opt")),
            _number(row.get("served_share_fcfs")), matches.get(label),
        ))
    below = []
    if "served_value_fcfs" in frame:
        worse = frame["served_value_opt"] < frame["served_value_fcfs"] - SHARE_TOLERANCE * frame["served_value_fcfs"].abs()
        below = list(frame.loc[worse, "key"])
    statuses = frame["status_opt"].value_counts().sort_index()
    return SweepSummary(lines, int(len(frame)), {str(k): int(v) for k, v in statuses.items()}, below)


def _number(value: object) -> float | None:
    if value is None:
        return None
    x = float(value)
    return None if math.isnan(x) else x


def _matching_funds(frame: pd.DataFrame, files: dict[str, bytes], instance: Instance, scope: Sequence[str],
                    context: SweepContext, options: SweepOptions) -> dict[str, MatchingFund]:
    """Per line: the fund the optimizer needs to match FCFS at the instance's own fund."""
    if not options.fcfs:
        return {}
    reference = _reference_rows(frame, context)
    matches = {line_label(row): interpolated_match(frame, row, context) for _, row in reference.iterrows()}
    if not options.min_budget or len(scope) != 1:
        return matches
    tasks, labels = [], []
    for _, row in reference.iterrows():
        if _number(row.get("served_value_fcfs")) is None:
            continue
        point = SweepPoint(**{p: _number(row.get(p)) for p in PARAMETERS})
        share = float(row["served_value_fcfs"]) / context.requested_value if context.requested_value > 0 else 0.0
        tasks.append(MinBudgetTask(variant_files(files, instance, scope, point), scope[0], min(1.0, share),
                                   options.time_limit, options.gap))
        labels.append(line_label(row))
    executor = ExecutorOptions(options.workers, options.scheduler, options.progress, "min-budget solves")
    for i, found in run_tasks(solve_min_budget_task, tasks, executor):
        if found.fund_yuan is not None:
            matches[labels[i]] = found
        else:
            previous = matches[labels[i]]
            matches[labels[i]] = MatchingFund(previous.fund_yuan, f"{previous.how} ({found.how})")
    return matches


@dataclass(frozen=True)
class MinBudgetTask:
    files: dict[str, bytes]
    program_id: str
    target_share: float
    time_limit: float | None
    gap: float


def solve_min_budget_task(task: MinBudgetTask) -> MatchingFund:
    """One min-budget MIP (fund stage only) on an instance variant; a failure says why."""
    from allocator.min_budget import solve_min_budget
    from allocator.solving import SolveOptions

    options = SolveOptions(time_limit=task.time_limit, gap=task.gap, threads=1)
    with tempfile.TemporaryDirectory(prefix="allocator-min-budget-") as tmp:
        folder = write_files(Path(tmp) / "instance", task.files)
        try:
            result = solve_min_budget(folder, task.target_share, task.program_id, options, plan=False)
        except AllocatorError as error:
            return MatchingFund(None, f"the min-budget MIP gave no fund: {error}")
    proof = "optimal" if result.status == "optimal" else "best found"
    return MatchingFund(
        result.min_budget_yuan,
        f"min-budget MIP on programme '{task.program_id}': {proof}, the true minimum is at least "
        f"{_money(result.bound_yuan)}",
    )


def interpolated_match(frame: pd.DataFrame, reference: pd.Series, context: SweepContext) -> MatchingFund:
    """Linear interpolation on the optimizer's curve of the reference's line: the first fund reaching FCFS's value."""
    target = _number(reference.get("served_value_fcfs"))
    if target is None:
        return MatchingFund(None, "FCFS has no plan at the instance's own fund")
    line = _line_rows(frame, reference).dropna(subset=["served_value_opt"]).sort_values("fund_yuan")
    funds = line["fund_yuan"].to_numpy(dtype=float)
    values = line["served_value_opt"].to_numpy(dtype=float)
    reached = np.flatnonzero(values >= target * (1.0 - SHARE_TOLERANCE))
    if len(reached) == 0:
        return MatchingFund(None, "the optimizer does not reach FCFS's value within the swept funds")
    i = int(reached[0])
    if i == 0:
        return MatchingFund(float(funds[0]), "interpolation on the sweep: reached already at the smallest swept fund "
                                             "(the true figure may be lower)")
    f0, f1, v0, v1 = funds[i - 1], funds[i], values[i - 1], values[i]
    fund = f1 if v1 == v0 else f0 + (target - v0) * (f1 - f0) / (v1 - v0)
    return MatchingFund(float(fund), f"linear interpolation between the swept funds {_money(f0)} and {_money(f1)}")


def _line_rows(frame: pd.DataFrame, reference: pd.Series) -> pd.DataFrame:
    same = np.ones(len(frame), dtype=bool)
    for column in LINE_PARAMETERS:
        value = reference.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            same &= frame[column].isna().to_numpy()
        else:
            same &= np.isclose(frame[column].to_numpy(dtype=float), float(value), rtol=1e-12, atol=0.0)
    return frame[same]


def _money(yuan: float) -> str:
    """Yuan for a reader: '10 M', '430 k', '75' (up to 4 significant digits)."""
    if not math.isfinite(yuan):
        return "unlimited"
    if abs(yuan) >= YUAN_PER_MILLION:
        return f"{yuan / YUAN_PER_MILLION:.4g} M"
    if abs(yuan) >= 1e3:
        return f"{yuan / 1e3:.4g} k"
    return f"{yuan:.4g}"


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}".replace("%", " %")


def _sentence(line: LineSummary) -> str:
    prefix = f"With {line.label}: a" if line.label else "A"
    text = (f"{prefix} {_money(line.reference_fund_yuan)} yuan fund{line.fund_phrase} serves "
            f"{_percent(line.opt_share)} of requested value")
    if line.fcfs_share is None and line.match is None:
        return text + "."
    text += f"; FCFS serves {_percent(line.fcfs_share)}"
    if line.match is None or line.match.fund_yuan is None:
        why = "" if line.match is None else f" ({line.match.how})"
        return text + f"; the fund the optimizer needs to match FCFS is not known{why}."
    return (text + f"; the optimizer needs {_money(line.match.fund_yuan)} yuan to match what FCFS buys with "
            f"{_money(line.reference_fund_yuan)} ({line.match.how}).")


# --------------------------------------------------------------------------- reports


def write_reports(frame: pd.DataFrame, context: SweepContext, summary: SweepSummary, out: Path) -> dict[str, Path]:
    """sweep.png, sweep.html and summary.md in ``out``."""
    curves = plot_curves(frame, context)
    paths = {"png": out / "sweep.png", "html": out / "sweep.html", "summary": out / "summary.md"}
    write_png(curves, context, paths["png"])
    write_html(curves, context, paths["html"])
    paths["summary"].write_text(summary_markdown(frame, context, summary, curves), encoding="utf-8")
    return paths


@dataclass
class Curve:
    """One line of the plots: a method on one combination of the non-budget parameters."""

    label: str
    method: str  # "optimizer" or "FCFS"
    x: np.ndarray
    served_value: np.ndarray
    marginal_x: np.ndarray  # midpoints of consecutive x
    marginal: np.ndarray  # served value per extra 1 M yuan (per unit of x when x is not the fund)
    keys: list[str]


def plot_curves(frame: pd.DataFrame, context: SweepContext) -> list[Curve]:
    """Both methods' curves for every line, sorted by x (points without a plan left out)."""
    x_column = context.x_column
    line_columns = [c for c in LINE_PARAMETERS if c != x_column and frame[c].notna().any()]
    curves = []
    groups = frame.groupby(line_columns, dropna=False, sort=True) if line_columns else [((), frame)]
    for _, rows in groups:
        label = line_label({c: rows.iloc[0][c] for c in line_columns})
        for suffix, method in (("opt", "optimizer"), ("fcfs", "FCFS")):
            column = f"served_value_{suffix}"
            if column not in rows:
                continue
            part = rows.dropna(subset=[column]).sort_values(x_column)
            curves.append(_curve(part, x_column, column, label, method))
    return curves


def _curve(rows: pd.DataFrame, x_column: str, column: str, label: str, method: str) -> Curve:
    x = rows[x_column].to_numpy(dtype=float)
    value = rows[column].to_numpy(dtype=float)
    per = YUAN_PER_MILLION if x_column == "fund_yuan" else 1.0
    dx = np.diff(x)
    keep = dx > 0
    marginal = np.diff(value)[keep] / (dx[keep] / per)
    middle = ((x[1:] + x[:-1]) / 2)[keep]
    shown_x = x / YUAN_PER_MILLION if x_column == "fund_yuan" else x
    shown_middle = middle / YUAN_PER_MILLION if x_column == "fund_yuan" else middle
    return Curve(label, method, shown_x, value, shown_middle, marginal, list(rows["key"]))


def _axis_titles(context: SweepContext) -> tuple[str, str]:
    x = context.x_column
    if x == "fund_yuan":
        whose = f"programme {', '.join(context.scope)}" if context.fund_phrase else "all programmes"
        return f"fund (M yuan, {whose})", "served value per extra 1 M yuan"
    names = {"rate": "subsidy rate", "cap_yuan": "enterprise cap (yuan)", "cap_scale": "enterprise cap (x own)",
             "green_share": "minimum green share"}
    return names[x], f"served value per unit of {names[x]}"


def _color_key(curve: Curve, curves: list[Curve]) -> str:
    """One colour per line when there are several lines (methods differ by dash), else one per method."""
    return curve.label if len({c.label for c in curves}) > 1 else curve.method


def write_png(curves: list[Curve], context: SweepContext, path: Path) -> None:
    """Two panels: served value against the fund (both methods), and its marginal value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_title, marginal_title = _axis_titles(context)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colors: dict[str, str] = {}
    for curve in curves:
        color = colors.setdefault(_color_key(curve, curves), f"C{len(colors) % 10}")
        style = "-" if curve.method == "optimizer" else "--"
        name = f"{curve.method}{f' ({curve.label})' if curve.label else ''}"
        left.plot(curve.x, curve.served_value, style, marker="o", color=color, label=name)
        if len(curve.marginal):
            right.plot(curve.marginal_x, curve.marginal, style, marker="o", color=color, label=name)
    total = context.requested_value
    left.set(xlabel=x_title, ylabel="served value (priority x card-hours)",
             title=f"{context.instance_name}: served value")
    if total > 0:
        share = left.secondary_yaxis("right", functions=(lambda v: 100 * v / total, lambda s: s * total / 100))
        share.set_ylabel("% of requested value")
    right.set(xlabel=x_title, ylabel=marginal_title, title="marginal served value")
    right.axhline(0.0, color="0.7", linewidth=0.8)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_html(curves: list[Curve], context: SweepContext, path: Path) -> None:
    """The same two panels as an interactive plotly page that works offline (plotly.js embedded)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    x_title, marginal_title = _axis_titles(context)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("served value", "marginal served value"))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    colors: dict[str, str] = {}
    total = context.requested_value
    for curve in curves:
        color = colors.setdefault(_color_key(curve, curves), palette[len(colors) % len(palette)])
        dash = "solid" if curve.method == "optimizer" else "dash"
        name = f"{curve.method}{f' ({curve.label})' if curve.label else ''}"
        share = [f"{100 * v / total:.1f} % of requested" if total > 0 else "" for v in curve.served_value]
        fig.add_trace(go.Scatter(x=curve.x, y=curve.served_value, mode="lines+markers", name=name,
                                 line={"color": color, "dash": dash}, legendgroup=name,
                                 text=[f"{k}<br>{s}" for k, s in zip(curve.keys, share)]), row=1, col=1)
        if len(curve.marginal):
            fig.add_trace(go.Scatter(x=curve.marginal_x, y=curve.marginal, mode="lines+markers", name=name,
                                     line={"color": color, "dash": dash}, legendgroup=name, showlegend=False),
                          row=1, col=2)
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text="served value (priority x card-hours)", row=1, col=1)
    fig.update_yaxes(title_text=marginal_title, row=1, col=2)
    fig.update_layout(title=f"{context.instance_name}: what each fund buys, optimizer vs FCFS", hovermode="closest")
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def summary_markdown(frame: pd.DataFrame, context: SweepContext, summary: SweepSummary, curves: list[Curve]) -> str:
    """summary.md: the headline sentences, then every point."""
    scope = ", ".join(f"`{g}`" for g in context.scope)
    statuses = ", ".join(f"{n} {status}" for status, n in summary.opt_statuses.items())
    lines = [
        f"# What each fund buys: {context.instance_name}",
        "",
        f"Requested value: {context.requested_value:,.6g} (priority x card-hours over all {context.demands_total} "
        f"demands). Fund: the budget of programme(s) {scope}"
        f"{' (the other programmes keep their own budgets)' if context.fund_phrase else ''}; the instance's own fund is "
        f"{_money(context.reference_fund_yuan)} yuan. {summary.points} points; optimizer statuses: {statuses}.",
        "",
        "## At the instance's own fund",
        "",
    ]
    lines += [f"- {s}" for s in summary.sentences()] or ["- (no point at the instance's own fund)"]
    lines += ["", _fcfs_comparison(frame, summary), "", "## Every point", ""]
    lines += _points_table(frame)
    lines += ["", "Files: `sweep.csv` (every figure), `sweep.png` and `sweep.html` (the curves and the marginal "
              "served value).", ""]
    return "\n".join(lines)


def _fcfs_comparison(frame: pd.DataFrame, summary: SweepSummary) -> str:
    if "served_value_fcfs" not in frame:
        return "FCFS was not solved (--no-fcfs)."
    if summary.opt_below_fcfs:
        return ("The optimizer served less value than FCFS at: " + ", ".join(f"`{k}`" for k in summary.opt_below_fcfs)
                + " (these points did not reach optimality; see their status and gap).")
    return "The optimizer served at least as much value as FCFS at every point."


def _points_table(frame: pd.DataFrame) -> list[str]:
    has_fcfs = "served_share_fcfs" in frame
    swept = [c for c in PARAMETERS if c not in ("budget_yuan", "budget_scale") and frame[c].notna().any()]
    header = ["fund (yuan)", *swept, "optimizer % served", "status (gap)"]
    if has_fcfs:
        header += ["FCFS % served", "advantage (% points)"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in frame.iterrows():
        cells = [_money(row["fund_yuan"]), *(f"{row[c]:g}" for c in swept),
                 _percent(_number(row["served_share_opt"])), f"{row['status_opt']} ({_gap_text(row['gap_opt'])})"]
        if has_fcfs:
            extra = _number(row["extra_share"])
            cells += [_percent(_number(row["served_share_fcfs"])), "n/a" if extra is None else f"{100 * extra:+.1f}"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _gap_text(gap: object) -> str:
    x = _number(gap)
    return "n/a" if x is None else f"{x:.2g}"


def timing_free(frame: pd.DataFrame) -> pd.DataFrame:
    """The table without its timing columns: what must be equal between runs."""
    return frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame])

