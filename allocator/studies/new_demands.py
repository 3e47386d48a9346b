"""``advance --new-demands FILE.csv``: the next day's new requests, read as text with their lines.

The rows keep their cells as written (in demands.csv column order) and the line each came from, so
that a problem the validation of the next instance finds in a new row is reported at its line of
FILE.csv (:func:`point_at_source`), not at the line of the written demands.csv.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from allocator.instance.schema import TABLE_BY_STEM
from allocator.problems import EXIT_INVALID, AllocatorError, Problem

DEMAND_COLUMNS = TABLE_BY_STEM["demands"].column_names
REQUIRED_DEMAND_COLUMNS = [c.name for c in TABLE_BY_STEM["demands"].columns if c.required]


class AdvanceInputError(AllocatorError):
    """Bad arguments to advance (a duplicate demand id, a malformed new-demands file): exit 2."""

    exit_code = EXIT_INVALID


@dataclass
class NewDemands:
    """Rows of a --new-demands file as text, in DEMAND_COLUMNS order, with their line in that file."""

    file: Path
    rows: list[list[str]]
    lines: list[int]
    warnings: list[str] = field(default_factory=list)


def read_new_demands(path: Path, taken: set[str]) -> NewDemands:
    """Read FILE.csv (demands.csv columns); duplicate ids, in it or among ``taken``, are an error."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdvanceInputError(f"{path}: cannot be read as UTF-8 text: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header: list[str] | None = None
    rows, lines, problems = [], [], []
    end = 0
    for record in reader:
        start, end = end + 1, reader.line_num
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)))))
        lines.append(start)
    if header is None:
        raise AdvanceInputError(f"{path}: empty; the first line must be the demands.csv header")
    missing = [c for c in REQUIRED_DEMAND_COLUMNS if c not in header]
    if missing:
        raise AdvanceInputError(f"{path}: missing column(s) {', '.join(missing)} (the demands.csv columns)")
    warnings = [f"{path}: column '{c}' is not a demands.csv column and is ignored" for c in header if c and c not in DEMAND_COLUMNS]
    seen: dict[str, int] = {}
    for row, line in zip(rows, lines):
        d = row["demand_id"]
        if d in taken:
            problems.append(f"{path}, line {line}: demand_id '{d}' is already a demand of the next day (carried over)")
        elif d in seen:
            problems.append(f"{path}, line {line}: demand_id '{d}' appears twice (first on line {seen[d]})")
        seen.setdefault(d, line)
    if problems:
        raise AdvanceInputError("duplicate demand ids:\n  " + "\n  ".join(problems))
    return NewDemands(path, [[row.get(c, "") for c in DEMAND_COLUMNS] for row in rows], lines, warnings)


def point_at_source(problem: Problem, added: NewDemands, first_new_line: int) -> Problem:
    if problem.file != "demands.csv" or problem.line is None or problem.line < first_new_line:
        return problem
    index = problem.line - first_new_line
    line = added.lines[index] if index < len(added.lines) else None
    return Problem(str(added.file), problem.message, line, problem.column, problem.severity)
