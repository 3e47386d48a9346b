"""Enterprises, budgets and must-serve requests of a generated instance, and its own pre-screen.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.reading import read_instance
from allocator.instance.screening import screen
from allocator.instance.writing import write_instance_files
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
                "kind": "",  # none; the kinds knob draws them (allocator.studies.generate.rates)
                "_status": status,
            }
        )
    return pd.DataFrame(rows)


def prescreen(inst: InstanceTables) -> pd.DataFrame:
    """Per demand: the SPEC pre-screen reason ('' if some pool remains) and bills.

    The generated tables are read and screened exactly as ``allocator solve`` reads and
    screens an instance (:func:`allocator.instance.screening.screen`: eligibility,
    designated center, compatibility, latency, window fit), then the enterprise-level
    threshold test: ``below_threshold`` when even the dearest feasible pools of all the
    enterprise's screened demands cannot reach the minimum voucher or minimum spend.
    Returns demand_id, enterprise_id, program_id, reason, min_bill_yuan, max_bill_yuan and
    min_claim_yuan, max_claim_yuan (the smallest and largest r(d, p) x bill of R8 over the
    demand's pools; NaN when screened out).
    """
    with tempfile.TemporaryDirectory(prefix="allocator-prescreen-") as tmp:
        write_instance_files(Path(tmp), inst.toml_text, inst.tables)
        scr = screen(read_instance(Path(tmp)))
    demands = inst.tables["demands"][["demand_id", "enterprise_id"]]
    program_of = dict(zip(inst.tables["enterprises"]["enterprise_id"], inst.tables["enterprises"]["program_id"]))
    bills = scr.pairs.groupby("demand_id", sort=False)["bill_yuan"].agg(["min", "max"])
    claims = scr.pairs.groupby("demand_id", sort=False)["claim_yuan"].agg(["min", "max"])
    out = pd.DataFrame({
        "demand_id": demands["demand_id"].to_numpy(),
        "enterprise_id": demands["enterprise_id"].to_numpy(),
        "program_id": demands["enterprise_id"].map(program_of).to_numpy(),
        "reason": demands["demand_id"].map(lambda d: scr.reasons.get(d, "")).to_numpy(),
        "min_bill_yuan": demands["demand_id"].map(bills["min"]).to_numpy(dtype=float),
        "max_bill_yuan": demands["demand_id"].map(bills["max"]).to_numpy(dtype=float),
        "min_claim_yuan": demands["demand_id"].map(claims["min"]).to_numpy(dtype=float),
        "max_claim_yuan": demands["demand_id"].map(claims["max"]).to_numpy(dtype=float),
    })
    return _threshold_reasons(out, inst.tables["enterprises"], inst.tables["programs"])


def _threshold_reasons(screen: pd.DataFrame, enterprises: pd.DataFrame, programs: pd.DataFrame) -> pd.DataFrame:
    ent = enterprises.set_index("enterprise_id")
    prog = programs.set_index("program_id")
    ok = screen[screen["reason"] == ""]
    for e, group in ok.groupby("enterprise_id", sort=True):
        values = _enterprise_terms(ent.loc[e], prog.loc[ent.loc[e, "program_id"]])
        best_subsidy = min(group["max_claim_yuan"].sum(), values["cap_left"])
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
    """Per program: sum over enterprises of min(smallest claims, remaining cap).

    Only demands that pass the pre-screen and threshold count: the subsidy the
    program would pay if every such demand ran at its pool of the smallest claim
    r(d, p) x bill (without rates.csv: its cheapest pool).
    """
    ent = enterprises.set_index("enterprise_id")
    prog = programs.set_index("program_id")
    ok = screen[screen["reason"] == ""]
    totals = {p: 0.0 for p in programs["program_id"]}
    for e, group in ok.groupby("enterprise_id", sort=True):
        p = ent.loc[e, "program_id"]
        values = _enterprise_terms(ent.loc[e], prog.loc[p])
        totals[p] += min(group["min_claim_yuan"].sum(), values["cap_left"])
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
        subsidy = row.min_claim_yuan
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
