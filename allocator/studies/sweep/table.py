"""sweep.csv: one row per point, written as points finish, read back for --resume.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pandas as pd

from allocator.files import atomic_file
from allocator.studies.sweep.points import PARAMETERS

POINT_COLUMNS = ["key", *PARAMETERS, "fund_yuan"]


METHOD_FIELDS = ["status", "served_value", "served_share", "demands_served", "subsidy_yuan", "bill_yuan",
                 "carbon_kg", "utilization", "gap", "seconds"]


TIMING_COLUMNS = ("seconds_opt", "seconds_fcfs")


def sweep_columns(fcfs: bool) -> list[str]:
    """The columns of sweep.csv, in order."""
    columns = POINT_COLUMNS + [f"{name}_opt" for name in METHOD_FIELDS]
    if fcfs:
        columns += [f"{name}_fcfs" for name in METHOD_FIELDS] + ["extra_share"]
    return columns + ["notes"]


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
        with atomic_file(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(rows)


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
