"""The points of a sweep: every combination of budget, rate, cap, green share and rate-row rate asked for.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from allocator.instance.types import Instance
from allocator.problems import (
    AllocatorError,
)
from allocator.studies.sweep.values import SCALE_PREFIX, Values, _tidy

PARAMETERS = ("budget_yuan", "budget_scale", "rate", "cap_yuan", "cap_scale", "green_share", "row_rate")


LINE_PARAMETERS = ("rate", "cap_yuan", "cap_scale", "green_share", "row_rate")  # one plotted line per combination


@dataclass(frozen=True)
class RateRow:
    """Which rows of rates.csv a ``--rate-row`` axis sets, written ``ACCELERATOR/KIND``.

    ACCELERATOR is an accelerator id, empty (any accelerator), ``@domestic`` or ``@other`` (every
    domestic / other accelerator of the pools, allocator.instance.hardware); KIND is an enterprise
    kind or empty (any enterprise). The rows are set (added where missing) for every programme in
    scope; enterprises with a rate of their own keep it (R8).
    """

    accelerator: str = ""
    kind: str = ""

    @property
    def text(self) -> str:
        return f"{self.accelerator}/{self.kind}"

    @classmethod
    def parse(cls, text: str) -> RateRow:
        accelerator, sep, kind = text.partition("/")
        if not sep:
            raise ValueError(f"'{text}': a rate row is ACCELERATOR/KIND (either may be empty; ACCELERATOR may be "
                             "@domestic or @other), e.g. @domestic/ or /startup")
        return cls(accelerator.strip(), kind.strip())

    def accelerators(self, instance: Instance) -> list[str]:
        """The accelerator cells of the rows this selector sets ("" = any)."""
        from allocator.instance.hardware import is_domestic

        present = sorted(set(instance.pools["accelerator"]))
        if self.accelerator in ("@domestic", "@other"):
            chosen = [a for a in present if is_domestic(a) == (self.accelerator == "@domestic")]
            if not chosen:
                raise AllocatorError(f"--rate-row {self.text}: the instance's pools have no "
                                     f"{self.accelerator[1:]} accelerator (pools: {', '.join(present)})")
            return chosen
        known = set(present) | set(instance.compatibility["accelerator"])
        if self.accelerator and self.accelerator not in known:
            raise AllocatorError(f"--rate-row {self.text}: unknown accelerator '{self.accelerator}' "
                                 f"(pools: {', '.join(present)})")
        return [self.accelerator]


@dataclass(frozen=True)
class SweepAxes:
    """What to sweep; None = keep the instance's own value."""

    budget: Values | None = None
    rate: Values | None = None
    cap: Values | None = None
    green_share: Values | None = None
    program_id: str | None = None
    rate_row: RateRow | None = None  # the rows of rates.csv that ``row_rate`` sets
    row_rate: Values | None = None


@dataclass(frozen=True)
class SweepPoint:
    """One modified copy of the instance; None fields keep the instance's values."""

    budget_yuan: float | None = None
    budget_scale: float | None = None
    rate: float | None = None
    cap_yuan: float | None = None
    cap_scale: float | None = None
    green_share: float | None = None
    row_rate: float | None = None  # the rate of the axes' rate_row rows

    @property
    def key(self) -> str:
        """A stable text naming the point ('budget_yuan=10000000.0;rate=0.5'; 'base' for no change)."""
        parts = [f"{name}={value!r}" for name, value in asdict(self).items() if value is not None]
        return ";".join(parts) or "base"

    @property
    def line(self) -> SweepPoint:
        """The point without its budget: the line it belongs to in the plots."""
        return replace(self, budget_yuan=None, budget_scale=None)


def scope_programs(instance: Instance, axes: SweepAxes) -> list[str]:
    """The programmes whose budget, rate and cap the sweep changes: ``--program``, or all of them."""
    known = list(instance.programs["program_id"])
    if axes.program_id is not None:
        if axes.program_id not in known:
            raise AllocatorError(f"unknown programme '{axes.program_id}' (programmes: {', '.join(known)})")
        return [axes.program_id]
    if axes.budget is not None and not axes.budget.scale and len(known) > 1:
        raise AllocatorError(
            f"budget values in yuan need --program (the instance has {len(known)} programmes: {', '.join(known)}); "
            f"or scale every programme with factors such as {SCALE_PREFIX}0.5,{SCALE_PREFIX}1,{SCALE_PREFIX}2"
        )
    return known


def reference_budget(instance: Instance, scope: Sequence[str], budget: Values | None) -> SweepPoint:
    """The budget part of the point at the instance's own fund."""
    if budget is None:
        return SweepPoint()
    if budget.scale:
        return SweepPoint(budget_scale=1.0)
    return SweepPoint(budget_yuan=_tidy(_program_value(instance, scope[0], "budget_yuan")))


def sweep_points(instance: Instance, scope: Sequence[str], axes: SweepAxes) -> list[SweepPoint]:
    """The cartesian product of the values given, the instance's own fund added to the budget values."""
    reference = reference_budget(instance, scope, axes.budget)
    if axes.budget is None:
        budgets = [reference]
    elif axes.budget.scale:
        budgets = [SweepPoint(budget_scale=x) for x in axes.budget.numbers]
    else:
        budgets = [SweepPoint(budget_yuan=x) for x in axes.budget.numbers]
    if reference not in budgets:
        budgets.append(reference)
    rates = _axis(axes.rate, "rate", "rate")
    caps = _axis(axes.cap, "cap_yuan", "cap_scale")
    greens = _axis(axes.green_share, "green_share", "green_share")
    rows = _axis(axes.row_rate, "row_rate", "row_rate")
    points = []
    for b, r, c, g, w in itertools.product(budgets, rates, caps, greens, rows):
        points.append(SweepPoint(b.budget_yuan, b.budget_scale, r.get("rate"), c.get("cap_yuan"), c.get("cap_scale"),
                                 g.get("green_share"), w.get("row_rate")))
    return points


def _axis(values: Values | None, absolute: str, factor: str) -> list[dict[str, float]]:
    if values is None:
        return [{}]
    name = factor if values.scale else absolute
    return [{name: x} for x in values.numbers]


def _program_value(instance: Instance, program_id: str, column: str) -> float:
    return float(instance.programs.set_index("program_id").at[program_id, column])


def point_budget_yuan(instance: Instance, program_id: str, point: SweepPoint, scope: Sequence[str]) -> float:
    """The programme's budget at the point."""
    base = _program_value(instance, program_id, "budget_yuan")
    if program_id not in scope:
        return base
    if point.budget_yuan is not None:
        return point.budget_yuan
    if point.budget_scale is not None:
        return base * point.budget_scale
    return base


def fund_yuan(instance: Instance, scope: Sequence[str], point: SweepPoint) -> float:
    """The fund of the point: the sum of the budgets of the programmes in scope."""
    return float(sum(point_budget_yuan(instance, g, point, scope) for g in scope))


SHARE_TOLERANCE = 1e-9  # "at least as much" when comparing served values of two methods


@dataclass(frozen=True)
class SweepOptions:
    workers: int | None = None  # local worker processes; default one per core
    scheduler: str | None = None  # Dask scheduler address
    time_limit: float | None = None  # seconds per exact solve (and per min-budget solve)
    gap: float = 1e-4
    fcfs: bool = True
    resume: bool = False
    min_budget: bool = True  # the matching fund by a min-budget MIP when the fund is one programme's
    progress: bool = True
