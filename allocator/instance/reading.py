"""Read an instance folder (instance.toml + CSV or Parquet tables) into a validated :class:`Instance`.

instance.toml is :mod:`allocator.instance.settings`, each table :mod:`allocator.instance.tables`,
the cross-table checks :mod:`allocator.instance.validation`; every problem is collected
(file, line, column) instead of stopping at the first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from allocator.files import file_digest
from allocator.instance.schema import TABLES
from allocator.instance.settings import read_settings
from allocator.instance.tables import (
    _empty_table,
    _table_file,
    _warn_unknown_files,
    parse_table,
)
from allocator.instance.types import Instance
from allocator.problems import InvalidInstance, Problem, summarize_problems

LOG = logging.getLogger("allocator.instance")


def read_instance(folder: Path, log_warnings: bool = True) -> Instance:
    """Read and fully validate an instance folder.

    Raises :class:`InvalidInstance` listing every error found; warnings are kept
    on the returned instance (``instance.warnings``) and, with ``log_warnings``, logged
    (logger ``allocator.instance``, a few per column), so that every command that reads an
    instance says what it ignored.
    """
    from allocator.instance.validation import validate_instance

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
    if log_warnings:
        for line in summarize_problems(warnings):
            LOG.warning(line)
    return instance
