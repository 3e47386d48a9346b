"""Instance variants of a sweep point: the instance's files with programmes and enterprises edited.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from allocator.instance.schema import TABLES
from allocator.instance.types import Instance
from allocator.instance.writing import table_csv_text
from allocator.numbers import cell_text
from allocator.problems import AllocatorError
from allocator.studies.sweep.points import (
    RateRow,
    SweepPoint,
    _program_value,
    point_budget_yuan,
)

TABLE_STEMS = frozenset(t.stem for t in TABLES)


def load_instance_files(folder: Path) -> dict[str, bytes]:
    """instance.toml and every table file of the folder, by file name (other files are left out)."""
    files = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and (path.name == "instance.toml"
                               or (path.suffix in (".csv", ".parquet") and path.stem in TABLE_STEMS)):
            files[path.name] = path.read_bytes()
    return files


def variant_files(files: dict[str, bytes], instance: Instance, scope: Sequence[str],
                  point: SweepPoint, rate_row: RateRow | None = None) -> dict[str, bytes]:
    """The files of the instance modified as the point says (see the module docstring for the rules);
    ``rate_row`` names the rows of rates.csv that ``point.row_rate`` sets."""
    out = dict(files)
    if point.row_rate is not None:
        if rate_row is None:
            raise AllocatorError("a point with row_rate needs the rate row it sets (--rate-row)")
        rates = _read_table(out, "rates") if ("rates.csv" in out or "rates.parquet" in out) else pd.DataFrame(
            columns=["program_id", "accelerator", "enterprise_kind", "rate"])
        _put_table(out, "rates", _edit_rates(rates, instance, scope, rate_row, point.row_rate))
    if any(v is not None for v in (point.budget_yuan, point.budget_scale, point.rate, point.cap_yuan, point.cap_scale)):
        programs = _read_table(out, "programs")
        _put_table(out, "programs", _edit_programs(programs, instance, scope, point))
    if any(v is not None for v in (point.rate, point.cap_yuan, point.cap_scale)):
        enterprises = _read_table(out, "enterprises")
        _put_table(out, "enterprises", _edit_enterprises(enterprises, instance, scope, point))
    if point.green_share is not None:
        centers = _read_table(out, "centers")
        centers["min_green_share"] = cell_text(point.green_share)
        _put_table(out, "centers", centers)
    return out


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Write an instance folder from its files; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def _edit_programs(programs: pd.DataFrame, instance: Instance, scope: Sequence[str], point: SweepPoint) -> pd.DataFrame:
    program = programs["program_id"].str.strip()
    for g in scope:
        row = program == g
        programs.loc[row, "budget_yuan"] = cell_text(point_budget_yuan(instance, g, point, scope))
        if point.rate is not None:
            programs.loc[row, "rate"] = cell_text(point.rate)
        if point.cap_yuan is not None or point.cap_scale is not None:
            old_cap = _program_value(instance, g, "enterprise_cap_yuan")
            new_cap = point.cap_yuan if point.cap_yuan is not None else old_cap * point.cap_scale
            programs.loc[row, "enterprise_cap_yuan"] = cell_text(new_cap)
    return programs


def _edit_enterprises(enterprises: pd.DataFrame, instance: Instance, scope: Sequence[str],
                      point: SweepPoint) -> pd.DataFrame:
    """Enterprises following their programme's standard follow its new rate / cap; special ones keep theirs."""
    program = enterprises["program_id"].str.strip()
    for g in scope:
        mine = program == g
        if point.rate is not None and "rate" in enterprises:
            old = _program_value(instance, g, "rate")
            follows = mine & enterprises["rate"].map(lambda cell: _equals(cell, old))
            enterprises.loc[follows, "rate"] = cell_text(point.rate)
        if "cap_yuan" not in enterprises:
            continue
        if point.cap_yuan is not None:
            old = _program_value(instance, g, "enterprise_cap_yuan")
            follows = mine & enterprises["cap_yuan"].map(lambda cell: _equals(cell, old))
            enterprises.loc[follows, "cap_yuan"] = cell_text(point.cap_yuan)
        elif point.cap_scale is not None:
            special = mine & (enterprises["cap_yuan"].str.strip() != "")
            scaled = enterprises.loc[special, "cap_yuan"].map(lambda cell: _scaled_cell(cell, point.cap_scale))
            enterprises.loc[special, "cap_yuan"] = scaled
    return enterprises


def _edit_rates(rates: pd.DataFrame, instance: Instance, scope: Sequence[str], rate_row: RateRow,
                rate: float) -> pd.DataFrame:
    """rates.csv with the rows (g, accelerator, kind) of ``rate_row`` set to ``rate`` for every g in scope
    (added where missing; other rows kept)."""
    for column in ("program_id", "accelerator", "enterprise_kind", "rate"):
        if column not in rates:
            rates[column] = ""
    rates = rates.fillna("")
    added = []
    for g in scope:
        for accelerator in rate_row.accelerators(instance):
            row = ((rates["program_id"].str.strip() == g) & (rates["accelerator"].str.strip() == accelerator)
                   & (rates["enterprise_kind"].str.strip() == rate_row.kind))
            if row.any():
                rates.loc[row, "rate"] = cell_text(rate)
            else:
                added.append({"program_id": g, "accelerator": accelerator, "enterprise_kind": rate_row.kind,
                              "rate": cell_text(rate)})
    return pd.concat([rates, pd.DataFrame(added, columns=rates.columns)], ignore_index=True) if added else rates


def _equals(cell: str, value: float) -> bool:
    """A non-empty cell holding ``value`` (so it follows the programme's standard)."""
    try:
        x = float(cell)
    except ValueError:
        return False
    return x == value or math.isclose(x, value, rel_tol=1e-12, abs_tol=1e-12)


def _scaled_cell(cell: str, factor: float) -> str:
    try:
        return cell_text(float(cell) * factor)
    except ValueError:
        return cell  # not a number: left for validation to report


def _read_table(files: dict[str, bytes], stem: str) -> pd.DataFrame:
    """A table as text cells ('' for empty), from its CSV or Parquet file."""
    if f"{stem}.csv" in files:
        frame = pd.read_csv(io.BytesIO(files[f"{stem}.csv"]), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    elif f"{stem}.parquet" in files:
        frame = pd.read_parquet(io.BytesIO(files[f"{stem}.parquet"])).map(cell_text)
    else:
        raise AllocatorError(f"the instance has no {stem}.csv or {stem}.parquet")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _put_table(files: dict[str, bytes], stem: str, frame: pd.DataFrame) -> None:
    """Store a modified table as CSV (a Parquet original is replaced by it)."""
    files.pop(f"{stem}.parquet", None)
    files[f"{stem}.csv"] = table_csv_text(frame).encode("utf-8")
