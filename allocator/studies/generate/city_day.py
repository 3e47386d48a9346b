"""The `city` family: one city's voucher programme for a day (Chengdu's, from the shared facts).
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
from allocator.studies.generate.facts import LATENCY_CLASSES, STACKS
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
)

CITY_DAY_REGIONS = ("HUB_CY", "CL_CQ", "C_CQC", "CL_GA", "CL_QY", "C_WH")


CITY_DAY_CENTERS: tuple[CenterSpec, ...] = (
    CenterSpec("NSC_CD", "HUB_CY", "supercomputing", "NSC Chengdu",
               (PoolSpec("CPU", "CPU-node", 4096), PoolSpec("DCU", "Hygon-DCU", 1536)),
               min_green_share=0.3),
    CenterSpec("ICC_CD", "HUB_CY", "intelligent", "Chengdu Intelligent Computing Center",
               (PoolSpec("910B-1", "Ascend-910B", 2048, "low"), PoolSpec("910B-2", "Ascend-910B", 1024, "high")),
               min_green_share=0.3),
    CenterSpec("CQ_DC", "CL_CQ", "general", "Chongqing cluster",
               (PoolSpec("A800", "NVIDIA-A800", 256),)),
    CenterSpec("GA_DC", "CL_GA", "general", "Gui'an cluster",
               (PoolSpec("A800", "NVIDIA-A800", 384),)),
    CenterSpec("QY_SH", "CL_QY", "intelligent", "Qingyang Suihong Huachuang green ICC",
               (PoolSpec("H800", "NVIDIA-H800", 128), PoolSpec("A800", "NVIDIA-A800", 384)),
               min_green_share=0.65, green_share_claim=0.65),
    CenterSpec("WH_AICC", "C_WH", "intelligent", "Wuhan AI Computing Center",
               (PoolSpec("910", "Ascend-910", 256),),
               min_green_share=0.3),
    # Under construction (centers.csv: 2023-11): designated by the Chongqing
    # pilot but with no pools yet, so its requests get no_designated_center.
    CenterSpec("CQ_SSC", "C_CQC", "supercomputing", "Sino-Singapore (Chongqing) supercomputing centre", ()),
)


CITY_DAY_PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec("chengdu", "Chengdu", "CD", ("HUB_CY",), ("NSC_CD", "ICC_CD"), budget_pressure=1.75,
                min_amount_is="voucher"),
    ProgramSpec("chengdu-major-national", "Chengdu (national major project)", "CN", ("HUB_CY",),
                ("NSC_CD", "ICC_CD", "CQ_DC", "GA_DC", "QY_SH", "WH_AICC"), budget_pressure=0.8),
    ProgramSpec("chengdu-major-provincial", "Chengdu (provincial major project)", "CP", ("HUB_CY",),
                ("ICC_CD",), budget_pressure=1.25),
    # 重庆市算力券管理办法(试行), 2025-10: amounts not published in the shared
    # data; the Chengdu template (50 %, 10k minimum voucher, 1M cap) is assumed.
    ProgramSpec("chongqing-pilot", "Chongqing", "CQ", ("C_CQC",), ("CQ_SSC",), budget_pressure=1.0,
                rate=0.5, enterprise_cap_yuan=1_000_000.0, min_voucher_yuan=10_000.0),
)


#: Stack mix per program (CUDA, CANN, DTK, MPI): Chengdu's designated centers are
#: domestic (Ascend, DCU) and CPU, so local users mostly run CANN/DTK/MPI.
CITY_DAY_STACK_WEIGHTS = {
    "chengdu": (0.15, 0.35, 0.20, 0.30),
    "chengdu-major-national": (0.5, 0.3, 0.1, 0.1),
    "chengdu-major-provincial": (0.3, 0.3, 0.2, 0.2),
    "chongqing-pilot": (0.4, 0.2, 0.2, 0.2),
}


def city_day(
    facts: dict,
    seed: int,
    n_demands: int = 300,
    demands_per_enterprise: float = 4.3,
    must_serve: int = 4,
    name: str = "chengdu-day",
) -> InstanceTables:
    """Chengdu's compute-voucher programme for one day (one 24-hour period).

    Programs: ``chengdu`` (50 %, 10k minimum voucher, 1M cap; designates NSC
    Chengdu and the Chengdu ICC), the two 30 % major-project programs (the
    national one also designates the non-local centers), and a Chongqing pilot
    whose only designated center is not yet in service. Budgets are set from
    the generated requests (:func:`set_budgets`) so that ``chengdu``'s binds.
    """
    rng = np.random.default_rng(seed)
    periods, period_hours = 1, 24.0
    programs = pd.DataFrame([program_row(facts, p) for p in CITY_DAY_PROGRAMS])
    programs.insert(1, "budget_yuan", 0.0)
    values = programs.set_index("program_id").to_dict("index")

    n_enterprises = max(len(CITY_DAY_PROGRAMS) * 3, round(n_demands / demands_per_enterprise))
    shares = (0.80, 0.06, 0.09, 0.05)
    ent_counts = [max(2, c) for c in _split_counts(n_enterprises, shares)]
    mixes = (
        EnterpriseMix(ineligible=5, cap_exhausted=2, near_cap=4),
        EnterpriseMix(near_cap=1),
        EnterpriseMix(ineligible=1),
        EnterpriseMix(),
    )
    enterprises = pd.concat(
        [make_enterprises(rng, spec, values[spec.program_id], count, mix)
         for spec, count, mix in zip(CITY_DAY_PROGRAMS, ent_counts, mixes)],
        ignore_index=True,
    )
    demands = _city_day_demands(rng, enterprises, n_demands)
    accelerators = sorted({p.accelerator for c in CITY_DAY_CENTERS for p in c.pools})
    pools = pools_table(facts, CITY_DAY_CENTERS)
    centers = centers_table(facts, CITY_DAY_CENTERS, periods, period_hours)
    inst = InstanceTables(
        toml_text=toml_text(
            name,
            "Chengdu compute-voucher programme (成都算力券), one day's batch of requests; "
            "built by instances/build.py from shared/data/china",
            periods, period_hours, 0.0,
        ),
        tables={
            "regions": regions_table(facts, CITY_DAY_REGIONS),
            "latency": latency_table(facts, CITY_DAY_REGIONS),
            "centers": centers,
            "pools": pools,
            "compatibility": compatibility_table(accelerators),
            "programs": programs,
            "enterprises": enterprises.drop(columns="_status"),
            "demands": demands,
            "program_centers": program_centers_table(CITY_DAY_PROGRAMS),
            "green": _city_day_green(rng, centers),
            # 64 of NSC Chengdu's DCU cards are down for maintenance today (illustrative).
            "capacity": pd.DataFrame({"pool_id": ["NSC_CD-DCU"], "period": [0], "cards": [1472]}),
            "rates": empty_rates(),  # one rate per programme; --rates adds rows
        },
    )
    screen = prescreen(inst)
    set_budgets(inst, CITY_DAY_PROGRAMS, screen)
    mark_must_serve(inst, screen, rng, must_serve, max_card_hours=3000)
    return _finish(inst)


def _city_day_green(rng: np.random.Generator, centers: pd.DataFrame) -> pd.DataFrame:
    """Today's green-power forecast: the typical day x a weather factor in [0.85, 1.15]."""
    rows = []
    for c in centers.itertuples(index=False):
        factor = float(rng.uniform(0.85, 1.15))
        if c.green_kwh > 0:
            rows.append((c.center_id, 0, round(c.green_kwh * factor, 1)))
    return pd.DataFrame(rows, columns=["center_id", "period", "green_kwh"])


def _city_day_demands(rng: np.random.Generator, enterprises: pd.DataFrame, n_demands: int) -> pd.DataFrame:
    """Requests for one 24-hour period.

    Every enterprise gets at least two requests (two get a single tiny one);
    the rest are spread at random. Besides the random draws, a few requests are shaped to exercise each
    pre-screen filter: realtime users outside Chengdu (no pool within 5 ms),
    jobs whose card cap cannot finish in 24 h (window too short), and single
    tiny requests (below the minimum voucher).
    """
    # Two ordinary chengdu enterprises have exactly one tiny request (below the
    # voucher minimum); every other enterprise has at least two requests.
    ordinary = enterprises.index[(enterprises["program_id"] == "chengdu") & (enterprises["_status"] == "ordinary")]
    tiny = [int(i) for i in ordinary[:2]]
    per_enterprise = np.full(len(enterprises), 2, dtype=int)
    per_enterprise[tiny] = 1
    others = np.setdiff1d(np.arange(len(enterprises)), tiny)
    extra = rng.choice(others, size=max(0, n_demands - int(per_enterprise.sum())), replace=True)
    np.add.at(per_enterprise, extra, 1)

    rows = []
    for i, ent in enumerate(enterprises.itertuples(index=False)):
        weights = CITY_DAY_STACK_WEIGHTS[ent.program_id]
        for _ in range(per_enterprise[i]):
            rows.append(_city_day_request(rng, ent, weights, tiny=i in tiny))
    demands = pd.DataFrame(rows)
    _shape_probe_requests(rng, demands, enterprises)
    demands.insert(0, "demand_id", [f"D{k + 1:04d}" for k in range(len(demands))])
    return demands


def _city_day_request(rng: np.random.Generator, ent, stack_weights, tiny: bool) -> dict:
    stack = _choice(rng, STACKS, stack_weights)
    latency_class = _choice(rng, LATENCY_CLASSES, (0.15, 0.30, 0.55))
    home = "C_CQC" if ent.program_id == "chongqing-pilot" else "HUB_CY"
    median = 1800.0 if stack == "MPI" else 650.0
    if ent.program_id.startswith("chengdu-major"):  # major projects run larger jobs
        median *= 3.0
    card_hours = float(np.clip(rng.lognormal(math.log(median), 0.7), 100.0, 12000.0))
    if tiny:
        card_hours = float(rng.uniform(50.0, 300.0))
    card_hours = _round_card_hours(card_hours)
    max_cards = _power_of_two_at_least(card_hours / 24.0 * float(rng.uniform(1.2, 4.0)))
    priority = _choice(rng, (1.0, 1.5, 2.0), (0.7, 0.2, 0.1))
    if ent.program_id.startswith("chengdu-major"):
        priority = 2.0
    return {
        "enterprise_id": ent.enterprise_id,
        "home_region": home,
        "stack": stack,
        "latency_class": latency_class,
        "card_hours": card_hours,
        "max_cards": float(max_cards),
        "release": 0,
        "deadline": 0,
        "priority": priority,
        "must_serve": False,
    }


def _shape_probe_requests(rng: np.random.Generator, demands: pd.DataFrame, enterprises: pd.DataFrame) -> None:
    """Turn a few ordinary requests into ones that fail a specific filter."""
    status = enterprises.set_index("enterprise_id")["_status"]
    program = enterprises.set_index("enterprise_id")["program_id"]
    ordinary = demands.index[
        (demands["enterprise_id"].map(program) == "chengdu")
        & (demands["enterprise_id"].map(status) == "ordinary")
        & (demands["card_hours"] >= 400)
    ]
    picks = [int(k) for k in rng.choice(ordinary, size=min(8, len(ordinary)), replace=False)]
    # Realtime users in Wuhan / Chongqing city: the designated centers are >5 ms away.
    for k, home in zip(picks[:4], ("C_WH", "C_CQC", "C_WH", "C_CQC")):
        demands.loc[k, ["home_region", "latency_class"]] = [home, "realtime"]
    # A card cap that cannot finish the job within the day.
    for k in picks[4:8]:
        ch = demands.loc[k, "card_hours"]
        demands.loc[k, "max_cards"] = float(max(1, math.floor(ch / 24.0 / 1.5)))
    # Provincial major projects designate only the Ascend ICC: MPI/DTK find nothing.
    provincial = demands.index[demands["enterprise_id"].map(program) == "chengdu-major-provincial"]
    for k, stack in zip(provincial[:3], ("MPI", "DTK", "MPI")):
        demands.loc[k, "stack"] = stack
