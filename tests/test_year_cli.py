"""allocator year: what is refused (exit 2) before any day is planned, and where the message points."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from tests.year_world import write_year

pytestmark = pytest.mark.component


def run(*args):
    return CliRunner().invoke(main, ["year", *map(str, args)])


@pytest.fixture
def inputs(tmp_path):
    instance, arrivals = write_year(tmp_path, seed=1, days=2, per_day=2)
    return tmp_path, instance, arrivals


def edit(arrivals, **cells):
    """Set cells of the second data row (line 3 of the file)."""
    df = pd.read_csv(arrivals, dtype=str, keep_default_na=False)
    for column, value in cells.items():
        df.loc[1, column] = value
    df.to_csv(arrivals, index=False)


@pytest.mark.parametrize("cells, words", [
    ({"must_serve": "true"}, "arrivals.csv, line 3, column 'must_serve': must_serve is not allowed in a year"),
    ({"enterprise_id": "NOPE"}, "arrivals.csv, line 3, column 'enterprise_id': unknown enterprise 'NOPE'"),
    ({"day": "-1"}, "arrivals.csv, line 3, column 'day': -1 is out of range"),
    ({"day": "1.5"}, "arrivals.csv, line 3, column 'day': '1.5' is not a whole number"),
    ({"max_wait_days": "soon"}, "arrivals.csv, line 3, column 'max_wait_days': 'soon' is not a number"),
    ({"demand_id": "r001"}, "arrivals.csv, line 3, column 'demand_id': duplicate demand_id 'r001' (first on line 2)"),
    ({"latency_class": "instant"}, "arrivals.csv, line 3, column 'latency_class': unknown latency class 'instant'"),
    ({"release": "1"}, "arrivals.csv, line 3, column 'release': release 1 is outside the horizon"),
])
def test_bad_arrivals_are_named_at_their_line_and_column(inputs, cells, words):
    root, instance, arrivals = inputs
    edit(arrivals, **cells)
    result = run(instance, "--arrivals", arrivals, "-o", root / "out")
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not (root / "out").exists()


def test_must_serve_in_the_backlog_and_a_backlog_id_again(inputs):
    root, instance, arrivals = inputs
    pd.DataFrame([{"demand_id": "r002", "enterprise_id": "E1", "home_region": "A", "stack": "cuda", "latency_class": "batch",
                   "card_hours": 1, "must_serve": "true"}]).to_csv(instance / "demands.csv", index=False)
    result = run(instance, "--arrivals", arrivals, "-o", root / "out")
    assert result.exit_code == 2
    assert "demands.csv, line 2, column 'must_serve': must_serve is not allowed in a year" in result.output
    assert "line 3, column 'demand_id': demand_id 'r002' is already a request of the backlog" in result.output


def test_missing_required_column(inputs):
    root, instance, arrivals = inputs
    pd.read_csv(arrivals).drop(columns="day").to_csv(arrivals, index=False)
    result = run(instance, "--arrivals", arrivals, "-o", root / "out")
    assert result.exit_code == 2 and "line 1, column 'day': required column is missing" in result.output


def test_a_foreign_folder_is_refused_and_nothing_deleted(inputs):
    root, instance, arrivals = inputs
    out = root / "out"
    out.mkdir()
    (out / "budget.xlsx").write_text("the officer's own file")
    result = run(instance, "--arrivals", arrivals, "-o", out)
    assert result.exit_code == 2 and "budget.xlsx" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["budget.xlsx"]
    for bad in (instance, root, arrivals):
        result = run(instance, "--arrivals", arrivals, "-o", bad)
        assert result.exit_code == 2, bad
    assert (instance / "instance.toml").is_file() and arrivals.is_file()


def test_options_refused(inputs):
    root, instance, arrivals = inputs
    assert run(instance, "--arrivals", arrivals, "-o", root / "o", "--policy", "greedy").exit_code == 2
    assert run(instance, "--arrivals", arrivals, "-o", root / "o", "--days", "0").exit_code == 2


@pytest.mark.e2e
def test_resume_with_other_inputs_is_refused_and_a_rerun_replaces(inputs):
    """A one-day year, then --resume with another policy (exit 2, the ledger untouched), then a plain rerun:
    the folder is this tool's, so it is replaced."""
    root, instance, arrivals = inputs
    out = root / "out"
    assert run(instance, "--arrivals", arrivals, "-o", out, "--days", "1", "--policy", "even").exit_code == 0
    before = (out / "ledger.sqlite").read_bytes()
    result = run(instance, "--arrivals", arrivals, "-o", out, "--days", "1", "--policy", "all", "--resume")
    assert result.exit_code == 2 and "policy" in result.output
    assert (out / "ledger.sqlite").read_bytes() == before
    result = run(instance, "--arrivals", arrivals, "-o", out, "--days", "1", "--policy", "all")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "days").iterdir()) == ["000"]
