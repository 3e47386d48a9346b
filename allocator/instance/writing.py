"""Write instance folders: one instance.toml layout, one CSV cell format, one writer.

Every command that writes an instance (``generate``, ``import-gap``, ``advance``, the
variants of a sweep, ``instances/build.py``) goes through :func:`instance_toml` and
:func:`table_csv_text`; cells are exact (:func:`allocator.numbers.cell_text`).
"""

from __future__ import annotations

import csv
import io
import math
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from allocator.files import atomic_folder, claim_output_folder, write_summary
from allocator.instance.schema import DEFAULT_LATENCY_CLASSES_MS, TABLES
from allocator.numbers import cell_text


def toml_string(value: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch >= " " else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'


def toml_number(value: float) -> str:
    """A float as TOML: repr, or inf / -inf."""
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def instance_toml(name: str, description: str, periods: int, period_hours: float,
                  latency_classes_ms: Mapping[str, float] | None = DEFAULT_LATENCY_CLASSES_MS,
                  intra_region_rtt_ms: float | None = 1.0, carbon_price_yuan_per_kg: float = 0.0) -> str:
    """instance.toml of shared/SPEC.md; a section given as None is left out (its defaults apply)."""
    lines = [
        "schema = 1",
        f"name = {toml_string(name)}",
        f"description = {toml_string(description)}",
        "",
        "[horizon]",
        f"periods = {int(periods)}",
        f"period_hours = {toml_number(period_hours)}",
    ]
    if latency_classes_ms is not None:
        lines += ["", "[latency_classes]", *(f"{k} = {toml_number(v)}" for k, v in latency_classes_ms.items())]
    if intra_region_rtt_ms is not None:
        lines += ["", "[network]", f"intra_region_rtt_ms = {toml_number(intra_region_rtt_ms)}"]
    lines += ["", "[objective]", f"carbon_price_yuan_per_kg = {toml_number(carbon_price_yuan_per_kg)}"]
    return "\n".join(lines) + "\n"


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    """CSV text of already formatted cells, "\\n" line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def table_csv_text(df: pd.DataFrame) -> str:
    """The CSV text of a table, every cell by :func:`allocator.numbers.cell_text`."""
    rows = [[cell_text(v) for v in row] for row in df.itertuples(index=False, name=None)]
    return csv_text([str(c) for c in df.columns], rows)


def write_instance_files(folder: Path, toml_text: str, tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    """Write instance.toml and one CSV per table (schema order) into ``folder``; return the paths.

    Stale ``<stem>.csv`` / ``<stem>.parquet`` files of schema tables that ``tables`` does not
    have are removed, so a folder always equals its instance; other files (a README) stay.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "instance.toml"]
    written[0].write_text(toml_text, encoding="utf-8", newline="\n")
    for table in TABLES:
        csv_path = folder / f"{table.stem}.csv"
        (folder / f"{table.stem}.parquet").unlink(missing_ok=True)
        if table.stem not in tables:
            csv_path.unlink(missing_ok=True)
            continue
        csv_path.write_text(table_csv_text(tables[table.stem]), encoding="utf-8", newline="\n")
        written.append(csv_path)
    return written


def write_instance_folder(target: Path, toml_text: str, tables: Mapping[str, pd.DataFrame], provenance: dict,
                          inputs: tuple[Path, ...] = ()) -> Path:
    """An instance folder written whole (:func:`allocator.files.atomic_folder`) after the ``-o`` check
    (:func:`allocator.files.claim_output_folder`), with a summary.json saying where it came from."""
    claim_output_folder(target, inputs, "instance folder")
    with atomic_folder(target) as tmp:
        write_instance_files(tmp, toml_text, tables)
        write_summary(tmp, {"kind": "instance", **provenance})
    return Path(target)


def copy_instance_folder(source: Path, target: Path, provenance: dict, inputs: tuple[Path, ...] = ()) -> Path:
    """A copy of the instance files of ``source`` (instance.toml and the schema's tables) written whole to ``target``."""
    claim_output_folder(target, inputs, "instance folder")
    names = {"instance.toml"} | {f"{t.stem}{ext}" for t in TABLES for ext in (".csv", ".parquet")}
    with atomic_folder(target) as tmp:
        for path in sorted(Path(source).iterdir()):
            if path.name in names and path.is_file():
                shutil.copy2(path, tmp / path.name)
        write_summary(tmp, {"kind": "instance", **provenance})
    return Path(target)
