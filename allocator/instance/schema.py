"""The instance format of shared/SPEC.md, kept as data.

Each table is a list of :class:`Column` rows (name, type, default, required,
range). The reader (:mod:`allocator.instance.reading`) and the validator
(:mod:`allocator.instance.validation`) are driven by these rows, so the format is stated
once. Units are in the column names (yuan, kWh, ms, card-hours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

INF = math.inf
REQUIRED = object()  # marker: the column has no default

ColumnType = Literal["id", "str", "float", "int", "bool"]

SCHEMA_VERSION = 1

# Upper bounds of numeric columns (``high``) are sanity ranges, far above anything in the public
# facts of shared/data/china (prices <= ~50 yuan per card-hour, <= 1 kW per card, PUE <= ~1.6,
# funds <= 5e8 yuan): a value beyond them is a unit or typing error, and numbers of that size
# would also make the MIP numerically meaningless. See docs/decisions.md, "Reading".
MAX_PERIODS = 8784  # the hours of a leap year: one year of hourly periods
MAX_RTT_MS = 1e5  # latency limits and round trips
MAX_CARBON_PRICE_YUAN_PER_KG = 1e4

DEFAULT_LATENCY_CLASSES_MS: dict[str, float] = {
    "realtime": 5.0,
    "interactive": 20.0,
    "batch": INF,
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    default: object = REQUIRED
    low: float | None = None  # inclusive lower bound
    high: float | None = None  # inclusive upper bound
    low_open: bool = False  # True: the lower bound is exclusive
    choices: tuple[str, ...] | None = None
    allow_inf: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Table:
    stem: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # columns that must be unique together
    optional: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


TABLES: tuple[Table, ...] = (
    Table(
        "regions",
        (
            Column("region_id", "id"),
            Column("grid_carbon_kg_per_kwh", "float", 0.0, low=0.0, high=10.0),
        ),
        key=("region_id",),
    ),
    Table(
        "latency",
        (
            Column("from_region", "id"),
            Column("to_region", "id"),
            Column("rtt_ms", "float", low=0.0, high=MAX_RTT_MS, allow_inf=True),
        ),
        key=("from_region", "to_region"),
    ),
    Table(
        "centers",
        (
            Column("center_id", "id"),
            Column("region_id", "id"),
            Column("kind", "str", choices=("supercomputing", "intelligent", "general")),
            Column("pue", "float", 1.0, low=1.0, high=5.0),
            Column("green_kwh", "float", 0.0, low=0.0, high=1e12, allow_inf=True),
            Column("min_green_share", "float", 0.0, low=0.0, high=1.0),
            Column("grid_kwh_cap", "float", INF, low=0.0, high=1e12, allow_inf=True),
        ),
        key=("center_id",),
    ),
    Table(
        "pools",
        (
            Column("pool_id", "id"),
            Column("center_id", "id"),
            Column("accelerator", "id"),
            Column("cards", "float", low=0.0, high=1e7),
            Column("price_yuan_per_card_hour", "float", low=0.0, high=1e4),
            Column("kw_per_card", "float", low=0.0, high=100.0),
        ),
        key=("pool_id",),
    ),
    Table(
        "compatibility",
        (
            Column("stack", "id"),
            Column("accelerator", "id"),
            Column("efficiency", "float", low=0.0, high=1.0, low_open=True),
            Column("adaptation_yuan", "float", 0.0, low=0.0, high=1e9),
        ),
        key=("stack", "accelerator"),
    ),
    Table(
        "programs",
        (
            Column("program_id", "id"),
            Column("budget_yuan", "float", low=0.0, high=1e12, allow_inf=True),
            Column("rate", "float", low=0.0, high=1.0),
            Column("enterprise_cap_yuan", "float", INF, low=0.0, high=1e12, allow_inf=True),
            Column("min_voucher_yuan", "float", 0.0, low=0.0, high=1e12),
            Column("min_spend_yuan", "float", 0.0, low=0.0, high=1e12),
        ),
        key=("program_id",),
    ),
    Table(
        "enterprises",
        (
            Column("enterprise_id", "id"),
            Column("program_id", "id"),
            Column("eligible", "bool", True),
            Column("rate", "float", None, low=0.0, high=1.0),  # None: from rates.csv, else the program's (R8)
            Column("cap_yuan", "float", None, low=0.0, high=1e12, allow_inf=True),  # None: the program's
            Column("subsidy_ytd_yuan", "float", 0.0, low=0.0, high=1e12),
            Column("spend_ytd_yuan", "float", 0.0, low=0.0, high=1e12),
            Column("kind", "str", ""),  # free text (startup, sme, university, ...); empty: no kind
        ),
        key=("enterprise_id",),
    ),
    Table(
        "demands",
        (
            Column("demand_id", "id"),
            Column("enterprise_id", "id"),
            Column("home_region", "id"),
            Column("stack", "id"),
            Column("latency_class", "id"),
            Column("card_hours", "float", low=0.0, high=1e9, low_open=True),
            Column("max_cards", "float", INF, low=0.0, high=1e7, low_open=True, allow_inf=True),
            Column("release", "int", 0, low=0, high=MAX_PERIODS),
            Column("deadline", "int", None, low=0, high=MAX_PERIODS),  # None: periods - 1
            Column("priority", "float", 1.0, low=0.0, high=1e6),
            Column("must_serve", "bool", False),
        ),
        key=("demand_id",),
    ),
    Table(
        "program_centers",
        (Column("program_id", "id"), Column("center_id", "id")),
        key=("program_id", "center_id"),
        optional=True,
    ),
    Table(
        "green",
        (
            Column("center_id", "id"),
            Column("period", "int", low=0, high=MAX_PERIODS),
            Column("green_kwh", "float", low=0.0, high=1e12, allow_inf=True),
        ),
        key=("center_id", "period"),
        optional=True,
    ),
    Table(
        "capacity",
        (
            Column("pool_id", "id"),
            Column("period", "int", low=0, high=MAX_PERIODS),
            Column("cards", "float", low=0.0, high=1e7),
        ),
        key=("pool_id", "period"),
        optional=True,
    ),
    Table(
        "rates",
        (
            Column("program_id", "id"),
            Column("accelerator", "str", ""),  # empty: any accelerator
            Column("enterprise_kind", "str", ""),  # empty: any enterprise (also those without a kind)
            Column("rate", "float", low=0.0, high=1.0),
        ),
        key=("program_id", "accelerator", "enterprise_kind"),  # empty cells are values of the key here
        optional=True,
    ),
)

TABLE_BY_STEM: dict[str, Table] = {t.stem: t for t in TABLES}
