"""A small world for the tests of ``allocator year``: an instance on day 0 and an arrivals file.

Two regions A and B (30 ms apart) with pool pA (gpu, 2 yuan per card-hour) at cA and pB (gpu,
1 yuan) at cB, ``cards`` each, one period of one hour a day. Stacks cuda (efficiency 1) and rocm
(efficiency 0.5, adaptation 1 yuan) on gpu. Programme G (rate 0.5, min voucher 1 yuan) with
enterprises E1..E4 and the ineligible E5; programme H (rate 0.3) with F1, F2 whose caps are 3
yuan. Requests of 1..8 card-hours, priority 1, 1.5 or 2, max_wait_days 0, 1, 2 or inf, drawn
from a seeded generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests import builders


def world(budget_g: float, budget_h: float, cards: float = 12.0) -> dict:
    spec = builders.base()
    for pool in spec["pools"]:
        pool["cards"] = cards
    spec["compatibility"].append({"stack": "rocm", "accelerator": "gpu", "efficiency": 0.5, "adaptation_yuan": 1.0})
    spec["programs"] = [{"program_id": "G", "budget_yuan": budget_g, "rate": 0.5, "min_voucher_yuan": 1.0},
                        {"program_id": "H", "budget_yuan": budget_h, "rate": 0.3}]
    spec["enterprises"] = [{"enterprise_id": f"E{i}", "program_id": "G"} for i in range(1, 5)]
    spec["enterprises"].append({"enterprise_id": "E5", "program_id": "G", "eligible": False})
    spec["enterprises"] += [{"enterprise_id": f"F{i}", "program_id": "H", "cap_yuan": 3.0} for i in (1, 2)]
    return spec


ENTERPRISES = ("E1", "E2", "E3", "E4", "E5", "F1", "F2")
WAITS = ("0", "1", "2", "inf")


def requests(seed: int, days: int, per_day: int, prefix: str = "r") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(days):
        for _ in range(per_day):
            rows.append({
                "demand_id": f"{prefix}{len(rows) + 1:03d}",
                "enterprise_id": ENTERPRISES[int(rng.choice(len(ENTERPRISES), p=[0.2, 0.2, 0.15, 0.15, 0.05, 0.15, 0.1]))],
                "home_region": "A" if rng.random() < 0.6 else "B",
                "stack": "cuda" if rng.random() < 0.7 else "rocm",
                "latency_class": "batch" if rng.random() < 0.8 else "interactive",
                "card_hours": float(rng.integers(1, 9)),
                "priority": float(rng.choice([1.0, 1.5, 2.0])),
                "day": day,
                "max_wait_days": WAITS[int(rng.integers(0, 4))],
            })
    return pd.DataFrame(rows)


def write_year(folder: Path, seed: int = 0, days: int = 6, per_day: int = 6, budget_g: float = 40.0,
               budget_h: float = 5.0, backlog: list[dict] | None = None, extra: list[dict] | None = None) -> tuple[Path, Path]:
    """Write ``folder/instance`` and ``folder/arrivals.csv``; return both paths."""
    spec = world(budget_g, budget_h)
    spec["demands"] = backlog or []
    instance = builders.write(Path(folder) / "instance", spec, name="year-test")
    arrivals = requests(seed, days, per_day)
    if extra:
        arrivals = pd.concat([arrivals, pd.DataFrame(extra)], ignore_index=True)
    path = Path(folder) / "arrivals.csv"
    arrivals.to_csv(path, index=False, lineterminator="\n")
    return instance, path
