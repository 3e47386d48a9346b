"""Read an instance folder of shared/SPEC.md into plain dataclasses, defaults applied.

Independent of the product: no validation (the input is assumed valid), only the
SPEC's reading rules:

- a table is ``<stem>.csv`` (read with the csv module: every cell a string) or
  ``<stem>.parquet`` (read with pandas; a null is an empty cell); program_centers, green, capacity and
  rates are optional;
- a column with a default may be left out, an empty cell takes the default;
- enterprise ``rate`` empty: resolved per pool by R8 (rates.csv, else the program's rate),
  kept as ``None`` here; enterprise ``cap_yuan`` empty: the program's enterprise_cap_yuan;
- demand ``deadline`` empty: periods - 1;
- latency is symmetric (a missing (a, b) uses (b, a)); a region with itself uses
  ``intra_region_rtt_ms`` when latency.csv gives neither direction; else unreachable (inf);
- green.csv / capacity.csv override centers.green_kwh / pools.cards for one period;
- rates.csv: empty accelerator or enterprise_kind = any (``None`` here); an enterprise's
  empty kind is ``None`` too.
"""

from __future__ import annotations

import csv as _csv
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

INF = math.inf
DEFAULT_LATENCY_MS = {"realtime": 5.0, "interactive": 20.0, "batch": INF}


@dataclass(frozen=True)
class Center:
    region: str
    pue: float
    green_kwh: float
    min_green_share: float
    grid_kwh_cap: float


@dataclass(frozen=True)
class Pool:
    center: str
    accelerator: str
    cards: float
    price: float  # yuan per card-hour
    kw_per_card: float


@dataclass(frozen=True)
class Program:
    budget: float
    rate: float
    enterprise_cap: float
    min_voucher: float
    min_spend: float


@dataclass(frozen=True)
class Enterprise:
    program: str
    eligible: bool
    rate: float | None  # None: resolved by R8 per pool
    cap: float
    subsidy_ytd: float
    spend_ytd: float
    kind: str | None


@dataclass(frozen=True)
class Demand:
    enterprise: str
    home_region: str
    stack: str
    latency_class: str
    card_hours: float
    max_cards: float
    release: int
    deadline: int
    priority: float
    must_serve: bool


@dataclass(frozen=True)
class RateRow:
    program: str
    accelerator: str | None  # None: any
    kind: str | None  # None: any
    rate: float


@dataclass
class RefInstance:
    folder: Path
    name: str
    periods: int
    period_hours: float
    latency_limit: dict[str, float]
    intra_region_rtt: float
    carbon_price: float
    grid_carbon: dict[str, float]  # region -> kg/kWh
    latency: dict[tuple[str, str], float]  # as given in latency.csv
    centers: dict[str, Center]
    pools: dict[str, Pool]
    compatibility: dict[tuple[str, str], tuple[float, float]]  # (stack, accelerator) -> (efficiency, adaptation yuan)
    programs: dict[str, Program]
    enterprises: dict[str, Enterprise]
    demands: dict[str, Demand]
    program_centers: dict[str, set[str]]  # only programs with rows
    green: dict[tuple[str, int], float] = field(default_factory=dict)  # (center, t) -> kWh, every period
    cards: dict[tuple[str, int], float] = field(default_factory=dict)  # (pool, t) -> cards, every period
    rates: list[RateRow] = field(default_factory=list)

    def rtt(self, a: str, b: str) -> float:
        if (a, b) in self.latency:
            return self.latency[(a, b)]
        if (b, a) in self.latency:
            return self.latency[(b, a)]
        return self.intra_region_rtt if a == b else INF

    def designated(self, program: str, center: str) -> bool:
        rows = self.program_centers.get(program)
        return rows is None or center in rows


# ---------------------------------------------------------------- cells


def _missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() == ""


def _num(v, default=None) -> float:
    if _missing(v):
        if default is None:
            raise ValueError("a required number is missing")
        return default
    return float(v)  # float("inf") reads "inf"


def _int(v, default=None) -> int:
    return round(_num(v, None if default is None else float(default)))


def _bool(v, default: bool) -> bool:
    if _missing(v):
        return default
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1")
    return bool(v)


def _str(v) -> str | None:
    if _missing(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def _rows(folder: Path, stem: str) -> list[dict] | None:
    """The rows of a table as dicts (cells as read); None when the file is absent."""
    csv, parquet = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    if csv.exists():
        with open(csv, newline="", encoding="utf-8-sig") as f:
            return list(_csv.DictReader(f))  # every cell a string, "" when empty
    if parquet.exists():
        df = pd.read_parquet(parquet)
        return df.astype(object).where(pd.notna(df), None).to_dict("records")
    return None


def _need(folder: Path, stem: str) -> list[dict]:
    rows = _rows(folder, stem)
    if rows is None:
        raise FileNotFoundError(folder / f"{stem}.csv")
    return rows


# ---------------------------------------------------------------- instance


def read_instance(folder: str | Path) -> RefInstance:
    folder = Path(folder)
    with open(folder / "instance.toml", "rb") as f:
        toml = tomllib.load(f)
    horizon = toml.get("horizon", {})
    periods = int(horizon.get("periods", 1))
    period_hours = float(horizon.get("period_hours", 24.0 / periods))
    limits = dict(DEFAULT_LATENCY_MS)
    limits.update({k: float(v) for k, v in toml.get("latency_classes", {}).items()})
    intra = float(toml.get("network", {}).get("intra_region_rtt_ms", 1.0))
    carbon_price = float(toml.get("objective", {}).get("carbon_price_yuan_per_kg", 0.0))

    grid_carbon = {_str(r["region_id"]): _num(r.get("grid_carbon_kg_per_kwh"), 0.0) for r in _need(folder, "regions")}
    latency = {(_str(r["from_region"]), _str(r["to_region"])): _num(r["rtt_ms"]) for r in _need(folder, "latency")}
    centers = {
        _str(r["center_id"]): Center(
            region=_str(r["region_id"]),
            pue=_num(r.get("pue"), 1.0),
            green_kwh=_num(r.get("green_kwh"), 0.0),
            min_green_share=_num(r.get("min_green_share"), 0.0),
            grid_kwh_cap=_num(r.get("grid_kwh_cap"), INF),
        )
        for r in _need(folder, "centers")
    }
    pools = {
        _str(r["pool_id"]): Pool(
            center=_str(r["center_id"]),
            accelerator=_str(r["accelerator"]),
            cards=_num(r["cards"]),
            price=_num(r["price_yuan_per_card_hour"]),
            kw_per_card=_num(r["kw_per_card"]),
        )
        for r in _need(folder, "pools")
    }
    compatibility = {
        (_str(r["stack"]), _str(r["accelerator"])): (_num(r["efficiency"]), _num(r.get("adaptation_yuan"), 0.0))
        for r in _need(folder, "compatibility")
    }
    programs = {
        _str(r["program_id"]): Program(
            budget=_num(r["budget_yuan"]),
            rate=_num(r["rate"]),
            enterprise_cap=_num(r.get("enterprise_cap_yuan"), INF),
            min_voucher=_num(r.get("min_voucher_yuan"), 0.0),
            min_spend=_num(r.get("min_spend_yuan"), 0.0),
        )
        for r in _need(folder, "programs")
    }
    enterprises = {}
    for r in _need(folder, "enterprises"):
        g = _str(r["program_id"])
        enterprises[_str(r["enterprise_id"])] = Enterprise(
            program=g,
            eligible=_bool(r.get("eligible"), True),
            rate=None if _missing(r.get("rate")) else _num(r["rate"]),
            cap=_num(r.get("cap_yuan"), programs[g].enterprise_cap),
            subsidy_ytd=_num(r.get("subsidy_ytd_yuan"), 0.0),
            spend_ytd=_num(r.get("spend_ytd_yuan"), 0.0),
            kind=_str(r.get("kind")),
        )
    demands = {
        _str(r["demand_id"]): Demand(
            enterprise=_str(r["enterprise_id"]),
            home_region=_str(r["home_region"]),
            stack=_str(r["stack"]),
            latency_class=_str(r["latency_class"]),
            card_hours=_num(r["card_hours"]),
            max_cards=_num(r.get("max_cards"), INF),
            release=_int(r.get("release"), 0),
            deadline=_int(r.get("deadline"), periods - 1),
            priority=_num(r.get("priority"), 1.0),
            must_serve=_bool(r.get("must_serve"), False),
        )
        for r in _need(folder, "demands")
    }
    program_centers: dict[str, set[str]] = {}
    for r in _rows(folder, "program_centers") or []:
        program_centers.setdefault(_str(r["program_id"]), set()).add(_str(r["center_id"]))

    green = {(c, t): centers[c].green_kwh for c in centers for t in range(periods)}
    for r in _rows(folder, "green") or []:
        green[(_str(r["center_id"]), _int(r["period"]))] = _num(r["green_kwh"])
    cards = {(p, t): pools[p].cards for p in pools for t in range(periods)}
    for r in _rows(folder, "capacity") or []:
        cards[(_str(r["pool_id"]), _int(r["period"]))] = _num(r["cards"])
    rates = [
        RateRow(
            program=_str(r["program_id"]),
            accelerator=_str(r.get("accelerator")),
            kind=_str(r.get("enterprise_kind")),
            rate=_num(r["rate"]),
        )
        for r in _rows(folder, "rates") or []
    ]
    return RefInstance(
        folder=folder,
        name=str(toml.get("name", folder.name)),
        periods=periods,
        period_hours=period_hours,
        latency_limit=limits,
        intra_region_rtt=intra,
        carbon_price=carbon_price,
        grid_carbon=grid_carbon,
        latency=latency,
        centers=centers,
        pools=pools,
        compatibility=compatibility,
        programs=programs,
        enterprises=enterprises,
        demands=demands,
        program_centers=program_centers,
        green=green,
        cards=cards,
        rates=rates,
    )
