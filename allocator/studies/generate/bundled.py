"""The bundled instances (instances/build.py) and the writer of a generated instance folder.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.schema import TABLES
from allocator.studies.generate.city_day import city_day
from allocator.studies.generate.east_west import east_west
from allocator.studies.generate.tables import InstanceTables

#: name -> (generator, seed) of the instances shipped in ``instances/``.
#: Seeds are dates: the Chengdu policy report (2023-01-12) and the approval of
#: the eight hubs (2022-02-24).
BUNDLED: dict[str, tuple[Callable[..., InstanceTables], int]] = {
    "chengdu-day": (city_day, 20230112),
    "east-west-24h": (east_west, 20220224),
}


def bundled_instance(name: str, facts: dict) -> InstanceTables:
    """The bundled instance ``name`` regenerated from ``facts``."""
    generator, seed = BUNDLED[name]
    return generator(facts, seed, name=name)




def format_value(value: object) -> str:
    """One CSV cell: true/false, integers as is, floats fixed-point without trailing zeros, inf, '' for missing."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        text = f"{x:.6f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def table_csv_text(df: pd.DataFrame) -> str:
    """The CSV text of a table, cells formatted by :func:`format_value`."""
    cells = df.astype(object).apply(lambda col: col.map(format_value))
    return cells.to_csv(index=False, lineterminator="\n")


def write_instance(folder: Path, inst: InstanceTables) -> list[Path]:
    """Write instance.toml and one CSV per table into ``folder``; return the paths.

    Stale ``<stem>.csv`` / ``<stem>.parquet`` files of schema tables that the
    instance does not have are removed, so a folder always equals its instance.
    Other files (a README) are left alone.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "instance.toml"]
    written[0].write_text(inst.toml_text, encoding="utf-8", newline="\n")
    for table in TABLES:
        csv_path, parquet_path = folder / f"{table.stem}.csv", folder / f"{table.stem}.parquet"
        parquet_path.unlink(missing_ok=True)
        if table.stem not in inst.tables:
            csv_path.unlink(missing_ok=True)
            continue
        csv_path.write_text(table_csv_text(inst.tables[table.stem]), encoding="utf-8", newline="\n")
        written.append(csv_path)
    return written
