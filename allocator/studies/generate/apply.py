"""The knobs the China families do not take themselves, applied to a drawn instance.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from allocator.instance.schema import TABLE_BY_STEM
from allocator.instance.writing import instance_toml as write_toml
from allocator.studies.generate.enterprises import (
    mark_must_serve,
    prescreen,
    requested_subsidy_yuan,
    set_budgets,
)
from allocator.studies.generate.knobs import (
    STREAM_CLASSES,
    STREAM_KINDS,
    STREAM_MUST_SERVE,
    STREAM_STACKS,
    ChinaFamily,
    GenerateError,
    Knobs,
)
from allocator.studies.generate.rates import add_rates, set_kinds
from allocator.studies.generate.tables import InstanceTables

#: Knobs whose post-processing changes which demands can be served, so that
#: must-serve demands and budgets are chosen again on the final tables.
STRUCTURAL_KNOBS = ("programmes", "centers", "pools_per_center", "periods", "stack_mix", "latency_mix",
                    "capacity_ratio", "green_ratio", "kinds", "rates")


def apply_knobs(inst: InstanceTables, spec: ChinaFamily, seed: int, knobs: Knobs) -> None:
    """Post-process a China family's tables for the knobs it does not take itself, in this order:
    programmes, centers, pools per center, periods, stack mix, latency mix, capacity ratio,
    green ratio, enterprise kinds, rates.csv rows; then must-serve demands and budgets are chosen
    again on the final tables (the rates change what each request claims)."""
    demands = len(inst.tables["demands"])
    must_serve_count = (int(inst.tables["demands"]["must_serve"].sum()) if knobs.must_serve_share is None
                        else round(knobs.must_serve_share * demands))
    if knobs.programmes is not None:
        merge_programmes(inst, knobs.programmes)
    if knobs.centers is not None:
        select_centers(inst, knobs.centers)
    if knobs.pools_per_center is not None:
        set_pools_per_center(inst, knobs.pools_per_center)
    if knobs.periods is not None and not spec.native_periods:
        split_day(inst, knobs.periods)
    if knobs.stack_mix is not None:
        redraw(inst, "stack", knobs.stack_mix, np.random.default_rng((seed, STREAM_STACKS)))
    if knobs.latency_mix is not None:
        redraw(inst, "latency_class", knobs.latency_mix, np.random.default_rng((seed, STREAM_CLASSES)))
    if knobs.capacity_ratio is not None:
        scale_capacity(inst, knobs.capacity_ratio)
    if knobs.green_ratio is not None:
        scale_green(inst, knobs.green_ratio)
    if knobs.kinds is not None:
        set_kinds(inst, knobs.kinds, np.random.default_rng((seed, STREAM_KINDS)))
    if knobs.rates is not None:
        add_rates(inst, knobs.rates)
    structural = any(getattr(knobs, k) is not None for k in STRUCTURAL_KNOBS
                     if not (k == "periods" and spec.native_periods))
    if not structural and knobs.budget_ratio is None:
        return  # the family's own tables, untouched
    screen = prescreen(inst)
    if structural:
        rng = np.random.default_rng((seed, STREAM_MUST_SERVE))
        mark_must_serve(inst, screen, rng, must_serve_count, max_card_hours=spec.must_serve_card_hours)
    if knobs.budget_ratio is not None:
        set_budget_ratio(inst, screen, knobs.budget_ratio)
    else:
        present = set(inst.tables["programs"]["program_id"])
        set_budgets(inst, [p for p in spec.programme_specs if p.program_id in present], screen)


def merge_programmes(inst: InstanceTables, count: int) -> None:
    """Keep the first ``count`` programmes; the enterprises of the others join them in turn.

    Programme j beyond ``count`` (0-based) hands its enterprises, with their
    demands, to kept programme ``j mod count``; its rows in programs.csv and
    program_centers.csv go. Demand count and sizes are unchanged.
    """
    t = inst.tables
    ids = list(t["programs"]["program_id"])
    if count > len(ids):
        raise GenerateError(f"--programmes: this family has {len(ids)} programmes, not {count}")
    kept = ids[:count]
    new_home = {old: kept[j % count] for j, old in enumerate(ids)}
    t["enterprises"]["program_id"] = t["enterprises"]["program_id"].map(new_home)
    t["programs"] = t["programs"][t["programs"]["program_id"].isin(kept)].reset_index(drop=True)
    pc = t.get("program_centers")
    if pc is not None:
        t["program_centers"] = pc[pc["program_id"].isin(kept)].reset_index(drop=True)


def spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over 0..n-1 (first and last included when k > 1)."""
    if k >= n:
        return list(range(n))
    if k == 1:
        return [0]
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)})


def select_centers(inst: InstanceTables, count: int) -> None:
    """Keep ``count`` centers spread evenly over the family's list (centers with pools first).

    Their pools, capacity overrides, green rows and designations go with the
    dropped centers. A programme left with no designated center has no rows in
    program_centers.csv, which the SPEC reads as "every center".
    """
    t = inst.tables
    centers = t["centers"]
    with_pools = [c for c in centers["center_id"] if c in set(t["pools"]["center_id"])]
    without = [c for c in centers["center_id"] if c not in set(with_pools)]
    if count > len(centers):
        raise GenerateError(f"--centers: this family has {len(centers)} centers, not {count}")
    chosen = [with_pools[i] for i in spread(len(with_pools), count)] + without[: max(0, count - len(with_pools))]
    keep = set(chosen)
    t["centers"] = centers[centers["center_id"].isin(keep)].reset_index(drop=True)
    t["pools"] = t["pools"][t["pools"]["center_id"].isin(keep)].reset_index(drop=True)
    _drop_missing_pools(t)
    for stem in ("green", "program_centers"):
        if stem in t:
            t[stem] = t[stem][t[stem]["center_id"].isin(keep)].reset_index(drop=True)


def _drop_missing_pools(t: dict[str, pd.DataFrame]) -> None:
    """Drop capacity overrides of pools that went, and compatibility rows of accelerators no pool has."""
    if "capacity" in t:
        t["capacity"] = t["capacity"][t["capacity"]["pool_id"].isin(set(t["pools"]["pool_id"]))].reset_index(drop=True)
    comp = t["compatibility"]
    t["compatibility"] = comp[comp["accelerator"].isin(set(t["pools"]["accelerator"]))].reset_index(drop=True)


def set_pools_per_center(inst: InstanceTables, per_center: int) -> None:
    """Give every center that has pools exactly ``per_center`` pools.

    Fewer than the family's: the first ones are kept. More: the family's pools
    are split into partitions of (nearly) equal cards, ``POOL-p1``, ``POOL-p2``...,
    the first pools getting one partition more; capacity overrides are split the
    same way, so the center's cards are unchanged.
    """
    t = inst.tables
    rows, capacity_rows = [], []
    overrides = t.get("capacity", pd.DataFrame(columns=["pool_id", "period", "cards"]))
    for _, group in t["pools"].groupby("center_id", sort=False):
        for (_, pool), parts in zip(group.iterrows(), partitions(len(group), per_center)):
            if parts == 0:
                continue
            ids = [pool["pool_id"]] if parts == 1 else [f"{pool['pool_id']}-p{r + 1}" for r in range(parts)]
            cards = split_evenly(pool["cards"], parts)
            if min(cards) < 1:
                raise GenerateError(f"--pools-per-center: pool {pool['pool_id']} has too few cards to split in {parts}")
            rows += [pool.to_dict() | {"pool_id": pool_id, "cards": c} for pool_id, c in zip(ids, cards)]
            for period, override in zip(*(overrides.loc[overrides["pool_id"] == pool["pool_id"], k] for k in ("period", "cards"))):
                capacity_rows += [(pool_id, period, c) for pool_id, c in zip(ids, split_evenly(override, parts))]
    t["pools"] = pd.DataFrame(rows, columns=t["pools"].columns)
    if "capacity" in t:
        t["capacity"] = pd.DataFrame(capacity_rows, columns=["pool_id", "period", "cards"])
    _drop_missing_pools(t)


def partitions(native: int, wanted: int) -> list[int]:
    """How many pools each of a center's ``native`` pools becomes so that there are ``wanted``.

    ``wanted <= native``: the first ``wanted`` stay (1), the others go (0);
    more: every pool splits in ``wanted // native`` parts, the first ones in one more.
    """
    if wanted <= native:
        return [1] * wanted + [0] * (native - wanted)
    return [wanted // native + (1 if i < wanted % native else 0) for i in range(native)]


def split_evenly(total: float, parts: int) -> list[float]:
    """Whole cards summing to ``total`` in ``parts`` nearly equal shares (larger shares first).

    One part keeps ``total`` as it is (whole or not).
    """
    if parts == 1:
        return [total]
    whole = int(total)
    return [whole // parts + (1 if i < whole % parts else 0) for i in range(parts)]


def split_day(inst: InstanceTables, periods: int) -> None:
    """Turn a one-period day into ``periods`` equal periods.

    Every demand may run in any of them (release 0, deadline periods-1; its
    max_cards caps each period). Per-period energy figures (green_kwh, grid cap,
    green.csv) are divided evenly; card overrides apply to every period.
    """
    settings = tomllib.loads(inst.toml_text)
    if int(settings["horizon"]["periods"]) != 1:
        raise GenerateError("--periods: only a one-period family can be split")
    if periods == 1:
        return
    t = inst.tables
    hours = float(settings["horizon"]["period_hours"])
    centers = t["centers"]
    centers["green_kwh"] = (centers["green_kwh"] / periods).round(1)
    centers["grid_kwh_cap"] = centers["grid_kwh_cap"] / periods
    if "green" in t:
        g = t["green"]
        t["green"] = pd.DataFrame(
            [(c, p, round(kwh / periods, 1)) for c, kwh in zip(g["center_id"], g["green_kwh"]) for p in range(periods)],
            columns=["center_id", "period", "green_kwh"])
    if "capacity" in t:
        cap = t["capacity"]
        t["capacity"] = pd.DataFrame(
            [(pool, p, cards) for pool, cards in zip(cap["pool_id"], cap["cards"]) for p in range(periods)],
            columns=["pool_id", "period", "cards"])
    t["demands"]["release"] = 0
    t["demands"]["deadline"] = periods - 1
    settings["horizon"]["periods"] = periods
    settings["horizon"]["period_hours"] = hours / periods
    inst.toml_text = instance_toml(settings["name"], settings.get("description", ""), settings)


def redraw(inst: InstanceTables, column: str, mix: Sequence[tuple[str, float]], rng: np.random.Generator) -> None:
    """Give the demands that are not must-serve exactly the ``mix`` proportions of ``column``.

    Counts are the mix times the number of such demands, rounded by largest
    remainder; which demand gets which value is a random permutation. Must-serve
    demands keep theirs, so the family's feasibility guarantee holds.
    """
    known = _known_values(inst, column)
    unknown = [k for k, _ in mix if k not in known]
    if unknown:
        raise GenerateError(f"--{'stack-mix' if column == 'stack' else 'latency-mix'}: unknown {column} "
                            f"{', '.join(unknown)} (known: {', '.join(sorted(known))})")
    demands = inst.tables["demands"]
    free = np.flatnonzero(~demands["must_serve"].to_numpy(dtype=bool))
    counts = largest_remainder(len(free), [w for _, w in mix])
    values = np.array([label for (label, _), c in zip(mix, counts) for _ in range(c)], dtype=object)
    demands.loc[demands.index[free], column] = values[rng.permutation(len(values))]


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Whole counts summing to ``total`` in proportion to ``weights`` (ties to the earlier item)."""
    share = np.asarray(weights, dtype=float) / float(np.sum(weights)) * total
    counts = np.floor(share).astype(int)
    for i in np.argsort(-(share - counts), kind="stable")[: total - int(counts.sum())]:
        counts[i] += 1
    return [int(c) for c in counts]


def _known_values(inst: InstanceTables, column: str) -> set[str]:
    if column == "stack":
        return set(inst.tables["compatibility"]["stack"])
    settings = tomllib.loads(inst.toml_text)
    return set(settings.get("latency_classes", {})) | {"realtime", "interactive", "batch"}


def horizon(inst: InstanceTables) -> tuple[int, float]:
    settings = tomllib.loads(inst.toml_text)
    return int(settings["horizon"]["periods"]), float(settings["horizon"]["period_hours"])


def capacity_card_hours(t: dict[str, pd.DataFrame], periods: int, period_hours: float) -> float:
    """Cards of every pool in every period (with overrides) times the period length."""
    cards = dict(zip(t["pools"]["pool_id"], t["pools"]["cards"].astype(float)))
    total = sum(cards.values()) * periods
    if "capacity" in t:
        for pool, card_count in zip(t["capacity"]["pool_id"], t["capacity"]["cards"]):
            total += float(card_count) - cards[pool]
    return total * period_hours


def scale_capacity(inst: InstanceTables, ratio: float) -> None:
    """Scale every pool's cards (and overrides) so that capacity = ratio x demanded card-hours.

    Capacity is sum over pools and periods of cards x period_hours; demand is
    the sum of card_hours. Cards stay whole numbers (at least 1 per pool), so
    the ratio holds to within that rounding.
    """
    t = inst.tables
    periods, period_hours = horizon(inst)
    now = capacity_card_hours(t, periods, period_hours)
    if now <= 0:
        raise GenerateError("--capacity-ratio: the family has no capacity to scale")
    factor = ratio * float(t["demands"]["card_hours"].sum()) / now
    t["pools"]["cards"] = [max(1, int(round(c * factor))) for c in t["pools"]["cards"]]
    if "capacity" in t:
        t["capacity"]["cards"] = [max(0, int(round(c * factor))) for c in t["capacity"]["cards"]]


def demand_energy_kwh(t: dict[str, pd.DataFrame]) -> float:
    """Energy the whole demand would draw at an average pool: card_hours x mean(kW per card x PUE)."""
    pue = t["pools"]["center_id"].map(t["centers"].set_index("center_id")["pue"])
    return float(t["demands"]["card_hours"].sum()) * float((t["pools"]["kw_per_card"] * pue).mean())


def scale_green(inst: InstanceTables, ratio: float) -> None:
    """Scale green energy so that its total over centers and periods = ratio x the demand's energy.

    Per-period rows (green.csv) and the centers' default green_kwh scale by the
    same factor. Green power only binds at centers with a min_green_share or a
    grid cap (and prices carbon when the instance has a carbon price).
    """
    t = inst.tables
    periods, _ = horizon(inst)
    default = dict(zip(t["centers"]["center_id"], t["centers"]["green_kwh"].astype(float)))
    per_period = {(c, p): default[c] for c in default for p in range(periods)}
    if "green" in t:
        per_period.update({(c, int(p)): float(g) for c, p, g in zip(t["green"]["center_id"], t["green"]["period"], t["green"]["green_kwh"])})
    total = sum(per_period.values())
    target = ratio * demand_energy_kwh(t)
    if total <= 0:  # nothing to scale: spread the target evenly
        t["centers"]["green_kwh"] = round(target / (len(default) * periods), 1)
        t.pop("green", None)
        return
    factor = target / total
    t["centers"]["green_kwh"] = (t["centers"]["green_kwh"] * factor).round(1)
    if "green" in t:
        t["green"]["green_kwh"] = (t["green"]["green_kwh"] * factor).round(1)


def set_budget_ratio(inst: InstanceTables, screen: pd.DataFrame, ratio: float) -> None:
    """budget_yuan = ratio x the subsidy the programme's servable demands would request, to the yuan.

    The request is :func:`allocator.studies.generate.enterprises.requested_subsidy_yuan`: every demand
    that passes the pre-screen at its cheapest feasible pool, capped per enterprise.
    """
    t = inst.tables
    requested = requested_subsidy_yuan(screen, t["enterprises"], t["programs"])
    t["programs"]["budget_yuan"] = [float(round(ratio * requested[p])) for p in t["programs"]["program_id"]]


def ordered_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Schema columns in schema order, rows renumbered."""
    out = {}
    for stem, df in tables.items():
        columns = TABLE_BY_STEM[stem].column_names
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise GenerateError(f"{stem}: generated table lacks columns {missing}")
        out[stem] = df[columns].reset_index(drop=True)
    return out


def instance_toml(name: str, description: str, settings: dict) -> str:
    """instance.toml from parsed settings, with a new name and description."""
    return write_toml(
        name, description, int(settings["horizon"]["periods"]), settings["horizon"]["period_hours"],
        latency_classes_ms=settings.get("latency_classes", {"realtime": 5.0, "interactive": 20.0, "batch": math.inf}),
        intra_region_rtt_ms=settings.get("network", {}).get("intra_region_rtt_ms", 1.0),
        carbon_price_yuan_per_kg=settings.get("objective", {}).get("carbon_price_yuan_per_kg", 0.0),
    )
