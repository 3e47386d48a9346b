"""allocator year --policy all,even,quarterly,threshold: the four policies side by side on the small world,
in two worker processes; the releases each ledger records follow the policy's arithmetic, the hindsight
bound is at least every policy's value, and the page and charts are written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.studies.year.ledger import YearLedger
from allocator.studies.year.policies import quarter_starts
from tests.year_world import write_year

pytestmark = pytest.mark.e2e

DAYS = 4
POLICIES = ["all", "even", "quarterly", "threshold"]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    instance, arrivals = write_year(root, seed=11, days=DAYS, per_day=5, budget_g=30.0, budget_h=4.0)
    out = root / "out"
    result = CliRunner().invoke(main, ["year", str(instance), "--arrivals", str(arrivals), "-o", str(out),
                                       "--policy", ",".join(POLICIES), "--workers", "2"])
    assert result.exit_code == 0, result.output
    return out, result.output


def releases(out, policy):
    with YearLedger(out / policy / "ledger.sqlite") as ledger:
        return ledger.table("program_days")


def test_releases_follow_each_policy(compared):
    """all: what is left; even: left // days left; quarterly (N = 4: quarters start on days 0, 1, 2, 3):
    left - (start - start * k // 4) with k the quarters started; G starts with 3000 fen, H with 400."""
    out, _ = compared
    start = {"G": 3000, "H": 400}
    assert quarter_starts(DAYS) == [0, 1, 2, 3]
    for row in releases(out, "all").itertuples():
        assert row.released_fen == row.left_morning_fen
    for row in releases(out, "even").itertuples():
        assert row.released_fen == row.left_morning_fen // (DAYS - row.day)
    for row in releases(out, "quarterly").itertuples():
        k = min(4, row.day + 1)
        assert row.released_fen == max(0, row.left_morning_fen - (start[row.program_id] - start[row.program_id] * k // 4))
    for policy in POLICIES:
        for row in releases(out, policy).itertuples():
            assert 0 <= row.subsidy_fen <= row.released_fen <= row.left_morning_fen
            assert row.remaining_fen == row.left_morning_fen - row.subsidy_fen


def test_the_bound_is_above_every_policy_and_the_page_is_written(compared):
    out, output = compared
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "comparison" and summary["status"] == "complete" and summary["policies"] == POLICIES
    bound = summary["hindsight_bound"]
    for policy in POLICIES:
        own = json.loads((out / policy / "summary.json").read_text())
        assert own["hindsight_bound"] == bound
        assert own["served_value"] <= bound
        assert summary["served_value"][policy] == own["served_value"]
        assert f"{policy}: served value" in output.replace("  ", " ").replace("  ", " ")
    page = (out / "year.html").read_text()
    assert all(f">{p}</td>" in page for p in POLICIES) and page.count("data:image/png;base64,") == 5
    for chart in ("fund_left", "served_per_month", "quarter_share", "ran_out", "vs_hindsight"):
        assert (out / f"{chart}.png").read_bytes()[:4] == b"\x89PNG"


def test_a_comparison_folder_inside_the_instance_inputs_is_refused(compared):
    """The comparison's folder may not be an input: the arrivals file or a folder holding the instance."""
    out, _ = compared
    for bad in (out.parent / "arrivals.csv", out.parent):
        result = CliRunner().invoke(main, ["year", str(out.parent / "instance"), "--arrivals",
                                           str(out.parent / "arrivals.csv"), "-o", str(bad), "--policy", "all,even"])
        assert result.exit_code == 2, bad
    assert (out / "all" / "ledger.sqlite").is_file() and (out.parent / "arrivals.csv").is_file()
