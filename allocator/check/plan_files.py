"""Read a plan folder's files for the checker: every file present, with exactly the SPEC columns.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocator.check.report import CheckReport, Row

# The plan files of shared/SPEC.md with their columns and cell types, copied from the SPEC.
PLAN_COLUMNS: dict[str, dict[str, str]] = {
    "assignments.csv": {
        "demand_id": "id", "enterprise_id": "id", "pool_id": "id", "center_id": "id",
        "region_id": "id", "accelerator": "id", "usage_card_hours": "float", "bill_yuan": "float",
        "subsidy_yuan": "float", "enterprise_pays_yuan": "float", "rtt_ms": "float",
    },
    "schedule.csv": {"demand_id": "id", "pool_id": "id", "period": "int", "card_hours": "float"},
    "unserved.csv": {"demand_id": "id", "enterprise_id": "id", "reason": "id"},
    "pools.csv": {
        "pool_id": "id", "period": "int", "used_card_hours": "float",
        "capacity_card_hours": "float", "utilization": "float",
    },
    "centers.csv": {"center_id": "id", "period": "int", "energy_kwh": "float", "green_kwh": "float", "grid_kwh": "float"},
    "enterprises.csv": {
        "enterprise_id": "id", "program_id": "id", "bill_yuan": "float",
        "subsidy_yuan": "float", "cap_remaining_yuan": "float",
    },
    "programs.csv": {"program_id": "id", "budget_yuan": "float", "subsidy_yuan": "float", "remaining_yuan": "float"},
}


SUMMARY_FILE = "summary.json"


SUMMARY_NUMBERS = (
    "served_value", "best_bound", "gap", "total_bill_yuan", "total_subsidy_yuan",
    "carbon_kg", "demands_served", "demands_total",
)


SUMMARY_TEXTS = ("instance", "method", "solver", "solver_version", "status")


SUMMARY_SECONDS = "wall_seconds"  # docs/decisions.md; an older "seconds" is accepted too


SUMMARY_PHASES = ("load", "build", "solve", "write")


PLAN_STATUSES = ("optimal", "feasible")  # a plan folder exists only for these


@dataclass
class PlanFiles:
    """The plan folder parsed: typed rows per CSV file (None if unusable) and summary.json."""

    tables: dict[str, list[Row] | None]
    summary: dict[str, Any] | None

    def rows(self, file: str) -> list[Row]:
        """The usable rows of a file ([] when the file is missing or unreadable)."""
        return self.tables.get(file) or []


def _parse_cell(text: str, kind: str) -> Any:
    """A CSV cell as its SPEC type; raises ValueError when it is not one."""
    text = text.strip()
    if kind == "id":
        if not text:
            raise ValueError("empty, a value is required")
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    if math.isnan(number):
        raise ValueError(f"'{text}' is not a number")
    if kind == "int":
        if not number.is_integer():
            raise ValueError(f"'{text}' is not a whole number")
        return int(number)
    return number


def read_plan_csv(path: Path, report: CheckReport) -> list[Row] | None:
    """Rows of a plan CSV with typed cells; None when the file cannot be used.

    Files: the file must exist, be readable UTF-8 CSV and hold exactly the SPEC's
    columns (any order). A row with a cell that does not parse is reported and left out.
    """
    file = path.name
    expected = PLAN_COLUMNS[file]
    if not path.is_file():
        report.violate(f"files: {file} is missing from the plan folder")
        return None
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            body = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        report.violate(f"files: {file} cannot be read: {exc}")
        return None
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if extra:
        report.violate(f"files: {file} has columns the SPEC does not define: {', '.join(extra)}")
    if duplicated:
        report.violate(f"files: {file} repeats columns: {', '.join(duplicated)}")
    if missing:
        report.violate(f"files: {file} lacks the SPEC columns: {', '.join(missing)}")
        return None
    position = {c: header.index(c) for c in expected}
    rows: list[Row] = []
    for number, cells in enumerate(body, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            report.violate(f"files: {file} line {number} has {len(cells)} cells, the header has {len(header)}; row ignored")
            continue
        row: Row = {"_line": number}
        try:
            for column, kind in expected.items():
                try:
                    row[column] = _parse_cell(cells[position[column]], kind)
                except ValueError as exc:
                    raise ValueError(f"column '{column}': {exc}") from None
        except ValueError as exc:
            report.violate(f"files: {file} line {number}, {exc}; row ignored")
            continue
        rows.append(row)
    return rows


def read_summary(path: Path, report: CheckReport) -> dict[str, Any] | None:
    """summary.json as a dict; None (and a violation) when missing or not a JSON object."""
    if not path.is_file():
        report.violate(f"files: {SUMMARY_FILE} is missing from the plan folder")
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.violate(f"files: {SUMMARY_FILE} cannot be read as JSON: {exc}")
        return None
    if not isinstance(doc, dict):
        report.violate(f"files: {SUMMARY_FILE} must hold a JSON object")
        return None
    return doc


def check_files(plan_dir: Path, report: CheckReport) -> PlanFiles:
    """Files: every SPEC plan file is present and readable with exactly the SPEC columns."""
    plan_dir = Path(plan_dir)
    if not plan_dir.is_dir():
        report.violate(f"files: the plan folder {plan_dir} does not exist")
        return PlanFiles({file: None for file in PLAN_COLUMNS}, None)
    tables = {file: read_plan_csv(plan_dir / file, report) for file in PLAN_COLUMNS}
    return PlanFiles(tables, read_summary(plan_dir / SUMMARY_FILE, report))
