"""Write a plan folder whole or not at all (:func:`allocator.files.atomic_folder`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd

from allocator.files import atomic_folder
from allocator.plan.extract import Plan


def _json_number(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else None)
    return x


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return _json_number(obj)


def write_table(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.12g")


def write_plan(folder: Path, plan: Plan, summary: dict) -> float:
    """Write every plan file into ``folder`` atomically (replacing an older plan there).

    summary.json is written last, with ``wall_seconds["write"]`` set to the seconds
    spent writing the tables; those seconds are also returned.
    """
    t0 = time.perf_counter()
    with atomic_folder(folder) as tmp:
        for stem, df in plan.tables.items():
            write_table(df, tmp / f"{stem}.csv")
        seconds = time.perf_counter() - t0
        summary.setdefault("wall_seconds", {})["write"] = seconds
        (tmp / "summary.json").write_text(json.dumps(_clean(summary), indent=2) + "\n", encoding="utf-8")
    return seconds
