"""Regions, latency, centers, pools, compatibility and energy of a regime instance.

The eight hubs use the measured hub-to-hub RTTs of ``shared/data/china/latency_hubs_ms.csv``
(so ``realtime`` work stays in its home hub and ``interactive`` work reaches 2-5 others);
accelerators, prices and power come from :mod:`benchmarks.synthetic` (``prices.csv``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchmarks.regimes.knobs import HUBS, Knobs
from benchmarks.synthetic import (
    ACCELERATORS,
    KINDS,
    _ids,
    _pick,
    compatibility,  # noqa: F401 - the regime family draws the same rows
)

# shared/data/china/latency_hubs_ms.csv (upper triangle, ms), in the order of HUBS
HUB_RTT_MS: dict[tuple[str, str], float] = {
    ("BTH", "YRD"): 18.0, ("BTH", "GBA"): 30.3, ("BTH", "CY"): 24.7, ("BTH", "GZ"): 27.9,
    ("BTH", "NM"): 8.1, ("BTH", "GS"): 19.7, ("BTH", "NX"): 15.3,
    ("YRD", "GBA"): 20.2, ("YRD", "CY"): 26.9, ("YRD", "GZ"): 24.9, ("YRD", "NM"): 22.7,
    ("YRD", "GS"): 27.8, ("YRD", "NX"): 26.0,
    ("GBA", "CY"): 20.6, ("GBA", "GZ"): 13.6, ("GBA", "NM"): 31.6, ("GBA", "GS"): 27.5, ("GBA", "NX"): 29.5,
    ("CY", "GZ"): 9.7, ("CY", "NM"): 21.8, ("CY", "GS"): 11.0, ("CY", "NX"): 15.4,
    ("GZ", "NM"): 26.7, ("GZ", "GS"): 18.2, ("GZ", "NX"): 21.7,
    ("NM", "GS"): 15.0, ("NM", "NX"): 10.0,
    ("GS", "NX"): 7.2,
}
WESTERN = frozenset(h[0] for h in HUBS if h[3])


def regions_and_latency() -> tuple[pd.DataFrame, pd.DataFrame]:
    regions = pd.DataFrame({"region_id": [h[0] for h in HUBS], "grid_carbon_kg_per_kwh": [h[2] for h in HUBS]})
    latency = pd.DataFrame([(a, b, rtt) for (a, b), rtt in HUB_RTT_MS.items()], columns=["from_region", "to_region", "rtt_ms"])
    return regions, latency


def rtt_between(a: str, b: str) -> float:
    return 1.0 if a == b else HUB_RTT_MS.get((a, b), HUB_RTT_MS.get((b, a), math.inf))


def _pools_per_center(rng: np.random.Generator, n_pools: int, n_centers: int | None) -> list[int]:
    """Centers of 1-10 pools each; with ``n_centers`` given, n_pools split over exactly that many."""
    if n_centers is None:
        sizes: list[int] = []
        while sum(sizes) < n_pools:
            sizes.append(int(min(rng.integers(1, 11), n_pools - sum(sizes))))
        return sizes
    n_centers = max(1, min(n_centers, n_pools))
    weights = np.exp(rng.normal(0.0, 0.7, n_centers))
    extra = rng.multinomial(n_pools - n_centers, weights / weights.sum())
    return [int(1 + x) for x in extra]


def centers_and_pools(rng: np.random.Generator, n_pools: int, n_centers: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Centers (55 % in the eastern hubs) and their pools: cards log-normal around 48, prices of prices.csv."""
    sizes = _pools_per_center(rng, n_pools, n_centers)
    n_c = len(sizes)
    weight = np.array([0.45 / 4 if h[3] else 0.55 / 4 for h in HUBS])
    region = np.array([h[0] for h in HUBS], dtype=object)[rng.choice(len(HUBS), n_c, p=weight / weight.sum())]
    kinds = _pick(rng, {k: w for k, (w, _) in KINDS.items()}, n_c)
    centers = pd.DataFrame({
        "center_id": _ids("c", n_c),
        "region_id": region,
        "kind": kinds,
        "pue": np.round(rng.uniform(1.15, 1.5, n_c), 2),
    })
    pool_center, pool_acc = [], []
    for center_id, kind, size in zip(centers["center_id"], kinds, sizes):
        pool_center += [center_id] * size
        pool_acc += list(_pick(rng, KINDS[kind][1], size))
    low = np.array([ACCELERATORS[a][1][0] for a in pool_acc])
    high = np.array([ACCELERATORS[a][1][1] for a in pool_acc])
    cards = np.clip(np.round(np.exp(rng.normal(math.log(48.0), 0.8, n_pools))), 4, 1024)
    pools = pd.DataFrame({
        "pool_id": _ids("p", n_pools),
        "center_id": pool_center,
        "accelerator": np.array(pool_acc, dtype=object),
        "cards": cards,
        "price_yuan_per_card_hour": np.round(rng.uniform(low, high), 2),
        "kw_per_card": np.array([ACCELERATORS[a][2] for a in pool_acc]),
    })
    return centers, pools


def maintenance(rng: np.random.Generator, pools: pd.DataFrame, periods: int) -> pd.DataFrame:
    """capacity.csv (hourly days only): about 5 % of the pools lose half or all of their cards for 2-4 periods
    (at most a quarter of the horizon)."""
    rows = []
    if periods > 1:
        for p in np.flatnonzero(rng.random(len(pools)) < 0.05):
            length = min(int(rng.integers(2, 5)), max(1, periods // 4))
            start = int(rng.integers(0, max(1, periods - length + 1)))
            cards = float(np.floor(pools["cards"].iat[p] * rng.choice([0.0, 0.5])))
            rows += [(pools["pool_id"].iat[p], t, cards) for t in range(start, min(periods, start + length))]
    return pd.DataFrame(rows, columns=["pool_id", "period", "cards"])


def capacity_matrix(pools: pd.DataFrame, capacity: pd.DataFrame, periods: int) -> np.ndarray:
    """cards(p, t) as a (pools, periods) array, capacity.csv overriding pools.cards."""
    cards = np.repeat(pools["cards"].to_numpy(dtype=float)[:, None], periods, axis=1)
    if not capacity.empty:
        index = {p: i for i, p in enumerate(pools["pool_id"])}
        cards[capacity["pool_id"].map(index).to_numpy(), capacity["period"].to_numpy()] = capacity["cards"].to_numpy()
    return cards


def energy(
    rng: np.random.Generator, knobs: Knobs, centers: pd.DataFrame, pools: pd.DataFrame, cards: np.ndarray, period_hours: float
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Green supply, green shares and grid caps; per-period green profiles (solar and wind) when periods > 1.

    A center in a region whose ``green`` knob is on gets renewable supply of 15-45 % of its
    full-load energy; exactly 80 % (rounded up) of those centers a minimum green share of
    0.6-0.9 and, independently, 80 % a grid cap of 5-30 % of their full-load energy per period.
    Either alone caps the center's energy well below full load. Elsewhere: supply of 20-80 % at
    the western hubs and at a quarter of the others, no share, a grid cap of 90 % at a tenth.
    """
    periods = cards.shape[1]
    draw = pd.Series(cards.mean(axis=1) * pools["kw_per_card"].to_numpy()).groupby(pools["center_id"].to_numpy()).sum()
    peak = centers["center_id"].map(draw).fillna(0.0).to_numpy() * centers["pue"].to_numpy() * period_hours
    n = len(centers)
    flagged = np.array([knobs.region(r).green for r in centers["region_id"]])
    western = centers["region_id"].isin(WESTERN).to_numpy()
    has_green = flagged | western | (rng.random(n) < 0.25)
    scale = np.where(flagged, rng.uniform(0.15, 0.45, n), rng.uniform(0.2, 0.8, n)) * peak * has_green
    share = np.zeros(n)
    grid_cap = np.where(rng.random(n) < 0.1, np.round(0.9 * peak, 1), math.inf)
    idx = np.flatnonzero(flagged)
    if len(idx):
        k = math.ceil(0.8 * len(idx))
        with_share = rng.permutation(idx)[:k]
        with_cap = rng.permutation(idx)[:k]
        share[with_share] = np.round(rng.uniform(0.6, 0.9, k), 2)
        grid_cap[idx] = math.inf
        grid_cap[with_cap] = np.round(rng.uniform(0.05, 0.3, k) * peak[with_cap], 1)
    centers = centers.assign(green_kwh=np.round(scale, 1), min_green_share=share, grid_kwh_cap=grid_cap)
    if periods == 1:
        return centers, None
    hours = (np.arange(periods) + 0.5) * period_hours % 24.0
    solar = np.clip(np.sin(math.pi * (hours - 6.0) / 12.0), 0.0, None)
    rows = []
    for c in np.flatnonzero(scale > 0):
        phase = rng.uniform(0.0, 24.0)
        wind = np.clip(0.5 + 0.35 * np.sin(2 * math.pi * (hours + phase) / 24.0) + rng.normal(0.0, 0.1, periods), 0.0, None)
        mix = rng.uniform(0.0, 1.0)  # share of solar in the center's supply
        profile = 2.0 * mix * solar + (1.0 - mix) * wind  # mean about 1 over a day
        rows += [(centers["center_id"].iat[c], t, round(float(scale[c] * profile[t]), 1)) for t in range(periods)]
    return centers, pd.DataFrame(rows, columns=["center_id", "period", "green_kwh"])


def green_matrix(centers: pd.DataFrame, green: pd.DataFrame | None, periods: int) -> np.ndarray:
    out = np.repeat(centers["green_kwh"].to_numpy(dtype=float)[:, None], periods, axis=1)
    if green is not None and not green.empty:
        index = {c: i for i, c in enumerate(centers["center_id"])}
        out[green["center_id"].map(index).to_numpy(), green["period"].to_numpy()] = green["green_kwh"].to_numpy()
    return out
