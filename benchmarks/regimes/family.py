"""Write one regime instance: :func:`make_regime_instance`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.writing import instance_toml
from benchmarks.regimes import demand as dm
from benchmarks.regimes import network as net
from benchmarks.regimes.knobs import REGIMES, Knobs, Size, knobs_for, size_named
from benchmarks.regimes.witness import Witness, must_serve
from benchmarks.synthetic import (
    ACCELERATORS,
    CARBON_PRICE_YUAN_PER_KG,
    LATENCY_CLASSES_MS,
)

DEMAND_COLUMNS = ["demand_id", "enterprise_id", "home_region", "stack", "latency_class", "card_hours", "max_cards",
                  "release", "deadline", "priority", "must_serve"]


@dataclass
class Generated:
    """Every table of one instance, its knobs, the demand ratio drawn and the must-serve witness."""

    name: str
    description: str
    periods: int
    period_hours: float
    tables: dict[str, pd.DataFrame | None]
    knobs: Knobs
    demand_ratio: float
    witness: Witness


def generate(regime: str, n_demands: int, n_pools: int, periods: int = 1, seed: int = 0, *,
             n_centers: int | None = None, n_programs: int | None = None) -> Generated:
    """The tables of a regime instance (nothing written); same arguments, same tables."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; one of {', '.join(REGIMES)}")
    if n_demands < 1 or n_pools < 1 or periods < 1:
        raise ValueError("n_demands, n_pools and periods must be at least 1")
    rng = np.random.default_rng([seed, REGIMES.index(regime)])
    network_rng = np.random.default_rng([seed, 1000])  # the same centers and pools for every regime of a seed
    period_hours = 24.0 if periods == 1 else 1.0
    if regime == "national" and n_centers is None:
        n_centers = max(1, round(n_pools * 64 / 95))
    if n_programs is None:
        n_programs = 1 if regime == "national" else int(rng.integers(2, 4))
    n_programs = max(1, min(n_programs, n_demands, 6))
    knobs = knobs_for(regime, n_programs, rng)
    templates = dm.templates_for(knobs, n_programs)

    regions, latency = net.regions_and_latency()
    centers, pools = net.centers_and_pools(network_rng, n_pools, n_centers)
    accelerators = [a for a in ACCELERATORS if a in set(pools["accelerator"])]
    stacks = [ACCELERATORS[a][0] for a in accelerators]
    compat = net.compatibility(network_rng, accelerators)
    program_centers = dm.designated(rng, templates, centers)
    enterprises, demands, shape = dm.enterprises_and_demands(rng, knobs, templates, n_demands, periods, period_hours, stacks,
                                                                list(centers["region_id"]))

    ratio_drawn = math.exp(rng.uniform(*np.log(knobs.demand_ratio)))
    cards = net.capacity_matrix(pools, pd.DataFrame(columns=["pool_id", "period", "cards"]), periods)
    program_of = demands["enterprise_id"].map(enterprises.set_index("enterprise_id")["program_id"]).to_numpy()
    big = dm.usable_cards(demands, program_of, program_centers, pools, centers, compat, cards)
    if knobs.threshold_requests is not None:  # scale cards (and with them card-hours) to the programmes' thresholds
        reach = dm.threshold_bills(knobs, templates)
        program = demands["enterprise_id"].map(enterprises.set_index("enterprise_id")["program_id"])
        t_d = program.map(reach).to_numpy(dtype=float)
        shape = shape * t_d / math.exp(np.log(list(reach.values())).mean())
        ch, _ = dm.size_demands(ratio_drawn, demands, shape, cards, big, period_hours)
        relative = dm.estimated_bills(demands.assign(card_hours=ch), pools, compat) / t_d
        bound = program.isin([t.program_id for g, t in enumerate(templates) if knobs.programs[g].thresholds]).to_numpy().copy()
        bound &= dm.servable(demands, program.to_numpy(), program_centers, pools, compat)
        if not bound.any():
            bound[:] = True
        k = int(rng.integers(knobs.threshold_requests[0], knobs.threshold_requests[1] + 1))
        factor = 1.0 / dm.top_k_median(relative[bound], demands["enterprise_id"].to_numpy()[bound], k)
        pools["cards"] = np.maximum(1.0, np.round(pools["cards"] * factor))
        big = big * factor
    capacity = net.maintenance(rng, pools, periods)
    cards = net.capacity_matrix(pools, capacity, periods)
    ch, ratio = dm.size_demands(ratio_drawn, demands, shape, cards, big, period_hours)
    demands = _card_limits(demands, ch, period_hours)

    bills = dm.estimated_bills(demands, pools, compat)
    programs, ent_table = dm.money(rng, knobs, templates, enterprises, demands, bills)
    centers, green = net.energy(rng, knobs, centers, pools, cards, period_hours)

    shares = {t.program_id: float(rng.uniform(*knobs.programs[g].must_serve_share)) for g, t in enumerate(templates)}
    flags, witness = must_serve(rng, shares, demands, ent_table, programs, pools, centers, compat, program_centers,
                                cards, net.green_matrix(centers, green, periods), period_hours)
    demands["must_serve"] = np.where(flags, "true", "false")

    name = f"regime-{regime}-{n_demands}x{n_pools}x{periods}-s{seed}"
    description = (f"benchmarks/regimes: regime {regime}, {n_demands} demands, {n_pools} pools, {periods} periods, "
                   f"seed {seed}")
    tables: dict[str, pd.DataFrame | None] = {
        "regions": regions,
        "latency": latency,
        "centers": centers,
        "pools": pools,
        "compatibility": compat,
        "programs": programs,
        "enterprises": ent_table,
        "demands": demands[DEMAND_COLUMNS],
        "program_centers": program_centers if not program_centers.empty else None,
        "green": green,
        "capacity": capacity if not capacity.empty else None,
    }
    return Generated(name, description, periods, period_hours, tables, knobs, ratio, witness)


def _card_limits(demands: pd.DataFrame, ch: np.ndarray, period_hours: float) -> pd.DataFrame:
    """Card-hours (2 decimals, at least 0.5) and max_cards: the cards that run a demand in ``fill`` of its window.

    With tight windows the card-hours are raised to fill exactly ``fill`` of max_cards x window,
    so that max_cards binds (a cross-stack pool at efficiency below ``fill`` cannot take it).
    """
    length = (demands["deadline"] - demands["release"] + 1).to_numpy()
    window = length * period_hours
    fill = demands["fill"].to_numpy()
    ch = np.maximum(0.5, np.round(ch, 2))
    max_cards = np.ceil(ch / (window * fill) - 1e-9)
    tight = demands["tight"].to_numpy()
    ch = np.where(tight, np.floor(max_cards * window * fill * 100) / 100, ch)
    max_cards = np.where(demands["limited"].to_numpy(), max_cards, math.inf)
    return demands.assign(card_hours=ch, max_cards=max_cards)


def write(folder: Path | str, gen: Generated) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "instance.toml").write_text(
        instance_toml(gen.name, gen.description, gen.periods, gen.period_hours, LATENCY_CLASSES_MS, 1.0,
                      CARBON_PRICE_YUAN_PER_KG),
        encoding="utf-8")
    for stem, table in gen.tables.items():
        path = folder / f"{stem}.csv"
        if table is None:
            path.unlink(missing_ok=True)
            continue
        table.to_csv(path, index=False, lineterminator="\n", na_rep="")
    return folder


def make_regime_instance(folder: Path | str, regime: str, n_demands: int, n_pools: int, periods: int = 1,
                         seed: int = 0, *, n_centers: int | None = None, n_programs: int | None = None) -> Path:
    """Write a regime instance to ``folder`` (created; files of an older instance replaced); return the folder.

    Byte-identical for the same arguments. One 24-hour period when ``periods == 1``, else hourly periods.
    """
    return write(folder, generate(regime, n_demands, n_pools, periods, seed, n_centers=n_centers, n_programs=n_programs))


def make_sized(folder: Path | str, regime: str, size: Size | str, seed: int = 0) -> Path:
    """:func:`make_regime_instance` at a named size of :data:`benchmarks.regimes.knobs.SIZES` (or ``tiny``)."""
    s = size_named(size, seed) if isinstance(size, str) else size
    return make_regime_instance(folder, regime, s.n_demands, s.n_pools, s.periods, seed,
                                n_centers=s.n_centers, n_programs=s.n_programs)
