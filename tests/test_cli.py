"""The command line end to end: exit codes, messages, plan files, atomic writes."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from tests import builders
from tests.builders import base, demand
from tests.conftest import REPO, check_plan_files

TINY = REPO / "instances" / "tiny"

SPEC_PLAN_COLUMNS = {
    "assignments": ["demand_id", "enterprise_id", "pool_id", "center_id", "region_id", "accelerator",
                    "usage_card_hours", "bill_yuan", "subsidy_yuan", "enterprise_pays_yuan", "rtt_ms"],
    "schedule": ["demand_id", "pool_id", "period", "card_hours"],
    "unserved": ["demand_id", "enterprise_id", "reason"],
    "pools": ["pool_id", "period", "used_card_hours", "capacity_card_hours", "utilization"],
    "centers": ["center_id", "period", "energy_kwh", "green_kwh", "grid_kwh"],
    "enterprises": ["enterprise_id", "program_id", "bill_yuan", "subsidy_yuan", "cap_remaining_yuan"],
    "programs": ["program_id", "budget_yuan", "subsidy_yuan", "remaining_yuan"],
}
SUMMARY_FIELDS = ["instance", "instance_sha256", "method", "solver", "solver_version", "status", "served_value",
                  "best_bound", "gap", "total_bill_yuan", "total_subsidy_yuan", "carbon_kg", "demands_served",
                  "demands_total", "wall_seconds"]


def run(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.mark.e2e
def test_tiny_hand_derived_optimum(tmp_path):
    plan = tmp_path / "plan"
    result = run("solve", TINY, "-o", plan)
    assert result.exit_code == 0, result.output
    summary = json.loads((plan / "summary.json").read_text())
    for field in SUMMARY_FIELDS:
        assert field in summary
    assert set(summary["wall_seconds"]) >= {"load", "build", "solve", "write"}
    assert summary["status"] == "optimal"
    assert summary["served_value"] == pytest.approx(12.0)
    assert summary["total_bill_yuan"] == pytest.approx(88.0)
    assert summary["total_subsidy_yuan"] == pytest.approx(32.0)
    assert summary["carbon_kg"] == pytest.approx(1.4)
    assert (summary["demands_served"], summary["demands_total"]) == (2, 9)
    for stem, columns in SPEC_PLAN_COLUMNS.items():
        assert list(pd.read_csv(plan / f"{stem}.csv").columns) == columns, stem
    a = pd.read_csv(plan / "assignments.csv").set_index("demand_id")
    assert a["pool_id"].to_dict() == {"d2": "pE", "d4": "pW"}
    assert a["subsidy_yuan"].to_dict() == pytest.approx({"d2": 20.0, "d4": 12.0})
    reasons = pd.read_csv(plan / "unserved.csv").set_index("demand_id")["reason"].to_dict()
    assert reasons == {
        "d1": "not_selected", "d3": "ineligible_enterprise", "d5": "no_compatible_pool", "d6": "below_threshold",
        "d7": "no_pool_within_latency", "d8": "no_designated_center", "d9": "window_too_short",
    }
    check_plan_files(TINY, plan)
    assert run("check", TINY, plan).exit_code == 0


@pytest.mark.e2e
def test_check_reports_a_broken_plan(tmp_path):
    plan = tmp_path / "plan"
    assert run("solve", TINY, "-o", plan).exit_code == 0
    a = pd.read_csv(plan / "assignments.csv")
    a.loc[a["demand_id"] == "d4", "subsidy_yuan"] = 24.0  # ignores e3's cap
    a.to_csv(plan / "assignments.csv", index=False)
    result = run("check", TINY, plan)
    assert result.exit_code == 1
    assert "d4" in result.output


@pytest.mark.e2e
def test_validate_valid_and_invalid(tmp_path):
    assert run("validate", TINY).exit_code == 0
    bad = tmp_path / "bad"
    shutil.copytree(TINY, bad)
    text = (bad / "pools.csv").read_text().replace("pW,cW,gpu,4,", "pW,cW,gpu,four,")
    (bad / "pools.csv").write_text(text)
    result = run("validate", bad)
    assert result.exit_code == 2
    assert "pools.csv, line 3, column 'cards'" in result.output


@pytest.mark.e2e
def test_solve_invalid_instance_writes_nothing(tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(TINY, bad)
    (bad / "demands.csv").unlink()
    result = run("solve", bad, "-o", tmp_path / "plan")
    assert result.exit_code == 2
    assert "demands.csv" in result.output
    assert not (tmp_path / "plan").exists()


@pytest.mark.e2e
def test_bad_arguments_exit_2(tmp_path):
    assert run("solve", TINY, "-o", tmp_path / "p", "--gap", "-1").exit_code == 2
    assert run("solve", TINY).exit_code == 2  # -o is required
    assert run("solve", tmp_path / "missing", "-o", tmp_path / "p").exit_code == 2


@pytest.mark.e2e
def test_infeasible_exits_3_naming_the_demand(tmp_path):
    spec = base()
    spec["demands"] += [demand("urgent", 1, stack="fortran", must_serve="true"), demand("d2", 1)]
    inst = builders.write(tmp_path / "inst", spec)
    result = run("solve", inst, "-o", tmp_path / "plan")
    assert result.exit_code == 3
    assert "urgent" in result.output and "no_compatible_pool" in result.output
    assert not (tmp_path / "plan").exists()


@pytest.mark.e2e
def test_interrupted_write_leaves_no_plan(tmp_path, monkeypatch):
    """An interruption after the first file is written leaves neither a plan nor a partial folder."""
    import allocator.plan.writing as writing

    calls = {"n": 0}
    real = writing.write_table

    def interrupted(df, path):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(df, path)

    monkeypatch.setattr(writing, "write_table", interrupted)
    from allocator.solve.pipeline import solve_and_write

    with pytest.raises(KeyboardInterrupt):
        solve_and_write(TINY, tmp_path / "plan")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_rewriting_a_plan_replaces_it_whole(tmp_path):
    """A plan folder this tool wrote (its summary.json) is replaced whole, files added to it included."""
    plan = tmp_path / "plan"
    assert run("solve", TINY, "-o", plan).exit_code == 0
    (plan / "stale.txt").write_text("old")
    assert run("solve", TINY, "-o", plan).exit_code == 0
    assert not (plan / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


@pytest.mark.e2e
def test_import_gap_round_trip(tmp_path):
    gap = REPO.parent / "shared" / "benchmarks" / "gap" / "gap1.txt"
    if not gap.exists():
        pytest.skip("shared benchmarks not present")
    out = tmp_path / "gap1-1"
    assert run("import-gap", gap, "--index", "1", "-o", out).exit_code == 0
    plan = tmp_path / "plan"
    assert run("solve", out, "-o", plan).exit_code == 0
    summary = json.loads((plan / "summary.json").read_text())
    assert summary["total_bill_yuan"] == pytest.approx(261.0)  # published optimum, optima.csv
    check_plan_files(out, plan)


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["mps", "lp"])
def test_export_solved_by_highs_alone_gives_the_served_value(tmp_path, fmt):
    import highspy

    out = tmp_path / f"tiny.{fmt}"
    assert run("export", TINY, "--format", fmt, "-o", out).exit_code == 0
    names = pd.read_csv(out.with_name(out.name + ".names.csv"))
    assert set(names.loc[names["kind"] == "assign", "demand_id"]) == {"d1", "d2", "d4", "d6"}
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(out))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(12.0)  # = allocator solve's served value


@pytest.mark.component
def test_live_progress_line_reports_incumbent_bound_and_gap(tmp_path):
    """With progress on, HiGHS's MIP callback rewrites one stderr line per stage."""
    import os

    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_instance
    from allocator.solve.progress import format_progress

    assert format_progress("value", 1.5, 10.0, 12.0, 0.1666) == (
        "value     1.5 s  incumbent           10  bound           12  gap   16.66%")
    assert "incumbent            -" in format_progress("cost", 0.0, float("-inf"), float("inf"), float("inf"))
    log = tmp_path / "stderr.txt"
    saved = os.dup(2)
    with open(log, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            solve_instance(REPO / "instances" / "chengdu-day", SolveOptions(progress=True))
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    text = log.read_bytes().decode()
    assert "\rvalue" in text and "\rcost" in text and "incumbent" in text
