"""The SPEC tables of a generated instance, built from the China facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from allocator.instance.schema import TABLE_BY_STEM
from allocator.instance.writing import instance_toml
from allocator.studies.generate.facts import (
    ADAPTATION_YUAN,
    COMPATIBILITY,
    INF,
    TYPICAL_UTILISATION,
    grid_carbon_kg_per_kwh,
    kw_per_card,
    price_yuan_per_card_hour,
    pue,
)


@dataclass(frozen=True)
class PoolSpec:
    suffix: str  # pool_id = f"{center_id}-{suffix}"
    accelerator: str
    cards: int
    power: str = "mid"  # which end of accelerators.csv's power range: low, mid, high


@dataclass(frozen=True)
class CenterSpec:
    center_id: str
    region_id: str
    kind: str  # supercomputing, intelligent, general
    name: str  # the facility, as in centers.csv / regions.csv
    pools: tuple[PoolSpec, ...]
    min_green_share: float = 0.0
    green_share_claim: float | None = None  # a published green share above the province's
    grid_cap_fraction: float | None = None  # grid cap as a share of full-load energy


@dataclass(frozen=True)
class ProgramSpec:
    program_id: str
    policy_city: str | None  # row of subsidy_policies.csv (column `city`)
    prefix: str  # enterprise id prefix
    home_regions: tuple[str, ...]  # where its enterprises are (first = main)
    centers: tuple[str, ...]  # designated centers
    budget_pressure: float  # requested subsidy / budget
    rate: float | None = None  # overrides / fills the policy row (ESTIMATE)
    enterprise_cap_yuan: float | None = None
    min_voucher_yuan: float | None = None
    min_spend_yuan: float | None = None
    min_amount_is: str | None = None  # what the policy's min_amount_yuan means: "voucher" or "spend"


@dataclass
class InstanceTables:
    """An instance in memory: the instance.toml text and its tables by stem."""

    toml_text: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def regions_table(facts: dict, region_ids: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_id": list(region_ids),
            "grid_carbon_kg_per_kwh": [grid_carbon_kg_per_kwh(facts, r) for r in region_ids],
        }
    )


def latency_table(facts: dict, region_ids: Sequence[str]) -> pd.DataFrame:
    """RTT of every unordered pair of distinct regions (the matrix is symmetric)."""
    matrix = facts["latency_ms"]
    rows = [
        (a, b, round(float(matrix.loc[a, b]), 1))
        for i, a in enumerate(region_ids)
        for b in region_ids[i + 1 :]
    ]
    return pd.DataFrame(rows, columns=["from_region", "to_region", "rtt_ms"])


def compatibility_table(accelerators: Iterable[str]) -> pd.DataFrame:
    """The COMPATIBILITY rows whose accelerator occurs in the instance."""
    present = set(accelerators)
    rows = [
        (stack, acc, eff, ADAPTATION_YUAN[family] if family else 0.0)
        for stack, acc, eff, family in COMPATIBILITY
        if acc in present
    ]
    return pd.DataFrame(rows, columns=["stack", "accelerator", "efficiency", "adaptation_yuan"])


def pools_table(facts: dict, centers: Sequence[CenterSpec]) -> pd.DataFrame:
    rows = [
        (
            f"{c.center_id}-{p.suffix}",
            c.center_id,
            p.accelerator,
            p.cards,
            price_yuan_per_card_hour(facts, p.accelerator, c.region_id),
            kw_per_card(facts, p.accelerator, p.power),
        )
        for c in centers
        for p in c.pools
    ]
    return pd.DataFrame(
        rows,
        columns=["pool_id", "center_id", "accelerator", "cards", "price_yuan_per_card_hour", "kw_per_card"],
    )


def full_load_kw(facts: dict, center: CenterSpec) -> float:
    """Facility power of a center with every card busy: sum cards * kW * PUE."""
    return sum(p.cards * kw_per_card(facts, p.accelerator, p.power) for p in center.pools) * pue(
        facts, center.region_id
    )


def typical_daily_green_kwh(facts: dict, center: CenterSpec) -> float:
    """ESTIMATE: renewable share x energy of a typical day (TYPICAL_UTILISATION load).

    The share is the region's renewable_share, or the center's published green
    share when that is higher (``green_share_claim``).
    """
    share = float(facts["regions"].loc[center.region_id, "renewable_share"])
    if center.green_share_claim is not None:
        share = max(share, center.green_share_claim)
    return share * full_load_kw(facts, center) * 24.0 * TYPICAL_UTILISATION


def centers_table(
    facts: dict, centers: Sequence[CenterSpec], periods: int, period_hours: float
) -> pd.DataFrame:
    """centers.csv; green_kwh is the typical day's green energy spread evenly per period."""
    rows = []
    for c in centers:
        green_per_period = typical_daily_green_kwh(facts, c) * period_hours / 24.0
        cap = INF
        if c.grid_cap_fraction is not None:
            cap = round(c.grid_cap_fraction * full_load_kw(facts, c) * period_hours, 1)
        rows.append(
            (
                c.center_id,
                c.region_id,
                c.kind,
                pue(facts, c.region_id),
                round(green_per_period, 1),
                c.min_green_share,
                cap,
            )
        )
    return pd.DataFrame(
        rows,
        columns=["center_id", "region_id", "kind", "pue", "green_kwh", "min_green_share", "grid_kwh_cap"],
    )


def program_row(facts: dict, spec: ProgramSpec) -> dict:
    """A programs.csv row (without budget) from the policy row and the spec's overrides.

    The policy's `min_amount_yuan` means a minimum voucher for Chengdu and a
    minimum annual spend for Xiamen; ``spec.min_amount_is`` says which.
    """
    row = {"program_id": spec.program_id, "rate": spec.rate, "enterprise_cap_yuan": spec.enterprise_cap_yuan,
           "min_voucher_yuan": spec.min_voucher_yuan, "min_spend_yuan": spec.min_spend_yuan}
    if spec.policy_city is not None:
        policy = facts["policies"].loc[spec.policy_city]
        if row["rate"] is None:
            row["rate"] = float(policy["rate"])
        if row["enterprise_cap_yuan"] is None and not pd.isna(policy["per_entity_cap_yuan"]):
            row["enterprise_cap_yuan"] = float(policy["per_entity_cap_yuan"])
        if spec.min_amount_is is not None:
            row[f"min_{spec.min_amount_is}_yuan"] = float(policy["min_amount_yuan"])
    for key, default in (("enterprise_cap_yuan", INF), ("min_voucher_yuan", 0.0), ("min_spend_yuan", 0.0)):
        if row[key] is None:
            row[key] = default
    return row


def program_centers_table(programs: Sequence[ProgramSpec]) -> pd.DataFrame:
    rows = [(p.program_id, c) for p in programs for c in p.centers]
    return pd.DataFrame(rows, columns=["program_id", "center_id"])


def toml_text(name: str, description: str, periods: int, period_hours: float, carbon_price: float) -> str:
    """instance.toml with the SPEC's default latency classes and intra-region RTT."""
    return instance_toml(name, description, periods, period_hours, carbon_price_yuan_per_kg=carbon_price)


def _finish(inst: InstanceTables) -> InstanceTables:
    """Order columns as in the schema and sort rows by key where order is free."""
    for stem, df in inst.tables.items():
        columns = TABLE_BY_STEM[stem].column_names
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{stem}: generator left out columns {missing}")
        inst.tables[stem] = df[columns].reset_index(drop=True)
    return inst
