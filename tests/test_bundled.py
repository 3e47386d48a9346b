"""Every bundled instance through the command line, and its plan through the independent checker."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from allocator.cli import main
from tests.conftest import REPO, check_plan_files

INSTANCES = REPO / "instances"


def _solve(instance, plan, *extra):
    result = CliRunner().invoke(main, ["solve", str(instance), "-o", str(plan), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    return json.loads((plan / "summary.json").read_text())


@pytest.mark.e2e
def test_chengdu_day_known_result(tmp_path):
    """Known result, README of instances/chengdu-day: proven optimal served value."""
    summary = _solve(INSTANCES / "chengdu-day", tmp_path / "plan")
    assert summary["status"] in ("optimal", "feasible")
    assert summary["gap"] <= 1e-4
    assert summary["served_value"] == pytest.approx(CHENGDU_DAY_SERVED_VALUE, rel=1e-4)
    assert summary["demands_total"] == 300
    check_plan_files(INSTANCES / "chengdu-day", tmp_path / "plan")


@pytest.mark.e2e
@pytest.mark.parametrize("method", ["fcfs", "greedy"])
def test_chengdu_day_baselines_never_beat_the_optimum(tmp_path, method):
    summary = _solve(INSTANCES / "chengdu-day", tmp_path / "plan", "--method", method)
    assert summary["served_value"] <= CHENGDU_DAY_SERVED_VALUE * (1 + 1e-9)
    check_plan_files(INSTANCES / "chengdu-day", tmp_path / "plan")


@pytest.mark.e2e
@pytest.mark.slow
def test_east_west_24h_under_a_time_limit(tmp_path):
    """Not solved exactly here: a valid plan and an honest gap under a time limit."""
    summary = _solve(INSTANCES / "east-west-24h", tmp_path / "plan", "--time-limit", "30")
    assert summary["status"] in ("optimal", "feasible")
    assert 0.0 <= summary["gap"] < 1.0
    assert summary["best_bound"] >= summary["served_value"]
    check_plan_files(INSTANCES / "east-west-24h", tmp_path / "plan")


CHENGDU_DAY_SERVED_VALUE = 322790.0
