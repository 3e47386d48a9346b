"""The Instance type every stage reads: settings of instance.toml and the typed tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.problems import Problem

LINE = "_line"  # extra column of every parsed table: where the row stands in its file


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
