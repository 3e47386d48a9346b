"""Helpers of the validation tests: a fresh copy of instances/tiny, cell edits, and assertions that an
error names its file, line and column (see tests/test_validation.py for the line numbers of tiny)."""

from __future__ import annotations

import csv
import re
import traceback
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from allocator.cli import main
from allocator.instance.reading import read_instance
from allocator.instance.types import Instance
from allocator.problems import InvalidInstance

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"
EXIT_INVALID = 2


# --------------------------------------------------------------------------- helpers


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cell(folder: Path, file: str, line: int, column: str, value: str) -> None:
    """Overwrite one cell; ``line`` counts the header as line 1."""
    path = folder / file
    rows = read_rows(path)
    rows[line - 1][rows[0].index(column)] = value
    write_rows(path, rows)


def append_row(folder: Path, file: str, **cells: str) -> int:
    """Append a row (missing columns empty) and return its line number."""
    path = folder / file
    rows = read_rows(path)
    rows.append([str(cells.get(name, "")) for name in rows[0]])
    write_rows(path, rows)
    return len(rows)


def copy_row(folder: Path, file: str, line: int, **changes: str) -> int:
    """Append a copy of the row at ``line`` with some cells changed; return its line."""
    rows = read_rows(folder / file)
    cells = dict(zip(rows[0], rows[line - 1]))
    cells.update(changes)
    return append_row(folder, file, **cells)


def drop_column(folder: Path, file: str, column: str) -> None:
    path = folder / file
    rows = read_rows(path)
    at = rows[0].index(column)
    write_rows(path, [row[:at] + row[at + 1 :] for row in rows])


def add_column(folder: Path, file: str, column: str, value: str = "") -> None:
    path = folder / file
    rows = read_rows(path)
    write_rows(path, [rows[0] + [column]] + [row + [value] for row in rows[1:]])


def write_table(folder: Path, file: str, header: list[str], *rows: list[object]) -> None:
    write_rows(folder / file, [header] + [[str(v) for v in row] for row in rows])


def edit_toml(folder: Path, old: str, new: str) -> None:
    path = folder / "instance.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in instance.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def validate(folder: Path) -> Result:
    """Run `allocator validate FOLDER`; it must never end in a traceback."""
    result = CliRunner().invoke(main, ["validate", str(folder)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail("validate raised:\n" + "".join(traceback.format_exception(*result.exc_info)))
    return result


def lines_of(result: Result, label: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{label}:")]


def names(line: str, file: str, row: int | None, column: str | None) -> bool:
    """Whether an output line names the file, the line (or row) and the column."""
    if file not in line:
        return False
    if row is not None and not re.search(rf"\b(line|row) {row}\b", line):
        return False
    return column is None or re.search(rf"\b{re.escape(column)}\b", line) is not None


def assert_error(result: Result, file: str, line: int | None, column: str | None, *words: str) -> str:
    """Exit 2 and an error naming file, line and column (and containing ``words``)."""
    assert result.exit_code == EXIT_INVALID, result.output
    errors = lines_of(result, "error")
    hits = [e for e in errors if names(e, file, line, column) and all(w.lower() in e.lower() for w in words)]
    assert hits, f"no error names {file}, line {line}, column {column} {words}; output:\n{result.output}"
    return hits[0]


def assert_valid(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert not lines_of(result, "error"), result.output


def read(folder: Path) -> Instance:
    try:
        return read_instance(folder)
    except InvalidInstance as error:  # pragma: no cover - shows the problems on failure
        pytest.fail("\n".join(map(str, error.problems)))


def demands_row(instance: Instance, demand_id: str) -> pd.Series:
    d = instance.demands
    return d[d["demand_id"] == demand_id].iloc[0]


