"""How the pipeline scales: time per phase, model size, memory, and HiGHS alone on the same matrix.

For each size of a ladder, a synthetic instance (:mod:`benchmarks.synthetic`) is
written and measured in two fresh Python processes, so that each process's peak
resident memory (``ru_maxrss``) belongs to that size only:

``probe``
    read -> screen -> prepare -> build the Pyomo model once more (untimed as far
    as the pipeline is concerned), note the served value of the greedy plan the
    pipeline uses as its MIP start, export the model to MPS, count rows / columns /
    nonzeros as HiGHS reads them, then solve that MPS file with ``highspy``
    directly ("HiGHS alone": same time limit, same relative gap, stage 1 only,
    i.e. maximize the served value, no MIP start) and once more as an LP with
    every column continuous (the LP-relaxation bound).
``pipeline``
    :func:`allocator.solve.pipeline.solve_and_write`, the product path, with its own
    phase timings (load, build, solve, translate, extract, write). A few stage
    functions are wrapped, without changing what they do, to record the greedy
    start time, each HiGHS stage's time and the current phase.

The parent enforces ``--build-limit``: a process whose model build runs longer
is stopped and the size is reported as too slow to build.

Usage (from the repository root)::

    python -m benchmarks.scale --sizes small
    python -m benchmarks.scale --sizes all --time-limit 120
    python -m benchmarks.scale --sizes "300,20,1;400,20,24" --time-limit 30

The table is printed and written to ``benchmarks/results/scale-<time>.{csv,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from allocator.files import write_text_atomic  # noqa: E402
from benchmarks.synthetic import Size, make_instance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

LADDER_ALL: tuple[Size, ...] = (
    Size(100, 10, 1),
    Size(1000, 30, 1),
    Size(3000, 50, 1),
    Size(10000, 100, 1),
    Size(200, 20, 24),
    Size(500, 30, 24),
    Size(2000, 40, 24),
)
LADDER_SMALL: tuple[Size, ...] = (Size(100, 10, 1), Size(1000, 30, 1), Size(200, 20, 24), Size(500, 30, 24))

Row = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """What every size is measured with."""

    time_limit: float = 120.0
    gap: float = 1e-4
    threads: int | None = None
    seed: int = 0
    build_limit: float | None = 60.0  # seconds; None: no limit


# --------------------------------------------------------------------------- progress


class Progress:
    """The current phase of a worker, in a small JSON file the parent polls."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def __call__(self, phase: str) -> None:
        if self.path is None:
            return
        write_text_atomic(self.path, json.dumps({"phase": phase, "since": time.time()}))


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- probe


def highs_alone(model_file: Path, settings: Settings, relax: bool = False) -> Row:
    """Solve an exported model with highspy directly; ``relax``: every column continuous (LP bound)."""
    import highspy
    import numpy as np

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(model_file))
    if relax:
        n = h.getNumCol()
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    h.setOptionValue("time_limit", float(settings.time_limit))
    h.setOptionValue("mip_rel_gap", float(settings.gap))
    if settings.threads is not None:
        h.setOptionValue("threads", int(settings.threads))
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    info = h.getInfo()
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    return {
        "seconds": seconds,
        "status": h.modelStatusToString(h.getModelStatus()),
        "objective": float(info.objective_function_value) if feasible else None,
        "bound": None if relax else float(info.mip_dual_bound),
        "gap": None if relax else float(info.mip_gap),
        "nodes": None if relax else int(info.mip_node_count),
    }


def matrix_size(model_file: Path) -> Row:
    """Rows, columns, nonzeros and integer columns of a model file as HiGHS reads it."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(model_file))
    lp = h.getLp()
    integer = sum(1 for v in lp.integrality_ if int(v) != 0) if len(lp.integrality_) else 0
    return {"rows": h.getNumRow(), "cols": h.getNumCol(), "nnz": h.getNumNz(), "int_cols": integer}


def greedy_value(instance: Any, scr: Any) -> float | None:
    """Served value of the greedy plan the pipeline hands HiGHS as its MIP start (None if unavailable)."""
    try:
        from allocator.solve.heuristics import place
    except ImportError:
        return None
    chosen = place(instance, scr, "greedy").chosen
    return float(scr.pairs.loc[chosen, "value"].sum())


def run_probe(instance_dir: Path, work: Path, settings: Settings, progress: Progress) -> Row:
    """Build the model the pipeline builds, export it, and solve it with HiGHS alone (MIP and LP)."""
    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen
    from models.build import build_model
    from models.data import prepare

    row: Row = {}
    progress("load")
    instance = read_instance(instance_dir)
    progress("build")
    t0 = time.perf_counter()
    scr = screen(instance)
    row["screen_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = prepare(instance, scr)
    row["prepare_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build_model(data)
    row["build_model_s"] = time.perf_counter() - t0
    row["pairs"] = data.n_pairs
    row["usage_vars"] = data.n_usage_vars
    row["total_value"] = float((instance.demands["priority"] * instance.demands["card_hours"]).sum())
    progress("greedy")
    row["greedy_value"] = greedy_value(instance, scr)
    progress("export")
    mps = work / "model.mps"
    t0 = time.perf_counter()
    model.write(str(mps), io_options={"symbolic_solver_labels": False})
    row["export_s"] = time.perf_counter() - t0
    del model, data, scr
    row.update(matrix_size(mps))
    progress("highs_alone")
    row.update({f"alone_{k}": v for k, v in highs_alone(mps, settings).items()})
    progress("lp_relaxation")
    row.update({f"lp_{k}": v for k, v in highs_alone(mps, settings, relax=True).items()})
    row["probe_peak_mb"] = peak_mb()
    return row


# --------------------------------------------------------------------------- pipeline


@contextlib.contextmanager
def _wrapped(module: Any, name: str, before: Callable[[], None], after: Callable[[Any, float], None]) -> Iterator[None]:
    """Temporarily wrap ``module.name`` to call ``before()`` and ``after(result, seconds)``; no-op if absent."""
    original = getattr(module, name, None)
    if original is None:
        yield
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        before()
        t0 = time.perf_counter()
        result = original(*args, **kwargs)
        after(result, time.perf_counter() - t0)
        return result

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def run_pipeline(instance_dir: Path, work: Path, settings: Settings, progress: Progress) -> Row:
    """The product path, :func:`allocator.solve.pipeline.solve_and_write`, with stage timings recorded."""
    import allocator.solve.exact as exact
    import allocator.solve.pipeline as pipeline
    import models.start
    from allocator.solve.options import SolveOptions

    seen: Row = {}

    def keep(key: str) -> Callable[[Any, float], None]:
        def after(result: Any, seconds: float) -> None:
            seen[key] = seconds
            if key == "solve_model_s":
                seen["run"] = result

        return after

    options = SolveOptions(time_limit=settings.time_limit, gap=settings.gap, threads=settings.threads)
    progress("load")
    with contextlib.ExitStack() as stack:
        stack.enter_context(_wrapped(pipeline, "screen", lambda: progress("build"), keep("screen_s")))
        stack.enter_context(_wrapped(exact, "place", lambda: progress("heuristic"), keep("heuristic_s")))
        stack.enter_context(_wrapped(models.start, "start_values", lambda: progress("start"), keep("start_s")))
        stack.enter_context(_wrapped(exact, "solve_model", lambda: progress("solve"), keep("solve_model_s")))
        stack.enter_context(_wrapped(pipeline, "extract_plan", lambda: progress("extract"), keep("extract_plan_s")))
        stack.enter_context(_wrapped(pipeline, "write_plan", lambda: progress("write"), keep("write_plan_s")))
        result = pipeline.solve_and_write(instance_dir, work / "plan", options)
    row: Row = {"peak_mb": peak_mb()}
    for phase in ("load", "build", "solve", "translate", "extract", "write"):
        row[f"{phase}_s"] = result.seconds.get(phase)
    row["total_s"] = sum(v for k, v in result.seconds.items() if k != "translate")  # translate is inside solve
    row["heuristic_s"] = seen.get("heuristic_s")
    row["start_s"] = seen.get("start_s")
    run = seen.get("run")
    if run is not None:
        row["stage1_s"] = run.value_stage.seconds
        row["stage1_status"] = run.value_stage.status
        row["stage1_objective"] = run.value_stage.objective
        row["stage1_bound"] = run.value_stage.bound
        row["stage2_s"] = run.cost_stage.seconds if run.cost_stage is not None else None
        row["stage2_status"] = run.cost_stage.status if run.cost_stage is not None else None
        row["solve_model_s"] = seen.get("solve_model_s")
    row["status"] = result.status
    row["gap"] = result.gap
    row["served_value"] = result.plan.served_value
    row["best_bound"] = result.best_bound
    row["demands_served"] = int(len(result.plan.assignments))
    row["model_variables"] = result.model_size.get("variables")
    row["model_constraints"] = result.model_size.get("constraints")
    return row


WORKERS: dict[str, Callable[[Path, Path, Settings, Progress], Row]] = {"probe": run_probe, "pipeline": run_pipeline}


# --------------------------------------------------------------------------- parent


def _run_worker(kind: str, instance_dir: Path, work: Path, settings: Settings) -> Row:
    """Run one worker in a fresh process; stop it when its build exceeds the limit or it runs far too long."""
    result = work / f"{kind}.json"
    progress = work / f"{kind}.progress.json"
    for path in (result, progress):
        path.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "benchmarks.scale", "--worker", kind, "--instance", str(instance_dir),
        "--work", str(work), "--time-limit", str(settings.time_limit), "--gap", str(settings.gap),
        "--seed", str(settings.seed),
    ]
    if settings.threads is not None:
        command += ["--threads", str(settings.threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    hard_limit = 3 * settings.time_limit + 1200.0
    log = (work / f"{kind}.log").open("w", encoding="utf-8")
    started = time.time()
    with log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        stopped = ""
        while process.poll() is None:
            time.sleep(0.5)
            phase = _read_json(progress)
            if (settings.build_limit is not None and phase.get("phase") == "build"
                    and time.time() - phase["since"] > settings.build_limit):
                stopped = f"build > {settings.build_limit:g} s"
            elif time.time() - started > hard_limit:
                stopped = f"{kind} > {hard_limit:g} s (phase {phase.get('phase', '?')})"
            if stopped:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                break
    if stopped:
        return {"error": f"stopped: {stopped}"}
    if process.returncode != 0 or not result.exists():
        tail = (work / f"{kind}.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        return {"error": f"{kind} exit {process.returncode}: {' | '.join(tail)}"}
    return _read_json(result)


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python numbers, anything else unknown as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return str(value)


def _read_json(path: Path) -> Row:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def measure(size: Size, work: Path, settings: Settings, in_process: bool = False) -> Row:
    """Generate the instance of ``size`` under ``work`` and measure it; one flat row of figures.

    ``in_process`` runs both workers in this process (for tests): peak memory is
    then this process's, and no build limit applies.
    """
    work.mkdir(parents=True, exist_ok=True)
    instance_dir = make_instance(work / "instance", size.n_demands, size.n_pools, size.periods, settings.seed)
    row: Row = {"size": size.label, "demands": size.n_demands, "pools": size.n_pools, "periods": size.periods}
    for kind in ("probe", "pipeline"):
        if in_process:
            part = WORKERS[kind](instance_dir, work, settings, Progress(None))
        else:
            part = _run_worker(kind, instance_dir, work, settings)
        if "error" in part:
            row[f"{kind}_error"] = part.pop("error")
        row.update(part)
        if kind == "probe" and f"{kind}_error" in row and str(row[f"{kind}_error"]).startswith("stopped: build"):
            row["pipeline_error"] = "skipped: the probe's build exceeded the build limit"
            break
    return _derived(row)


def _derived(row: Row) -> Row:
    """Shares and ratios computed from the measured figures."""
    total = row.get("total_s")
    if total:
        row["build_extract_share"] = ((row.get("build_s") or 0.0) + (row.get("extract_s") or 0.0)) / total
    if row.get("stage1_s") is not None and row.get("alone_seconds"):
        row["stage1_vs_alone"] = row["stage1_s"] / row["alone_seconds"]
    if row.get("stage1_objective") is not None and row.get("greedy_value"):
        row["stage1_over_greedy"] = row["stage1_objective"] / row["greedy_value"] - 1.0
    if row.get("served_value") is not None and row.get("total_value"):
        row["served_share"] = row["served_value"] / row["total_value"]
    return row


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    fmt: str = "{:.2f}"


PIPELINE_COLUMNS: tuple[Column, ...] = (
    Column("size", "size (DxPxT)", "{}"),
    Column("pairs", "pairs", "{:,}"),
    Column("rows", "rows", "{:,}"),
    Column("cols", "cols", "{:,}"),
    Column("nnz", "nnz", "{:,}"),
    Column("load_s", "load s"),
    Column("build_s", "build s"),
    Column("heuristic_s", "greedy s"),
    Column("translate_s", "translate s"),
    Column("stage1_s", "stage1 s"),
    Column("stage2_s", "stage2 s"),
    Column("solve_s", "solve s"),
    Column("extract_s", "extract s"),
    Column("write_s", "write s"),
    Column("total_s", "total s"),
    Column("status", "status", "{}"),
    Column("gap", "gap", "{:.2e}"),
    Column("served_value", "served value", "{:,.0f}"),
    Column("served_share", "served %", "{:.1%}"),
    Column("peak_mb", "peak MB", "{:,.0f}"),
    Column("build_extract_share", "build+extract %", "{:.1%}"),
)
SOLVER_COLUMNS: tuple[Column, ...] = (
    Column("size", "size (DxPxT)", "{}"),
    Column("stage1_status", "stage1 status", "{}"),
    Column("stage1_objective", "stage1 objective", "{:,.1f}"),
    Column("stage1_s", "stage1 s"),
    Column("alone_status", "HiGHS alone status", "{}"),
    Column("alone_objective", "HiGHS alone objective", "{:,.1f}"),
    Column("alone_gap", "HiGHS alone gap", "{:.2e}"),
    Column("alone_seconds", "HiGHS alone s"),
    Column("stage1_vs_alone", "stage1 / alone", "{:.2f}x"),
    Column("greedy_value", "greedy start value", "{:,.1f}"),
    Column("stage1_over_greedy", "stage1 over start", "{:+.1%}"),
    Column("lp_status", "LP status", "{}"),
    Column("lp_objective", "LP bound", "{:,.1f}"),
    Column("lp_seconds", "LP s"),
    Column("export_s", "MPS export s"),
)
BUILD_COLUMNS: tuple[Column, ...] = (
    Column("size", "size (DxPxT)", "{}"),
    Column("screen_s", "screen s"),
    Column("prepare_s", "prepare s"),
    Column("build_model_s", "Pyomo build s"),
    Column("start_s", "MIP start s"),
    Column("solve_model_s", "solve_model s"),
    Column("probe_error", "probe", "{}"),
    Column("pipeline_error", "pipeline", "{}"),
)


def _cell(row: Row, column: Column) -> str:
    value = row.get(column.key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return column.fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def render(rows: list[Row], columns: tuple[Column, ...], markdown: bool = False) -> str:
    """A table of ``rows`` with aligned columns (plain text) or a Markdown pipe table."""
    cells = [[c.title for c in columns]] + [[_cell(r, c) for c in columns] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(line) + " |" for line in cells]
        lines.insert(1, "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
        return "\n".join(lines)
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    out = []
    for n, line in enumerate(cells):
        out.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def report(rows: list[Row], settings: Settings, markdown: bool = False) -> str:
    """The three tables of a run, with a one-line header of the settings."""
    head = (f"time limit {settings.time_limit:g} s, relative gap {settings.gap:g}, seed {settings.seed}, "
            f"threads {settings.threads or 'HiGHS default'}")
    parts = [head]
    for title, columns in (("Pipeline (solve_and_write)", PIPELINE_COLUMNS),
                           ("Stage 1 vs HiGHS alone on the exported matrix", SOLVER_COLUMNS),
                           ("Where build and solve time goes", BUILD_COLUMNS)):
        parts += [("### " if markdown else "") + title, render(rows, columns, markdown)]
    return "\n\n".join(parts) + "\n"


def write_results(rows: list[Row], settings: Settings, out: Path, stamp: str) -> tuple[Path, Path]:
    """benchmarks/results/scale-<stamp>.csv (every figure) and .md (the tables)."""
    out.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    csv_path = out / f"scale-{stamp}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    md_path = out / f"scale-{stamp}.md"
    md_path.write_text(f"# Scaling benchmark {stamp}\n\n" + report(rows, settings, markdown=True), encoding="utf-8")
    return csv_path, md_path


# --------------------------------------------------------------------------- command line


def parse_sizes(text: str) -> tuple[Size, ...]:
    """``small``, ``all``, or ``"N,P,T;N,P,T;..."`` (demands, pools, periods)."""
    if text == "small":
        return LADDER_SMALL
    if text == "all":
        return LADDER_ALL
    sizes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        numbers = [int(x) for x in part.split(",")]
        if len(numbers) != 3 or min(numbers) < 1:
            raise argparse.ArgumentTypeError(f"'{part}' is not N,P,T with three positive integers")
        sizes.append(Size(*numbers))
    if not sizes:
        raise argparse.ArgumentTypeError("no size given")
    return tuple(sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=LADDER_SMALL,
                        help='small (default), all, or "N,P,T;..." (demands, pools, periods)')
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per solve (default 120)")
    parser.add_argument("--gap", type=float, default=1e-4, help="relative MIP gap (default 1e-4)")
    parser.add_argument("--threads", type=int, default=None, help="HiGHS threads (default: HiGHS's own)")
    parser.add_argument("--seed", type=int, default=0, help="instance generator seed (default 0)")
    parser.add_argument("--build-limit", type=float, default=60.0,
                        help="stop a size whose model build takes longer, in seconds (default 60; 0 = none)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--instance", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = Settings(args.time_limit, args.gap, args.threads, args.seed, args.build_limit or None)

    if args.worker:  # one measurement in this (fresh) process; the result goes to a JSON file
        row = WORKERS[args.worker](args.instance, args.work, settings, Progress(args.work / f"{args.worker}.progress.json"))
        write_text_atomic(args.work / f"{args.worker}.json", json.dumps({k: _plain(v) for k, v in row.items()}))
        return 0

    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows: list[Row] = []
    for size in args.sizes:
        print(f"[{time.strftime('%H:%M:%S')}] {size.label} ...", flush=True)
        t0 = time.perf_counter()
        row = measure(size, args.out / "runs" / stamp / size.label, settings)
        rows.append(row)
        errors = "; ".join(str(row[k]) for k in ("probe_error", "pipeline_error") if k in row)
        print(f"[{time.strftime('%H:%M:%S')}] {size.label} done in {time.perf_counter() - t0:.0f} s"
              f" ({row.get('status', '-')}){'  ' + errors if errors else ''}", flush=True)
        write_results(rows, settings, args.out, stamp)  # partial results survive an interrupted run
    print()
    print(report(rows, settings))
    csv_path, md_path = write_results(rows, settings, args.out, stamp)
    print(f"written: {csv_path.relative_to(REPO) if csv_path.is_relative_to(REPO) else csv_path}, "
          f"{md_path.relative_to(REPO) if md_path.is_relative_to(REPO) else md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
