"""Pre-screening: the sparse set of (demand, pool) pairs that rules R1-R4 allow.

Filters are applied in the order of shared/SPEC.md, and each demand that loses
every pool gets the reason of the first filter that left it none:

    ineligible_enterprise   the enterprise has eligible = false (before any filter)
    no_designated_center    no pool at a designated center of the program      (R1)
    no_compatible_pool      none of those runs the demand's stack              (R2)
    no_pool_within_latency  none of those is within the class's RTT limit      (R3)
    window_too_short        none of those fits the demand alone in its window  (R4, R5)

Everything is pandas/numpy: the model builder sees only the surviving pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.instance.derived import pair_rates
from allocator.instance.types import Instance

REASONS_IN_ORDER = (
    "ineligible_enterprise",
    "no_designated_center",
    "no_compatible_pool",
    "no_pool_within_latency",
    "window_too_short",
)

FIT_TOLERANCE = 1e-9  # relative slack when comparing a window's capacity with the usage


@dataclass
class Screen:
    """The result of pre-screening.

    ``pairs`` has one row per allowed (demand, pool) pair with the numbers the
    model needs: usage_card_hours (u of R2), bill_yuan (R7), rate (r(d, p) of R8)
    and claim_yuan (rate * bill_yuan, the pair's claim on its enterprise's subsidy),
    value (priority * card_hours), rtt_ms, the window and the per-period cap on usage.
    ``reasons`` maps every demand that has no allowed pair to its pre-screen reason.
    """

    pairs: pd.DataFrame
    reasons: dict[str, str]
    capacity_card_hours: np.ndarray  # (pools, periods): cards(p, t) * period_hours
    green_kwh: np.ndarray  # (centers, periods)
    pool_index: dict[str, int]
    center_index: dict[str, int]


def rtt_matrix(instance: Instance) -> tuple[dict[str, int], np.ndarray]:
    """Region index and the RTT matrix in ms (inf where unreachable).

    latency.csv is symmetric: a missing (a, b) uses (b, a); a region with
    itself uses ``intra_region_rtt_ms`` unless the table gives it.
    """
    regions = list(instance.regions["region_id"])
    index = {r: i for i, r in enumerate(regions)}
    n = len(regions)
    rtt = np.full((n, n), np.inf)
    np.fill_diagonal(rtt, instance.intra_region_rtt_ms)
    lat = instance.latency
    if not lat.empty:
        a = lat["from_region"].map(index).to_numpy()
        b = lat["to_region"].map(index).to_numpy()
        given = np.zeros((n, n), dtype=bool)
        given[a, b] = True
        rtt[b, a] = np.where(given[b, a], rtt[b, a], lat["rtt_ms"].to_numpy())  # reverse where not given
        rtt[a, b] = lat["rtt_ms"].to_numpy()
    return index, rtt


def _per_period(base: pd.DataFrame, overrides: pd.DataFrame, key: str, column: str, periods: int):
    """Index of ``base[key]`` and a (rows, periods) matrix of ``base[column]`` with per-period overrides."""
    index = {k: i for i, k in enumerate(base[key])}
    values = np.repeat(base[column].to_numpy(dtype=float)[:, None], periods, axis=1)
    if not overrides.empty:
        values[overrides[key].map(index).to_numpy(), overrides["period"].to_numpy()] = overrides[column].to_numpy()
    return index, values


def capacity_matrix(instance: Instance) -> tuple[dict[str, int], np.ndarray]:
    """Pool index and cards(p, t) * period_hours in card-hours, capacity.csv overrides applied."""
    index, cards = _per_period(instance.pools, instance.capacity, "pool_id", "cards", instance.periods)
    return index, cards * instance.period_hours


def green_matrix(instance: Instance) -> tuple[dict[str, int], np.ndarray]:
    """Center index and green_kwh(c, t), green.csv overrides applied."""
    return _per_period(instance.centers, instance.green, "center_id", "green_kwh", instance.periods)


def designated_pools(instance: Instance) -> pd.DataFrame:
    """(program_id, pool_id, center_id, region_id, accelerator, ...) for every designated pool."""
    pools = instance.pools.drop(columns="_line").merge(
        instance.centers[["center_id", "region_id"]], on="center_id", how="inner"
    )
    programs = instance.programs[["program_id"]]
    pc = instance.program_centers[["program_id", "center_id"]]
    restricted = set(pc["program_id"])
    open_programs = programs[~programs["program_id"].isin(restricted)]
    everywhere = open_programs.merge(pools, how="cross")
    designated = pc.merge(pools, on="center_id", how="inner")
    return pd.concat([everywhere, designated], ignore_index=True)


def screen(instance: Instance) -> Screen:
    """Apply R1-R4 in the SPEC's order; return the allowed pairs and the reasons."""
    demands = instance.demands.merge(
        instance.enterprises[["enterprise_id", "program_id", "eligible"]], on="enterprise_id", how="left"
    )
    reasons: dict[str, str] = {}
    eligible = demands["eligible"].fillna(False).astype(bool)
    for d in demands.loc[~eligible, "demand_id"]:
        reasons[d] = "ineligible_enterprise"
    demands = demands[eligible].drop(columns=["eligible", "_line"])

    # R1: pools at designated centers of the demand's program.
    pairs = demands.merge(designated_pools(instance), on="program_id", how="inner")
    _record_lost(demands, pairs, "no_designated_center", reasons)

    # R2: compatible (stack, accelerator) rows.
    comp = instance.compatibility[["stack", "accelerator", "efficiency", "adaptation_yuan"]]
    before = pairs
    pairs = pairs.merge(comp, on=["stack", "accelerator"], how="inner")
    _record_lost(before, pairs, "no_compatible_pool", reasons)

    # R3: round-trip time within the latency class's limit.
    region_index, rtt = rtt_matrix(instance)
    home = pairs["home_region"].map(region_index).to_numpy(dtype=int)
    where = pairs["region_id"].map(region_index).to_numpy(dtype=int)
    pairs = pairs.assign(rtt_ms=rtt[home, where] if len(pairs) else np.zeros(0))
    limit = pairs["latency_class"].map(instance.latency_classes_ms).to_numpy(dtype=float)
    before = pairs
    pairs = pairs[pairs["rtt_ms"].to_numpy() <= limit]
    _record_lost(before, pairs, "no_pool_within_latency", reasons)

    # R4 with R5: the demand alone fits the pool inside its window.
    pool_index, capacity = capacity_matrix(instance)
    pairs = pairs.assign(usage_card_hours=pairs["card_hours"] / pairs["efficiency"])
    fits = _fits_alone(pairs, pool_index, capacity, instance)
    before = pairs
    pairs = pairs[fits]
    _record_lost(before, pairs, "window_too_short", reasons)

    center_index, green = green_matrix(instance)
    pairs = pairs.assign(
        bill_yuan=pairs["usage_card_hours"] * pairs["price_yuan_per_card_hour"] + pairs["adaptation_yuan"],
        value=pairs["priority"] * pairs["card_hours"],
        pool_idx=pairs["pool_id"].map(pool_index).astype(int),
        center_idx=pairs["center_id"].map(center_index).astype(int),
        max_card_hours_per_period=pairs["max_cards"] * instance.period_hours,
    )
    # R8: the pair's rate r(d, p) and its claim r(d, p) * bill(d) on the enterprise's subsidy
    pairs = pairs.assign(rate=pair_rates(instance, pairs["enterprise_id"], pairs["accelerator"]))
    pairs = pairs.assign(claim_yuan=pairs["rate"] * pairs["bill_yuan"])
    columns = [
        "demand_id", "enterprise_id", "program_id", "pool_id", "center_id", "region_id", "accelerator",
        "pool_idx", "center_idx", "usage_card_hours", "bill_yuan", "rate", "claim_yuan", "value", "rtt_ms", "release", "deadline",
        "max_card_hours_per_period", "must_serve", "kw_per_card", "price_yuan_per_card_hour", "adaptation_yuan",
        "card_hours", "priority",
    ]
    pairs = pairs[columns].reset_index(drop=True)
    order = {d: i for i, d in enumerate(instance.demands["demand_id"])}  # pairs in demand file order, then pool order
    pairs = pairs.iloc[np.lexsort((pairs["pool_idx"].to_numpy(), pairs["demand_id"].map(order).to_numpy()))]
    pairs = pairs.reset_index(drop=True)
    return Screen(pairs, reasons, capacity, green, pool_index, center_index)


def _per_period_caps(pairs: pd.DataFrame, pool_index: dict[str, int], capacity: np.ndarray, instance: Instance) -> np.ndarray:
    """(pairs, periods): the most card-hours the pair may use in each period, 0 outside its window."""
    if pairs.empty:
        return np.zeros((0, instance.periods))
    p = pairs["pool_id"].map(pool_index).to_numpy(dtype=int)
    cap = np.minimum(capacity[p, :], (pairs["max_cards"].to_numpy(dtype=float) * instance.period_hours)[:, None])
    t = np.arange(instance.periods)[None, :]
    inside = (t >= pairs["release"].to_numpy()[:, None]) & (t <= pairs["deadline"].to_numpy()[:, None])
    return np.where(inside, cap, 0.0)


CHUNK_CELLS = 20_000_000  # (pairs x periods) cells at a time when testing window fit: bounded memory


def _fits_alone(pairs: pd.DataFrame, pool_index: dict[str, int], capacity: np.ndarray, instance: Instance) -> np.ndarray:
    """Whether each pair's demand fits its pool alone inside its window (R4 with R5), chunk by chunk."""
    fits = np.zeros(len(pairs), dtype=bool)
    step = max(1, CHUNK_CELLS // max(1, instance.periods))
    usage = pairs["usage_card_hours"].to_numpy()
    for start in range(0, len(pairs), step):
        chunk = pairs.iloc[start:start + step]
        room = _per_period_caps(chunk, pool_index, capacity, instance).sum(axis=1)
        fits[start:start + step] = room >= usage[start:start + step] * (1 - FIT_TOLERANCE)
    return fits


def _record_lost(before: pd.DataFrame, after: pd.DataFrame, reason: str, reasons: dict[str, str]) -> None:
    lost = set(before["demand_id"]) - set(after["demand_id"])
    for d in lost:
        reasons.setdefault(d, reason)
