"""Enterprises, budgets and must-serve requests of a generated instance, and its own pre-screen.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.studies.generate.facts import INF
from allocator.studies.generate.tables import InstanceTables, ProgramSpec


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
