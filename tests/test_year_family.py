"""allocator generate year: byte-identical per seed, seasonal, valid input of allocator year."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.studies.year.arrivals_family import season_profile
from tests.conftest import REPO

pytestmark = pytest.mark.component


def china_data() -> Path:
    for folder in (REPO.parent / "shared" / "data" / "china", Path(os.environ.get("ALLOCATOR_CHINA_DATA", "/nonexistent"))):
        if (folder / "regions.csv").is_file():
            return folder
    pytest.skip("the shared China facts are not here (set ALLOCATOR_CHINA_DATA)")


@pytest.mark.unit
def test_seasons():
    """Mean 1; the quiet first sixth at half the growth line; quarter-end rush x1.8; the year end x2.2."""
    p = season_profile(365)
    assert p.mean() == pytest.approx(1.0)
    def weekday(t):
        return t % 7 < 5
    def ratio(a, b):
        return p[a] / p[b] * (0.7 + 0.6 * b / 365) / (0.7 + 0.6 * a / 365)
    assert weekday(3) and weekday(63) and ratio(3, 63) == pytest.approx(0.5)  # day 3 (quiet) vs day 63 (ordinary)
    assert weekday(85) and ratio(85, 63) == pytest.approx(1.8)  # 6 days before the first quarter ends (day 91)
    assert weekday(357) and ratio(357, 63) == pytest.approx(2.2)  # the last five weeks
    assert p[5] == pytest.approx(p[4] * 0.6 * (0.7 + 0.6 * 5 / 365) / (0.7 + 0.6 * 4 / 365))  # a weekend day


def test_same_seed_same_bytes_and_a_valid_year(tmp_path):
    data = china_data()
    for name in ("a", "b"):
        result = CliRunner().invoke(main, ["generate", "year", "-o", str(tmp_path / name), "--seed", "5", "--days", "30",
                                           "--demands", "12", "--data", str(data)])
        assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert Path("arrivals.csv") in files and Path("instance/README.md") in files
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    other = CliRunner().invoke(main, ["generate", "year", "-o", str(tmp_path / "c"), "--seed", "6", "--days", "30",
                                      "--demands", "12", "--data", str(data)])
    assert other.exit_code == 0 and (tmp_path / "c" / "arrivals.csv").read_bytes() != (tmp_path / "a" / "arrivals.csv").read_bytes()

    from allocator.instance.reading import read_instance
    from allocator.studies.year.arrivals import read_requests

    instance = read_instance(tmp_path / "a" / "instance")
    requests = read_requests(instance, tmp_path / "a" / "arrivals.csv")
    table = requests.table
    assert requests.days == 30 and not table["must_serve"].any()
    arrivals = pd.read_csv(tmp_path / "a" / "arrivals.csv")
    per_enterprise = arrivals.groupby("enterprise_id").size()
    assert (per_enterprise == 1).any() and (per_enterprise >= 3).any()  # some apply once, some return
    assert set(arrivals["max_wait_days"]) <= {1, 3, 7, 14, 30}
    assert np.all(instance.enterprises["subsidy_ytd_yuan"] == 0)
    assert (instance.programs["budget_yuan"] >= 10_000).all()


def test_year_refuses_other_knobs(tmp_path):
    result = CliRunner().invoke(main, ["generate", "year", "-o", str(tmp_path / "x"), "--periods", "3"])
    assert result.exit_code == 2 and "--periods" in result.output
    result = CliRunner().invoke(main, ["generate", "city", "-o", str(tmp_path / "x"), "--days", "3"])
    assert result.exit_code == 2
