"""Read one table (CSV or Parquet) and parse every cell against :mod:`allocator.instance.schema`.

CSV files are read with the :mod:`csv` module rather than pandas so that a row's
line is its true line in the file (blank lines and quoted line breaks counted);
a UTF-8 byte-order mark is accepted. Parquet rows are numbered from 1. Every
problem is collected (file, line, column) instead of stopping at the first.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.schema import TABLES, Column, Table
from allocator.instance.types import LINE
from allocator.problems import Problem

FORMULA_LEADS = ("=", "+", "-", "@")  # with a tab or a carriage return: what a spreadsheet runs as a formula
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")  # "1,260": a number typed with thousands separators


def normal_column_name(name: str) -> str:
    """A column name without case, spaces, '-' and '_' (``Priority`` and ``card hours`` become known names)."""
    return re.sub(r"[\s_\-]", "", name).lower()


TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False}


TABLE_SUFFIXES = (".csv", ".parquet")


def _table_file(folder: Path, stem: str, problems: list[Problem]) -> Path | None:
    candidates = [folder / f"{stem}{suffix}" for suffix in TABLE_SUFFIXES]
    for path in candidates:
        if path.exists() and not path.is_file():
            problems.append(Problem(path.name, "is not a readable file (a folder?): give the table as a file, "
                                               "or remove it to leave the table out"))
    found = [path for path in candidates if path.is_file()]
    if len(found) > 1:
        problems.append(
            Problem(found[1].name, f"is ignored: {found[0].name} is read (give each table once, as CSV or as Parquet)",
                    severity="warning")
        )
    return found[0] if found else None


def _warn_unknown_files(folder: Path, problems: list[Problem]) -> None:
    stems = {t.stem for t in TABLES}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in TABLE_SUFFIXES and path.stem not in stems:
            problems.append(
                Problem(path.name, f"is not a table of the format and is ignored (tables: {', '.join(sorted(stems))})",
                        severity="warning")
            )


@dataclass
class RawTable:
    """A table as text: every cell a stripped string ('' for empty / null), and where each row stands."""

    cells: pd.DataFrame
    lines: np.ndarray  # CSV: line of the row's first character (header is line 1); Parquet: 1-based row
    header_line: int = 1
    control_led: dict[str, np.ndarray] = field(default_factory=dict)  # column -> cells that began with a tab or CR


def _read_raw(path: Path, problems: list[Problem]) -> RawTable | None:
    if path.suffix == ".csv":
        return _read_csv(path, problems)
    return _read_parquet(path, problems)


def _read_csv(path: Path, problems: list[Problem]) -> RawTable | None:
    """Read a CSV with the csv module so that every row keeps its true line number.

    Blank lines (and rows of only empty cells) are skipped; a row with more or
    fewer cells than the header is reported and padded / cut to the header.
    """
    file = path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        problems.append(Problem(file, f"cannot be read: {error.strerror or error}"))
        return None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is accepted
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(file, f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line=line))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    end = 0  # last physical line consumed
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            cells = list(record)
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if header is None:
                header, header_line = [cell.strip() for cell in cells], start
                continue
            if len(cells) != len(header):
                extra = cells[len(header):]
                if len(cells) < len(header) or any(cell.strip() for cell in extra):
                    problems.append(
                        Problem(file, f"the row has {len(cells)} cells, the header has {len(header)}", line=start)
                    )
                cells = (cells + [""] * len(header))[: len(header)]
            rows.append(cells)
            lines.append(start)
    except csv.Error as exc:
        problems.append(Problem(file, f"cannot be read as CSV: {exc}", line=end + 1))
        return None
    if header is None:
        problems.append(Problem(file, "is empty: the first line must be a header naming the columns", line=1))
        return None
    frame = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
    return _named(frame, header, np.asarray(lines, dtype=int), file, problems, header_line)


def _read_parquet(path: Path, problems: list[Problem]) -> RawTable | None:
    file = path.name
    try:
        raw = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign file is a problem of the input, not a crash
        problems.append(Problem(file, f"cannot be read as Parquet: {exc}".splitlines()[0]))
        return None
    header = [str(c).strip() for c in raw.columns]
    frame = pd.DataFrame({i: _cells_as_text(raw.iloc[:, i]) for i in range(raw.shape[1])}, index=range(len(raw)), dtype=object)
    if frame.shape[1] == 0:
        frame = pd.DataFrame(index=range(len(raw)))
    return _named(frame, header, np.arange(1, len(raw) + 1), file, problems, header_line=1)


def _named(frame: pd.DataFrame, header: list[str], lines: np.ndarray, file: str, problems: list[Problem],
           header_line: int) -> RawTable | None:
    """Give the positional columns their header names; a name given twice is an error."""
    seen: set[str] = set()
    twice = []
    for name in header:
        if name and name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    for name in twice:
        problems.append(Problem(file, "the column appears twice in the header; name each column once", line=header_line, column=name))
    if twice:
        return None
    keep = [i for i, name in enumerate(header) if name]  # an unnamed column (e.g. a trailing comma) is dropped
    for i, name in enumerate(header):
        if not name and frame.shape[0] and (frame[i] != "").any():
            problems.append(
                Problem(file, f"column {i + 1} has no name in the header; its cells are ignored", line=header_line,
                        severity="warning")
            )
    cells = frame[keep] if keep else pd.DataFrame(index=frame.index)
    cells.columns = [header[i] for i in keep]
    cells = cells.reset_index(drop=True)
    control_led = {}
    for name in cells.columns:
        text = cells[name].astype(object).where(cells[name].notna(), "").astype(str)
        control_led[name] = text.str.match(r"[\t\r]").to_numpy(dtype=bool)
        cells[name] = text.str.strip().astype(object)
    return RawTable(cells, lines, header_line, control_led)


def _cells_as_text(series: pd.Series) -> pd.Series:
    def text(v: object) -> str:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and math.isnan(v)):
            return ""
        if isinstance(v, (bool, np.bool_)):
            return "true" if v else "false"
        if isinstance(v, (float, np.floating)):
            return repr(float(v))
        return str(v)

    return pd.Series([text(v) for v in series.astype(object)], index=range(len(series)), dtype=object)


def parse_table(path: Path, table: Table, problems: list[Problem]) -> pd.DataFrame | None:
    """The typed table (every SPEC column, defaults filled, plus LINE), or None if it cannot be used."""
    raw = _read_raw(path, problems)
    if raw is None:
        return None
    file = path.name
    cells, lines, header_line = raw.cells, raw.lines, raw.header_line
    known = table.column_names
    twins = {normal_column_name(name): name for name in known}
    misspelled = {}
    for extra in cells.columns:
        if extra in known:
            continue
        twin = twins.get(normal_column_name(extra))
        if twin is not None:
            misspelled[twin] = extra
            problems.append(Problem(file, f"'{extra}' looks like a misspelling of the column '{twin}' "
                                          f"(column names are exact: rename it to '{twin}')", line=header_line, column=extra))
        else:
            problems.append(Problem(file, f"unknown column is ignored (columns of {table.stem}: {', '.join(known)})",
                                    line=header_line, column=extra, severity="warning"))
    missing = [c.name for c in table.columns if c.required and c.name not in cells.columns]
    for name in missing:
        if name not in misspelled:
            needed = ", ".join(c.name for c in table.columns if c.required)
            problems.append(Problem(file, f"required column is missing (the header needs: {needed})",
                                    line=header_line, column=name))
    if missing:
        return None
    out = {}
    for col in table.columns:
        column_cells = cells[col.name] if col.name in cells.columns else pd.Series("", index=cells.index, dtype=object)
        out[col.name] = _parse_column(column_cells, col, file, lines, problems, raw.control_led.get(col.name))
    df = pd.DataFrame(out, index=cells.index)
    df[LINE] = lines
    _check_unique(df, table, file, problems)
    return df.reset_index(drop=True)


def _expected(col: Column) -> str:
    """What a cell of ``col`` must hold, in words (for messages)."""
    what = "a whole number" if col.type == "int" else "a number"
    bounds = []
    if col.low is not None:
        bounds.append(f"{'>' if col.low_open else '>='} {col.low:g}")
    if col.high is not None:
        bounds.append(f"<= {col.high:g}")
    if bounds:
        what += " " + " and ".join(bounds)
    if col.allow_inf:
        what += ", or inf"
    return what


def _parse_column(cells: pd.Series, col: Column, file: str, lines: np.ndarray, problems: list[Problem],
                  control_led: np.ndarray | None = None) -> pd.Series:
    empty = cells == ""

    def report(mask, message) -> None:
        for i in np.flatnonzero(np.asarray(mask)):
            problems.append(Problem(file, message(cells.iloc[i]), line=int(lines[i]), column=col.name))

    if col.type in ("id", "str"):
        if col.required or col.type == "id":
            report(empty, lambda v: "empty, a value is required" + (" (ids are non-empty)" if col.type == "id" else ""))
        if col.type == "id":
            formula = cells.str[:1].isin(FORMULA_LEADS).to_numpy(dtype=bool)
            if control_led is not None:
                formula = formula | (control_led & ~empty.to_numpy())
            report(formula, lambda v: f"id '{v}' begins with '=', '+', '-', '@', a tab or a carriage return: a "
                                      "spreadsheet would run it as a formula; give ids that begin otherwise")
        if col.choices is not None:
            report(~empty & ~cells.isin(col.choices), lambda v: f"'{v}' is not one of {', '.join(col.choices)}")
        return cells.astype(object)

    if col.type == "bool":
        lowered = cells.str.lower()
        report(~empty & ~lowered.isin(list(TRUE_WORDS)), lambda v: f"'{v}' is not a boolean (expected true, false, 1 or 0)")
        if col.required:
            report(empty, lambda v: "empty, a value is required (true or false)")
        default = False if col.required else bool(col.default)
        return pd.Series([TRUE_WORDS.get(v, default) for v in lowered], index=cells.index, dtype=bool)

    expected = _expected(col)
    numbers = pd.to_numeric(cells.where(~empty, None), errors="coerce").astype(float)
    unparsable = (~empty & numbers.isna()).to_numpy()
    report(unparsable, lambda v: f"'{v}' is not a number (expected {expected})"
           + ("; write numbers without thousands separators, e.g. " + v.replace(",", "") if THOUSANDS.fullmatch(v) else ""))
    ok = ~empty.to_numpy() & ~unparsable
    values = numbers.to_numpy(copy=True)
    bad_inf = ok & np.isinf(values) & ~(col.allow_inf & (values > 0))
    report(bad_inf, lambda v: f"'{v}' is not allowed here (expected {expected})")
    finite = ok & ~bad_inf
    not_whole = np.zeros(len(values), dtype=bool)
    if col.type == "int":
        not_whole = finite & np.isfinite(values) & (np.floor(values) != values)
        report(not_whole, lambda v: f"'{v}' is not a whole number (expected {expected})")
    _check_range(values, finite & ~not_whole, cells, col, expected, file, lines, problems)
    fallback = np.nan if col.default is None or col.required else float(col.default)
    if col.required:
        report(empty, lambda v: f"empty, a value is required ({expected})")
    values[empty.to_numpy() | unparsable | bad_inf | not_whole] = fallback
    if col.type == "int":
        return pd.Series(values, index=cells.index)  # float with NaN = "use the derived default"; cast later
    return pd.Series(values, index=cells.index, dtype=float)


def _check_range(values, mask, cells, col: Column, expected: str, file, lines, problems) -> None:
    if col.low is not None:
        below = mask & ((values <= col.low) if col.low_open else (values < col.low))
        for i in np.flatnonzero(below):
            problems.append(Problem(file, f"{cells.iloc[i]} is out of range (expected {expected})", line=int(lines[i]), column=col.name))
    if col.high is not None:
        above = mask & (values > col.high) & ~np.isinf(values)  # inf is checked by allow_inf
        for i in np.flatnonzero(above):
            problems.append(Problem(file, f"{cells.iloc[i]} is out of range (expected {expected})", line=int(lines[i]), column=col.name))


def _check_unique(df: pd.DataFrame, table: Table, file: str, problems: list[Problem]) -> None:
    """Each key appears once; rows with an empty id in the key are already reported and skipped here.

    A free-text key column (rates.csv's accelerator and enterprise_kind) may be empty: empty
    is then one of its values ("any"), and two rows empty there are the same key.
    """
    key = list(table.key)
    types = {c.name: c.type for c in table.columns}
    complete = np.ones(len(df), dtype=bool)
    for k in key:
        if types[k] == "str":
            continue
        column = df[k]
        complete &= (column.notna() & (column.astype(str) != "")).to_numpy()
    rows = df.loc[complete, key + [LINE]]
    dup = rows.duplicated(subset=key, keep="first").to_numpy()
    if not dup.any():
        return
    first_line = rows.groupby(key, sort=False)[LINE].transform("first").to_numpy()
    what = key[0] if len(key) == 1 else f"({', '.join(key)})"
    values = rows[key].to_numpy()
    lines = rows[LINE].to_numpy()
    for i in np.flatnonzero(dup):
        shown = ", ".join(_key_text(v) if types[k] != "str" or v != "" else "(any)" for k, v in zip(key, values[i]))
        problems.append(
            Problem(file, f"duplicate {what} '{shown}' (first on line {int(first_line[i])}); each must appear once",
                    line=int(lines[i]), column=key[0])
        )


def _key_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _empty_table(table: Table) -> pd.DataFrame:
    dtypes = {"id": object, "str": object, "float": float, "int": float, "bool": bool}
    columns = {c.name: pd.Series(dtype=dtypes[c.type]) for c in table.columns}
    columns[LINE] = pd.Series(dtype=int)
    return pd.DataFrame(columns)
