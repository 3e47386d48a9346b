"""Write a plan folder whole or not at all (:func:`allocator.files.atomic_folder`), checked before it is seen.

The files are written into a hidden temporary folder; when the instance is given, the
independent checker (:func:`allocator.check.run.check_plan`) re-checks every rule on those
files in process, and a plan that breaks one is never renamed into place
(:class:`allocator.problems.PlanFailedCheck`, exit 4).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from allocator.check.run import check_plan
from allocator.files import OWNER_MARK, SUMMARY_FILE, atomic_folder
from allocator.instance.types import Instance
from allocator.numbers import PLAN_FLOAT_FORMAT, json_safe
from allocator.plan.extract import Plan
from allocator.problems import PlanFailedCheck


def write_table(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format=PLAN_FLOAT_FORMAT)


def write_plan(folder: Path, plan: Plan, summary: dict, instance: Instance | None = None) -> float:
    """Write every plan file into ``folder`` atomically (replacing an older plan there).

    summary.json is written last, with ``wall_seconds["write"]`` set to the seconds
    spent writing the tables; those seconds are also returned. With ``instance``, the
    written files are checked first (see the module docstring).
    """
    t0 = time.perf_counter()
    with atomic_folder(folder) as tmp:
        for stem, df in plan.tables.items():
            write_table(df, tmp / f"{stem}.csv")
        seconds = time.perf_counter() - t0
        summary.setdefault("wall_seconds", {})["write"] = seconds
        (tmp / SUMMARY_FILE).write_text(json.dumps(json_safe({**OWNER_MARK, **summary}), indent=2) + "\n",
                                        encoding="utf-8")
        if instance is not None:
            report = check_plan(Path(instance.folder), tmp, instance)
            if report.violations:
                raise PlanFailedCheck(report.violations)
    return seconds


def rule_violations(plan: Plan, instance: Instance) -> list[str]:
    """What the independent checker finds wrong with ``plan``'s rules (R1-R10 and the plan tables),
    without a summary.json: for a plan that is only a candidate (a start), never written as such."""
    with tempfile.TemporaryDirectory(prefix="allocator-candidate-") as tmp:
        for stem, df in plan.tables.items():
            write_table(df, Path(tmp) / f"{stem}.csv")
        report = check_plan(Path(instance.folder), Path(tmp), instance)
    return [v for v in report.violations if SUMMARY_FILE not in v]
