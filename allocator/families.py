"""Deterministic instance generators built on the shared China facts.

Two families are defined here (see ``instances/*/README.md`` for the story and
every number's source):

* :func:`city_day` -- one city's compute-voucher programme for one day
  (one 24-hour period; the bundled ``chengdu-day``).
* :func:`east_west` -- the eight national hubs and ten clusters of "East Data,
  West Computing" over a day of hourly periods (the bundled ``east-west-24h``).

Both take the facts of :func:`load_china_facts` and a seed and return an
:class:`InstanceTables`; :func:`write_instance` writes it as an instance folder
of shared/SPEC.md. Randomness comes only from ``numpy.random.default_rng(seed)``
drawn in a fixed order, and every table is built from ordered sequences, so the
same facts and seed give byte-identical files.

Conventions: public facts (prices, power, renewable shares, policy parameters,
latency) are read from the shared CSVs; the constants below marked ESTIMATE are
modelling choices, documented in the instance READMEs.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.schema import TABLE_BY_STEM, TABLES

INF = math.inf

# --------------------------------------------------------------------------
# Modelling constants (ESTIMATEs unless a source is named)
# --------------------------------------------------------------------------

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


@dataclass(frozen=True)
class PoolSpec:
    suffix: str  # pool_id = f"{center_id}-{suffix}"
    accelerator: str
    cards: int
    power: str = "mid"  # which end of accelerators.csv's power range: low, mid, high


@dataclass(frozen=True)
class CenterSpec:
    center_id: str
    region_id: str
    kind: str  # supercomputing, intelligent, general
    name: str  # the facility, as in centers.csv / regions.csv
    pools: tuple[PoolSpec, ...]
    min_green_share: float = 0.0
    green_share_claim: float | None = None  # a published green share above the province's
    grid_cap_fraction: float | None = None  # grid cap as a share of full-load energy


@dataclass(frozen=True)
class ProgramSpec:
    program_id: str
    policy_city: str | None  # row of subsidy_policies.csv (column `city`)
    prefix: str  # enterprise id prefix
    home_regions: tuple[str, ...]  # where its enterprises are (first = main)
    centers: tuple[str, ...]  # designated centers
    budget_pressure: float  # requested subsidy / budget
    rate: float | None = None  # overrides / fills the policy row (ESTIMATE)
    enterprise_cap_yuan: float | None = None
    min_voucher_yuan: float | None = None
    min_spend_yuan: float | None = None
    min_amount_is: str | None = None  # what the policy's min_amount_yuan means: "voucher" or "spend"


@dataclass
class InstanceTables:
    """An instance in memory: the instance.toml text and its tables by stem."""

    toml_text: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


# --------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Tables shared by both families
# --------------------------------------------------------------------------


def regions_table(facts: dict, region_ids: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_id": list(region_ids),
            "grid_carbon_kg_per_kwh": [grid_carbon_kg_per_kwh(facts, r) for r in region_ids],
        }
    )


def latency_table(facts: dict, region_ids: Sequence[str]) -> pd.DataFrame:
    """RTT of every unordered pair of distinct regions (the matrix is symmetric)."""
    matrix = facts["latency_ms"]
    rows = [
        (a, b, round(float(matrix.loc[a, b]), 1))
        for i, a in enumerate(region_ids)
        for b in region_ids[i + 1 :]
    ]
    return pd.DataFrame(rows, columns=["from_region", "to_region", "rtt_ms"])


def compatibility_table(accelerators: Iterable[str]) -> pd.DataFrame:
    """The COMPATIBILITY rows whose accelerator occurs in the instance."""
    present = set(accelerators)
    rows = [
        (stack, acc, eff, ADAPTATION_YUAN[family] if family else 0.0)
        for stack, acc, eff, family in COMPATIBILITY
        if acc in present
    ]
    return pd.DataFrame(rows, columns=["stack", "accelerator", "efficiency", "adaptation_yuan"])


def pools_table(facts: dict, centers: Sequence[CenterSpec]) -> pd.DataFrame:
    rows = [
        (
            f"{c.center_id}-{p.suffix}",
            c.center_id,
            p.accelerator,
            p.cards,
            price_yuan_per_card_hour(facts, p.accelerator, c.region_id),
            kw_per_card(facts, p.accelerator, p.power),
        )
        for c in centers
        for p in c.pools
    ]
    return pd.DataFrame(
        rows,
        columns=["pool_id", "center_id", "accelerator", "cards", "price_yuan_per_card_hour", "kw_per_card"],
    )


def full_load_kw(facts: dict, center: CenterSpec) -> float:
    """Facility power of a center with every card busy: sum cards * kW * PUE."""
    return sum(p.cards * kw_per_card(facts, p.accelerator, p.power) for p in center.pools) * pue(
        facts, center.region_id
    )


def typical_daily_green_kwh(facts: dict, center: CenterSpec) -> float:
    """ESTIMATE: renewable share x energy of a typical day (TYPICAL_UTILISATION load).

    The share is the region's renewable_share, or the center's published green
    share when that is higher (``green_share_claim``).
    """
    share = float(facts["regions"].loc[center.region_id, "renewable_share"])
    if center.green_share_claim is not None:
        share = max(share, center.green_share_claim)
    return share * full_load_kw(facts, center) * 24.0 * TYPICAL_UTILISATION


def centers_table(
    facts: dict, centers: Sequence[CenterSpec], periods: int, period_hours: float
) -> pd.DataFrame:
    """centers.csv; green_kwh is the typical day's green energy spread evenly per period."""
    rows = []
    for c in centers:
        green_per_period = typical_daily_green_kwh(facts, c) * period_hours / 24.0
        cap = INF
        if c.grid_cap_fraction is not None:
            cap = round(c.grid_cap_fraction * full_load_kw(facts, c) * period_hours, 1)
        rows.append(
            (
                c.center_id,
                c.region_id,
                c.kind,
                pue(facts, c.region_id),
                round(green_per_period, 1),
                c.min_green_share,
                cap,
            )
        )
    return pd.DataFrame(
        rows,
        columns=["center_id", "region_id", "kind", "pue", "green_kwh", "min_green_share", "grid_kwh_cap"],
    )


def program_row(facts: dict, spec: ProgramSpec) -> dict:
    """A programs.csv row (without budget) from the policy row and the spec's overrides.

    The policy's `min_amount_yuan` means a minimum voucher for Chengdu and a
    minimum annual spend for Xiamen; ``spec.min_amount_is`` says which.
    """
    row = {"program_id": spec.program_id, "rate": spec.rate, "enterprise_cap_yuan": spec.enterprise_cap_yuan,
           "min_voucher_yuan": spec.min_voucher_yuan, "min_spend_yuan": spec.min_spend_yuan}
    if spec.policy_city is not None:
        policy = facts["policies"].loc[spec.policy_city]
        if row["rate"] is None:
            row["rate"] = float(policy["rate"])
        if row["enterprise_cap_yuan"] is None and not pd.isna(policy["per_entity_cap_yuan"]):
            row["enterprise_cap_yuan"] = float(policy["per_entity_cap_yuan"])
        if spec.min_amount_is is not None:
            row[f"min_{spec.min_amount_is}_yuan"] = float(policy["min_amount_yuan"])
    for key, default in (("enterprise_cap_yuan", INF), ("min_voucher_yuan", 0.0), ("min_spend_yuan", 0.0)):
        if row[key] is None:
            row[key] = default
    return row


def program_centers_table(programs: Sequence[ProgramSpec]) -> pd.DataFrame:
    rows = [(p.program_id, c) for p in programs for c in p.centers]
    return pd.DataFrame(rows, columns=["program_id", "center_id"])


def toml_text(name: str, description: str, periods: int, period_hours: float, carbon_price: float) -> str:
    """instance.toml with the SPEC's default latency classes and intra-region RTT."""
    return (
        "schema = 1\n"
        f"name = {json.dumps(name, ensure_ascii=False)}\n"
        f"description = {json.dumps(description, ensure_ascii=False)}\n"
        "\n[horizon]\n"
        f"periods = {periods}\n"
        f"period_hours = {float(period_hours)!r}\n"
        "\n[latency_classes]\n"
        "realtime = 5.0\n"
        "interactive = 20.0\n"
        "batch = inf\n"
        "\n[network]\n"
        "intra_region_rtt_ms = 1.0\n"
        "\n[objective]\n"
        f"carbon_price_yuan_per_kg = {float(carbon_price)!r}\n"
    )


# --------------------------------------------------------------------------
# Enterprises
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class EnterpriseMix:
    """How many enterprises have each special status (the rest are ordinary)."""

    ineligible: int = 0
    cap_exhausted: int = 0  # remaining cap below the minimum voucher
    near_cap: int = 0  # remaining cap of a few tens of thousands of yuan


def make_enterprises(
    rng: np.random.Generator,
    program: ProgramSpec,
    program_values: dict,
    count: int,
    mix: EnterpriseMix,
    start: int = 1,
) -> pd.DataFrame:
    """Enterprises of one program with year-to-date subsidy and spend.

    Statuses are drawn by shuffling a fixed list (special statuses first
    when ``count`` is too small for all of them); subsidy_ytd of ordinary
    enterprises is 0 for about half and otherwise up to 60 % of the cap;
    spend_ytd is consistent with it (spend >= subsidy / rate).
    """
    statuses = (
        ["ineligible"] * mix.ineligible
        + ["cap_exhausted"] * mix.cap_exhausted
        + ["near_cap"] * mix.near_cap
    )
    statuses = statuses[:count] + ["ordinary"] * max(0, count - len(statuses))
    statuses = list(rng.permutation(np.array(statuses, dtype=object)))
    rate = program_values["rate"]
    cap = program_values["enterprise_cap_yuan"]
    nominal_cap = cap if math.isfinite(cap) else 2_000_000.0
    rows = []
    for i, status in enumerate(statuses):
        ytd = 0.0
        if status == "cap_exhausted":
            ytd = cap - float(rng.uniform(0.0, 0.8)) * program_values["min_voucher_yuan"]
        elif status == "near_cap":
            ytd = cap - float(rng.uniform(20_000.0, 60_000.0))
        elif rng.random() < 0.5:
            ytd = float(rng.uniform(0.0, 0.6)) * nominal_cap
        spend = 0.0
        if ytd > 0:
            spend = ytd / rate * float(rng.uniform(1.0, 1.5))
        elif rng.random() < 0.25:  # bought compute without a voucher so far
            spend = float(rng.uniform(5_000.0, 80_000.0))
        rows.append(
            {
                "enterprise_id": f"{program.prefix}-E{start + i:03d}",
                "program_id": program.program_id,
                "eligible": status != "ineligible",
                "rate": None,  # the program's
                "cap_yuan": None,  # the program's
                "subsidy_ytd_yuan": round(max(ytd, 0.0), -2),
                "spend_ytd_yuan": round(spend, -2),
                "_status": status,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Pre-screen (used to size budgets and pick must-serve demands)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pool:
    pool_id: str
    center_id: str
    region_id: str
    accelerator: str
    price_yuan_per_card_hour: float
    cards_by_period: tuple[float, ...]


def prescreen(inst: InstanceTables) -> pd.DataFrame:
    """Per demand: the SPEC pre-screen reason ('' if some pool remains) and bills.

    Follows the filter order of shared/SPEC.md (eligibility, designated center,
    compatibility, latency, window fit) and then the enterprise-level
    threshold test: ``below_threshold`` when even the dearest feasible pools of
    all the enterprise's screened demands cannot reach the minimum voucher or
    minimum spend. Returns demand_id, enterprise_id, program_id, reason,
    min_bill_yuan and max_bill_yuan (NaN when screened out).
    """
    cfg = tomllib.loads(inst.toml_text)
    periods = int(cfg["horizon"]["periods"])
    period_hours = float(cfg["horizon"]["period_hours"])
    limits = {k: float(v) for k, v in cfg["latency_classes"].items()}
    intra = float(cfg["network"]["intra_region_rtt_ms"])
    t = inst.tables

    rtt: dict[tuple[str, str], float] = {}
    for a, b, ms in t["latency"][["from_region", "to_region", "rtt_ms"]].itertuples(index=False):
        rtt[(a, b)] = float(ms)
        rtt.setdefault((b, a), float(ms))

    def rtt_ms(a: str, b: str) -> float:
        return rtt.get((a, b), intra if a == b else INF)

    pools = _pool_list(t, periods)
    comp = {(s, a): (float(e), float(y)) for s, a, e, y in t["compatibility"].itertuples(index=False)}
    designated: dict[str, set[str]] = {}
    for prog, center in t["program_centers"].itertuples(index=False):
        designated.setdefault(prog, set()).add(center)
    program_of = dict(zip(t["enterprises"]["enterprise_id"], t["enterprises"]["program_id"]))
    eligible = dict(zip(t["enterprises"]["enterprise_id"], t["enterprises"]["eligible"]))

    rows = []
    for d in t["demands"].itertuples(index=False):
        prog = program_of[d.enterprise_id]
        if not bool(eligible[d.enterprise_id]):
            reason, bills = "ineligible_enterprise", []
        else:
            centers = designated.get(prog)
            cand = [p for p in pools if centers is None or p.center_id in centers]
            reason, bills = _screen_pools(d, cand, comp, rtt_ms, limits[d.latency_class], period_hours)
        rows.append((d.demand_id, d.enterprise_id, prog, reason,
                     min(bills) if bills else math.nan, max(bills) if bills else math.nan))
    out = pd.DataFrame(rows, columns=["demand_id", "enterprise_id", "program_id", "reason",
                                      "min_bill_yuan", "max_bill_yuan"])
    return _threshold_reasons(out, t["enterprises"], t["programs"])


def _pool_list(tables: dict[str, pd.DataFrame], periods: int) -> list[_Pool]:
    region_of = dict(zip(tables["centers"]["center_id"], tables["centers"]["region_id"]))
    cards = {p: [float(c)] * periods for p, c in zip(tables["pools"]["pool_id"], tables["pools"]["cards"])}
    for p, period, c in tables["capacity"][["pool_id", "period", "cards"]].itertuples(index=False):
        cards[p][int(period)] = float(c)
    return [
        _Pool(p.pool_id, p.center_id, region_of[p.center_id], p.accelerator,
              float(p.price_yuan_per_card_hour), tuple(cards[p.pool_id]))
        for p in tables["pools"].itertuples(index=False)
    ]


def _screen_pools(d, cand: list[_Pool], comp, rtt_ms, limit_ms: float, period_hours: float):
    """Filters 2-5 of the SPEC on one demand's candidate pools: (reason, bills of the fits)."""
    if not cand:
        return "no_designated_center", []
    cand = [p for p in cand if (d.stack, p.accelerator) in comp]
    if not cand:
        return "no_compatible_pool", []
    cand = [p for p in cand if rtt_ms(d.home_region, p.region_id) <= limit_ms]
    if not cand:
        return "no_pool_within_latency", []
    bills = []
    for p in cand:
        eff, adapt = comp[(d.stack, p.accelerator)]
        usage = d.card_hours / eff
        window = p.cards_by_period[int(d.release) : int(d.deadline) + 1]
        room = sum(min(d.max_cards, c) * period_hours for c in window)
        if room >= usage * (1 - 1e-9):
            bills.append(usage * p.price_yuan_per_card_hour + adapt)
    if not bills:
        return "window_too_short", []
    return "", bills


def _threshold_reasons(screen: pd.DataFrame, enterprises: pd.DataFrame, programs: pd.DataFrame) -> pd.DataFrame:
    ent = enterprises.set_index("enterprise_id")
    prog = programs.set_index("program_id")
    ok = screen[screen["reason"] == ""]
    for e, group in ok.groupby("enterprise_id", sort=True):
        values = _enterprise_terms(ent.loc[e], prog.loc[ent.loc[e, "program_id"]])
        best_subsidy = min(values["rate"] * group["max_bill_yuan"].sum(), values["cap_left"])
        spend = values["spend_ytd"] + group["max_bill_yuan"].sum()
        if best_subsidy < values["min_voucher"] or spend < values["min_spend"]:
            screen.loc[group.index, "reason"] = "below_threshold"
    return screen


def _enterprise_terms(enterprise: pd.Series, program: pd.Series) -> dict:
    rate = program["rate"] if pd.isna(enterprise["rate"]) else enterprise["rate"]
    cap = program["enterprise_cap_yuan"] if pd.isna(enterprise["cap_yuan"]) else enterprise["cap_yuan"]
    return {
        "rate": float(rate),
        "cap_left": max(0.0, float(cap) - float(enterprise["subsidy_ytd_yuan"])),
        "min_voucher": float(program["min_voucher_yuan"]),
        "min_spend": float(program["min_spend_yuan"]),
        "spend_ytd": float(enterprise["spend_ytd_yuan"]),
    }


def requested_subsidy_yuan(screen: pd.DataFrame, enterprises: pd.DataFrame, programs: pd.DataFrame) -> pd.Series:
    """Per program: sum over enterprises of min(rate x cheapest bills, remaining cap).

    Only demands that pass the pre-screen and threshold count: the subsidy the
    program would pay if every such demand ran at its cheapest feasible pool.
    """
    ent = enterprises.set_index("enterprise_id")
    prog = programs.set_index("program_id")
    ok = screen[screen["reason"] == ""]
    totals = {p: 0.0 for p in programs["program_id"]}
    for e, group in ok.groupby("enterprise_id", sort=True):
        p = ent.loc[e, "program_id"]
        values = _enterprise_terms(ent.loc[e], prog.loc[p])
        totals[p] += min(values["rate"] * group["min_bill_yuan"].sum(), values["cap_left"])
    return pd.Series(totals)


def set_budgets(inst: InstanceTables, specs: Sequence[ProgramSpec], screen: pd.DataFrame) -> pd.Series:
    """budget_yuan = requested subsidy / budget_pressure, rounded to 10,000 yuan."""
    requested = requested_subsidy_yuan(screen, inst.tables["enterprises"], inst.tables["programs"])
    pressure = {s.program_id: s.budget_pressure for s in specs}
    programs = inst.tables["programs"]
    programs["budget_yuan"] = [
        max(10_000.0, round(requested[p] / pressure[p], -4)) for p in programs["program_id"]
    ]
    return requested


def mark_must_serve(
    inst: InstanceTables, screen: pd.DataFrame, rng: np.random.Generator, count: int,
    max_card_hours: float,
) -> None:
    """Mark ``count`` demands must_serve among those that are safely servable alone.

    A candidate passes the pre-screen, its own cheapest bill earns at least the
    minimum voucher, its enterprise's remaining cap covers that, and it is
    small (at most ``max_card_hours``); at most one per enterprise.
    """
    t = inst.tables
    ent = t["enterprises"].set_index("enterprise_id")
    prog = t["programs"].set_index("program_id")
    demands = t["demands"].set_index("demand_id")
    candidates = []
    for row in screen[screen["reason"] == ""].itertuples(index=False):
        values = _enterprise_terms(ent.loc[row.enterprise_id], prog.loc[row.program_id])
        subsidy = values["rate"] * row.min_bill_yuan
        if (
            subsidy >= 1.5 * values["min_voucher"]
            and values["cap_left"] >= 2 * max(subsidy, values["min_voucher"])
            and values["spend_ytd"] >= values["min_spend"]
            and demands.loc[row.demand_id, "card_hours"] <= max_card_hours
        ):
            candidates.append((row.demand_id, row.enterprise_id))
    chosen: list[str] = []
    used: set[str] = set()
    for k in rng.permutation(len(candidates)):
        demand_id, enterprise_id = candidates[int(k)]
        if enterprise_id not in used and len(chosen) < count:
            chosen.append(demand_id)
            used.add(enterprise_id)
    t["demands"]["must_serve"] = t["demands"]["demand_id"].isin(chosen)


# --------------------------------------------------------------------------
# Demand helpers
# --------------------------------------------------------------------------


def _choice(rng: np.random.Generator, options: Sequence, weights: Sequence[float]):
    w = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def _round_card_hours(x: float) -> float:
    """Card-hours to a whole number, 10s above 100."""
    return float(round(x, -1)) if x >= 100 else float(max(1, round(x)))


def _power_of_two_at_least(x: float, low: int = 4, high: int = 1024) -> int:
    n = low
    while n < x and n < high:
        n *= 2
    return n


def _split_counts(total: int, weights: Sequence[float]) -> list[int]:
    """Integers summing to ``total`` in proportion to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    raw = w * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - int(counts.sum())]:
        counts[i] += 1
    return [int(c) for c in counts]


# --------------------------------------------------------------------------
# Family 1: one city's voucher programme for one day
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Family 2: east data, west computing over a day of hourly periods
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Bundled instances
# --------------------------------------------------------------------------

#: name -> (generator, seed) of the instances shipped in ``instances/``.
#: Seeds are dates: the Chengdu policy report (2023-01-12) and the approval of
#: the eight hubs (2022-02-24).
BUNDLED: dict[str, tuple[Callable[..., InstanceTables], int]] = {
    "chengdu-day": (city_day, 20230112),
    "east-west-24h": (east_west, 20220224),
}


def bundled_instance(name: str, facts: dict) -> InstanceTables:
    """The bundled instance ``name`` regenerated from ``facts``."""
    generator, seed = BUNDLED[name]
    return generator(facts, seed, name=name)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def _finish(inst: InstanceTables) -> InstanceTables:
    """Order columns as in the schema and sort rows by key where order is free."""
    for stem, df in inst.tables.items():
        columns = TABLE_BY_STEM[stem].column_names
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{stem}: generator left out columns {missing}")
        inst.tables[stem] = df[columns].reset_index(drop=True)
    return inst


def format_value(value: object) -> str:
    """One CSV cell: true/false, integers as is, floats fixed-point without trailing zeros, inf, '' for missing."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        text = f"{x:.6f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def table_csv_text(df: pd.DataFrame) -> str:
    """The CSV text of a table, cells formatted by :func:`format_value`."""
    cells = df.astype(object).apply(lambda col: col.map(format_value))
    return cells.to_csv(index=False, lineterminator="\n")


def write_instance(folder: Path, inst: InstanceTables) -> list[Path]:
    """Write instance.toml and one CSV per table into ``folder``; return the paths.

    Stale ``<stem>.csv`` / ``<stem>.parquet`` files of schema tables that the
    instance does not have are removed, so a folder always equals its instance.
    Other files (a README) are left alone.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "instance.toml"]
    written[0].write_text(inst.toml_text, encoding="utf-8", newline="\n")
    for table in TABLES:
        csv_path, parquet_path = folder / f"{table.stem}.csv", folder / f"{table.stem}.parquet"
        parquet_path.unlink(missing_ok=True)
        if table.stem not in inst.tables:
            csv_path.unlink(missing_ok=True)
            continue
        csv_path.write_text(table_csv_text(inst.tables[table.stem]), encoding="utf-8", newline="\n")
        written.append(csv_path)
    return written
