"""bench.csv and bench.md: one row per run, the distance to known optima, the environment.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from allocator.files import atomic_file, write_text_atomic
from allocator.render.markdown import md_table, md_text
from allocator.studies.bench.tasks import KNOWN_SENSES, BenchTask, Known

#: bench.csv columns, in order.
COLUMNS = (
    "instance", "solver", "method", "status", "served_value", "cost_yuan", "total_bill_yuan",
    "best_bound", "gap", "cost_bound_yuan", "cost_gap",
    "known_objective", "known_sense", "distance", "distance_rel", "reached_known",
    "rows", "columns", "nonzeros", "integer_columns",
    "load_s", "build_s", "solve_s", "wall_s",
    "demands_served", "demands_total", "check", "error", "notes",
    "time_limit_s", "gap_limit", "threads",
    "solver_version", "instance_sha256", "instance_path", "plan_path",
    "allocator_version", "pyomo_version", "highspy_version", "pyscipopt_version",
    "platform", "machine", "cpu_count", "python", "host",
)


#: (column, heading, format) of the Markdown table.
MARKDOWN_COLUMNS = (
    ("instance", "instance", "{}"), ("solver", "solver", "{}"), ("method", "method", "{}"),
    ("rows", "rows", "{:,.0f}"), ("columns", "columns", "{:,.0f}"), ("nonzeros", "nonzeros", "{:,.0f}"),
    ("build_s", "build s", "{:.2f}"), ("solve_s", "solve s", "{:.2f}"), ("status", "status", "{}"),
    ("served_value", "served value", "{:,.6g}"), ("cost_yuan", "cost (yuan)", "{:,.2f}"),
    ("best_bound", "value bound", "{:,.6g}"), ("gap", "value gap", "{:.2g}"),
    ("cost_bound_yuan", "cost bound", "{:,.2f}"), ("cost_gap", "cost gap", "{:.2g}"),
    ("known_objective", "known optimum", "{:,.6g}"), ("distance", "distance", "{:+,.6g}"),
    ("check", "check", "{}"),
)


def read_known(path: Path) -> dict[str, Known]:
    """known.csv: instance, objective, sense (min: cost, max: served value); other columns are ignored."""
    table = pd.read_csv(path, dtype={"instance": str, "sense": str})
    missing = {"instance", "objective", "sense"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: known.csv needs the columns instance, objective, sense (missing {sorted(missing)})")
    known = {}
    for line, (name, objective, sense) in enumerate(table[["instance", "objective", "sense"]].itertuples(index=False), 2):
        if sense not in KNOWN_SENSES:
            raise ValueError(f"{path}, line {line}: sense must be min or max, not '{sense}'")
        known[str(name)] = Known(float(objective), sense)
    return known


def known_for(instances: Sequence[Path], extra: Iterable[Path] = ()) -> dict[str, Known]:
    """Known optima from ``known.csv`` beside each instance, then the files given (later files win)."""
    found: dict[str, Known] = {}
    for path in sorted({Path(i).resolve().parent / "known.csv" for i in instances}) + [Path(p) for p in extra]:
        if path.is_file():
            found |= read_known(path)
    return found


def instance_name(folder: Path) -> str:
    """The ``name`` of instance.toml ('' when unreadable)."""
    import tomllib

    try:
        return str(tomllib.loads((Path(folder) / "instance.toml").read_text(encoding="utf-8")).get("name", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""


def distance_to_known(row: dict, known: Known | None) -> dict:
    """distance = how much worse than the known optimum (positive: worse, negative: better)."""
    if known is None:
        return {}
    out = {"known_objective": known.objective, "known_sense": known.sense}
    measured = row.get("cost_yuan") if known.sense == "min" else row.get("served_value")
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return out
    distance = measured - known.objective if known.sense == "min" else known.objective - measured
    relative = distance / max(abs(known.objective), 1e-9)
    tolerance = max(float(row.get("gap_limit") or 0.0), 1e-6)
    return out | {"distance": distance, "distance_rel": relative, "reached_known": bool(relative <= tolerance)}


def merge_rows(tasks: Sequence[BenchTask], results: dict[int, dict], known: dict[str, Known]) -> list[dict]:
    """Solve rows in task order, each with its instance's model size and known-optimum distance."""
    sizes = {tasks[i].label: r for i, r in results.items() if tasks[i].kind == "size"}
    rows = []
    for i, task in enumerate(tasks):
        if task.kind != "solve" or i not in results:
            continue
        row = dict(results[i])
        size = sizes.get(task.label, {})
        row |= {k: size.get(k) for k in ("rows", "columns", "nonzeros", "integer_columns")}
        if size.get("error") and not row.get("error"):
            row["error"] = f"model size: {size['error']}"
        target = known.get(task.label) or known.get(instance_name(Path(task.instance)))
        row |= distance_to_known(row, target)
        rows.append({c: row.get(c) for c in COLUMNS})
    return rows


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """bench.csv, replaced atomically."""
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: _csv_cell(row.get(c)) for c in COLUMNS} for row in rows)


def _csv_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def markdown(rows: Sequence[dict]) -> str:
    """The bench table in Markdown, with the environment of the runs below it."""
    head = [h for _, h, _ in MARKDOWN_COLUMNS]
    lines = md_table(head, [[_md_cell(row.get(c), fmt) for c, _, fmt in MARKDOWN_COLUMNS] for row in rows]).splitlines()
    lines += ["", "distance: the run's objective minus the known optimum (cost, sense min) or the known optimum "
              "minus the served value (sense max); 0 = reached, positive = worse.", ""]
    lines += environment_lines(rows)
    errors = [(r["instance"], r["solver"], r["method"], r["error"]) for r in rows if r.get("error")]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {md_text(i)} / {s} / {m}: {md_text(e)}" for i, s, m, e in errors]
    return "\n".join(lines) + "\n"


def _md_cell(value: object, fmt: str) -> str:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def environment_lines(rows: Sequence[dict]) -> list[str]:
    """The distinct environments of the rows (usually one), as a Markdown list."""
    keys = ("allocator_version", "pyomo_version", "highspy_version", "pyscipopt_version",
            "platform", "machine", "cpu_count", "python", "host")
    seen: list[tuple] = []
    for row in rows:
        env = tuple(row.get(k) for k in keys)
        if env not in seen:
            seen.append(env)
    solvers = sorted({(r["solver"], r["solver_version"]) for r in rows if r.get("solver_version")})
    lines = ["Environment:", ""]
    for env in seen:
        values = dict(zip(keys, env))
        lines.append(
            f"- allocator {values['allocator_version']}, Pyomo {values['pyomo_version']}, highspy {values['highspy_version']}, "
            f"PySCIPOpt {values['pyscipopt_version'] or 'not installed'}; {values['platform']} ({values['machine']}), "
            f"{values['cpu_count']} CPUs, Python {values['python']}, host {values['host']}")
    if solvers:
        lines.append("- solvers: " + ", ".join(f"{s} {v}" for s, v in solvers))
    return lines


def write_outputs(rows: Sequence[dict], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "bench.csv", out / "bench.md"
    write_csv(rows, csv_path)
    write_text_atomic(md_path, "# allocator bench\n\n" + markdown(rows))
    return csv_path, md_path
