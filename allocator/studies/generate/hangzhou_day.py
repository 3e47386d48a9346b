"""A Hangzhou-style day: a compute voucher that pays more on domestic accelerators (the bundled ``hangzhou-day``).

Hangzhou's 支持人工智能全产业链高质量发展若干措施 (2024-07) pays up to 30 % of a compute contract
on domestic compute and up to 20 % on other compute, at most 8 M yuan per firm per year, out of
250 M yuan a year (shared/data/china/subsidy_policies.csv, row Hangzhou). Here that is programme
``hangzhou`` with rates.csv rows 0.3 for every domestic accelerator and 0.2 for every other one
(:func:`allocator.studies.generate.rates.add_rates`, the ``--rates domestic=0.3,other=0.2`` knob of
``allocator generate``), and enterprises with kinds (the ``--kinds`` knob) so that plans can be
read by kind and kind rates swept.

The requests come from Hangzhou (C_HZ); the pools are in the Yangtze River Delta (within the
5 ms realtime limit of Hangzhou) and in the Qingyang cluster (batch work only): NVIDIA A800/H800
in the YRD eco-green demo zone, Hygon DCU and CPU nodes at NSC Kunshan, Ascend 910B in the Wuhu
cluster and in Qingyang's domestic 10k-card project. Most requests run CUDA, so a domestic card
costs them the porting loss and the adaptation fee of facts.COMPATIBILITY: the question the
instance asks is what the domestic rate does to where the work runs and to what the fund buys.
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
    make_enterprises,
    mark_must_serve,
    prescreen,
    set_budgets,
)
from allocator.studies.generate.facts import LATENCY_CLASSES, STACKS
from allocator.studies.generate.rates import add_rates, set_kinds
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

HANGZHOU_REGIONS = ("C_HZ", "CL_YRDDEMO", "C_KS", "CL_WUHU", "CL_QY")


HANGZHOU_CENTERS: tuple[CenterSpec, ...] = (
    CenterSpec("YRD_DC", "CL_YRDDEMO", "general", "YRD eco-green integration demo zone cluster",
               (PoolSpec("A800", "NVIDIA-A800", 768), PoolSpec("H800", "NVIDIA-H800", 128))),
    CenterSpec("NSC_KS", "C_KS", "supercomputing", "NSC Kunshan (Sugon, reported)",
               (PoolSpec("DCU", "Hygon-DCU", 512), PoolSpec("CPU", "CPU-node", 1024))),
    CenterSpec("WUHU_ICC", "CL_WUHU", "intelligent", "Wuhu cluster",
               (PoolSpec("910B", "Ascend-910B", 768),)),
    CenterSpec("QY_DOM", "CL_QY", "intelligent", "Qingyang domestic 10k-card project",
               (PoolSpec("910B", "Ascend-910B", 768),), min_green_share=0.3),
)


HANGZHOU_PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec("hangzhou", "Hangzhou", "HZ", ("C_HZ",), tuple(c.center_id for c in HANGZHOU_CENTERS),
                budget_pressure=2.0),
)


#: The Hangzhou pattern: 30 % on domestic compute, 20 % on other compute (subsidy_policies.csv).
HANGZHOU_RATES: tuple[tuple[str, float], ...] = (("domestic", 0.3), ("other", 0.2))


#: ESTIMATE: who applies (no published breakdown; an AI-startup city).
HANGZHOU_KINDS: tuple[tuple[str, float], ...] = (("startup", 0.4), ("sme", 0.35), ("large", 0.15), ("university", 0.1))


#: ESTIMATE: stack mix of Hangzhou's AI firms (CUDA, CANN, DTK, MPI).
HANGZHOU_STACK_WEIGHTS = (0.6, 0.2, 0.1, 0.1)


def hangzhou_day(
    facts: dict,
    seed: int,
    n_demands: int = 160,
    demands_per_enterprise: float = 4.0,
    must_serve: int = 3,
    name: str = "hangzhou-day",
) -> InstanceTables:
    """Hangzhou's compute voucher for one day (one 24-hour period): programme ``hangzhou`` (8 M cap),
    rates.csv 0.3 on domestic accelerators and 0.2 on others, enterprises with kinds; the budget is
    set from the requests (1 / 2 of what they would claim) so that it binds."""
    rng = np.random.default_rng(seed)
    periods, period_hours = 1, 24.0
    programs = pd.DataFrame([program_row(facts, p) for p in HANGZHOU_PROGRAMS])
    programs.insert(1, "budget_yuan", 0.0)
    values = programs.set_index("program_id").to_dict("index")
    n_enterprises = max(6, round(n_demands / demands_per_enterprise))
    enterprises = make_enterprises(rng, HANGZHOU_PROGRAMS[0], values["hangzhou"], n_enterprises,
                                   EnterpriseMix(ineligible=2, near_cap=2))
    demands = _requests(rng, enterprises, n_demands)
    accelerators = sorted({p.accelerator for c in HANGZHOU_CENTERS for p in c.pools})
    inst = InstanceTables(
        toml_text=toml_text(
            name,
            "Hangzhou compute voucher (杭州算力券): 30 % on domestic, 20 % on other compute; one day's batch of "
            "requests; built by instances/build.py from shared/data/china",
            periods, period_hours, 0.0,
        ),
        tables={
            "regions": regions_table(facts, HANGZHOU_REGIONS),
            "latency": latency_table(facts, HANGZHOU_REGIONS),
            "centers": centers_table(facts, HANGZHOU_CENTERS, periods, period_hours),
            "pools": pools_table(facts, HANGZHOU_CENTERS),
            "compatibility": compatibility_table(accelerators),
            "programs": programs,
            "enterprises": enterprises.drop(columns="_status"),
            "demands": demands,
            "program_centers": program_centers_table(HANGZHOU_PROGRAMS),
            "green": pd.DataFrame(columns=["center_id", "period", "green_kwh"]),
            "capacity": pd.DataFrame(columns=["pool_id", "period", "cards"]),
        },
    )
    set_kinds(inst, HANGZHOU_KINDS, rng)
    add_rates(inst, HANGZHOU_RATES)
    screen = prescreen(inst)
    set_budgets(inst, HANGZHOU_PROGRAMS, screen)
    mark_must_serve(inst, screen, rng, must_serve, max_card_hours=2000)
    return _finish(inst)


def _requests(rng: np.random.Generator, enterprises: pd.DataFrame, n_demands: int) -> pd.DataFrame:
    """Every enterprise gets at least two requests, the rest at random; sizes lognormal around 600
    card-hours (ESTIMATE), a card cap that finishes the job within 24 h at 1.2-4x its average."""
    per_enterprise = np.full(len(enterprises), 2, dtype=int)
    extra = rng.choice(len(enterprises), size=max(0, n_demands - int(per_enterprise.sum())), replace=True)
    np.add.at(per_enterprise, extra, 1)
    rows = []
    for i, ent in enumerate(enterprises.itertuples(index=False)):
        for _ in range(per_enterprise[i]):
            stack = _choice(rng, STACKS, HANGZHOU_STACK_WEIGHTS)
            latency_class = _choice(rng, LATENCY_CLASSES, (0.15, 0.30, 0.55))
            card_hours = _round_card_hours(float(np.clip(rng.lognormal(math.log(600.0), 0.8), 60.0, 10000.0)))
            rows.append({
                "enterprise_id": ent.enterprise_id,
                "home_region": "C_HZ",
                "stack": stack,
                "latency_class": latency_class,
                "card_hours": card_hours,
                "max_cards": float(_power_of_two_at_least(card_hours / 24.0 * float(rng.uniform(1.2, 4.0)))),
                "release": 0,
                "deadline": 0,
                "priority": _choice(rng, (1.0, 1.5, 2.0), (0.7, 0.2, 0.1)),
                "must_serve": False,
            })
    demands = pd.DataFrame(rows)
    demands.insert(0, "demand_id", [f"H{k + 1:04d}" for k in range(len(demands))])
    return demands
