"""Seeded random tiny instances in which every rule binds now and then.

``write_random_instance(folder, seed, ...)`` writes a valid instance folder of
shared/SPEC.md. Numbers come from short lists of round values (capacities of 1-4
cards, bills of a few to a hundred yuan, budgets, caps and thresholds of the same
order), so capacity, budgets, caps, minimum vouchers and spends, year-to-date
columns, green shares, grid caps and latency classes bind often, and ties are
exact rather than within round-off. The format is exercised too: defaults left
out or as empty cells, ``inf`` spelled out, latency given one way only or not at
all, an explicit intra-region RTT, optional tables present or not, a table as
Parquet now and then.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pandas as pd

INF = math.inf
ACCELERATORS = ["gpu", "npu", "dcu"]
STACKS = ["cuda", "cann", "mpi"]
KINDS = ["startup", "sme", "large"]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return repr(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _write_csv(folder: Path, stem: str, columns: list[str], rows: list[dict], rng: random.Random, optional: set[str] = frozenset()) -> None:
    """One table; a column in ``optional`` whose cells are all empty is sometimes left out."""
    keep = [c for c in columns if not (c in optional and all(r.get(c) is None for r in rows) and rng.random() < 0.5)]
    lines = [",".join(keep)] + [",".join(_fmt(r.get(c)) for c in keep) for r in rows]
    (folder / f"{stem}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_parquet(folder: Path, stem: str, columns: list[str], rows: list[dict]) -> None:
    pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns).to_parquet(folder / f"{stem}.parquet", index=False)


STRESSES = ("capacity", "money", "caps", "thresholds", "green", "grid", "latency", "compat", "eligibility", "window", "must", "rates")


def random_spec(
    seed: int,
    periods: int = 1,
    max_demands: int = 7,
    max_pools: int = 4,
    rates: bool = False,
    kinds: bool | None = None,
) -> dict:
    """The tables of one random instance as lists of dict rows (None = empty cell) plus its toml.

    Each instance stresses one to four of :data:`STRESSES` (tight values drawn for
    those rules, loose ones for the others), so that a rule binds without every
    other rule already blocking everything. ``rates``: write a rates.csv (and, with
    ``kinds``, enterprise kinds; ``kinds`` defaults to ``rates``).
    """
    rng = random.Random(seed)
    pick = rng.choice
    kinds = rates if kinds is None else kinds
    on = set(rng.sample(STRESSES, rng.randint(1, 4)))
    if rates and rng.random() < 0.8:  # rates matter only where the subsidy binds
        on.add(pick(["money", "thresholds"]))
    for group in (("money", "caps", "thresholds"), ("green", "grid")):  # rules that bind together
        if on & set(group) and rng.random() < 0.6:
            on |= set(rng.sample(group, 2))
    def tight(stress, tight_values, loose_values):
        return pick(tight_values if stress in on else loose_values)

    toml = ["schema = 1", f'name = "random-{seed}"', "[horizon]"]
    if periods > 1 or rng.random() < 0.5:
        toml.append(f"periods = {periods}")
    ph = pick([1.0, 1.0, 2.0, 2.0, None])
    if ph is not None:
        toml.append(f"period_hours = {ph}")
    period_hours = 24.0 / periods if ph is None else ph
    k = period_hours / 2  # card-hours, money and energy scale with the period (exact in binary)
    def sc(v):
        return None if v is None else v * k
    limits = {"realtime": 5.0, "interactive": 20.0, "batch": INF}
    if rng.random() < 0.3:
        toml.append("[latency_classes]")
        if rng.random() < 0.5:
            limits["realtime"] = 10.0
            toml.append("realtime = 10.0")
        limits["nearline"] = 12.0
        toml.append("nearline = 12.0")
        if rng.random() < 0.3:
            toml.append("batch = inf")
    if "latency" in on and rng.random() < 0.4:
        intra = pick([2.0, 8.0])  # 8 ms: realtime work cannot stay home unless latency.csv says so
        toml += ["[network]", f"intra_region_rtt_ms = {intra}"]
    carbon_price = pick([0.0, 0.0, 0.1, 1.0, 10.0])
    if carbon_price or rng.random() < 0.3:
        toml += ["[objective]", f"carbon_price_yuan_per_kg = {carbon_price}"]

    regions = [f"R{i}" for i in range(rng.randint(1, 3))]
    region_rows = [{"region_id": r, "grid_carbon_kg_per_kwh": pick([None, 0.0, 0.2, 0.5, 1.0])} for r in regions]
    latency_rows = []
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            how = rng.random()
            rtt = pick([3.0, 10.0, 15.0, 25.0])
            if how < 0.4:
                latency_rows.append({"from_region": a, "to_region": b, "rtt_ms": rtt})
            elif how < 0.8:
                latency_rows.append({"from_region": b, "to_region": a, "rtt_ms": rtt})
            elif how < 0.9:
                latency_rows.append({"from_region": a, "to_region": b, "rtt_ms": INF})
            # else: unreachable both ways
        if "latency" in on and rng.random() < 0.3:
            latency_rows.append({"from_region": a, "to_region": a, "rtt_ms": pick([0.5, 6.0])})

    centers = [f"c{i}" for i in range(rng.randint(1, 3))]
    center_rows = [
        {
            "center_id": c,
            "region_id": pick(regions),
            "kind": pick(["supercomputing", "intelligent", "general"]),
            "pue": pick([None, 1.0, 1.25, 1.5]),
            "green_kwh": sc(tight("green", [None, 0.0, 1.0, 2.0, 4.0, 8.0], [None, 0.0, 2.0, INF])),
            "min_green_share": tight("green", [0.0, 0.25, 0.5, 0.5, 1.0], [None, 0.0]),
            "grid_kwh_cap": sc(tight("grid", [0.0, 1.0, 2.0, 4.0, 8.0], [None, INF])),
        }
        for c in centers
    ]

    pools = [f"p{i}" for i in range(rng.randint(1, max_pools))]
    pool_rows = [
        {
            "pool_id": p,
            "center_id": pick(centers),
            "accelerator": pick(ACCELERATORS),
            "cards": float(tight("capacity", [1, 1, 2], [2, 3, 4, 6])),
            "price_yuan_per_card_hour": float(pick([0, 1, 2, 4, 5, 10])),
            "kw_per_card": pick([0.0, 0.5, 1.0, 1.0]),
        }
        for p in pools
    ]

    compat_rows = []
    for s in STACKS:
        for a in ACCELERATORS:
            native = STACKS.index(s) == ACCELERATORS.index(a)
            if native or rng.random() < (0.4 if "compat" in on else 0.7):
                compat_rows.append({
                    "stack": s,
                    "accelerator": a,
                    "efficiency": 1.0 if native and rng.random() < 0.8 else pick([0.5, 0.8, 1.0]),
                    "adaptation_yuan": sc(pick([None, 0.0, 0.0, 2.0, 5.0, 20.0])),
                })

    programs = [f"G{i}" for i in range(rng.randint(1, 2))]
    program_rows = [
        {
            "program_id": g,
            "budget_yuan": sc(tight("money", [2.0, 4.0, 5.0, 10.0, 20.0], [INF, 80.0, 500.0])),
            "rate": tight("rates", [0.0, 0.3, 0.5, 1.0], [0.3, 0.5]),
            "enterprise_cap_yuan": sc(tight("caps", [4.0, 10.0, 25.0], [None, INF, 500.0])),
            "min_voucher_yuan": sc(tight("thresholds", [1.0, 3.0, 8.0], [None, 0.0])),
            "min_spend_yuan": sc(tight("thresholds", [0.0, 5.0, 15.0, 40.0], [None, 0.0])),
        }
        for g in programs
    ]

    enterprises = [f"e{i}" for i in range(rng.randint(1, 4))]
    enterprise_rows = [
        {
            "enterprise_id": e,
            "program_id": pick(programs),
            "eligible": tight("eligibility", [True, True, False], [None, True]),
            "rate": tight("rates", [None, None, 0.0, 0.2, 0.6, 1.0], [None]),
            "cap_yuan": sc(tight("caps", [None, INF, 3.0, 12.0], [None])),
            "subsidy_ytd_yuan": sc(tight("caps", [None, 0.0, 2.0, 5.0], [None, 0.0])),
            "spend_ytd_yuan": sc(tight("thresholds", [None, 0.0, 10.0, 30.0], [None, 0.0])),
            "kind": pick([None, *KINDS]) if kinds else None,
        }
        for e in enterprises
    ]

    present = sorted({r["accelerator"] for r in pool_rows})
    runnable = sorted({r["stack"] for r in compat_rows if r["accelerator"] in present}) or STACKS
    classes = ["realtime", "interactive", *[c for c in limits if c not in ("realtime", "interactive", "batch")]]
    demand_rows = []
    for i in range(rng.randint(2, max_demands)):
        release = rng.randint(0, periods - 1) if "window" in on else 0
        deadline = rng.randint(release, periods - 1) if "window" in on else periods - 1
        demand_rows.append({
            "demand_id": f"d{i}",
            "enterprise_id": pick(enterprises),
            "home_region": pick(regions),
            "stack": pick(runnable) if rng.random() < 0.85 else pick(STACKS),
            "latency_class": pick(classes) if "latency" in on and rng.random() < 0.7 else pick(["batch", "batch", "interactive"]),
            "card_hours": sc(float(pick([1, 1, 2, 3, 4, 6, 8]))),
            "max_cards": tight("window", [1.0, 2.0, 3.0], [None, None, INF, 4.0]),
            "release": release if release or rng.random() < 0.5 else None,
            "deadline": deadline if deadline != periods - 1 or rng.random() < 0.5 else None,
            "priority": 0.0 if rng.random() < 0.04 else pick([None, 1.0, 1.0, 2.0, 3.0, 0.5]),
            "must_serve": True if "must" in on and rng.random() < 0.25 else pick([None, False]),
        })

    tables = {
        "regions": (["region_id", "grid_carbon_kg_per_kwh"], region_rows, {"grid_carbon_kg_per_kwh"}),
        "latency": (["from_region", "to_region", "rtt_ms"], latency_rows, set()),
        "centers": (["center_id", "region_id", "kind", "pue", "green_kwh", "min_green_share", "grid_kwh_cap"], center_rows,
                    {"pue", "green_kwh", "min_green_share", "grid_kwh_cap"}),
        "pools": (["pool_id", "center_id", "accelerator", "cards", "price_yuan_per_card_hour", "kw_per_card"], pool_rows, set()),
        "compatibility": (["stack", "accelerator", "efficiency", "adaptation_yuan"], compat_rows, {"adaptation_yuan"}),
        "programs": (["program_id", "budget_yuan", "rate", "enterprise_cap_yuan", "min_voucher_yuan", "min_spend_yuan"], program_rows,
                     {"enterprise_cap_yuan", "min_voucher_yuan", "min_spend_yuan"}),
        "enterprises": (["enterprise_id", "program_id", "eligible", "rate", "cap_yuan", "subsidy_ytd_yuan", "spend_ytd_yuan", "kind"],
                        enterprise_rows, {"eligible", "rate", "cap_yuan", "subsidy_ytd_yuan", "spend_ytd_yuan", "kind"}),
        "demands": (["demand_id", "enterprise_id", "home_region", "stack", "latency_class", "card_hours", "max_cards", "release",
                     "deadline", "priority", "must_serve"], demand_rows, {"max_cards", "release", "deadline", "priority", "must_serve"}),
    }
    if not kinds:
        cols, rows, opt = tables["enterprises"]
        tables["enterprises"] = ([c for c in cols if c != "kind"], rows, opt)

    if rng.random() < (0.8 if "eligibility" in on else 0.3):
        pc_rows = []
        for g in programs:
            if rng.random() < 0.8:
                chosen = [c for c in centers if rng.random() < (0.5 if "eligibility" in on else 0.8)] or [pick(centers)]
                pc_rows += [{"program_id": g, "center_id": c} for c in chosen]
        tables["program_centers"] = (["program_id", "center_id"], pc_rows, set())
    if rng.random() < (0.6 if "green" in on else 0.15):
        rows = [{"center_id": c, "period": t, "green_kwh": sc(pick([0.0, 1.0, 3.0]))}
                for c in centers for t in range(periods) if rng.random() < 0.5]
        tables["green"] = (["center_id", "period", "green_kwh"], rows, set())
    if rng.random() < (0.6 if "capacity" in on else 0.15):
        rows = [{"pool_id": p, "period": t, "cards": float(pick([0, 1, 2]))}
                for p in pools for t in range(periods) if rng.random() < 0.5]
        tables["capacity"] = (["pool_id", "period", "cards"], rows, set())
    if rates:
        rows, keys = [], set()
        for _ in range(rng.randint(1, 5)):
            key = (pick(programs), pick([None, None, *ACCELERATORS]), pick([None, None, *KINDS]))
            if key not in keys:  # one row per (program, accelerator, kind): the SPEC names no key, a validator may want one
                keys.add(key)
                rows.append({"program_id": key[0], "accelerator": key[1], "enterprise_kind": key[2],
                             "rate": pick([0.1, 0.2, 0.3, 0.6, 0.8])})
        tables["rates"] = (["program_id", "accelerator", "enterprise_kind", "rate"], rows, set())
    return {"toml": "\n".join(toml) + "\n", "tables": tables, "parquet": rng.random() < 0.1, "stresses": sorted(on)}


def write_spec(folder: str | Path, spec: dict, seed: int = 0) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed + 1_000_003)
    (folder / "instance.toml").write_text(spec["toml"], encoding="utf-8")
    for stem, (columns, rows, optional) in spec["tables"].items():
        if spec.get("parquet") and stem in ("pools", "demands"):
            _write_parquet(folder, stem, columns, rows)
        else:
            _write_csv(folder, stem, columns, rows, rng, optional)
    return folder


def write_random_instance(folder: str | Path, seed: int, **kwargs) -> Path:
    """Write the random instance ``seed`` (see :func:`random_spec` for the options) into ``folder``."""
    return write_spec(folder, random_spec(seed, **kwargs), seed)
