"""Run the bench: every instance x solver x method as a task on the executor, each plan checked.

The package docstring (:mod:`allocator.studies.bench`) says what a bench measures.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from allocator.executor import ExecutorOptions, run_tasks
from allocator.files import start_incremental_folder, write_summary
from allocator.studies.bench.outputs import known_for, merge_rows, write_outputs
from allocator.studies.bench.tasks import METHODS, NO_SOLVER, BenchSettings, BenchTask


def run_bench_task(task: BenchTask) -> dict:
    """Run one task and return its row fields; failures become a status and an error message."""
    row = {"instance": task.label, "instance_path": task.instance,
           "instance_sha256": instance_sha256(Path(task.instance))} | environment()
    t0 = time.perf_counter()
    try:
        row |= measure_model(Path(task.instance)) if task.kind == "size" else solve_task(task)
    except Exception as error:  # noqa: BLE001 - a failed run is a row, never a crashed bench
        row |= {"status": failure_status(error), "error": f"{type(error).__name__}: {error}".strip()}
    row["wall_s"] = time.perf_counter() - t0
    if task.kind == "solve":
        row |= {"solver": task.solver, "method": task.method, "time_limit_s": task.time_limit_s,
                "gap_limit": task.gap, "threads": task.threads}
    return row


def failure_status(error: Exception) -> str:
    from allocator.problems import InfeasibleInstance, InvalidInstance, NoSolution

    if isinstance(error, InfeasibleInstance):
        return "infeasible"
    if isinstance(error, NoSolution):
        return "no_solution"
    if isinstance(error, InvalidInstance):
        return "invalid"
    return "error"


def solve_task(task: BenchTask) -> dict:
    """Solve and write the plan as ``allocator solve`` does; check it; return the row fields."""
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write

    options = SolveOptions(time_limit=task.time_limit_s, gap=task.gap, threads=task.threads,
                           solver=task.solver if task.method == "exact" else "highs", method=task.method)
    if task.plan_dir is None:
        with tempfile.TemporaryDirectory(prefix="allocator-bench-") as folder:
            return solve_task(replace(task, plan_dir=str(Path(folder) / "plan"))) | {"plan_path": ""}
    plan_dir = Path(task.plan_dir)
    result = solve_and_write(Path(task.instance), plan_dir, options)
    summary = result.summary()
    if task.method == "exact" and summary["solver"] != task.solver:
        raise RuntimeError(f"asked for solver {task.solver} but the pipeline solved with {summary['solver']}: "
                           "allocator.solve.lexicographic.solve_model does not dispatch on SolveOptions.solver")
    seconds = summary["wall_seconds"]
    return {
        "status": summary["status"],
        "served_value": summary["served_value"],
        "cost_yuan": summary["cost_yuan"],
        "total_bill_yuan": summary["total_bill_yuan"],
        "best_bound": summary["best_bound"],
        "gap": summary["gap"],
        "cost_bound_yuan": summary.get("cost_bound_yuan"),
        "cost_gap": summary.get("cost_gap"),
        "load_s": seconds.get("load"),
        "build_s": seconds.get("build"),
        "solve_s": seconds.get("solve"),
        "demands_served": summary["demands_served"],
        "demands_total": summary["demands_total"],
        "solver_version": summary["solver_version"],
        "instance_sha256": combined_sha256(summary["instance_sha256"]),
        "plan_path": str(plan_dir),
        "notes": "; ".join(summary.get("notes") or []),
        "check": check_result(Path(task.instance), plan_dir) if task.check else "",
    }


def check_result(instance: Path, plan_dir: Path) -> str:
    """``ok`` when the independent checker finds no violation, else how many it found."""
    from allocator.check.run import check_plan

    report = check_plan(instance, plan_dir)
    return "ok" if not report.violations else f"{len(report.violations)} violations"


def combined_sha256(files_sha256: dict[str, str] | str) -> str:
    """One hash for an instance: sha256 of its ``"<file> <sha256>\\n"`` lines in file-name order."""
    if isinstance(files_sha256, str):
        return files_sha256
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(files_sha256.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def instance_sha256(folder: Path) -> str:
    """:func:`combined_sha256` of the files the reader hashes (instance.toml and each schema table's file).

    Computed from the files, so a run that fails still records what it ran on;
    equal to the combined hash of a plan's ``summary.json`` ``instance_sha256``.
    """
    from allocator.files import file_digest
    from allocator.instance.schema import TABLES

    names = ["instance.toml"] + [f"{t.stem}.{ext}" for t in TABLES for ext in ("csv", "parquet")]
    return combined_sha256({name: file_digest(folder / name) for name in names if (folder / name).is_file()})


def measure_model(instance: Path) -> dict:
    """Rows, columns, nonzeros and integer columns of the stage-1 model, as HiGHS reads its MPS export."""
    import highspy

    from allocator.studies.export import export_model

    with tempfile.TemporaryDirectory(prefix="allocator-bench-size-") as folder:
        model_file = Path(folder) / "model.mps"
        export_model(instance, model_file, "mps")
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.readModel(str(model_file))
        integrality = h.getLp().integrality_
        integer = sum(1 for v in integrality if int(v) != 0)
        return {"rows": h.getNumRow(), "columns": h.getNumCol(), "nonzeros": h.getNumNz(), "integer_columns": integer}


def environment() -> dict:
    """Package versions and facts of the machine running this task."""
    return {
        "allocator_version": package_version("allocator"),
        "pyomo_version": package_version("pyomo"),
        "highspy_version": package_version("highspy"),
        "pyscipopt_version": package_version("pyscipopt"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
    }


def package_version(name: str) -> str:
    """The installed version of a distribution, '' when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        if name == "allocator":
            from allocator import __version__

            return __version__
        return ""


def instance_labels(instances: Sequence[Path]) -> list[str]:
    """Folder names, made unique with ``-2``, ``-3``... in order."""
    labels: list[str] = []
    for folder in instances:
        base, label, n = Path(folder).name, Path(folder).name, 1
        while label in labels:
            n += 1
            label = f"{base}-{n}"
        labels.append(label)
    return labels


def plan_tasks(instances: Sequence[Path], settings: BenchSettings, out: Path) -> list[BenchTask]:
    """One size task per instance, then every instance x (exact x solver, and each heuristic once)."""
    tasks: list[BenchTask] = []
    labels = instance_labels(instances)
    for label, folder in zip(labels, instances):
        tasks.append(BenchTask("size", label, str(folder)))
    for label, folder in zip(labels, instances):
        for method in settings.methods:
            for solver in settings.solvers if method == "exact" else (NO_SOLVER,):
                plan = out / "plans" / label / f"{solver}-{method}"
                tasks.append(BenchTask("solve", label, str(folder), solver, method, settings.time_limit_s,
                                       settings.gap, settings.threads, str(plan), settings.check))
    return tasks


def check_solvers(solvers: Sequence[str]) -> dict[str, str]:
    """Versions of the requested solvers; :class:`allocator.solve.backends.SolverUnavailable` for a missing one."""
    from allocator.solve.backends import solver_version

    return {name: solver_version(name) for name in solvers}


def run_bench(instances: Sequence[Path], out: Path, settings: BenchSettings,
              executor: ExecutorOptions | None = None, known_files: Sequence[Path] = ()) -> list[dict]:
    """Run every task, writing bench.csv and bench.md after each result; return the rows."""
    unknown = [m for m in settings.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)} (known: {', '.join(METHODS)})")
    if "exact" in settings.methods:
        check_solvers(settings.solvers)
    known = known_for(instances, known_files)
    out = Path(out).resolve()
    outside = [Path(i) for i in instances if out not in Path(i).resolve().parents]  # imported GAP files live inside
    out = start_incremental_folder(out, outside, resume=True, kind="bench")
    tasks = plan_tasks([Path(i) for i in instances], settings, out)
    results: dict[int, dict] = {}
    rows: list[dict] = []
    for index, row in run_tasks(run_bench_task, tasks, executor or ExecutorOptions(description="bench")):
        results[index] = row
        rows = merge_rows(tasks, results, known)
        write_outputs(rows, out)
    write_summary(out, {"kind": "bench", "status": "complete", "runs": len(rows)})
    return rows


def parse_gap_spec(spec: str) -> tuple[Path, list[int]]:
    """``FILE[:INDEXES]`` -> (file, 1-based problem numbers); INDEXES like ``1``, ``1-4`` or ``1,3,5-6`` (default 1)."""
    head, sep, tail = spec.rpartition(":")
    path_text, indexes = (head, tail) if sep and re.fullmatch(r"[0-9,\- ]+", tail) else (spec, "1")
    numbers: list[int] = []
    for part in indexes.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            numbers += list(range(int(low), int(high) + 1)) if dash else [int(low)]
        except ValueError:
            raise ValueError(f"--gap-file {spec}: problem numbers must look like 1, 1-4 or 1,3,5-6") from None
    if not numbers or min(numbers) < 1:
        raise ValueError(f"--gap-file {spec}: problem numbers start at 1")
    return Path(path_text), numbers


def import_gap_problems(specs: Sequence[str], folder: Path) -> list[Path]:
    """Convert the GAP problems named by ``specs`` into ``folder/<name>`` and write ``folder/known.csv``.

    The known optimum of each problem is the published minimum cost from
    ``optima.csv`` (:func:`allocator.studies.gap.instance.known_optimum`), compared with the
    plan's cost (sense min). Problems without a published value get no row.
    """
    from allocator.studies.gap.instance import known_optimum, write_gap_instance
    from allocator.studies.gap.reading import read_gap_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    instances, known_rows = [], []
    for spec in specs:
        path, numbers = parse_gap_spec(spec)
        count = len(read_gap_file(path))
        for index in numbers:
            name = path.name.removesuffix(".txt") if count == 1 else f"{path.name.removesuffix('.txt')}-{index}"
            target = write_gap_instance(path, index, folder / name)
            instances.append(target)
            optimum = known_optimum(path, index, "min")
            if optimum is not None:
                known_rows.append({"instance": name, "objective": optimum, "sense": "min",
                                   "source": f"optima.csv: {path.name} problem {index}"})
    pd.DataFrame(known_rows, columns=["instance", "objective", "sense", "source"]).to_csv(
        folder / "known.csv", index=False, lineterminator="\n")
    return instances
