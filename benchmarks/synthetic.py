"""Synthetic SPEC instances of any size, for the scaling benchmark.

:func:`make_instance` writes a folder in the format of ``shared/SPEC.md``. Every
number comes from ``numpy.random.default_rng(seed)``, so the same arguments
write byte-identical files. The instance is shaped like a real provincial
compute-voucher fund under "East Data, West Computing":

* the eight national hub regions, with RTTs from their geography: ``realtime``
  work (5 ms) stays in its home region, ``interactive`` work (20 ms) reaches the
  neighbouring hubs, ``batch`` work goes anywhere; the class mix is chosen so
  that a demand sees roughly a quarter of the pools after screening;
* centers of 1-10 pools each; 3 or 4 accelerators (NVIDIA-class GPU, Ascend,
  DCU, CPU nodes) and one software stack per accelerator, with cross-stack
  compatibility rows at efficiency 0.6-0.9 and a one-off adaptation cost;
* 2 or 3 programmes (city, province, east-west) whose budgets are 50-70 % of
  the subsidy their enterprises would claim if everything were served, with a
  per-enterprise cap that binds for about a fifth of the enterprises, a
  minimum voucher on the city programme, and ~``n_demands / 20`` enterprises
  with a skewed number of demands each;
* total demand 10-25 % above total capacity, so capacity alone leaves part of
  the demand out;
* with ``periods > 1``: hourly periods, random windows and ``max_cards``,
  per-period green-power profiles (solar and wind), a minimum green share on
  some centers, and a few maintenance windows in ``capacity.csv``.

No demand is ``must_serve``: a synthetic instance must never be infeasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.writing import instance_toml

# The eight national hubs: (id, longitude, latitude, grid kg CO2 per kWh, western green hub?)
HUBS: tuple[tuple[str, float, float, float, bool], ...] = (
    ("JJJ", 116.4, 39.9, 0.58, False),  # Beijing-Tianjin-Hebei
    ("YRD", 121.5, 31.2, 0.55, False),  # Yangtze River Delta
    ("GBA", 114.1, 22.5, 0.45, False),  # Greater Bay Area
    ("CY", 104.1, 30.7, 0.30, False),  # Chengdu-Chongqing
    ("GZ", 106.6, 26.6, 0.40, True),  # Guizhou
    ("NMG", 113.1, 41.0, 0.65, True),  # Inner Mongolia
    ("GS", 107.6, 35.7, 0.45, True),  # Gansu
    ("NX", 105.2, 37.5, 0.55, True),  # Ningxia
)
LATENCY_CLASSES_MS = {"realtime": 5.0, "interactive": 20.0, "batch": math.inf}
LATENCY_MIX = {"realtime": 0.15, "interactive": 0.30, "batch": 0.55}

# accelerator -> (native stack, price yuan per card-hour range, kW per card)
ACCELERATORS: dict[str, tuple[str, tuple[float, float], float]] = {
    "gpu": ("cuda", (9.0, 14.0), 0.70),
    "ascend": ("cann", (6.0, 10.0), 0.40),
    "dcu": ("dtk", (5.0, 8.0), 0.50),
    "cpu": ("x86", (2.0, 4.0), 0.45),
}
# (stack, accelerator) runnable after adaptation, at efficiency 0.6-0.9
CROSS_STACK: tuple[tuple[str, str], ...] = (("cuda", "dcu"), ("cuda", "ascend"), ("dtk", "gpu"))
STACK_MIX = {"cuda": 0.45, "cann": 0.15, "dtk": 0.10, "x86": 0.30}
# center kind -> (weight, accelerator mix)
KINDS: dict[str, tuple[float, dict[str, float]]] = {
    "intelligent": (0.50, {"gpu": 0.50, "ascend": 0.35, "dcu": 0.15}),
    "supercomputing": (0.25, {"cpu": 0.50, "dcu": 0.30, "gpu": 0.20}),
    "general": (0.25, {"cpu": 0.60, "gpu": 0.40}),
}
# programme -> (subsidy rate, share of centers designated (None: every center), prefers western centers)
PROGRAMS: tuple[tuple[str, float, float | None, bool], ...] = (
    ("city", 0.5, 0.6, False),
    ("province", 0.3, None, False),
    ("eastwest", 0.5, 0.7, True),
)
CARBON_PRICE_YUAN_PER_KG = 0.08
FIBRE_MS_PER_KM = 0.02  # round trip, with a route factor


@dataclass(frozen=True)
class Size:
    """One rung of the benchmark ladder."""

    n_demands: int
    n_pools: int
    periods: int

    @property
    def label(self) -> str:
        return f"{self.n_demands}x{self.n_pools}x{self.periods}"


def _pick(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    """n labels drawn from a {label: weight} mix (weights renormalized)."""
    labels = list(mix)
    weights = np.array([mix[k] for k in labels], dtype=float)
    return np.array(labels, dtype=object)[rng.choice(len(labels), size=n, p=weights / weights.sum())]


def _ids(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def _distance_km(a: tuple, b: tuple) -> float:
    """Great-circle distance between two hubs (longitude, latitude in degrees)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[1], a[2], b[1], b[2]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _regions_and_latency(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    regions = pd.DataFrame({"region_id": [h[0] for h in HUBS], "grid_carbon_kg_per_kwh": [h[3] for h in HUBS]})
    rows = []
    for i, a in enumerate(HUBS):
        for b in HUBS[i + 1:]:
            rtt = 2.0 + FIBRE_MS_PER_KM * _distance_km(a, b) + rng.uniform(0.0, 2.0)
            rows.append((a[0], b[0], round(rtt, 1)))
    return regions, pd.DataFrame(rows, columns=["from_region", "to_region", "rtt_ms"])


def _centers_and_pools(rng: np.random.Generator, n_pools: int, accelerators: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Centers of 1-10 pools each until n_pools pools exist (the last center is truncated)."""
    sizes: list[int] = []
    while sum(sizes) < n_pools:
        sizes.append(int(min(rng.integers(1, 11), n_pools - sum(sizes))))
    n_centers = len(sizes)
    region_weight = np.array([0.55 / 4 if not h[4] else 0.45 / 4 for h in HUBS])
    region = np.array([h[0] for h in HUBS], dtype=object)[rng.choice(len(HUBS), n_centers, p=region_weight / region_weight.sum())]
    kinds = _pick(rng, {k: w for k, (w, _) in KINDS.items()}, n_centers)
    centers = pd.DataFrame(
        {
            "center_id": _ids("c", n_centers),
            "region_id": region,
            "kind": kinds,
            "pue": np.round(rng.uniform(1.15, 1.5, n_centers), 2),
        }
    )
    pool_center, pool_acc = [], []
    for center_id, kind, size in zip(centers["center_id"], kinds, sizes):
        mix = {a: w for a, w in KINDS[kind][1].items() if a in accelerators} or {accelerators[0]: 1.0}
        pool_center += [center_id] * size
        pool_acc += list(_pick(rng, mix, size))
    pool_acc_arr = np.array(pool_acc, dtype=object)
    low = np.array([ACCELERATORS[a][1][0] for a in pool_acc])
    high = np.array([ACCELERATORS[a][1][1] for a in pool_acc])
    cards = np.clip(np.round(np.exp(rng.normal(math.log(48.0), 0.8, n_pools))), 4, 1024)
    pools = pd.DataFrame(
        {
            "pool_id": _ids("p", n_pools),
            "center_id": pool_center,
            "accelerator": pool_acc_arr,
            "cards": cards,
            "price_yuan_per_card_hour": np.round(rng.uniform(low, high), 2),
            "kw_per_card": np.array([ACCELERATORS[a][2] for a in pool_acc]),
        }
    )
    return centers, pools


def compatibility(rng: np.random.Generator, accelerators: list[str]) -> pd.DataFrame:
    """One native stack per accelerator (efficiency 1) and cross-stack rows at 0.6-0.9 with an adaptation cost."""
    rows = [(ACCELERATORS[a][0], a, 1.0, 0.0) for a in accelerators]
    for stack, acc in CROSS_STACK:
        if acc in accelerators and any(ACCELERATORS[a][0] == stack for a in accelerators):
            rows.append((stack, acc, round(float(rng.uniform(0.6, 0.9)), 2), float(rng.integers(5, 40) * 100)))
    return pd.DataFrame(rows, columns=["stack", "accelerator", "efficiency", "adaptation_yuan"])


def _demands(
    rng: np.random.Generator,
    n_demands: int,
    periods: int,
    period_hours: float,
    pools: pd.DataFrame,
    stacks: list[str],
    enterprise_ids: list[str],
) -> pd.DataFrame:
    """Demands whose native card-hours add up to 110-125 % of the horizon's capacity."""
    n = n_demands
    # skewed number of demands per enterprise (a few large users, many small)
    weights = np.exp(rng.normal(0.0, 1.0, len(enterprise_ids)))
    enterprise = np.array(enterprise_ids, dtype=object)[rng.choice(len(enterprise_ids), n, p=weights / weights.sum())]
    east = [h[0] for h in HUBS if not h[4]]
    west = [h[0] for h in HUBS if h[4]]
    home = np.where(rng.random(n) < 0.8, rng.choice(east, n), rng.choice(west, n)).astype(object)
    stack = _pick(rng, {s: w for s, w in STACK_MIX.items() if s in stacks}, n)
    latency = _pick(rng, LATENCY_MIX, n)
    if periods > 1:
        length = rng.integers(1, periods + 1, n)
        release = rng.integers(0, periods - length + 1)
        deadline = release + length - 1
    else:
        length = np.ones(n, dtype=int)
        release = np.zeros(n, dtype=int)
        deadline = np.zeros(n, dtype=int)
    fill = rng.uniform(0.35, 1.0, n)  # share of its window a demand keeps its max_cards busy
    cards_wanted = np.exp(rng.normal(0.0, 0.9, n))
    card_hours = cards_wanted * length * period_hours * fill
    capacity = float(pools["cards"].sum()) * periods * period_hours
    overload = rng.uniform(1.10, 1.25)
    card_hours *= overload * capacity / card_hours.sum()
    # no demand larger than what a big pool could take in its window
    big_pool = float(np.quantile(pools["cards"], 0.75)) * period_hours
    card_hours = np.maximum(0.5, np.minimum(card_hours, 0.8 * big_pool * length))
    max_cards = np.ceil(card_hours / (length * period_hours * fill))
    if periods == 1:  # a per-day card limit on a third of the demands only
        max_cards = np.where(rng.random(n) < 1 / 3, max_cards, np.inf)
    return pd.DataFrame(
        {
            "demand_id": _ids("d", n),
            "enterprise_id": enterprise,
            "home_region": home,
            "stack": stack,
            "latency_class": latency,
            "card_hours": np.round(card_hours, 2),
            "max_cards": max_cards,
            "release": release,
            "deadline": deadline,
            "priority": rng.choice([1.0, 1.0, 1.0, 1.5, 2.0], n),
            "must_serve": "false",
        }
    )


def _programs_and_enterprises(
    rng: np.random.Generator,
    n_programs: int,
    enterprise_ids: list[str],
    demands: pd.DataFrame,
    pools: pd.DataFrame,
    centers: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Programmes, enterprises and designated centers, with caps and budgets that bind.

    The money a demand would ask for is estimated at the mean price of its native
    accelerator; budgets are 50-70 % of what the programme's eligible enterprises
    would claim (after caps) if every demand were served.
    """
    specs = PROGRAMS[:n_programs]
    n_ent = len(enterprise_ids)
    share = np.array([0.45, 0.35, 0.20][:n_programs])
    program_of = np.array([s[0] for s in specs], dtype=object)[rng.choice(n_programs, n_ent, p=share / share.sum())]
    program_of[: min(n_programs, n_ent)] = [s[0] for s in specs][: min(n_programs, n_ent)]  # none is empty
    # about 3 % of the enterprises are ineligible, all of them small users
    count = pd.Series(enterprise_ids).map(demands["enterprise_id"].value_counts()).fillna(0).to_numpy()
    eligible = ~((rng.random(n_ent) < 0.06) & (count <= np.median(count)))
    mean_price = pools.groupby("accelerator")["price_yuan_per_card_hour"].mean()
    native_price = {ACCELERATORS[a][0]: float(p) for a, p in mean_price.items()}
    bill = (demands["card_hours"] * demands["stack"].map(native_price).fillna(float(mean_price.mean()))).groupby(
        demands["enterprise_id"]
    ).sum()
    bill_e = pd.Series(enterprise_ids).map(bill).fillna(0.0).to_numpy()
    rate_of = {s[0]: s[1] for s in specs}
    asked = np.array([rate_of[g] for g in program_of]) * bill_e
    subsidy_ytd = np.zeros(n_ent)

    program_rows, designated = [], []
    for name, rate, share, western in specs:
        members = (program_of == name) & eligible & (asked > 0)
        cap = float(np.round(np.quantile(asked[members], 0.8), -2)) if members.any() else math.inf
        cap = max(cap, 1000.0)
        # a fifth of the enterprises have used part of their cap already this year
        used = members & (rng.random(n_ent) < 0.2)
        subsidy_ytd[used] = np.round(rng.uniform(0.1, 0.6, int(used.sum())) * cap, -1)
        claim = np.minimum(asked[members], np.maximum(0.0, cap - subsidy_ytd[members])).sum()
        budget = float(np.round(rng.uniform(0.5, 0.7) * claim, -2))
        min_voucher = 0.0
        if name == "city" and members.any():
            min_voucher = float(max(100.0, np.round(np.quantile(asked[members], 0.1), -2)))
        program_rows.append((name, max(budget, 100.0), rate, cap, min_voucher, 0.0))
        if share is not None:
            west_ids = {h[0] for h in HUBS if h[4]}
            bias = np.where(centers["region_id"].isin(west_ids), 2.0, 1.0) if western else np.ones(len(centers))
            k = max(1, int(round(share * len(centers))))
            chosen = rng.choice(len(centers), size=k, replace=False, p=bias / bias.sum())
            designated += [(name, c) for c in sorted(centers["center_id"].iloc[chosen])]
    programs = pd.DataFrame(
        program_rows,
        columns=["program_id", "budget_yuan", "rate", "enterprise_cap_yuan", "min_voucher_yuan", "min_spend_yuan"],
    )
    enterprises = pd.DataFrame(
        {
            "enterprise_id": enterprise_ids,
            "program_id": program_of,
            "eligible": np.where(eligible, "true", "false"),
            "rate": "",
            "cap_yuan": "",
            "subsidy_ytd_yuan": subsidy_ytd,
            "spend_ytd_yuan": 0.0,
        }
    )
    return programs, enterprises, pd.DataFrame(designated, columns=["program_id", "center_id"])


def _energy(
    rng: np.random.Generator, centers: pd.DataFrame, pools: pd.DataFrame, periods: int, period_hours: float
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """green_kwh, green share and grid caps on centers; per-period green profiles when periods > 1."""
    draw = (pools["cards"] * pools["kw_per_card"]).groupby(pools["center_id"]).sum()
    peak_kwh = centers["center_id"].map(draw).to_numpy() * centers["pue"].to_numpy() * period_hours
    west_ids = {h[0] for h in HUBS if h[4]}
    western = centers["region_id"].isin(west_ids).to_numpy()
    n = len(centers)
    has_green = western | (rng.random(n) < 0.25)
    has_green[0] = True  # at least one center has renewable supply
    scale = np.where(has_green, rng.uniform(0.2, 0.8, n) * peak_kwh, 0.0)
    centers = centers.assign(
        green_kwh=np.round(scale, 1),
        min_green_share=0.0,
        grid_kwh_cap=np.where(rng.random(n) < 0.1, np.round(0.7 * peak_kwh, 1), np.inf),
    )
    if periods == 1:
        return centers, None
    shared = has_green & (rng.random(n) < 0.5)
    if has_green.any() and not shared.any():  # small instances: at least one center has a green share
        shared[np.flatnonzero(has_green)[0]] = True
    centers["min_green_share"] = np.where(shared, np.round(rng.uniform(0.2, 0.5, n), 2), 0.0)
    hours = (np.arange(periods) + 0.5) * period_hours % 24.0
    solar = np.clip(np.sin(math.pi * (hours - 6.0) / 12.0), 0.0, None)
    rows = []
    for c in np.flatnonzero(has_green):
        phase = rng.uniform(0.0, 24.0)
        wind = np.clip(0.5 + 0.35 * np.sin(2 * math.pi * (hours + phase) / 24.0) + rng.normal(0.0, 0.1, periods), 0.0, None)
        mix = rng.uniform(0.0, 1.0)  # share of solar in the center's green supply
        profile = 2.0 * mix * solar + (1.0 - mix) * wind  # mean about 1 over a day
        for t in range(periods):
            rows.append((centers["center_id"].iat[c], t, round(float(scale[c] * profile[t]), 1)))
    return centers, pd.DataFrame(rows, columns=["center_id", "period", "green_kwh"])


def _maintenance(rng: np.random.Generator, pools: pd.DataFrame, periods: int) -> pd.DataFrame:
    """capacity.csv: about 5 % of the pools lose half or all of their cards for 2-4 periods."""
    rows = []
    for p in np.flatnonzero(rng.random(len(pools)) < 0.05):
        length = int(rng.integers(2, 5))
        start = int(rng.integers(0, max(1, periods - length + 1)))
        cards = float(np.floor(pools["cards"].iat[p] * rng.choice([0.0, 0.5])))
        rows += [(pools["pool_id"].iat[p], t, cards) for t in range(start, min(periods, start + length))]
    return pd.DataFrame(rows, columns=["pool_id", "period", "cards"])


def make_instance(folder: Path | str, n_demands: int, n_pools: int, periods: int = 1, seed: int = 0) -> Path:
    """Write a synthetic SPEC instance to ``folder`` (created; existing files overwritten); return the folder.

    One period of 24 hours when ``periods == 1``, else ``periods`` hourly periods.
    """
    if n_demands < 1 or n_pools < 1 or periods < 1:
        raise ValueError("n_demands, n_pools and periods must be at least 1")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    period_hours = 24.0 if periods == 1 else 1.0

    offered = list(ACCELERATORS) if rng.random() < 0.75 else ["gpu", "ascend", "cpu"]
    regions, latency = _regions_and_latency(rng)
    centers, pools = _centers_and_pools(rng, n_pools, offered)
    accelerators = [a for a in offered if a in set(pools["accelerator"])]  # small instances may lack one
    stacks = [ACCELERATORS[a][0] for a in accelerators]
    compatibility_rows = compatibility(rng, accelerators)
    enterprise_ids = _ids("e", max(2, round(n_demands / 20)))
    demands = _demands(rng, n_demands, periods, period_hours, pools, stacks, enterprise_ids)
    n_programs = int(rng.integers(2, 4))
    programs, enterprises, program_centers = _programs_and_enterprises(
        rng, n_programs, enterprise_ids, demands, pools, centers
    )
    centers, green = _energy(rng, centers, pools, periods, period_hours)

    name = f"synthetic-{n_demands}x{n_pools}x{periods}-s{seed}"
    description = f"benchmarks/synthetic.py: {n_demands} demands, {n_pools} pools, {periods} periods, seed {seed}"
    (folder / "instance.toml").write_text(
        instance_toml(name, description, periods, period_hours, LATENCY_CLASSES_MS, 1.0, CARBON_PRICE_YUAN_PER_KG),
        encoding="utf-8")
    tables: dict[str, pd.DataFrame | None] = {
        "regions": regions,
        "latency": latency,
        "centers": centers,
        "pools": pools,
        "compatibility": compatibility_rows,
        "programs": programs,
        "enterprises": enterprises,
        "demands": demands,
        "program_centers": program_centers,
        "green": green,
        "capacity": _maintenance(rng, pools, periods) if periods > 1 else None,
    }
    for stem, table in tables.items():
        path = folder / f"{stem}.csv"
        if table is None:
            path.unlink(missing_ok=True)
            continue
        table.to_csv(path, index=False, lineterminator="\n", na_rep="")
    return folder
