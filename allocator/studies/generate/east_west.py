"""The `east-west` family: the eight national hubs and their clusters, hourly, several programmes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from allocator.studies.generate.enterprises import (
    EnterpriseMix,
    _choice,
    _power_of_two_at_least,
    _round_card_hours,
    _split_counts,
    make_enterprises,
    mark_must_serve,
    prescreen,
    set_budgets,
)
from allocator.studies.generate.facts import STACKS
from allocator.studies.generate.rates import empty_rates
from allocator.studies.generate.tables import (
    CenterSpec,
    InstanceTables,
    PoolSpec,
    ProgramSpec,
    _finish,
    centers_table,
    compatibility_table,
    latency_table,
    pools_table,
    program_centers_table,
    program_row,
    regions_table,
    toml_text,
    typical_daily_green_kwh,
)

EAST_WEST_REGIONS = (
    "HUB_BTH", "HUB_YRD", "HUB_GBA", "HUB_CY", "HUB_GZ", "HUB_NM", "HUB_GS", "HUB_NX",
    "CL_ZJK", "CL_YRDDEMO", "CL_WUHU", "CL_SG", "CL_TF", "CL_CQ", "CL_GA", "CL_HLGE", "CL_QY", "CL_ZW",
)


EASTERN_HUBS = ("HUB_BTH", "HUB_YRD", "HUB_GBA", "HUB_CY")


WESTERN_HUBS = ("HUB_GZ", "HUB_NM", "HUB_GS", "HUB_NX")


#: Hourly shape of green power by region (ESTIMATE): solar in Gansu and Ningxia,
#: flat hydro in Sichuan/Chongqing and Guizhou, wind elsewhere.
GREEN_SHAPE = {
    "CL_QY": "solar", "CL_ZW": "solar", "HUB_GS": "solar", "HUB_NX": "solar",
    "HUB_CY": "hydro", "CL_TF": "hydro", "CL_CQ": "hydro", "CL_GA": "hydro", "HUB_GZ": "hydro",
}


EAST_WEST_CENTERS: tuple[CenterSpec, ...] = (
    CenterSpec("ZJK_DC", "CL_ZJK", "intelligent", "Zhangjiakou cluster",
               (PoolSpec("A800", "NVIDIA-A800", 3072), PoolSpec("910B", "Ascend-910B", 2048),
                PoolSpec("CPU", "CPU-node", 2048)),
               min_green_share=0.3, grid_cap_fraction=0.6),
    CenterSpec("YRD_DEMO", "CL_YRDDEMO", "intelligent", "YRD eco-green integration demo zone cluster",
               (PoolSpec("H800", "NVIDIA-H800", 1024), PoolSpec("A800", "NVIDIA-A800", 2048),
                PoolSpec("910B", "Ascend-910B", 1024)),
               min_green_share=0.2, grid_cap_fraction=0.6),
    CenterSpec("WUHU_DC", "CL_WUHU", "general", "Wuhu cluster",
               (PoolSpec("A800", "NVIDIA-A800", 2048), PoolSpec("910B", "Ascend-910B", 1024),
                PoolSpec("CPU", "CPU-node", 1024))),
    CenterSpec("SG_DC", "CL_SG", "general", "Shaoguan cluster",
               (PoolSpec("A800", "NVIDIA-A800", 2048), PoolSpec("910B", "Ascend-910B", 1024))),
    CenterSpec("NSC_GZ", "HUB_GBA", "supercomputing", "NSC Guangzhou - Tianhe-2",
               (PoolSpec("CPU", "CPU-node", 2048),),
               grid_cap_fraction=0.7),
    CenterSpec("NSC_CD", "HUB_CY", "supercomputing", "NSC Chengdu",
               (PoolSpec("CPU", "CPU-node", 1024), PoolSpec("DCU", "Hygon-DCU", 1024))),
    CenterSpec("ICC_CD", "HUB_CY", "intelligent", "Chengdu Intelligent Computing Center",
               (PoolSpec("910B", "Ascend-910B", 2048),)),
    CenterSpec("TF_DC", "CL_TF", "intelligent", "Tianfu cluster",
               (PoolSpec("910B", "Ascend-910B", 2048), PoolSpec("A800", "NVIDIA-A800", 1024))),
    CenterSpec("CQ_DC", "CL_CQ", "general", "Chongqing cluster",
               (PoolSpec("A800", "NVIDIA-A800", 1024), PoolSpec("CPU", "CPU-node", 1024))),
    CenterSpec("GA_DC", "CL_GA", "general", "Gui'an cluster",
               (PoolSpec("A800", "NVIDIA-A800", 3072), PoolSpec("910B", "Ascend-910B", 2048),
                PoolSpec("CPU", "CPU-node", 2048)),
               min_green_share=0.3),
    CenterSpec("HLGE_SC", "CL_HLGE", "supercomputing", "Helinger supercomputing platforms",
               (PoolSpec("CPU", "CPU-node", 4096), PoolSpec("DCU", "Hygon-DCU", 2048))),
    CenterSpec("HLGE_AI", "CL_HLGE", "intelligent", "Helinger cluster (domestic 10k-card clusters)",
               (PoolSpec("910B", "Ascend-910B", 4096), PoolSpec("A800", "NVIDIA-A800", 2048)),
               min_green_share=0.2),
    CenterSpec("QY_SH", "CL_QY", "intelligent", "Qingyang Suihong Huachuang green ICC",
               (PoolSpec("H800", "NVIDIA-H800", 2048), PoolSpec("A800", "NVIDIA-A800", 4096)),
               min_green_share=0.65, green_share_claim=0.65),
    CenterSpec("QY_DOM", "CL_QY", "intelligent", "Qingyang domestic 10k-card project",
               (PoolSpec("910B", "Ascend-910B", 4096),)),
    CenterSpec("ZW_DC", "CL_ZW", "general", "Zhongwei cluster",
               (PoolSpec("A800", "NVIDIA-A800", 3072), PoolSpec("910B", "Ascend-910B", 1024),
                PoolSpec("CPU", "CPU-node", 2048)),
               min_green_share=0.3),
)


EAST_WEST_PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec("beijing", "Beijing", "BJ", ("HUB_BTH",),
                ("ZJK_DC", "HLGE_SC", "HLGE_AI", "ZW_DC", "QY_SH"), budget_pressure=1.2),
    ProgramSpec("shanghai", "Shanghai", "SH", ("HUB_YRD",),
                ("YRD_DEMO", "WUHU_DC", "QY_SH", "QY_DOM", "ZW_DC", "GA_DC"), budget_pressure=1.3),
    # A Greater Bay Area fund run on Xiamen's rules (厦府办规〔2024〕6号):
    # 50 %, annual spend >= 50k yuan, 1M cap.
    ProgramSpec("gba-xiamen-rules", "Xiamen", "GB", ("HUB_GBA",),
                ("NSC_GZ", "SG_DC", "GA_DC", "QY_DOM"), budget_pressure=1.3, min_amount_is="spend"),
    ProgramSpec("chengdu", "Chengdu", "CD", ("HUB_CY",),
                ("NSC_CD", "ICC_CD", "TF_DC", "CQ_DC"), budget_pressure=1.6, min_amount_is="voucher"),
    # Guizhou's voucher pays anyone (in or out of province) buying Guizhou compute;
    # its rate is not published (ESTIMATE 0.3, the 30 % of Shanghai/Hangzhou).
    ProgramSpec("guizhou", "Guizhou (province)", "GZ", EASTERN_HUBS + ("HUB_GZ",),
                ("GA_DC",), budget_pressure=1.5, rate=0.3),
)


EAST_WEST_ENTERPRISE_SHARES = (0.22, 0.28, 0.20, 0.20, 0.10)


#: Per latency class: (share of requests, priority)
EAST_WEST_CLASSES = {"realtime": (0.25, 2.0), "interactive": (0.25, 1.5), "batch": (0.50, 1.0)}


def east_west(
    facts: dict,
    seed: int,
    n_demands: int = 2000,
    periods: int = 24,
    demands_per_enterprise: float = 5.7,
    must_serve: int = 6,
    name: str = "east-west-24h",
) -> InstanceTables:
    """The eight hubs and ten clusters over one day in ``periods`` periods.

    Demand comes mostly from the four eastern hubs. Realtime and interactive
    requests have short windows and must stay near their users; batch
    requests (training, rendering, offline analytics) have long windows and
    may move west, where power is cheaper, greener and less carbon-intensive.
    Green power is hourly (solar, wind or hydro shapes) and some centers have a
    minimum green share or a grid cap.
    """
    rng = np.random.default_rng(seed)
    period_hours = 24.0 / periods
    programs = pd.DataFrame([program_row(facts, p) for p in EAST_WEST_PROGRAMS])
    programs.insert(1, "budget_yuan", 0.0)
    values = programs.set_index("program_id").to_dict("index")

    n_enterprises = max(len(EAST_WEST_PROGRAMS), round(n_demands / demands_per_enterprise))
    counts = [max(1, c) for c in _split_counts(n_enterprises, EAST_WEST_ENTERPRISE_SHARES)]
    frames = []
    for spec, count in zip(EAST_WEST_PROGRAMS, counts):
        mix = EnterpriseMix(
            ineligible=max(1, round(0.04 * count)),
            cap_exhausted=1 if math.isfinite(values[spec.program_id]["enterprise_cap_yuan"]) else 0,
            near_cap=max(1, round(0.03 * count)) if math.isfinite(values[spec.program_id]["enterprise_cap_yuan"]) else 0,
        )
        frames.append(make_enterprises(rng, spec, values[spec.program_id], count, mix))
    enterprises = pd.concat(frames, ignore_index=True)
    homes = _enterprise_homes(rng, enterprises)
    demands = _east_west_demands(rng, enterprises, homes, n_demands, periods, period_hours)

    accelerators = sorted({p.accelerator for c in EAST_WEST_CENTERS for p in c.pools})
    centers = centers_table(facts, EAST_WEST_CENTERS, periods, period_hours)
    inst = InstanceTables(
        toml_text=toml_text(
            name,
            "East Data, West Computing: 8 hubs and 10 clusters, one day in hourly periods, "
            "vouchers modelled on Beijing, Shanghai, Xiamen, Chengdu and Guizhou; "
            "built by instances/build.py from shared/data/china",
            periods, period_hours, 0.05,
        ),
        tables={
            "regions": regions_table(facts, EAST_WEST_REGIONS),
            "latency": latency_table(facts, EAST_WEST_REGIONS),
            "centers": centers,
            "pools": pools_table(facts, EAST_WEST_CENTERS),
            "compatibility": compatibility_table(accelerators),
            "programs": programs,
            "enterprises": enterprises.drop(columns="_status"),
            "demands": demands,
            "program_centers": program_centers_table(EAST_WEST_PROGRAMS),
            "green": _east_west_green(rng, facts, periods, period_hours),
            "capacity": _east_west_capacity(periods, period_hours),
            "rates": empty_rates(),  # one rate per programme; --rates adds rows
        },
    )
    screen = prescreen(inst)
    set_budgets(inst, EAST_WEST_PROGRAMS, screen)
    mark_must_serve(inst, screen, rng, must_serve, max_card_hours=2000)
    return _finish(inst)


def green_shape(kind: str, periods: int, period_hours: float) -> np.ndarray:
    """Share of a day's green energy in each period (sums to 1).

    solar: sin over 06:00-18:00, zero at night, peak at noon; wind: flatter,
    highest around 03:00 (1 + 0.35 cos); hydro: flat. Evaluated at period midpoints.
    """
    hours = (np.arange(periods) + 0.5) * period_hours
    if kind == "solar":
        shape = np.clip(np.sin(np.pi * (hours - 6.0) / 12.0), 0.0, None)
    elif kind == "wind":
        shape = 1.0 + 0.35 * np.cos(2.0 * np.pi * (hours - 3.0) / 24.0)
    else:
        shape = np.ones(periods)
    return shape / shape.sum()


def _east_west_green(rng: np.random.Generator, facts: dict, periods: int, period_hours: float) -> pd.DataFrame:
    rows = []
    for c in EAST_WEST_CENTERS:
        daily = typical_daily_green_kwh(facts, c) * float(rng.uniform(0.85, 1.15))
        shape = green_shape(GREEN_SHAPE.get(c.region_id, "wind"), periods, period_hours)
        rows += [(c.center_id, t, round(daily * float(shape[t]), 1)) for t in range(periods)]
    return pd.DataFrame(rows, columns=["center_id", "period", "green_kwh"])


def _east_west_capacity(periods: int, period_hours: float) -> pd.DataFrame:
    """Per-period card overrides (ESTIMATE, illustrative).

    The YRD demo zone keeps 30 % of its cards for non-voucher customers from
    09:00 to 18:00; NSC Guangzhou's CPU partition has maintenance 02:00-06:00
    (half the nodes).
    """
    rows = []
    centers = {c.center_id: c for c in EAST_WEST_CENTERS}
    for t in range(periods):
        start = t * period_hours
        if 9.0 <= start < 18.0:
            for p in centers["YRD_DEMO"].pools:
                rows.append((f"YRD_DEMO-{p.suffix}", t, int(p.cards * 0.7)))
        if 2.0 <= start < 6.0:
            rows.append(("NSC_GZ-CPU", t, 1024))
    return pd.DataFrame(rows, columns=["pool_id", "period", "cards"]).sort_values(
        ["pool_id", "period"], kind="stable", ignore_index=True
    )


def _enterprise_homes(rng: np.random.Generator, enterprises: pd.DataFrame) -> list[str]:
    """Each enterprise's home hub: its program's main region (Guizhou's: any eastern hub or Guiyang)."""
    by_program = {p.program_id: p for p in EAST_WEST_PROGRAMS}
    homes = []
    for program_id in enterprises["program_id"]:
        regions = by_program[program_id].home_regions
        homes.append(regions[0] if len(regions) == 1 else regions[int(rng.integers(len(regions)))])
    return homes


def _east_west_demands(
    rng: np.random.Generator,
    enterprises: pd.DataFrame,
    homes: list[str],
    n_demands: int,
    periods: int,
    period_hours: float,
) -> pd.DataFrame:
    n_ent = len(enterprises)
    per_enterprise = np.ones(n_ent, dtype=int)
    np.add.at(per_enterprise, rng.choice(n_ent, size=max(0, n_demands - n_ent), replace=True), 1)
    classes = tuple(EAST_WEST_CLASSES)
    class_weights = [EAST_WEST_CLASSES[c][0] for c in classes]
    rows = []
    for i, ent in enumerate(enterprises.itertuples(index=False)):
        main_stack = _choice(rng, STACKS, (0.45, 0.25, 0.10, 0.20))
        for _ in range(per_enterprise[i]):
            stack = main_stack if rng.random() < 0.8 else _choice(rng, STACKS, (0.45, 0.25, 0.10, 0.20))
            weights = class_weights
            if ent.program_id == "guizhou":  # buying remote Guizhou compute: mostly batch
                weights = (0.05, 0.15, 0.80)
            latency_class = _choice(rng, classes, weights)
            home = homes[i]
            if rng.random() < 0.08:  # users served elsewhere, mostly in the west
                home = _choice(rng, WESTERN_HUBS + EASTERN_HUBS, (2, 2, 2, 2, 1, 1, 1, 1))
            rows.append(
                {"enterprise_id": ent.enterprise_id, "home_region": home, "stack": stack,
                 "latency_class": latency_class}
                | _east_west_size_and_window(rng, latency_class, periods, period_hours)
            )
    demands = pd.DataFrame(rows)
    _east_west_short_windows(rng, demands, period_hours)
    demands.insert(0, "demand_id", [f"D{k + 1:05d}" for k in range(len(demands))])
    return demands


def _east_west_size_and_window(
    rng: np.random.Generator, latency_class: str, periods: int, period_hours: float
) -> dict:
    """card_hours, max_cards, release, deadline and priority for one request.

    realtime: 8-128 cards for 1-6 h in the daytime, window = run + 0-1 h;
    interactive: 16-256 cards for 2-8 h, window = run + 1-6 h;
    batch: lognormal card-hours (median 1,000), released 00:00-08:00 with a
    window of 12-24 h and a card cap leaving 30-200 % slack.
    """
    def to_period(hour: float) -> int:
        return min(periods - 1, int(hour // period_hours))

    priority = EAST_WEST_CLASSES[latency_class][1]
    if latency_class == "batch":
        card_hours = _round_card_hours(float(np.clip(rng.lognormal(math.log(1000.0), 0.9), 200.0, 12000.0)))
        start_h = float(rng.integers(0, 9))
        window_h = float(rng.integers(12, 25))
        end_h = min(24.0, start_h + window_h)
        max_cards = _power_of_two_at_least(card_hours / (end_h - start_h) * float(rng.uniform(1.3, 3.0)),
                                           low=8, high=4096)
        return {"card_hours": card_hours, "max_cards": float(max_cards), "release": to_period(start_h),
                "deadline": to_period(end_h - 1e-9), "priority": priority, "must_serve": False}
    if latency_class == "realtime":
        cards = int(_choice(rng, (8, 16, 32, 64, 128), (0.2, 0.3, 0.25, 0.15, 0.1)))
        run_h = float(rng.integers(1, 7))
        slack_h = float(rng.integers(0, 2))
        start_h = float(rng.integers(7, 22))
    else:
        cards = int(_choice(rng, (16, 32, 64, 128, 256), (0.25, 0.3, 0.25, 0.12, 0.08)))
        run_h = float(rng.integers(2, 9))
        slack_h = float(rng.integers(1, 7))
        start_h = float(rng.integers(6, 20))
    end_h = min(24.0, start_h + run_h + slack_h)
    start_h = min(start_h, end_h - run_h)
    card_hours = _round_card_hours(cards * run_h * float(rng.uniform(0.6, 1.0)))
    return {"card_hours": card_hours, "max_cards": float(cards), "release": to_period(start_h),
            "deadline": to_period(end_h - 1e-9), "priority": priority, "must_serve": False}


def _east_west_short_windows(rng: np.random.Generator, demands: pd.DataFrame, period_hours: float) -> None:
    """A few batch jobs whose card cap cannot finish inside their window."""
    batch = demands.index[demands["latency_class"] == "batch"]
    for k in rng.choice(batch, size=min(6, len(batch)), replace=False):
        k = int(k)
        hours = (demands.loc[k, "deadline"] - demands.loc[k, "release"] + 1) * period_hours
        demands.loc[k, "max_cards"] = float(max(1, math.floor(demands.loc[k, "card_hours"] / hours / 1.5)))
