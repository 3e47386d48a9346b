"""Write a plan folder whole or not at all.

Files are written into a hidden temporary folder next to the target and the
folder is renamed into place at the end; an interruption (Ctrl-C, SIGTERM, an
error) removes the temporary folder, so no half-written plan is ever visible.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from allocator.plan import Plan


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


@contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt while writing, so cleanup runs."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_table(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.12g")


def write_plan(folder: Path, plan: Plan, summary: dict) -> None:
    """Write every plan file into ``folder`` atomically (replacing an older plan there)."""
    folder = Path(folder).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    old = None
    try:
        with _sigterm_as_interrupt():
            for stem, df in plan.tables.items():
                write_table(df, tmp / f"{stem}.csv")
            (tmp / "summary.json").write_text(json.dumps(_clean(summary), indent=2) + "\n", encoding="utf-8")
            if folder.exists():
                old = folder.parent / f".{folder.name}.old-{os.getpid()}"
                os.rename(folder, old)
            os.rename(tmp, folder)
            tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not folder.exists():
                os.rename(old, folder)  # put the previous plan back
                old = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
