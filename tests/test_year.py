"""allocator year on a short year of the small world (tests/year_world.py): six days of about six
requests, the recommended policy; then the same year killed mid-way and resumed.

Everything is checked against the files the year wrote: each day's plan through the independent
checker, the annual funds and caps summed over the ledger and over the plans, the morning
instances against the ledger, lapsing, the tables and the summary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.check.run import check_plan
from allocator.studies.year.compare import run_one
from allocator.studies.year.ledger import YearLedger, ledger_tables
from allocator.studies.year.run import YearOptions
from tests.conftest import REPO
from tests.year_world import write_year

pytestmark = pytest.mark.e2e

DAYS = 6
BACKLOG = [
    {"demand_id": "b1", "enterprise_id": "E1", "home_region": "A", "stack": "cuda", "latency_class": "batch", "card_hours": 4},
    {"demand_id": "b2", "enterprise_id": "E5", "home_region": "A", "stack": "cuda", "latency_class": "batch", "card_hours": 2},
]
# x1: E5 is not eligible, so x1 is never served; it arrives on day 1 and may wait 2 days: planned on
# days 1, 2 and 3, lapsed at the end of day 3.
EXTRA = [{"demand_id": "x1", "enterprise_id": "E5", "home_region": "A", "stack": "cuda", "latency_class": "batch",
          "card_hours": 3, "priority": 1.0, "day": 1, "max_wait_days": "2"}]


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    root = tmp_path_factory.mktemp("year")
    instance, arrivals = write_year(root, seed=3, days=DAYS, per_day=6, budget_g=40.0, budget_h=5.0,
                                    backlog=BACKLOG, extra=EXTRA)
    out = root / "out"
    summary = run_one(instance, arrivals, out, YearOptions(policy="threshold"), resume=False, progress=False)
    return instance, arrivals, out, summary


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"demand_id": str, "pool_id": str})


def test_every_day_plan_passes_the_checker(year):
    _, _, out, _ = year
    days = sorted((out / "days").iterdir())
    assert [d.name for d in days] == [f"{t:03d}" for t in range(DAYS)]
    for day in days:
        report = check_plan(day / "instance", day / "plan")
        assert report.violations == [], f"{day.name}: {report.violations[:5]}"


def test_days_run_the_exact_mip_on_the_matrix_with_the_cost_gap(year):
    """Each day: the exact MIP built as a numpy matrix (DAY_ON_MATRIX), value proven within DAY_GAP."""
    from allocator.studies.year.run import DAY_GAP

    _, _, out, _ = year
    statuses = []
    for day in sorted((out / "days").iterdir()):
        summary = json.loads((day / "plan" / "summary.json").read_text())
        assert summary["method"] == "exact"
        assert any("the exact MIP built as a numpy matrix" in note for note in summary["notes"]), day.name
        statuses.append(summary["status"])
        if summary["status"] == "optimal":
            assert summary["gap"] <= DAY_GAP + 1e-12
    assert "optimal" in statuses  # the gap check above ran


def test_no_fund_and_no_cap_is_exceeded_over_the_year(year):
    """Summed over the ledger in fen, and over the plans' own files in yuan: G's 40 yuan, H's 5 yuan,
    F1's and F2's caps of 3 yuan each. The funds and caps do bind (the test would see an overspend)."""
    _, _, out, _ = year
    with YearLedger(out / "ledger.sqlite") as ledger:
        a = ledger.table("assignments")
    by_program = a.groupby("program_id")["subsidy_fen"].sum()
    assert by_program["G"] <= 4000 and by_program.get("H", 0) <= 500
    by_enterprise = a.groupby("enterprise_id")["subsidy_fen"].sum()
    assert by_enterprise.get("F1", 0) <= 300 and by_enterprise.get("F2", 0) <= 300
    assert by_program["G"] >= 0.9 * 4000  # the fund of G is (nearly) all spent: it binds
    plans = pd.concat([read(out / "days" / f"{t:03d}" / "plan" / "programs.csv").assign(day=t) for t in range(DAYS)])
    spent = plans.groupby("program_id")["subsidy_yuan"].sum()
    assert spent["G"] <= 40.0 + 1e-6 and spent["H"] <= 5.0 + 1e-6
    ents = pd.concat([read(out / "days" / f"{t:03d}" / "plan" / "enterprises.csv") for t in range(DAYS)])
    capped = ents.groupby("enterprise_id")["subsidy_yuan"].sum()
    assert capped.get("F1", 0.0) <= 3.0 + 1e-6 and capped.get("F2", 0.0) <= 3.0 + 1e-6


def test_each_morning_is_the_ledger_of_the_evening_before(year):
    """Day t's instance: budget_yuan is the release of the ledger; subsidy_ytd is the start plus what was
    booked on days before t; its demands are the requests waiting that morning."""
    _, _, out, _ = year
    with YearLedger(out / "ledger.sqlite") as ledger:
        program_days, booked = ledger.table("program_days"), ledger.table("enterprise_ytd")
        requests = ledger.table("requests")
    for t in range(DAYS):
        inst = out / "days" / f"{t:03d}" / "instance"
        budgets = read(inst / "programs.csv").set_index("program_id")["budget_yuan"]
        released = program_days[program_days["day"] == t].set_index("program_id")["released_fen"] / 100.0
        assert np.allclose(budgets.reindex(released.index), released, atol=0)
        ytd = read(inst / "enterprises.csv").set_index("enterprise_id")["subsidy_ytd_yuan"]
        before = booked[booked["day"] < t].groupby("enterprise_id")["subsidy_fen"].sum() / 100.0
        assert np.allclose(ytd, before.reindex(ytd.index).fillna(0.0), atol=1e-9)
        waiting = set(read(inst / "demands.csv")["demand_id"])
        expected = requests[(requests["day_arrived"] <= t) & ~(requests["day_served"] < t)
                            & ~(requests["day_lapsed"] < t)]["demand_id"]
        assert waiting == set(expected)
    left = program_days.groupby("program_id")["remaining_fen"].last()
    assert left["G"] == 4000 - program_days[program_days["program_id"] == "G"]["subsidy_fen"].sum()


def test_lapsing_and_the_backlog(year):
    _, _, out, _ = year
    seen = [t for t in range(DAYS) if "x1" in set(read(out / "days" / f"{t:03d}" / "instance" / "demands.csv")["demand_id"])]
    assert seen == [1, 2, 3]
    requests = read(out / "requests.csv").set_index("demand_id")
    assert requests.at["x1", "reason"] == "lapsed"
    assert requests.at["b2", "reason"] == "ineligible_enterprise"  # backlog never lapses: the last day's reason
    b2_days = [t for t in range(DAYS) if "b2" in set(read(out / "days" / f"{t:03d}" / "instance" / "demands.csv")["demand_id"])]
    assert b2_days == list(range(DAYS))
    with YearLedger(out / "ledger.sqlite") as ledger:
        r = ledger.table("requests")
    lapsed = r[r["status"] == "lapsed"]
    assert len(lapsed) >= 2
    assert (lapsed["day_lapsed"] == lapsed["last_day"]).all()  # at the end of day arrival + max_wait_days


def test_tables_and_summary(year):
    _, _, out, summary = year
    days = read(out / "days.csv")
    assert list(days.columns) == ["day", "program_id", "released_yuan", "subsidy_yuan", "remaining_yuan",
                                  "requests_waiting", "served", "served_value", "lapsed"]
    assert len(days) == DAYS * 2
    requests = read(out / "requests.csv")
    assert list(requests.columns) == ["demand_id", "enterprise_id", "day_arrived", "day_served", "pool_id",
                                      "subsidy_yuan", "reason"]
    assert len(requests) == DAYS * 6 + len(BACKLOG) + len(EXTRA)
    served = requests[requests["reason"] == "served"]
    assert served["day_served"].notna().all() and served["pool_id"].notna().all()
    assert summary["served_value"] == pytest.approx(days["served_value"].sum())
    assert summary["total_subsidy_yuan"] == pytest.approx(requests["subsidy_yuan"].sum())
    assert summary["days"] == DAYS and summary["policy"] == "threshold" and summary["complete"]
    assert summary["hindsight_bound"] >= summary["served_value"]
    g_left = days[days["program_id"] == "G"]["remaining_yuan"].to_numpy()
    ran_out = summary["fund_ran_out_day"]["G"]
    assert ran_out is None or (g_left[ran_out] < 0.4 and (ran_out == 0 or g_left[ran_out - 1] >= 0.4))
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["tool"] == "allocator year" and on_disk["served_value"] == summary["served_value"]
    for chart in ("fund_left", "served_per_month", "quarter_share", "ran_out", "vs_hindsight"):
        assert (out / f"{chart}.png").read_bytes()[:4] == b"\x89PNG"
    assert "threshold" in (out / "year.html").read_text()


def run_until(command: list[str], ledger_path: Path, day: int, sig: int) -> int:
    """Run ``allocator -q COMMAND`` in a subprocess, send ``sig`` once the ledger has committed ``day``;
    the return code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "allocator.cli", "-q", *command], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if ledger_path.is_file():
                with YearLedger(ledger_path) as ledger:
                    if ledger.last_day() >= day:
                        break
            time.sleep(0.05)
        assert process.poll() is None, "the year ended before the signal: " + process.stderr.read().decode()
        process.send_signal(sig)
    finally:
        process.wait()
    return process.returncode


@pytest.mark.slow
def test_resume_after_a_kill_gives_the_uninterrupted_ledger(year, tmp_path):
    """A subprocess runs the same year and is killed (SIGKILL) once two days are committed; the ledger then
    holds whole days only, each matching its plan folder; a resumed run stopped by SIGTERM exits 143; a last
    --resume finishes the year, and every ledger table equals the uninterrupted run's (wall-clock columns aside)."""
    instance, arrivals, reference, _ = year
    out = tmp_path / "killed"
    ledger_path = out / "ledger.sqlite"
    command = ["year", str(instance), "--arrivals", str(arrivals), "-o", str(out), "--policy", "threshold"]
    code = run_until(command, ledger_path, 1, signal.SIGKILL)
    assert code == -signal.SIGKILL
    with YearLedger(ledger_path) as ledger:
        last = ledger.last_day()
        days = ledger.table("days")
    assert 1 <= last < DAYS - 1
    import hashlib

    for row in days.itertuples(index=False):
        summary = out / "days" / f"{row.day:03d}" / "plan" / "summary.json"
        assert hashlib.sha256(summary.read_bytes()).hexdigest() == row.plan_sha256

    # Resumed, then stopped by SIGTERM after one more day: exit 143, the days committed stay.
    if last + 1 < DAYS - 1:
        assert run_until(command + ["--resume"], ledger_path, last + 1, signal.SIGTERM) == 143
        with YearLedger(ledger_path) as ledger:
            assert ledger.last_day() >= last + 1

    from click.testing import CliRunner

    from allocator.cli import main

    result = CliRunner().invoke(main, ["-q", *command, "--resume"])
    assert result.exit_code == 0, result.output
    resumed, uninterrupted = ledger_tables(ledger_path), ledger_tables(reference / "ledger.sqlite")
    for name in uninterrupted:
        if name == "meta":
            continue  # meta holds the bound's timing
        pd.testing.assert_frame_equal(resumed[name], uninterrupted[name], check_dtype=False, obj=name)
    assert sorted(p.name for p in (out / "days").iterdir()) == [f"{t:03d}" for t in range(DAYS)]
