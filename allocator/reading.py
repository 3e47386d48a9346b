"""Read an instance folder (instance.toml + CSV or Parquet tables) into typed tables.

Every cell is parsed against :mod:`allocator.schema`; every problem is collected
(file, line, column) instead of stopping at the first. Cross-table checks live in
:mod:`allocator.validation`; :func:`load_instance` runs both.
"""

from __future__ import annotations

import hashlib
import math
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


def _number(value: object) -> float | None:
    """A TOML value as a float ('inf' strings accepted), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    return None


def read_settings(path: Path, problems: list[Problem]) -> Settings:
    """Parse instance.toml; problems are appended, a best-effort Settings returned."""
    file = "instance.toml"
    settings = Settings()
    if not path.is_file():
        problems.append(Problem(file, "missing: an instance folder needs instance.toml"))
        return settings
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, f"not valid TOML: {exc}"))
        return settings

    known_sections = {"schema", "name", "description", "horizon", "latency_classes", "network", "objective"}
    for key in doc:
        if key not in known_sections:
            problems.append(Problem(file, f"unknown key '{key}' is ignored", severity="warning"))

    schema = doc.get("schema")
    if schema is None:
        problems.append(Problem(file, "missing required key 'schema'", column="schema"))
    elif isinstance(schema, bool) or schema != SCHEMA_VERSION:
        problems.append(
            Problem(file, f"unknown schema version {schema!r}; this tool reads schema = {SCHEMA_VERSION}", column="schema")
        )
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(file, "missing required key 'name' (a non-empty string)", column="name"))
    else:
        settings.name = name
    description = doc.get("description", "")
    settings.description = description if isinstance(description, str) else str(description)

    horizon = _section(doc, "horizon", file, problems)
    periods = horizon.get("periods", 1)
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
        problems.append(Problem(file, f"horizon.periods must be a whole number >= 1, got {periods!r}", column="horizon.periods"))
        periods = 1
    settings.periods = periods
    hours = _number(horizon.get("period_hours", 24.0 / periods))
    if hours is None or not (0 < hours < math.inf):
        problems.append(
            Problem(file, f"horizon.period_hours must be a positive number, got {horizon.get('period_hours')!r}", column="horizon.period_hours")
        )
        hours = 24.0 / periods
    settings.period_hours = hours

    classes = dict(DEFAULT_LATENCY_CLASSES_MS)
    for cls, value in _section(doc, "latency_classes", file, problems).items():
        limit = _number(value)
        if limit is None or limit < 0:
            problems.append(Problem(file, f"latency class '{cls}' needs a limit >= 0 in ms or \"inf\", got {value!r}", column=f"latency_classes.{cls}"))
            continue
        classes[cls] = limit
    settings.latency_classes_ms = classes

    network = _section(doc, "network", file, problems)
    rtt = _number(network.get("intra_region_rtt_ms", 1.0))
    if rtt is None or rtt < 0:
        problems.append(Problem(file, "network.intra_region_rtt_ms must be a number >= 0", column="network.intra_region_rtt_ms"))
        rtt = 1.0
    settings.intra_region_rtt_ms = rtt

    objective = _section(doc, "objective", file, problems)
    price = _number(objective.get("carbon_price_yuan_per_kg", 0.0))
    if price is None or price < 0 or price == math.inf:
        problems.append(Problem(file, "objective.carbon_price_yuan_per_kg must be a finite number >= 0", column="objective.carbon_price_yuan_per_kg"))
        price = 0.0
    settings.carbon_price_yuan_per_kg = price
    return settings


def _section(doc: dict, key: str, file: str, problems: list[Problem]) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(Problem(file, f"[{key}] must be a table", column=key))
        return {}
    return value


# --------------------------------------------------------------------------- tables


def _table_file(folder: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".parquet"):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _read_raw(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    """The table with every cell as a stripped string ('' for empty / null)."""
    try:
        if path.suffix == ".csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8", skipinitialspace=True)
        else:
            raw = pd.read_parquet(path)
            raw = raw.apply(_cells_as_text)
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.append(Problem(path.name, f"cannot be read: {exc}".splitlines()[0]))
        return None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw.apply(lambda s: s.astype(str).str.strip()) if len(raw.columns) else raw


def _cells_as_text(series: pd.Series) -> pd.Series:
    def text(v: object) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, (bool, np.bool_)):
            return "true" if v else "false"
        if isinstance(v, (float, np.floating)):
            return repr(float(v))
        return str(v)

    return series.map(text)


def _line_numbers(path: Path, index: pd.Index) -> np.ndarray:
    """Location of data rows: CSV line (header is line 1), Parquet 1-based row."""
    offset = 2 if path.suffix == ".csv" else 1
    return np.asarray(index) + offset


def parse_table(path: Path, table: Table, problems: list[Problem]) -> pd.DataFrame | None:
    raw = _read_raw(path, problems)
    if raw is None:
        return None
    file = path.name
    missing = [c.name for c in table.columns if c.required and c.name not in raw.columns]
    for name in missing:
        problems.append(Problem(file, "required column is missing", line=1, column=name))
    if missing:
        return None
    known = set(table.column_names)
    for extra in raw.columns:
        if extra not in known:
            problems.append(Problem(file, "unknown column is ignored", line=1, column=extra, severity="warning"))
    lines = _line_numbers(path, raw.index)
    out = {}
    for col in table.columns:
        cells = raw[col.name] if col.name in raw.columns else pd.Series("", index=raw.index)
        out[col.name] = _parse_column(cells, col, file, lines, problems)
    df = pd.DataFrame(out, index=raw.index)
    df[LINE] = lines
    _check_unique(df, table, file, lines, problems)
    return df.reset_index(drop=True)


def _parse_column(cells: pd.Series, col: Column, file: str, lines: np.ndarray, problems: list[Problem]) -> pd.Series:
    empty = cells == ""
    if col.type in ("id", "str"):
        if col.required or col.type == "id":
            for i in np.flatnonzero(empty.to_numpy()):
                problems.append(Problem(file, "empty, a value is required", line=int(lines[i]), column=col.name))
        if col.choices is not None:
            bad = ~empty & ~cells.isin(col.choices)
            for i in np.flatnonzero(bad.to_numpy()):
                problems.append(
                    Problem(file, f"'{cells.iloc[i]}' is not one of {', '.join(col.choices)}", line=int(lines[i]), column=col.name)
                )
        return cells.astype(object)

    if col.type == "bool":
        lowered = cells.str.lower()
        bad = ~empty & ~lowered.isin(list(TRUE_WORDS))
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append(Problem(file, f"'{cells.iloc[i]}' is not a boolean (true/false/1/0)", line=int(lines[i]), column=col.name))
        values = lowered.map(TRUE_WORDS)
        if col.required:
            _report_empty(empty, col, file, lines, problems)
        return values.where(~empty, col.default if not col.required else False).fillna(False).astype(bool)

    numbers = pd.to_numeric(cells.where(~empty, None), errors="coerce").astype(float)
    unparsable = ~empty & numbers.isna()
    for i in np.flatnonzero(unparsable.to_numpy()):
        problems.append(Problem(file, f"'{cells.iloc[i]}' is not a number", line=int(lines[i]), column=col.name))
    ok = ~empty & ~unparsable
    values = numbers.to_numpy(copy=True)
    bad_inf = ok.to_numpy() & np.isinf(values) & ~(col.allow_inf & (values > 0))
    for i in np.flatnonzero(bad_inf):
        problems.append(Problem(file, f"'{cells.iloc[i]}' is not allowed here (finite value expected)", line=int(lines[i]), column=col.name))
    finite = ok.to_numpy() & ~bad_inf
    if col.type == "int":
        not_whole = finite & ~np.isinf(values) & (np.floor(values) != values)
        for i in np.flatnonzero(not_whole):
            problems.append(Problem(file, f"'{cells.iloc[i]}' is not a whole number", line=int(lines[i]), column=col.name))
    _check_range(values, finite, cells, col, file, lines, problems)
    if col.required:
        _report_empty(empty, col, file, lines, problems)
        values[empty.to_numpy()] = 0.0
    else:
        default = np.nan if col.default is None else float(col.default)
        values[empty.to_numpy()] = default
    values[unparsable.to_numpy() | bad_inf] = np.nan if col.default is None or col.required else float(col.default)
    if col.type == "int":
        return pd.Series(values, index=cells.index)  # float with NaN = "use the derived default"; cast later
    return pd.Series(values, index=cells.index, dtype=float)


def _report_empty(empty: pd.Series, col: Column, file: str, lines: np.ndarray, problems: list[Problem]) -> None:
    for i in np.flatnonzero(empty.to_numpy()):
        problems.append(Problem(file, "empty, a value is required", line=int(lines[i]), column=col.name))


def _check_range(values, mask, cells, col: Column, file, lines, problems) -> None:
    if col.low is not None:
        below = mask & ((values <= col.low) if col.low_open else (values < col.low))
        rel = ">" if col.low_open else ">="
        for i in np.flatnonzero(below):
            problems.append(Problem(file, f"{cells.iloc[i]} is out of range (must be {rel} {col.low:g})", line=int(lines[i]), column=col.name))
    if col.high is not None:
        above = mask & (values > col.high)
        for i in np.flatnonzero(above):
            problems.append(Problem(file, f"{cells.iloc[i]} is out of range (must be <= {col.high:g})", line=int(lines[i]), column=col.name))


def _check_unique(df: pd.DataFrame, table: Table, file: str, lines: np.ndarray, problems: list[Problem]) -> None:
    key = list(table.key)
    dup = df.duplicated(subset=key, keep="first").to_numpy()
    for i in np.flatnonzero(dup):
        value = ", ".join(str(df[k].iloc[i]) for k in key)
        problems.append(Problem(file, f"duplicate {' + '.join(key)} '{value}'", line=int(lines[i]), column=key[0]))


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
    toml_path = folder / "instance.toml"
    if toml_path.is_file():
        digests["instance.toml"] = file_digest(toml_path)
    for table in TABLES:
        path = _table_file(folder, table.stem)
        if path is None:
            if not table.optional:
                problems.append(Problem(f"{table.stem}.csv", "missing: this table is required (CSV or Parquet)"))
            tables[table.stem] = _empty_table(table)
            table_files[table.stem] = f"{table.stem}.csv"
            continue
        table_files[table.stem] = path.name
        digests[path.name] = file_digest(path)
        parsed = parse_table(path, table, problems)
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
