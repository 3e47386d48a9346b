"""The bundled instances (instances/build.py) and the writer of a generated instance folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from allocator.instance.writing import table_csv_text as instance_table_csv_text
from allocator.instance.writing import write_instance_files
from allocator.studies.generate.city_day import city_day
from allocator.studies.generate.east_west import east_west
from allocator.studies.generate.hangzhou_day import hangzhou_day
from allocator.studies.generate.tables import InstanceTables

#: name -> (generator, seed) of the instances shipped in ``instances/``.
#: Seeds are dates: the Chengdu policy report (2023-01-12), the approval of
#: the eight hubs (2022-02-24) and Hangzhou's measures (2024-07-23).
BUNDLED: dict[str, tuple[Callable[..., InstanceTables], int]] = {
    "chengdu-day": (city_day, 20230112),
    "east-west-24h": (east_west, 20220224),
    "hangzhou-day": (hangzhou_day, 20240723),
}


def bundled_instance(name: str, facts: dict) -> InstanceTables:
    """The bundled instance ``name`` regenerated from ``facts``."""
    generator, seed = BUNDLED[name]
    return generator(facts, seed, name=name)


GENERATED_DECIMALS = 6  # generated instances are written to this many decimals (fixed, reproducible bytes)


def rounded_tables(tables: dict[str, pd.DataFrame], decimals: int = GENERATED_DECIMALS) -> dict[str, pd.DataFrame]:
    """Every float cell rounded to ``decimals`` (how generated instances are written)."""
    out = {}
    for stem, df in tables.items():
        df = df.copy()
        for column in df.columns:
            if pd.api.types.is_float_dtype(df[column].dtype):
                df[column] = df[column].round(decimals)
            elif df[column].dtype == object:
                df[column] = df[column].map(lambda v: round(v, decimals) if isinstance(v, float) else v)
        out[stem] = df
    return out


def table_csv_text(df: pd.DataFrame) -> str:
    """The CSV text of a generated table: floats to GENERATED_DECIMALS, then the one instance cell format."""
    return instance_table_csv_text(rounded_tables({"t": df})["t"])


def write_instance(folder: Path, inst: InstanceTables) -> list[Path]:
    """Write instance.toml and one CSV per table into ``folder``; return the paths.

    Stale ``<stem>.csv`` / ``<stem>.parquet`` files of schema tables that the
    instance does not have are removed, so a folder always equals its instance.
    Other files (a README) are left alone.
    """
    return write_instance_files(folder, inst.toml_text, rounded_tables(inst.tables))
