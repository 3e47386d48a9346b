"""The knobs of ``allocator generate`` and their checks; the families are in their own modules
(:mod:`allocator.studies.generate` has the overview).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from allocator.studies.generate.tables import InstanceTables

FAMILIES = ("city", "east-west", "gap-like")


REPO = Path(__file__).resolve().parents[3]


DEFAULT_DATA_DIR = REPO.parent / "shared" / "data" / "china"


#: Fixed stream numbers: each post-processing step draws from its own generator.
STREAM_STACKS, STREAM_CLASSES, STREAM_MUST_SERVE, STREAM_GAP, STREAM_KINDS = 1, 2, 3, 4, 5


#: Type C of Martello & Toth (used by OR-Library gap1-12 and Yagiura's gapc):
#: resource a_ij ~ U{5..25}, cost c_ij ~ U{10..50}, capacity 0.8 x sum_j a_ij / m.
GAP_RESOURCE_RANGE = (5, 25)


GAP_COST_RANGE = (10, 50)


class GenerateError(ValueError):
    """Knobs a family cannot honour; the message says which and why."""


@dataclass(frozen=True)
class Knobs:
    """What ``allocator generate`` may change; None keeps the family's default."""

    demands: int | None = None
    centers: int | None = None
    pools_per_center: int | None = None
    periods: int | None = None
    enterprises: int | None = None
    programmes: int | None = None
    budget_ratio: float | None = None  # budget / subsidy requested by every servable demand
    capacity_ratio: float | None = None  # card-hours of all pools over the horizon / card-hours demanded
    green_ratio: float | None = None  # green kWh over the horizon / kWh the demand would draw
    stack_mix: tuple[tuple[str, float], ...] | None = None
    latency_mix: tuple[tuple[str, float], ...] | None = None
    must_serve_share: float | None = None
    kinds: tuple[tuple[str, float], ...] | None = None  # enterprise kinds and their shares
    rates: tuple[tuple[str, float], ...] | None = None  # rates.csv rows: domestic / other / accelerator / kind = rate

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def describe(self) -> str:
        """The knobs as command-line options, for the instance description."""
        return " ".join(f"--{name.replace('_', '-')} {_option_text(getattr(self, name))}" for name in self.given())


def _option_text(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(f"{label}={weight:g}" for label, weight in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


#: Knobs each family accepts.
ALL_KNOBS = frozenset(f.name for f in fields(Knobs))


FAMILY_KNOBS: dict[str, frozenset[str]] = {
    "city": ALL_KNOBS,
    "east-west": ALL_KNOBS,
    "gap-like": frozenset({"demands", "centers", "pools_per_center", "periods", "capacity_ratio", "must_serve_share"}),  # no subsidy
}


@dataclass(frozen=True)
class ChinaFamily:
    """How a China family is called and what it does natively."""

    generator: object  # city_day or east_west
    default_demands: int
    min_demands: int  # below this the generator cannot shape its probe requests
    default_periods: int
    native_periods: bool  # the generator takes ``periods`` itself
    must_serve_card_hours: float  # largest must-serve request (mark_must_serve)
    programme_specs: tuple  # ProgramSpec rows, for the budget pressure

    def call(self, facts: dict, seed: int, knobs: Knobs, name: str) -> InstanceTables:
        demands = knobs.demands or self.default_demands
        kwargs: dict = {"n_demands": demands, "name": name}
        if knobs.enterprises is not None:
            kwargs["demands_per_enterprise"] = demands / knobs.enterprises
        if knobs.must_serve_share is not None:
            kwargs["must_serve"] = round(knobs.must_serve_share * demands)
        if self.native_periods:
            kwargs["periods"] = knobs.periods or self.default_periods
        return self.generator(facts, seed, **kwargs)


@dataclass
class Generated:
    """A generated instance: instance.toml text, tables, and how to write floats."""

    toml_text: str
    tables: dict[str, pd.DataFrame]
    exact_floats: bool = False  # write floats with repr (GAP efficiencies must read back exactly)


def check_knobs(family: str, knobs: Knobs) -> None:
    """Refuse knobs the family does not take and values out of range, naming them."""
    refused = [k for k in knobs.given() if k not in FAMILY_KNOBS[family]]
    if refused:
        options = ", ".join("--" + k.replace("_", "-") for k in refused)
        allowed = ", ".join("--" + k.replace("_", "-") for k in sorted(FAMILY_KNOBS[family]))
        raise GenerateError(f"{family} does not take {options} (it takes {allowed})")
    for key in ("demands", "centers", "pools_per_center", "periods", "enterprises", "programmes"):
        value = getattr(knobs, key)
        if value is not None and value < 1:
            raise GenerateError(f"--{key.replace('_', '-')} must be at least 1, not {value}")
    for key in ("budget_ratio", "capacity_ratio", "green_ratio"):
        value = getattr(knobs, key)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise GenerateError(f"--{key.replace('_', '-')} must be a finite ratio >= 0, not {value}")
    if knobs.must_serve_share is not None and not 0.0 <= knobs.must_serve_share <= 1.0:
        raise GenerateError(f"--must-serve-share must be within 0..1, not {knobs.must_serve_share}")
    for name, rate in knobs.rates or ():
        if not 0.0 <= rate <= 1.0:
            raise GenerateError(f"--rates: the rate of '{name}' must be within 0..1, not {rate:g}")
    if family == "gap-like" and knobs.periods not in (None, 1):
        raise GenerateError("gap-like has one period (--periods 1)")


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """``"CUDA=0.5,CANN=0.3"`` -> (("CUDA", 0.5), ("CANN", 0.3)); weights >= 0, not all 0."""
    mix = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        label, sep, weight = part.partition("=")
        try:
            value = float(weight)
        except ValueError:
            value = math.nan
        if not sep or not label.strip() or not (math.isfinite(value) and value >= 0):
            raise GenerateError(f"mix '{text}': each item must be NAME=WEIGHT with a weight >= 0 ('{part}')")
        mix.append((label.strip(), value))
    if not mix or sum(w for _, w in mix) <= 0:
        raise GenerateError(f"mix '{text}' has no positive weight")
    if len({k for k, _ in mix}) != len(mix):
        raise GenerateError(f"mix '{text}' names an item twice")
    return tuple(mix)


def parse_rates(text: str) -> tuple[tuple[str, float], ...]:
    """``"domestic=0.3,other=0.2"`` -> (("domestic", 0.3), ("other", 0.2)); rates within 0..1 (0 allowed)."""
    rows = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        label, sep, value = part.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not sep or not label.strip() or not 0.0 <= rate <= 1.0:
            raise GenerateError(f"rates '{text}': each item must be NAME=RATE with a rate within 0..1 ('{part}')")
        rows.append((label.strip(), rate))
    if not rows:
        raise GenerateError(f"rates '{text}' name no row")
    if len({k for k, _ in rows}) != len(rows):
        raise GenerateError(f"rates '{text}' name a row twice")
    return tuple(rows)
