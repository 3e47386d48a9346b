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
import time
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


@contextmanager
def atomic_folder(target: Path):
    """Yield a hidden temporary folder beside ``target``; on success it replaces ``target`` whole.

    On any exception (KeyboardInterrupt and SIGTERM included) the temporary folder is
    removed and an existing ``target`` is left as it was.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a plan folder gets the usual permissions
    old = None
    try:
        with _sigterm_as_interrupt():
            yield tmp
            if target.exists():
                old = target.parent / f".{target.name}.old-{os.getpid()}"
                os.rename(target, old)
            os.rename(tmp, target)
            tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not target.exists():
                os.rename(old, target)  # put the previous folder back
                old = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
