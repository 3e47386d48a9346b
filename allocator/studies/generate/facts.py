"""The public China facts the generated families draw from (shared/data/china): accelerators,
prices, power, grid carbon and PUE, with the modelling estimates marked ESTIMATE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

INF = math.inf


#: MEE national average grid factor for 2022 excluding market-traded green power
#: (0.5856 kg CO2/kWh; published 2024-12-26, reported by Sandpiper,
#: https://dhirubhai.net/pulse/grid-emission-factor-key-progress-chinas-climate-4nklc).
NATIONAL_GRID_KG_PER_KWH = 0.5856


#: National 2023 actual renewable share of consumption (NEA, SOURCES.md §3.2).
NATIONAL_RENEWABLE_SHARE = 0.32


#: ESTIMATE: a center's "typical" load, the >=60-65 % utilisation of the
#: cluster approvals and the 2024 green data-centre plan (SOURCES.md §3.1).
TYPICAL_UTILISATION = 0.65


#: ESTIMATE: cores in one CPU node (a two-socket 32-core server).
CPU_CORES_PER_NODE = 64


#: ESTIMATE: Hygon DCU board power; accelerators.csv has no DCU row.
DCU_KW_PER_CARD = 0.30


#: Where in a price range a region sits: from PRICE_POSITION_LOW at the cheapest
#: electricity tier of regions.csv to PRICE_POSITION_HIGH at the dearest (ESTIMATE).
PRICE_POSITION_LOW = 0.2


PRICE_POSITION_HIGH = 0.8


#: ESTIMATE: porting cost added to a bill when a stack runs on foreign hardware.
ADAPTATION_YUAN = {"dcu": 2000.0, "ascend": 5000.0, "nvidia": 1000.0}


STACKS = ("CUDA", "CANN", "DTK", "MPI")


LATENCY_CLASSES = ("realtime", "interactive", "batch")


@dataclass(frozen=True)
class Accelerator:
    """A pool's hardware class and where its price and power come from."""

    accelerator_id: str
    price_resource: str  # row of prices.csv (column `resource`)
    power_row: str | None  # row of accelerators.csv (column `accelerator`)
    price_scale: float = 1.0  # multiplies the price range (CPU: cores per node)
    kw_fallback: float | None = None  # used when power_row is None


ACCELERATORS: dict[str, Accelerator] = {
    a.accelerator_id: a
    for a in (
        Accelerator("NVIDIA-A800", "NVIDIA A800 8-GPU server (cost-based)", "NVIDIA A100 / A800 SXM"),
        Accelerator("NVIDIA-H800", "NVIDIA H800 (cost-based)", "NVIDIA H800 SXM (China variant of H100)"),
        Accelerator("Ascend-910B", "Huawei Ascend 910B-class (rental)", "Huawei Ascend 910B"),
        # Ascend 910: the 910B price range scaled by FP16 throughput 256/320 (ESTIMATE).
        Accelerator("Ascend-910", "Huawei Ascend 910B-class (rental)", "Huawei Ascend 910", price_scale=256 / 320),
        # Hygon DCU: no public price; the academic A100 list price is the proxy (ESTIMATE).
        Accelerator(
            "Hygon-DCU",
            "NVIDIA A100 80GB (university HPC list price)",
            None,
            kw_fallback=DCU_KW_PER_CARD,
        ),
        # CPU node: core-hour price x cores per node; node power of TaihuLight as proxy.
        Accelerator(
            "CPU-node",
            "CPU core-hour (HPC)",
            "Sunway TaihuLight node (SW26010)",
            price_scale=CPU_CORES_PER_NODE,
        ),
    )
}


#: (stack, accelerator, efficiency, adaptation family). Efficiency models the
#: porting loss only (ESTIMATE; shared/SPEC.md R2); "CUDA on NVIDIA" is 1.0.
COMPATIBILITY: tuple[tuple[str, str, float, str | None], ...] = (
    ("CUDA", "NVIDIA-A800", 1.0, None),
    ("CUDA", "NVIDIA-H800", 1.0, None),
    ("CUDA", "Hygon-DCU", 0.7, "dcu"),
    ("CUDA", "Ascend-910B", 0.6, "ascend"),
    ("CUDA", "Ascend-910", 0.48, "ascend"),  # 0.6 x 256/320
    ("CANN", "Ascend-910B", 1.0, None),
    ("CANN", "Ascend-910", 0.8, None),  # 256/320 FP16 TFLOPS
    ("DTK", "Hygon-DCU", 1.0, None),
    ("DTK", "NVIDIA-A800", 0.8, "nvidia"),
    ("DTK", "NVIDIA-H800", 0.8, "nvidia"),
    ("MPI", "CPU-node", 1.0, None),
)


def load_china_facts(data_dir: Path) -> dict:
    """Read the shared China tables the generators use.

    Returns a dict with ``regions`` (indexed by region), ``latency_ms`` (square
    RTT matrix, from-region rows), ``centers``, ``prices`` (indexed by resource),
    ``accelerators`` (indexed by accelerator) and ``policies`` (indexed by city).
    """
    data_dir = Path(data_dir)
    regions = pd.read_csv(data_dir / "regions.csv").set_index("region")
    latency = pd.read_csv(data_dir / "latency_ms.csv", index_col=0)
    latency.index.name = "from_region"
    return {
        "data_dir": data_dir,
        "regions": regions,
        "latency_ms": latency,
        "centers": pd.read_csv(data_dir / "centers.csv"),
        "prices": pd.read_csv(data_dir / "prices.csv").set_index("resource"),
        "accelerators": pd.read_csv(data_dir / "accelerators.csv").set_index("accelerator"),
        "policies": pd.read_csv(data_dir / "subsidy_policies.csv").set_index("city"),
    }


def price_position(facts: dict, region_id: str) -> float:
    """Where a region sits in a price range, from its electricity-price tier.

    Linear in regions.csv's electricity_price between the cheapest tier
    (PRICE_POSITION_LOW) and the dearest (PRICE_POSITION_HIGH).
    """
    prices = facts["regions"]["electricity_price"]
    low, high = float(prices.min()), float(prices.max())
    share = (float(prices[region_id]) - low) / (high - low)
    return PRICE_POSITION_LOW + (PRICE_POSITION_HIGH - PRICE_POSITION_LOW) * share


def price_yuan_per_card_hour(facts: dict, accelerator: str, region_id: str) -> float:
    """Card-hour (or CPU node-hour) price at a center in ``region_id``, 0.01 yuan."""
    spec = ACCELERATORS[accelerator]
    row = facts["prices"].loc[spec.price_resource]
    low, high = float(row["price_low"]), float(row["price_high"])
    price = (low + price_position(facts, region_id) * (high - low)) * spec.price_scale
    return round(price, 2)


def kw_per_card(facts: dict, accelerator: str, power: str = "mid") -> float:
    """Board power in kW from accelerators.csv (low, mid or high end of its range)."""
    spec = ACCELERATORS[accelerator]
    if spec.power_row is None:
        return float(spec.kw_fallback)
    row = facts["accelerators"].loc[spec.power_row]
    low, high = float(row["power_kw_low"]), float(row["power_kw_high"])
    value = {"low": low, "high": high, "mid": (low + high) / 2}[power]
    return round(value, 3)


def grid_carbon_kg_per_kwh(facts: dict, region_id: str) -> float:
    """ESTIMATE: the national grid factor rescaled by the region's renewable share.

    ``0.5856 * (1 - share) / (1 - 0.32)``: the national factor per kWh of
    non-renewable electricity, times the region's non-renewable share.
    """
    share = float(facts["regions"].loc[region_id, "renewable_share"])
    fossil_kg_per_kwh = NATIONAL_GRID_KG_PER_KWH / (1.0 - NATIONAL_RENEWABLE_SHARE)
    return round(fossil_kg_per_kwh * (1.0 - share), 3)


def pue(facts: dict, region_id: str) -> float:
    """The region's PUE target from regions.csv (1.2 west, 1.25 east, 1.3 cities)."""
    return float(facts["regions"].loc[region_id, "pue_target"])
