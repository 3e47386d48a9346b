"""sweep.csv: one row per point, written as points finish, read back for --resume.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pandas as pd

from allocator.files import atomic_file
from allocator.studies.sweep.points import LINE_PARAMETERS, PARAMETERS

POINT_COLUMNS = ["key", *PARAMETERS, "fund_yuan"]


METHOD_FIELDS = ["status", "served_value", "served_share", "demands_served", "subsidy_yuan", "bill_yuan",
                 "carbon_kg", "utilization", "domestic_card_hours_share", "domestic_subsidy_share",
                 "marginal_value_per_yuan", "gap", "seconds"]

#: Filled when the table is finished, from the rows around (not by the point's own solve).
DERIVED_FIELDS = ("marginal_value_per_yuan",)


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
        fill_marginals(rows, self.columns)
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


def fill_marginals(rows: list[list[str]], columns: list[str]) -> None:
    """``marginal_value_per_yuan_<method>``: on each line (the same non-budget parameters), between a
    point and the one with the next smaller fund, (served value - its served value) / (fund - its fund):
    the value one more yuan of fund bought there. Empty at a line's smallest fund, or when either
    point has no plan. ``rows`` are sorted by fund; the cells are written in place."""
    index = {c: i for i, c in enumerate(columns)}
    lines: dict[tuple[str, ...], list[list[str]]] = {}
    for row in rows:
        lines.setdefault(tuple(row[index[c]] for c in LINE_PARAMETERS), []).append(row)
    for method in ("opt", "fcfs"):
        target = index.get(f"marginal_value_per_yuan_{method}")
        value = index.get(f"served_value_{method}")
        if target is None or value is None:
            continue
        for line in lines.values():
            previous = None
            for row in sorted(line, key=lambda r: _sort_number(r[index["fund_yuan"]])):
                row[target] = ""
                fund, served = row[index["fund_yuan"]], row[value]
                if previous is not None and served != "" and previous[1] != "" and float(fund) > float(previous[0]):
                    row[target] = repr((float(served) - float(previous[1])) / (float(fund) - float(previous[0])))
                if served != "":
                    previous = (fund, served)


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
