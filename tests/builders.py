"""Write small SPEC instances from Python literals, for tests.

``base()`` is a two-region world: region A holds center cA with pool pA (gpu,
10 cards, 2 yuan per card-hour), region B (30 ms away) holds cB with pool pB (gpu,
10 cards, 1 yuan per card-hour); one program G (rate 0.5, budget 1e6) and one
enterprise E1. One period of one hour. Tests change what they need and add demands.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd

BASE: dict = {
    "settings": {"periods": 1, "period_hours": 1.0, "carbon_price_yuan_per_kg": 0.0, "latency_classes": {}},
    "regions": [
        {"region_id": "A", "grid_carbon_kg_per_kwh": 0.0},
        {"region_id": "B", "grid_carbon_kg_per_kwh": 0.0},
    ],
    "latency": [{"from_region": "A", "to_region": "B", "rtt_ms": 30.0}],
    "centers": [
        {"center_id": "cA", "region_id": "A", "kind": "intelligent"},
        {"center_id": "cB", "region_id": "B", "kind": "supercomputing"},
    ],
    "pools": [
        {"pool_id": "pA", "center_id": "cA", "accelerator": "gpu", "cards": 10, "price_yuan_per_card_hour": 2.0, "kw_per_card": 1.0},
        {"pool_id": "pB", "center_id": "cB", "accelerator": "gpu", "cards": 10, "price_yuan_per_card_hour": 1.0, "kw_per_card": 1.0},
    ],
    "compatibility": [{"stack": "cuda", "accelerator": "gpu", "efficiency": 1.0}],
    "programs": [{"program_id": "G", "budget_yuan": 1e6, "rate": 0.5}],
    "enterprises": [{"enterprise_id": "E1", "program_id": "G"}],
    "demands": [],
}


def base() -> dict:
    return copy.deepcopy(BASE)


def demand(demand_id: str, card_hours: float, enterprise: str = "E1", home: str = "A", latency_class: str = "batch",
           stack: str = "cuda", **extra) -> dict:
    row = {
        "demand_id": demand_id,
        "enterprise_id": enterprise,
        "home_region": home,
        "stack": stack,
        "latency_class": latency_class,
        "card_hours": card_hours,
    }
    row.update(extra)
    return row


def _toml(settings: dict, name: str) -> str:
    lines = ["schema = 1", f'name = "{name}"', "[horizon]", f"periods = {settings['periods']}",
             f"period_hours = {settings['period_hours']}"]
    if settings.get("latency_classes"):
        lines.append("[latency_classes]")
        lines += [f"{k} = {v}" for k, v in settings["latency_classes"].items()]
    if "intra_region_rtt_ms" in settings:
        lines += ["[network]", f"intra_region_rtt_ms = {settings['intra_region_rtt_ms']}"]
    lines += ["[objective]", f"carbon_price_yuan_per_kg = {settings['carbon_price_yuan_per_kg']}"]
    return "\n".join(lines) + "\n"


HEADERS = {
    "latency": ["from_region", "to_region", "rtt_ms"],
    "demands": ["demand_id", "enterprise_id", "home_region", "stack", "latency_class", "card_hours"],
}


def write(folder: Path, spec: dict, name: str = "test") -> Path:
    """Write ``spec`` (as from :func:`base`) as an instance folder and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "instance.toml").write_text(_toml(spec["settings"], name))
    for stem, rows in spec.items():
        if stem == "settings":
            continue
        df = pd.DataFrame(rows)
        if df.empty:
            df = pd.DataFrame(columns=HEADERS.get(stem, []))
        df.to_csv(folder / f"{stem}.csv", index=False, lineterminator="\n")
    return folder
