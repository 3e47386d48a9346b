"""Read an instance folder (instance.toml + CSV or Parquet tables) into typed tables.

Every cell is parsed against :mod:`allocator.schema`; every problem is collected
(file, line, column) instead of stopping at the first. Cross-table checks live in
:mod:`allocator.validation`; :func:`read_instance` runs both.

CSV files are read with the :mod:`csv` module rather than pandas so that a row's
line is its true line in the file (blank lines and quoted line breaks counted);
a UTF-8 byte-order mark is accepted. Parquet rows are numbered from 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.problems import InvalidInstance, Problem
from allocator.schema import (
    DEFAULT_LATENCY_CLASSES_MS,
    SCHEMA_VERSION,
    TABLES,
    Column,
    Table,
)

LINE = "_line"  # extra column of every parsed table: where the row stands in its file
TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False}


@dataclass
class Instance:
    """A read and validated instance; tables carry every SPEC column, defaults filled."""

    folder: Path
    name: str
    description: str
    periods: int
    period_hours: float
    latency_classes_ms: dict[str, float]
    intra_region_rtt_ms: float
    carbon_price_yuan_per_kg: float
    tables: dict[str, pd.DataFrame]
    files_sha256: dict[str, str] = field(default_factory=dict)
    table_files: dict[str, str] = field(default_factory=dict)  # stem -> file name read
    warnings: list[Problem] = field(default_factory=list)
    # What could not be read, so that checks depending on it are skipped instead of
    # blaming every row: table stems (missing or unparsable, their table is empty),
    # "instance.toml" (missing or not TOML) and dotted keys of it ("horizon.periods").
    unreadable: set[str] = field(default_factory=set)

    def __getattr__(self, stem: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if stem in tables:
            return tables[stem]
        raise AttributeError(stem)


# --------------------------------------------------------------------------- toml


@dataclass
class Settings:
    name: str = ""
    description: str = ""
    periods: int = 1
    period_hours: float = 24.0
    latency_classes_ms: dict[str, float] = field(default_factory=dict)
    intra_region_rtt_ms: float = 1.0
    carbon_price_yuan_per_kg: float = 0.0
    invalid: set[str] = field(default_factory=set)  # "instance.toml" or dotted keys whose value was replaced by a default


def _number(value: object) -> float | None:
    """A TOML value as a float ('inf' strings accepted), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    return None


SECTION_KEYS: dict[str, set[str] | None] = {  # None: any key (latency classes are named by the user)
    "horizon": {"periods", "period_hours"},
    "latency_classes": None,
    "network": {"intra_region_rtt_ms"},
    "objective": {"carbon_price_yuan_per_kg"},
}
TOP_KEYS = {"schema", "name", "description", *SECTION_KEYS}

_TOML_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _toml_key_lines(text: str) -> dict[str, int]:
    """Line (1-based) of each dotted key as written in simple TOML ('horizon.periods': 5)."""
    lines: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            section = ".".join(part.strip().strip("\"'") for part in header.group(1).split("."))
            lines.setdefault(section, number)
            continue
        key = _TOML_KEY.match(line)
        if key:
            name = ".".join(part.strip().strip("\"'") for part in key.group(1).split("."))
            lines.setdefault(f"{section}.{name}" if section else name, number)
    return lines


def read_settings(path: Path, problems: list[Problem]) -> Settings:
    """Parse instance.toml; problems are appended, a best-effort Settings returned."""
    file = "instance.toml"
    settings = Settings()
    if not path.is_file():
        problems.append(Problem(file, "missing: an instance folder needs instance.toml (schema = 1, name = ...)"))
        settings.invalid.add(file)
        return settings
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, f"is not UTF-8 text: {exc.reason} at byte {exc.start}"))
        settings.invalid.add(file)
        return settings
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(where.group(1)) if where else None)
        problems.append(Problem(file, f"not valid TOML: {exc}", line=line))
        settings.invalid.add(file)
        return settings
    key_lines = _toml_key_lines(text)

    def problem(key: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(file, message, line=key_lines.get(key), column=key, severity=severity))
        if severity == "error":
            settings.invalid.add(key)

    for key in doc:
        if key not in TOP_KEYS:
            problem(key, f"unknown key '{key}' is ignored (known: {', '.join(sorted(TOP_KEYS))})", "warning")
    for section, allowed in SECTION_KEYS.items():
        value = doc.get(section)
        if allowed is None or not isinstance(value, dict):
            continue
        for key in value:
            if key not in allowed:
                problem(f"{section}.{key}", f"unknown key '{key}' in [{section}] is ignored (known: {', '.join(sorted(allowed))})",
                        "warning")

    schema = doc.get("schema")
    if schema is None:
        problem("schema", f"missing required key 'schema' (expected schema = {SCHEMA_VERSION})")
    elif isinstance(schema, bool) or not isinstance(schema, int) or schema != SCHEMA_VERSION:
        problem("schema", f"unknown schema version {schema!r}; this tool reads schema = {SCHEMA_VERSION}")
    name = doc.get("name")
    if name is None:
        problem("name", "missing required key 'name' (a non-empty string)")
    elif not isinstance(name, str) or not name.strip():
        problem("name", f"'name' must be a non-empty string, got {name!r}")
    else:
        settings.name = name
    description = doc.get("description", "")
    settings.description = description if isinstance(description, str) else str(description)

    horizon = _section(doc, "horizon", file, problems, key_lines, settings.invalid)
    periods = horizon.get("periods", 1)
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
        problem("horizon.periods", f"horizon.periods must be a whole number >= 1, got {periods!r}")
        periods = 1
    settings.periods = periods
    hours = _number(horizon.get("period_hours", 24.0 / periods))
    if hours is None or not (0 < hours < math.inf):
        problem("horizon.period_hours", f"horizon.period_hours must be a positive finite number, got {horizon.get('period_hours')!r}")
        hours = 24.0 / periods
    settings.period_hours = hours

    classes = dict(DEFAULT_LATENCY_CLASSES_MS)
    for cls, value in _section(doc, "latency_classes", file, problems, key_lines, settings.invalid).items():
        limit = _number(value)
        if limit is None or not limit >= 0:
            problem(f"latency_classes.{cls}", f"latency class '{cls}' needs a limit >= 0 in ms or \"inf\", got {value!r}")
            continue
        classes[cls] = limit
    settings.latency_classes_ms = classes

    network = _section(doc, "network", file, problems, key_lines, settings.invalid)
    rtt = _number(network.get("intra_region_rtt_ms", 1.0))
    if rtt is None or not 0 <= rtt < math.inf:
        problem("network.intra_region_rtt_ms",
                f"network.intra_region_rtt_ms must be a finite number >= 0, got {network.get('intra_region_rtt_ms')!r}")
        rtt = 1.0
    settings.intra_region_rtt_ms = rtt

    objective = _section(doc, "objective", file, problems, key_lines, settings.invalid)
    price = _number(objective.get("carbon_price_yuan_per_kg", 0.0))
    if price is None or not 0 <= price < math.inf:
        problem("objective.carbon_price_yuan_per_kg",
                f"objective.carbon_price_yuan_per_kg must be a finite number >= 0, got {objective.get('carbon_price_yuan_per_kg')!r}")
        price = 0.0
    settings.carbon_price_yuan_per_kg = price
    return settings


def _section(doc: dict, key: str, file: str, problems: list[Problem], key_lines: dict[str, int], invalid: set[str]) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(Problem(file, f"'{key}' must be a table ([{key}] with keys below it)", line=key_lines.get(key), column=key))
        invalid.add(key)
        return {}
    return value


# --------------------------------------------------------------------------- tables

TABLE_SUFFIXES = (".csv", ".parquet")


def _table_file(folder: Path, stem: str, problems: list[Problem]) -> Path | None:
    found = [folder / f"{stem}{suffix}" for suffix in TABLE_SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
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
    data = path.read_bytes()
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
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue  # a blank line
            if header is None:
                header, header_line = cells, start
                continue
            if len(cells) != len(header):
                extra = cells[len(header):]
                if len(cells) < len(header) or any(extra):
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
    for name in cells.columns:
        cells[name] = cells[name].astype(object).where(cells[name].notna(), "").astype(str).str.strip().astype(object)
    return RawTable(cells, lines, header_line)


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
    missing = [c.name for c in table.columns if c.required and c.name not in cells.columns]
    for name in missing:
        problems.append(
            Problem(file, f"required column is missing (the header needs: {', '.join(c.name for c in table.columns if c.required)})",
                    line=header_line, column=name)
        )
    if missing:
        return None
    known = table.column_names
    for extra in cells.columns:
        if extra not in known:
            problems.append(
                Problem(file, f"unknown column is ignored (columns of {table.stem}: {', '.join(known)})", line=header_line,
                        column=extra, severity="warning")
            )
    out = {}
    for col in table.columns:
        column_cells = cells[col.name] if col.name in cells.columns else pd.Series("", index=cells.index, dtype=object)
        out[col.name] = _parse_column(column_cells, col, file, lines, problems)
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


def _parse_column(cells: pd.Series, col: Column, file: str, lines: np.ndarray, problems: list[Problem]) -> pd.Series:
    empty = cells == ""

    def report(mask, message) -> None:
        for i in np.flatnonzero(np.asarray(mask)):
            problems.append(Problem(file, message(cells.iloc[i]), line=int(lines[i]), column=col.name))

    if col.type in ("id", "str"):
        if col.required or col.type == "id":
            report(empty, lambda v: "empty, a value is required" + (" (ids are non-empty)" if col.type == "id" else ""))
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
    report(unparsable, lambda v: f"'{v}' is not a number (expected {expected})")
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
        above = mask & (values > col.high)
        for i in np.flatnonzero(above):
            problems.append(Problem(file, f"{cells.iloc[i]} is out of range (expected {expected})", line=int(lines[i]), column=col.name))


def _check_unique(df: pd.DataFrame, table: Table, file: str, problems: list[Problem]) -> None:
    """Each key appears once; rows with an empty key cell are already reported and skipped here."""
    key = list(table.key)
    complete = np.ones(len(df), dtype=bool)
    for k in key:
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
        shown = ", ".join(_key_text(v) for v in values[i])
        problems.append(
            Problem(file, f"duplicate {what} '{shown}' (first on line {int(first_line[i])}); each must appear once",
                    line=int(lines[i]), column=key[0])
        )


def _key_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_instance(folder: Path) -> Instance:
    """Read and fully validate an instance folder.

    Raises :class:`InvalidInstance` listing every error found; warnings are kept
    on the returned instance (``instance.warnings``).
    """
    from allocator.validation import validate_instance

    folder = Path(folder)
    problems: list[Problem] = []
    if not folder.is_dir():
        raise InvalidInstance([Problem(str(folder), "is not a folder (an instance is a folder with instance.toml and CSV tables)")])
    settings = read_settings(folder / "instance.toml", problems)
    tables: dict[str, pd.DataFrame] = {}
    digests: dict[str, str] = {}
    table_files: dict[str, str] = {}
    unreadable: set[str] = set()
    toml_path = folder / "instance.toml"
    if toml_path.is_file():
        digests["instance.toml"] = file_digest(toml_path)
    _warn_unknown_files(folder, problems)
    for table in TABLES:
        path = _table_file(folder, table.stem, problems)
        if path is None:
            if not table.optional:
                problems.append(Problem(f"{table.stem}.csv", f"missing: this table is required (as {table.stem}.csv or {table.stem}.parquet)"))
                unreadable.add(table.stem)
            tables[table.stem] = _empty_table(table)
            table_files[table.stem] = f"{table.stem}.csv"
            continue
        table_files[table.stem] = path.name
        digests[path.name] = file_digest(path)
        parsed = parse_table(path, table, problems)
        if parsed is None:
            unreadable.add(table.stem)
        tables[table.stem] = parsed if parsed is not None else _empty_table(table)

    instance = Instance(
        folder=folder,
        name=settings.name,
        description=settings.description,
        periods=settings.periods,
        period_hours=settings.period_hours,
        latency_classes_ms=settings.latency_classes_ms,
        intra_region_rtt_ms=settings.intra_region_rtt_ms,
        carbon_price_yuan_per_kg=settings.carbon_price_yuan_per_kg,
        tables=tables,
        files_sha256=dict(sorted(digests.items())),
        table_files=table_files,
        unreadable=unreadable | settings.invalid,
    )
    validate_instance(instance, problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        raise InvalidInstance(errors, warnings)
    instance.warnings = warnings
    return instance


def _empty_table(table: Table) -> pd.DataFrame:
    dtypes = {"id": object, "str": object, "float": float, "int": float, "bool": bool}
    columns = {c.name: pd.Series(dtype=dtypes[c.type]) for c in table.columns}
    columns[LINE] = pd.Series(dtype=int)
    return pd.DataFrame(columns)
