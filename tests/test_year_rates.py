"""A year over an instance with rates.csv (hangzhou-day: 30 % on domestic hardware, 20 % on other):
every day's plan passes the checker against its day's instance, the fund is never overspent, and the
served value stays under the hindsight bound, whose fund rows price R8's claims per pair."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from tests.conftest import REPO, check_plan_files

pytestmark = pytest.mark.e2e


def test_a_year_over_rates_csv(tmp_path):
    instance = tmp_path / "instance"
    shutil.copytree(REPO / "instances" / "hangzhou-day", instance)
    demands = pd.read_csv(instance / "demands.csv", dtype=str, keep_default_na=False)
    demands["must_serve"] = "false"
    demands.iloc[:40].to_csv(instance / "demands.csv", index=False)  # the backlog
    arrivals = demands.iloc[40:].copy()
    arrivals["day"] = [str(i % 3) for i in range(len(arrivals))]
    arrivals["max_wait_days"] = "2"
    arrivals.to_csv(tmp_path / "arrivals.csv", index=False)
    out = tmp_path / "year"
    result = CliRunner().invoke(main, ["year", str(instance), "--arrivals", str(tmp_path / "arrivals.csv"),
                                       "-o", str(out), "--policy", "even", "--hindsight-time-limit", "60"])
    assert result.exit_code == 0, result.output
    for day in ("000", "001", "002"):
        assert (out / "days" / day / "instance" / "rates.csv").is_file()
        check_plan_files(out / "days" / day / "instance", out / "days" / day / "plan")
    summary = json.loads((out / "summary.json").read_text())
    days = pd.read_csv(out / "days.csv")
    start = float(pd.read_csv(instance / "programs.csv")["budget_yuan"].iloc[0])
    assert days["subsidy_yuan"].sum() <= start + 1e-6
    assert summary["total_subsidy_yuan"] == pytest.approx(days["subsidy_yuan"].sum())
    assert 0 < summary["served_value"] <= summary["hindsight_bound"]
