"""The regime suite (benchmarks/regimes): seeded, valid, feasible, and each regime's pressure measured on the files.

Every property is recomputed here from the written instance (read back with
``read_instance``), not taken from the generator's own numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.reading import read_instance
from benchmarks.regimes import REGIMES, generate, make_regime_instance, make_sized, size_named
from benchmarks.regimes.family import write

LIMIT_MS = {"realtime": 5.0, "interactive": 20.0, "batch": math.inf}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------- measurements from the files


def cards_matrix(inst) -> np.ndarray:
    cards = np.repeat(inst.pools["cards"].to_numpy(float)[:, None], inst.periods, axis=1)
    index = {p: i for i, p in enumerate(inst.pools["pool_id"])}
    cap = inst.capacity
    if len(cap):
        cards[cap["pool_id"].map(index).to_numpy(), cap["period"].to_numpy(int)] = cap["cards"].to_numpy(float)
    return cards


def demand_ratio(inst) -> float:
    """Requested card-hours over the card-hours on offer in the horizon."""
    return float(inst.demands["card_hours"].sum() / (cards_matrix(inst).sum() * inst.period_hours))


def estimated_bills(inst) -> pd.Series:
    """Per demand: card-hours at the mean price of its stack's native accelerator (all pools' mean if none)."""
    compat = inst.compatibility
    native = dict(zip(compat.loc[compat["efficiency"] >= 1.0, "stack"], compat.loc[compat["efficiency"] >= 1.0, "accelerator"]))
    mean_price = inst.pools.groupby("accelerator")["price_yuan_per_card_hour"].mean()
    overall = inst.pools["price_yuan_per_card_hour"].mean()
    price = inst.demands["stack"].map(lambda s: mean_price.get(native.get(s, ""), overall))
    return pd.Series((inst.demands["card_hours"] * price).to_numpy(), index=inst.demands["demand_id"])


def enterprise_frame(inst) -> pd.DataFrame:
    """Per enterprise: programme, rate, C_e, estimated bill, asked (rate x bill), claim (min(asked, C_e)), requests."""
    bill = estimated_bills(inst).groupby(inst.demands["enterprise_id"].to_numpy()).sum()
    ent = inst.enterprises.set_index("enterprise_id")
    out = pd.DataFrame({
        "program_id": ent["program_id"],
        "eligible": ent["eligible"].astype(bool),
        "rate": ent["rate"],
        "cap": ent["cap_yuan"],
        "ytd": ent["subsidy_ytd_yuan"],
        "spend_ytd": ent["spend_ytd_yuan"],
        "remaining": (ent["cap_yuan"] - ent["subsidy_ytd_yuan"]).clip(lower=0.0),
        "bill": bill.reindex(ent.index).fillna(0.0),
        "requests": inst.demands.groupby("enterprise_id").size().reindex(ent.index).fillna(0).astype(int),
    })
    out["asked"] = out["rate"] * out["bill"]
    out["claim"] = np.minimum(out["asked"], out["remaining"])
    return out


def fund_shares(inst) -> pd.Series:
    """Per programme: budget over the claims of its eligible enterprises if every demand were served."""
    ent = enterprise_frame(inst)
    claim = ent[ent["eligible"]].groupby("program_id")["claim"].sum()
    return inst.programs.set_index("program_id")["budget_yuan"] / claim


def max_bills(inst) -> pd.Series:
    """Per demand: its largest bill at any designated, compatible pool (latency ignored), 0 if none."""
    designated = inst.program_centers.groupby("program_id")["center_id"].apply(set).to_dict()
    program_of = inst.enterprises.set_index("enterprise_id")["program_id"]
    pools = inst.pools
    out = {}
    for d in inst.demands.itertuples(index=False):
        g = program_of[d.enterprise_id]
        rows = inst.compatibility[inst.compatibility["stack"] == d.stack].merge(pools, on="accelerator")
        if g in designated:
            rows = rows[rows["center_id"].isin(designated[g])]
        bills = d.card_hours / rows["efficiency"] * rows["price_yuan_per_card_hour"] + rows["adaptation_yuan"]
        out[d.demand_id] = float(bills.max()) if len(bills) else 0.0
    return pd.Series(out)


def thresholds_alone(inst) -> tuple[float, float]:
    """R8's thresholds against single requests and against enterprises, over eligible enterprises' requests.

    Returns (share of the requests with some compatible designated pool that miss the min voucher or
    the min spend alone even at their dearest pool, median over enterprises of the number of their
    requests, largest estimated bills first, it takes to meet them; enterprises that never do left out).
    """
    ent = enterprise_frame(inst)
    prog = inst.programs.set_index("program_id")
    d = inst.demands.assign(dearest=inst.demands["demand_id"].map(max_bills(inst)),
                            bill=inst.demands["demand_id"].map(estimated_bills(inst)))
    d = d[d["enterprise_id"].map(ent["eligible"]) & (d["dearest"] > 0)]
    blocked, needed = [], []
    for e, rows in d.groupby("enterprise_id"):
        r = ent.loc[e]
        mv, ms = prog.at[r["program_id"], "min_voucher_yuan"], prog.at[r["program_id"], "min_spend_yuan"]

        def passes(b: float) -> bool:
            return b > 0 and min(r["rate"] * b, r["remaining"]) >= mv and r["spend_ytd"] + b >= ms

        blocked += [not passes(b) for b in rows["dearest"]]
        total = np.cumsum(np.sort(rows["bill"].to_numpy())[::-1])
        k = next((i + 1 for i, b in enumerate(total) if passes(b)), None)
        if k is not None:
            needed.append(k)
    return float(np.mean(blocked)), float(np.median(needed)) if needed else math.inf


def green_bound_share(inst) -> float:
    """Share of centers whose R6 limits (green share, grid cap) keep their energy below full load."""
    cards = cards_matrix(inst)
    pools = inst.pools
    full = pd.DataFrame(cards * pools["kw_per_card"].to_numpy()[:, None] * inst.period_hours).groupby(pools["center_id"].to_numpy()).sum()
    bound = []
    for c in inst.centers.itertuples(index=False):
        peak = full.loc[c.center_id].to_numpy() * c.pue if c.center_id in full.index else np.zeros(inst.periods)
        g = inst.green[inst.green["center_id"] == c.center_id].sort_values("period")["green_kwh"].to_numpy()
        green = g if len(g) == inst.periods else np.full(inst.periods, c.green_kwh)
        limit = np.minimum(peak, green + c.grid_kwh_cap).sum()
        if c.min_green_share > 0:
            limit = min(limit, green.sum() / c.min_green_share)
        bound.append(limit < 0.9 * peak.sum())
    return float(np.mean(bound))


def windows_tightness(inst) -> tuple[float, float]:
    """(median window length in periods, share of demands filling at least 75 % of max_cards x window)."""
    d = inst.demands
    length = d["deadline"] - d["release"] + 1
    fill = d["card_hours"] / (d["max_cards"] * inst.period_hours * length)
    return float(length.median()), float((fill >= 0.75).mean())


# --------------------------------------------------------------------------- tests

pytestmark = pytest.mark.unit
