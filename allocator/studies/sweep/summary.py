"""What a sweep found, in words and numbers: the fund that matches first-come-first-served, per line.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.executor import ExecutorOptions, run_tasks
from allocator.instance.types import Instance
from allocator.problems import AllocatorError
from allocator.render.formats import optional_float, percent, yuan_short
from allocator.studies.sweep.points import (
    LINE_PARAMETERS,
    PARAMETERS,
    SHARE_TOLERANCE,
    SweepAxes,
    SweepOptions,
    SweepPoint,
)
from allocator.studies.sweep.variants import variant_files, write_files


@dataclass(frozen=True)
class SweepContext:
    """What the reports need to know about the sweep besides its table."""

    instance_name: str
    scope: Sequence[str]
    axes: SweepAxes
    requested_value: float
    demands_total: int
    reference_fund_yuan: float
    programs_total: int  # programmes of the instance (the scope may be one of them)

    @property
    def fund_phrase(self) -> str:
        """'' when the fund is every programme's budget, else which programme it is."""
        if len(self.scope) == self.programs_total:
            return ""
        return " of programme " + ", ".join(f"'{g}'" for g in self.scope)

    @property
    def x_column(self) -> str:
        """The plots' horizontal axis: the fund when it is swept, else the first swept parameter."""
        if self.axes.budget is not None:
            return "fund_yuan"
        for axis, absolute, factor in (("row_rate", "row_rate", "row_rate"), ("rate", "rate", "rate"),
                                       ("cap", "cap_yuan", "cap_scale"), ("green_share", "green_share", "green_share")):
            values = getattr(self.axes, axis)
            if values is not None:
                return factor if values.scale else absolute
        return "fund_yuan"


@dataclass(frozen=True)
class MatchingFund:
    """The fund the optimizer needs to serve what FCFS serves at the instance's own fund."""

    fund_yuan: float | None
    how: str  # "min-budget MIP ...", "interpolation on the sweep", or why there is none


@dataclass
class LineSummary:
    label: str  # the line's non-budget parameters ("" when only the budget varies)
    fund_phrase: str  # which programme's fund ("" for all)
    reference_fund_yuan: float
    opt_share: float | None
    fcfs_share: float | None
    match: MatchingFund | None


@dataclass
class SweepSummary:
    lines: list[LineSummary]
    points: int
    opt_statuses: dict[str, int]
    opt_below_fcfs: list[str]  # keys of points where the optimizer served less than fcfs

    def sentences(self) -> list[str]:
        return [_sentence(line) for line in self.lines]


def line_label(row: pd.Series | dict) -> str:
    names = {"rate": "rate", "cap_yuan": "cap", "cap_scale": "cap x", "green_share": "green share", "row_rate": "row rate"}
    parts = []
    for column in LINE_PARAMETERS:
        value = row.get(column)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            parts.append(f"{names[column]} {yuan_short(value) + ' yuan' if column == 'cap_yuan' else f'{value:g}'}")
    return ", ".join(parts)


def _reference_rows(frame: pd.DataFrame, context: SweepContext) -> pd.DataFrame:
    """The rows at the instance's own fund, one per line."""
    return frame[np.isclose(frame["fund_yuan"], context.reference_fund_yuan, rtol=1e-12, atol=1e-9)]


def summarize(frame: pd.DataFrame, context: SweepContext, matches: dict[str, MatchingFund]) -> SweepSummary:
    """The figures of summary.md: per line, the shares at the instance's own fund and the matching fund."""
    lines = []
    for _, row in _reference_rows(frame, context).iterrows():
        label = line_label(row)
        lines.append(LineSummary(
            label, context.fund_phrase, float(row["fund_yuan"]), optional_float(row.get("served_share_opt")),
            optional_float(row.get("served_share_fcfs")), matches.get(label),
        ))
    below = []
    if "served_value_fcfs" in frame:
        worse = frame["served_value_opt"] < frame["served_value_fcfs"] - SHARE_TOLERANCE * frame["served_value_fcfs"].abs()
        below = list(frame.loc[worse, "key"])
    statuses = frame["status_opt"].value_counts().sort_index()
    return SweepSummary(lines, int(len(frame)), {str(k): int(v) for k, v in statuses.items()}, below)


def _matching_funds(frame: pd.DataFrame, files: dict[str, bytes], instance: Instance, scope: Sequence[str],
                    context: SweepContext, options: SweepOptions) -> dict[str, MatchingFund]:
    """Per line: the fund the optimizer needs to match FCFS at the instance's own fund."""
    if not options.fcfs:
        return {}
    reference = _reference_rows(frame, context)
    matches = {line_label(row): interpolated_match(frame, row, context) for _, row in reference.iterrows()}
    if not options.min_budget or len(scope) != 1:
        return matches
    tasks, labels = [], []
    for _, row in reference.iterrows():
        if optional_float(row.get("served_value_fcfs")) is None:
            continue
        point = SweepPoint(**{p: optional_float(row.get(p)) for p in PARAMETERS})
        share = float(row["served_value_fcfs"]) / context.requested_value if context.requested_value > 0 else 0.0
        tasks.append(MinBudgetTask(variant_files(files, instance, scope, point, context.axes.rate_row), scope[0], min(1.0, share),
                                   options.time_limit, options.gap))
        labels.append(line_label(row))
    executor = ExecutorOptions(options.workers, options.scheduler, options.progress, "min-budget solves")
    for i, found in run_tasks(solve_min_budget_task, tasks, executor):
        if found.fund_yuan is not None:
            matches[labels[i]] = found
        else:
            previous = matches[labels[i]]
            matches[labels[i]] = MatchingFund(previous.fund_yuan, f"{previous.how} ({found.how})")
    return matches


@dataclass(frozen=True)
class MinBudgetTask:
    files: dict[str, bytes]
    program_id: str
    target_share: float
    time_limit: float | None
    gap: float


def solve_min_budget_task(task: MinBudgetTask) -> MatchingFund:
    """One min-budget MIP (fund stage only) on an instance variant; a failure says why."""
    from allocator.solve.options import SolveOptions
    from allocator.studies.min_budget import solve_min_budget

    options = SolveOptions(time_limit=task.time_limit, gap=task.gap, threads=1)
    with tempfile.TemporaryDirectory(prefix="allocator-min-budget-") as tmp:
        folder = write_files(Path(tmp) / "instance", task.files)
        try:
            result = solve_min_budget(folder, task.target_share, task.program_id, options, plan=False)
        except AllocatorError as error:
            return MatchingFund(None, f"the min-budget MIP gave no fund: {error}")
    proof = "optimal" if result.status == "optimal" else "best found"
    return MatchingFund(
        result.min_budget_yuan,
        f"min-budget MIP on programme '{task.program_id}': {proof}, the true minimum is at least "
        f"{yuan_short(result.bound_yuan)}",
    )


def interpolated_match(frame: pd.DataFrame, reference: pd.Series, context: SweepContext) -> MatchingFund:
    """Linear interpolation on the optimizer's curve of the reference's line: the first fund reaching FCFS's value."""
    target = optional_float(reference.get("served_value_fcfs"))
    if target is None:
        return MatchingFund(None, "FCFS has no plan at the instance's own fund")
    line = _line_rows(frame, reference).dropna(subset=["served_value_opt"]).sort_values("fund_yuan")
    funds = line["fund_yuan"].to_numpy(dtype=float)
    values = line["served_value_opt"].to_numpy(dtype=float)
    reached = np.flatnonzero(values >= target * (1.0 - SHARE_TOLERANCE))
    if len(reached) == 0:
        return MatchingFund(None, "the optimizer does not reach FCFS's value within the swept funds")
    i = int(reached[0])
    if i == 0:
        return MatchingFund(float(funds[0]), "interpolation on the sweep: reached already at the smallest swept fund "
                                             "(the true figure may be lower)")
    f0, f1, v0, v1 = funds[i - 1], funds[i], values[i - 1], values[i]
    fund = f1 if v1 == v0 else f0 + (target - v0) * (f1 - f0) / (v1 - v0)
    return MatchingFund(float(fund), f"linear interpolation between the swept funds {yuan_short(f0)} and {yuan_short(f1)}")


def _line_rows(frame: pd.DataFrame, reference: pd.Series) -> pd.DataFrame:
    same = np.ones(len(frame), dtype=bool)
    for column in LINE_PARAMETERS:
        value = reference.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            same &= frame[column].isna().to_numpy()
        else:
            same &= np.isclose(frame[column].to_numpy(dtype=float), float(value), rtol=1e-12, atol=0.0)
    return frame[same]


def _sentence(line: LineSummary) -> str:
    prefix = f"With {line.label}: a" if line.label else "A"
    text = (f"{prefix} {yuan_short(line.reference_fund_yuan)} yuan fund{line.fund_phrase} serves "
            f"{percent(line.opt_share)} of requested value")
    if line.fcfs_share is None and line.match is None:
        return text + "."
    text += f"; FCFS serves {percent(line.fcfs_share)}"
    if line.match is None or line.match.fund_yuan is None:
        why = "" if line.match is None else f" ({line.match.how})"
        return text + f"; the fund the optimizer needs to match FCFS is not known{why}."
    return (text + f"; the optimizer needs {yuan_short(line.match.fund_yuan)} yuan to match what FCFS buys with "
            f"{yuan_short(line.reference_fund_yuan)} ({line.match.how}).")


