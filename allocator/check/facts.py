"""The instance as plain records for the checker, every default and override applied from the SPEC.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from allocator.instance.types import Instance


@dataclass(frozen=True, slots=True)
class Demand:
    demand_id: str
    enterprise_id: str
    home_region: str
    stack: str
    latency_class: str
    card_hours: float
    max_cards: float
    release: int
    deadline: int
    priority: float
    must_serve: bool

    @property
    def value(self) -> float:
        """The demand's contribution to the served value V: priority * card_hours."""
        return self.priority * self.card_hours


@dataclass(frozen=True, slots=True)
class Pool:
    pool_id: str
    center_id: str
    accelerator: str
    cards: float
    price_yuan_per_card_hour: float
    kw_per_card: float


@dataclass(frozen=True, slots=True)
class Center:
    center_id: str
    region_id: str
    pue: float
    green_kwh: float
    min_green_share: float
    grid_kwh_cap: float


@dataclass(frozen=True, slots=True)
class Enterprise:
    enterprise_id: str
    program_id: str
    eligible: bool
    own_rate: float | None  # the enterprise's rate cell; None when not given (R8 then looks further)
    cap_yuan: float
    subsidy_ytd_yuan: float
    spend_ytd_yuan: float
    kind: str  # "" for an enterprise without a kind

    @property
    def remaining_cap_yuan(self) -> float:
        """C_e = max(0, cap_yuan - subsidy_ytd_yuan) (R8)."""
        return max(0.0, self.cap_yuan - self.subsidy_ytd_yuan)


@dataclass(frozen=True, slots=True)
class Program:
    program_id: str
    budget_yuan: float
    min_voucher_yuan: float
    min_spend_yuan: float
    rate: float


@dataclass(frozen=True, slots=True)
class RateRow:
    """A row of rates.csv; "" in accelerator or enterprise_kind means any."""

    program_id: str
    accelerator: str
    enterprise_kind: str
    rate: float


@dataclass(frozen=True, slots=True)
class Compatibility:
    efficiency: float
    adaptation_yuan: float


@dataclass
class Facts:
    """The instance re-indexed by id, with the SPEC's lookups (RTT, capacity, green power)."""

    name: str
    files_sha256: dict[str, str]
    periods: int
    period_hours: float
    latency_limits_ms: dict[str, float]
    intra_region_rtt_ms: float
    carbon_price_yuan_per_kg: float
    region_carbon_kg_per_kwh: dict[str, float]
    demands: dict[str, Demand]
    pools: dict[str, Pool]
    centers: dict[str, Center]
    enterprises: dict[str, Enterprise]
    programs: dict[str, Program]
    compatibility: dict[tuple[str, str], Compatibility]
    latency_ms: dict[tuple[str, str], float]
    designated_centers: dict[str, set[str]]  # programs with program_centers rows only
    cards_override: dict[tuple[str, int], float]
    green_override_kwh: dict[tuple[str, int], float]
    pools_by_center: dict[str, list[Pool]] = field(default_factory=dict)
    rate_rows: dict[str, list[RateRow]] = field(default_factory=dict)  # program_id -> its rows of rates.csv

    def rate(self, enterprise_id: str, accelerator: str) -> float:
        """R8's rate r(d, p) for a demand of the enterprise at a pool with this accelerator.

        The enterprise's own rate where given; else the highest rate among the rows of
        rates.csv of its programme whose accelerator is empty or this one and whose
        enterprise_kind is empty or the enterprise's kind (an enterprise without a kind
        matches only an empty enterprise_kind; only the highest row counts, even below the
        programme's rate); else the programme's rate.
        """
        enterprise = self.enterprises[enterprise_id]
        if enterprise.own_rate is not None:
            return enterprise.own_rate
        applicable = [row.rate for row in self.rate_rows.get(enterprise.program_id, [])
                      if row.accelerator in ("", accelerator) and row.enterprise_kind in ("", enterprise.kind)]
        return max(applicable) if applicable else self.programs[enterprise.program_id].rate

    def rtt_ms(self, a: str, b: str) -> float:
        """RTT between regions: latency.csv (a, b), else (b, a), else intra-region for a == b, else inf."""
        if (a, b) in self.latency_ms:
            return self.latency_ms[(a, b)]
        if (b, a) in self.latency_ms:
            return self.latency_ms[(b, a)]
        return self.intra_region_rtt_ms if a == b else math.inf

    def latency_limit_ms(self, latency_class: str) -> float:
        """The round-trip limit of a latency class (validation guarantees it is known)."""
        return self.latency_limits_ms[latency_class]

    def is_designated(self, program_id: str, center_id: str) -> bool:
        """R1: a program with no program_centers row may use every center."""
        centers = self.designated_centers.get(program_id)
        return centers is None or center_id in centers

    def cards(self, pool_id: str, period: int) -> float:
        """cards(p, t): capacity.csv overrides pools.cards for that period."""
        return self.cards_override.get((pool_id, period), self.pools[pool_id].cards)

    def capacity_card_hours(self, pool_id: str, period: int) -> float:
        """R5 limit: cards(p, t) * period_hours."""
        return self.cards(pool_id, period) * self.period_hours

    def green_kwh(self, center_id: str, period: int) -> float:
        """Renewable energy available: green.csv overrides centers.green_kwh for that period."""
        return self.green_override_kwh.get((center_id, period), self.centers[center_id].green_kwh)

    def center_region(self, pool: Pool) -> str:
        return self.centers[pool.center_id].region_id


def _records(instance: Instance, stem: str) -> list[dict[str, Any]]:
    return instance.tables[stem].to_dict("records")


def instance_facts(instance: Instance) -> Facts:
    """Index every instance table by its id (defaults are already filled by the reader)."""
    demands = {
        r["demand_id"]: Demand(
            r["demand_id"], r["enterprise_id"], r["home_region"], r["stack"], r["latency_class"],
            float(r["card_hours"]), float(r["max_cards"]), int(r["release"]), int(r["deadline"]),
            float(r["priority"]), bool(r["must_serve"]),
        )
        for r in _records(instance, "demands")
    }
    pools = {
        r["pool_id"]: Pool(r["pool_id"], r["center_id"], r["accelerator"], float(r["cards"]),
                           float(r["price_yuan_per_card_hour"]), float(r["kw_per_card"]))
        for r in _records(instance, "pools")
    }
    centers = {
        r["center_id"]: Center(r["center_id"], r["region_id"], float(r["pue"]), float(r["green_kwh"]),
                               float(r["min_green_share"]), float(r["grid_kwh_cap"]))
        for r in _records(instance, "centers")
    }
    enterprises = {
        r["enterprise_id"]: Enterprise(r["enterprise_id"], r["program_id"], bool(r["eligible"]),
                                       float(r["rate"]) if r["rate_given"] else None,
                                       float(r["cap_yuan"]), float(r["subsidy_ytd_yuan"]), float(r["spend_ytd_yuan"]),
                                       str(r["kind"]))
        for r in _records(instance, "enterprises")
    }
    programs = {
        r["program_id"]: Program(r["program_id"], float(r["budget_yuan"]), float(r["min_voucher_yuan"]),
                                 float(r["min_spend_yuan"]), float(r["rate"]))
        for r in _records(instance, "programs")
    }
    rate_rows: dict[str, list[RateRow]] = defaultdict(list)
    for r in _records(instance, "rates"):
        rate_rows[r["program_id"]].append(RateRow(r["program_id"], str(r["accelerator"]), str(r["enterprise_kind"]),
                                                  float(r["rate"])))
    designated: dict[str, set[str]] = defaultdict(set)
    for r in _records(instance, "program_centers"):
        designated[r["program_id"]].add(r["center_id"])
    pools_by_center: dict[str, list[Pool]] = defaultdict(list)
    for pool in pools.values():
        pools_by_center[pool.center_id].append(pool)
    return Facts(
        name=instance.name,
        files_sha256=dict(instance.files_sha256),
        periods=int(instance.periods),
        period_hours=float(instance.period_hours),
        latency_limits_ms=dict(instance.latency_classes_ms),
        intra_region_rtt_ms=float(instance.intra_region_rtt_ms),
        carbon_price_yuan_per_kg=float(instance.carbon_price_yuan_per_kg),
        region_carbon_kg_per_kwh={r["region_id"]: float(r["grid_carbon_kg_per_kwh"]) for r in _records(instance, "regions")},
        demands=demands,
        pools=pools,
        centers=centers,
        enterprises=enterprises,
        programs=programs,
        compatibility={
            (r["stack"], r["accelerator"]): Compatibility(float(r["efficiency"]), float(r["adaptation_yuan"]))
            for r in _records(instance, "compatibility")
        },
        latency_ms={(r["from_region"], r["to_region"]): float(r["rtt_ms"]) for r in _records(instance, "latency")},
        designated_centers=dict(designated),
        cards_override={(r["pool_id"], int(r["period"])): float(r["cards"]) for r in _records(instance, "capacity")},
        green_override_kwh={(r["center_id"], int(r["period"])): float(r["green_kwh"]) for r in _records(instance, "green")},
        pools_by_center=dict(pools_by_center),
        rate_rows=dict(rate_rows),
    )
