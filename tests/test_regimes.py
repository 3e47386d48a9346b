"""The regime suite (benchmarks/regimes): seeded, valid, feasible, and each regime's pressure measured on the files.

Every property is recomputed here from the written instance (read back with
``read_instance``), not taken from the generator's own numbers.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.instance.reading import read_instance
from benchmarks.regimes import (
    REGIMES,
    generate,
    make_regime_instance,
    make_sized,
    size_named,
)
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
    """Per demand: its largest bill at any designated pool that runs its stack (latency ignored), 0 if none."""
    designated = inst.program_centers.groupby("program_id")["center_id"].apply(set).to_dict()
    program = inst.demands["enterprise_id"].map(inst.enterprises.set_index("enterprise_id")["program_id"])
    out = pd.Series(0.0, index=inst.demands["demand_id"].to_numpy())
    for (g, stack), rows in inst.demands.groupby([program.to_numpy(), inst.demands["stack"].to_numpy()]):
        pools = inst.compatibility[inst.compatibility["stack"] == stack].merge(inst.pools, on="accelerator")
        if g in designated:
            pools = pools[pools["center_id"].isin(designated[g])]
        if len(pools):
            per_hour = (pools["price_yuan_per_card_hour"] / pools["efficiency"]).to_numpy()
            bills = rows["card_hours"].to_numpy()[:, None] * per_hour[None, :] + pools["adaptation_yuan"].to_numpy()[None, :]
            out[rows["demand_id"].to_numpy()] = bills.max(axis=1)
    return out


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

        def passes(b: float, r=r, mv=mv, ms=ms) -> bool:
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


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """(generated tables, folder, instance read back) per (regime, size, seed), written once per module."""
    cache: dict[tuple, tuple] = {}
    root = tmp_path_factory.mktemp("regimes")

    def get(regime: str, size: str, seed: int = 0):
        key = (regime, size, seed)
        if key not in cache:
            s = size_named(size, seed)
            gen = generate(regime, s.n_demands, s.n_pools, s.periods, seed, n_centers=s.n_centers, n_programs=s.n_programs)
            folder = write(root / f"{regime}-{size}-{seed}", gen)
            cache[key] = (gen, folder, read_instance(folder))
        return cache[key]

    return get


def witness_violations(gen, folder: Path, plan_dir: Path) -> list[str]:
    """``allocator check`` on the generator's witness plan: serve exactly the placed must-serve demands."""
    from allocator.check.run import check_plan
    from allocator.instance.screening import screen
    from allocator.plan.extract import extract_plan
    from allocator.plan.writing import write_plan

    inst = read_instance(folder)
    sc = screen(inst)
    chosen = pd.DataFrame(gen.witness.assignments, columns=["demand_id", "pool_id"])
    pairs = sc.pairs.merge(chosen, on=["demand_id", "pool_id"])
    assert len(pairs) == len(chosen), "every witness placement is an allowed (demand, pool) pair"
    schedule = pd.DataFrame(gen.witness.schedule, columns=["demand_id", "pool_id", "period", "card_hours"])
    plan = extract_plan(inst, sc, pairs, schedule)
    summary = {
        "instance": inst.name, "instance_sha256": inst.files_sha256, "method": "witness", "solver": "none",
        "solver_version": "0", "status": "feasible", "served_value": plan.served_value, "best_bound": plan.served_value,
        "gap": 0.0, "total_bill_yuan": plan.total_bill_yuan, "total_subsidy_yuan": plan.total_subsidy_yuan,
        "carbon_kg": plan.carbon_kg, "demands_served": len(plan.assignments), "demands_total": len(inst.demands),
        "wall_seconds": {"load": 0.0, "build": 0.0, "solve": 0.0, "write": 0.0},
    }
    write_plan(plan_dir, plan, summary)
    return check_plan(folder, plan_dir).violations


# ----------------------------------------------------------------- seeds and validity


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for regime, size in (("everything", "1500x24"), ("mixed", "1000x1"), ("must-serve", "tiny")):
        a = make_sized(tmp_path / f"{regime}-a", regime, size, 3)
        b = make_sized(tmp_path / f"{regime}-b", regime, size, 3)
        c = make_sized(tmp_path / f"{regime}-c", regime, size, 4)
        assert _digest(a) == _digest(b)
        assert _digest(a) != _digest(c)


def test_rewriting_a_folder_drops_the_tables_the_new_instance_lacks(tmp_path):
    folder = make_regime_instance(tmp_path / "x", "green", 60, 6, 24, seed=1)  # hourly: green.csv
    assert (folder / "green.csv").exists()
    make_regime_instance(folder, "baseline", 60, 6, 1, seed=1)
    assert not (folder / "green.csv").exists() and not (folder / "capacity.csv").exists()


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("size, seeds", [("tiny", (0, 1)), ("1000x1", (0,))])
def test_every_regime_reads_without_errors_or_warnings(written, regime, size, seeds):
    for seed in seeds:
        _, _, inst = written(regime, size, seed)  # read_instance raises on any error
        assert inst.warnings == []
        s = size_named(size, seed)
        assert (len(inst.demands), len(inst.pools), inst.periods) == (s.n_demands, s.n_pools, s.periods)
        if size == "tiny":
            assert 12 <= len(inst.demands) <= 25 and 2 <= len(inst.pools) <= 6 and inst.periods in (1, 3)


def test_sizes_of_the_ladder(written):
    _, _, inst = written("baseline", "1500x24")
    assert (len(inst.demands), len(inst.pools), len(inst.centers), len(inst.programs), inst.periods) == (1500, 29, 18, 5, 24)
    assert inst.period_hours == 1.0


# ----------------------------------------------------------------- each regime's pressure, measured on the files


@pytest.mark.parametrize("size", ["1000x1", "1500x24"])
def test_baseline_binds_nothing_in_particular(written, size):
    _, _, inst = written("baseline", size)
    assert 0.6 <= demand_ratio(inst) <= 1.0
    assert (fund_shares(inst) >= 1.0).all()
    assert (inst.programs["min_voucher_yuan"] == 0).all() and (inst.programs["min_spend_yuan"] == 0).all()
    assert not inst.demands["must_serve"].any()


@pytest.mark.parametrize("size", ["1000x1", "1500x24"])
def test_capacity_regime_asks_3_to_30_times_the_card_hours(written, size):
    assert 3.0 <= demand_ratio(written("capacity", size)[2]) <= 30.0
    assert 1.5 <= demand_ratio(written("capacity", "tiny")[2])  # tiny: as far as 12-25 demands that fit a pool can ask


@pytest.mark.parametrize("size", ["tiny", "1000x1", "1500x24"])
def test_fund_regime_budgets_cover_5_to_30_percent_of_the_claims(written, size):
    shares = fund_shares(written("fund", size)[2])
    assert shares.between(0.05, 0.30).all(), shares.to_dict()


@pytest.mark.parametrize("size", ["tiny", "1000x1", "1500x24"])
def test_threshold_regime_single_requests_miss_the_thresholds(written, size):
    _, _, inst = written("threshold", size)
    programs = inst.programs.set_index("program_id")
    assert programs.at["chengdu", "min_voucher_yuan"] == 10_000.0
    if "xiamen" in programs.index:
        assert programs.at["xiamen", "min_spend_yuan"] == 50_000.0
    blocked, needed = thresholds_alone(inst)
    assert blocked >= 0.5
    assert 2.0 <= needed <= 6.0


@pytest.mark.parametrize("size", ["tiny", "1000x1", "1500x24"])
def test_cap_regime_caps_bind_for_most_enterprises(written, size):
    ent = enterprise_frame(written("cap", size)[2])
    ent = ent[ent["eligible"] & (ent["bill"] > 0)]
    assert (ent["remaining"] < ent["asked"]).mean() >= 0.6
    assert (ent["ytd"] >= 0.75 * ent["cap"]).mean() >= 0.2
    assert fund_shares(written("cap", size)[2]).between(0.6, 0.9).all()  # money is short, so the caps matter


@pytest.mark.parametrize("size", ["tiny", "1000x1", "1500x24"])
def test_green_regime_limits_most_centers(written, size):
    _, _, inst = written("green", size)
    assert green_bound_share(inst) >= 0.6
    if inst.periods > 1:
        assert set(inst.green["center_id"]) == set(inst.centers.loc[inst.centers["green_kwh"] > 0, "center_id"])
    assert green_bound_share(written("baseline", size)[2]) <= 0.3


def test_windows_regime_hourly_windows_are_short_and_full(written):
    length, full = windows_tightness(written("windows", "1500x24")[2])
    assert length <= 4 and full >= 0.6
    length, full = windows_tightness(written("baseline", "1500x24")[2])
    assert length >= 12 and full <= 0.1


def test_windows_regime_one_period_every_demand_has_a_tight_max_cards(written):
    _, _, inst = written("windows", "1000x1")
    assert np.isfinite(inst.demands["max_cards"]).all()
    assert windows_tightness(inst)[1] >= 0.6


@pytest.mark.parametrize("size", ["tiny", "1000x1"])
def test_enterprise_shapes(written, size):
    small = enterprise_frame(written("small-enterprises", size)[2])
    assert small["requests"].between(1, 2).all()
    _, _, inst = written("large-enterprises", size)
    large = enterprise_frame(inst)
    per_program = inst.demands.groupby(inst.demands["enterprise_id"].map(large["program_id"])).size()
    assert (large["requests"] >= np.minimum(50, large["program_id"].map(per_program))).all()


@pytest.mark.parametrize("regime, size, share", [
    ("must-serve", "1000x1", 0.2), ("must-serve", "1500x24", 0.15), ("must-serve", "tiny", 0.05),
    ("everything", "1000x1", 0.005), ("mixed", "1000x1", 0.0),
])
def test_must_serve_demands_have_a_witness_plan_that_passes_check(written, tmp_path, regime, size, share):
    gen, folder, inst = written(regime, size)
    flagged = set(inst.demands.loc[inst.demands["must_serve"], "demand_id"])
    assert len(flagged) >= share * len(inst.demands)
    assert flagged == {d for d, _ in gen.witness.assignments}
    assert witness_violations(gen, folder, tmp_path / "plan") == []


def test_everything_regime_has_every_pressure(written):
    _, _, inst = written("everything", "1000x1")
    assert demand_ratio(inst) >= 2.0
    assert (fund_shares(inst) <= 0.35).all()
    assert thresholds_alone(inst)[0] >= 0.5
    assert green_bound_share(inst) >= 0.6
    assert windows_tightness(inst)[1] >= 0.6
    ent = enterprise_frame(inst)
    assert (ent.loc[ent["eligible"], "remaining"] < ent.loc[ent["eligible"], "asked"]).mean() >= 0.5
    assert inst.demands["must_serve"].any()


def test_mixed_regime_blends_pressures_per_programme_and_region():
    from benchmarks.regimes.knobs import knobs_for

    seen_programs, seen_regions = set(), set()
    for seed in range(10):
        knobs = knobs_for("mixed", 5, np.random.default_rng(seed))
        programs = {(p.fund_share, p.thresholds, p.cap_binding, p.shape, p.must_serve_share) for p in knobs.programs}
        regions = {(r.green, r.windows, r.demand_weight) for r in knobs.regions.values()}
        assert len(programs) >= 2 or len(regions) >= 2  # a blend, not one regime everywhere
        seen_programs |= programs
        seen_regions |= regions
    assert any(p[0][1] < 0.5 for p in seen_programs) and any(p[1] for p in seen_programs) and any(p[2] for p in seen_programs)
    assert {p[3] for p in seen_programs} >= {"small", "large"} and any(p[4][1] > 0 for p in seen_programs)
    assert any(r[0] for r in seen_regions) and any(r[1] for r in seen_regions) and any(r[2] > 1 for r in seen_regions)


def test_national_day_matches_the_issue(written):
    _, _, inst = written("national", "national")
    assert (len(inst.demands), len(inst.pools), len(inst.centers), inst.periods) == (10_000, 95, 64, 1)
    assert list(inst.programs["program_id"]) == ["national"]
    program = inst.programs.iloc[0]
    assert (program["budget_yuan"], program["min_voucher_yuan"], program["min_spend_yuan"]) == (117_000.0, 500.0, 3_000.0)
    ent = enterprise_frame(inst)
    assert 2_200 <= len(ent) <= 2_800 and ent["requests"].median() == 4
    assert 15.0 <= demand_ratio(inst) <= 25.0
    assert (inst.centers["min_green_share"] > 0).mean() >= 0.6
    assert np.isfinite(inst.centers["grid_kwh_cap"]).mean() >= 0.6
    blocked, needed = thresholds_alone(inst)
    assert blocked >= 0.3 and needed >= 2  # the 3,000 yuan minimum spend binds for most enterprises


def test_write_command_writes_the_named_size(tmp_path):
    from benchmarks.regimes.run import main

    assert main(["write", "--regime", "threshold", "--size", "tiny", "--seed", "2", "-o", str(tmp_path / "cli")]) == 0
    assert _digest(tmp_path / "cli") == _digest(make_sized(tmp_path / "py", "threshold", "tiny", 2))


def test_table_row_reads_a_measured_row():
    from benchmarks.regimes.run import row_text

    row = {"regime": "fund", "size": "1000x1", "method": "exact", "value": 16468.2, "bound": 16470.0, "gap_pct": 0.011,
           "wall_s": 23.04, "peak_mb": 298.4, "check": "valid", "violations": 0, "alone_value": None,
           "alone_bound": 16500.0, "alone_s": 20.1, "alone_s_to_our_value": None}
    assert row_text(row) == "| fund | 1000x1 | exact | 16,468 | 16,470 | 0.01 | 23.0 | 298 | valid | no plan | 16,500 | never in 20 s |"
