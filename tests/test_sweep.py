"""allocator sweep: parameter syntax, instance variants, the streamed table, resume, determinism, Dask.

The small instance (tests/builders.py base world: pool pB 1 yuan / card-hour and pA
2 yuan, 10 card-hours each; programme G at rate 0.5, own budget 10 yuan) has, in file
order, d1 = 10 card-hours at priority 0.2 (value 2), then d2 and d3 = 4 card-hours at
priority 1 (value 4 each); requested value 10. FCFS approves d1 first:

| fund | FCFS                                          | optimizer                          |
|------|-----------------------------------------------|------------------------------------|
| 5    | d1 at pB (subsidy 5): value 2                 | d2 + d3 at pB (4): value 8          |
| 10   | d1 at pB (5), d2 at pA (4): value 6           | d2 + d3 at pB (4): value 8          |
| 20   | d1 pB (5), d2 pA (4), d3 pA (4): value 10     | everything: value 10                |

The optimizer matches FCFS's value at 10 (6) with d2 + d3 at pB: 4 yuan.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli.budget import sweep as sweep_command
from allocator.instance.reading import read_instance
from allocator.problems import AllocatorError
from allocator.studies.sweep.charts import timing_free
from allocator.studies.sweep.points import (
    SweepAxes,
    SweepOptions,
    SweepPoint,
    scope_programs,
    sweep_points,
)
from allocator.studies.sweep.run import run_sweep
from allocator.studies.sweep.table import read_sweep, sweep_columns
from allocator.studies.sweep.values import Values, parse_values
from allocator.studies.sweep.variants import (
    load_instance_files,
    variant_files,
    write_files,
)
from tests import builders
from tests.builders import base, demand

FCFS_VALUE = {5.0: 2.0, 10.0: 6.0, 20.0: 10.0}
OPT_VALUE = {5.0: 8.0, 10.0: 8.0, 20.0: 10.0}


def small_spec() -> dict:
    spec = base()
    spec["programs"] = [{"program_id": "G", "budget_yuan": 10.0, "rate": 0.5}]
    spec["demands"] = [demand("d1", 10, priority=0.2), demand("d2", 4), demand("d3", 4)]
    return spec


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return builders.write(tmp_path_factory.mktemp("small") / "instance", small_spec())


AXES = SweepAxes(budget=parse_values("5,20", money=True, allow_scale=True))  # + the own fund 10
QUIET = SweepOptions(workers=1, progress=False)


@pytest.fixture(scope="module")
def first_run(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    return out, run_sweep(small, out, AXES, QUIET)


# --------------------------------------------------------------------------- syntax


@pytest.mark.unit
def test_lists_ranges_and_money_suffixes():
    assert parse_values("500k,2.5M,1e7", money=True) == Values((5e5, 2.5e6, 1e7))
    assert parse_values("0:2M:5", money=True).numbers == (0.0, 5e5, 1e6, 1.5e6, 2e6)
    assert parse_values("0.1:0.3:3", high=1.0).numbers == (0.1, 0.2, 0.3)  # linspace noise rounded away
    assert parse_values("1,2,1") == Values((1.0, 2.0))
    assert parse_values("x0.5:x2:4", money=True, allow_scale=True) == Values((0.5, 1.0, 1.5, 2.0), scale=True)
    assert parse_values("x1,x3", money=True, allow_scale=True).scale


@pytest.mark.unit
@pytest.mark.parametrize("text, message", [
    ("x1,0.5", "mix of factors"),
    ("1.5", "outside"),
    ("1:2", "start:stop:num"),
    ("1:2:0", "at least 1"),
    ("abc", "not a number"),
    ("", "no values"),
])
def test_bad_values_are_explained(text, message):
    with pytest.raises(ValueError, match=message):
        parse_values(text, high=1.0, allow_scale=True)


@pytest.mark.unit
def test_rates_reject_factors():
    with pytest.raises(ValueError, match="not accepted"):
        parse_values("x0.5", high=1.0)


# --------------------------------------------------------------------------- points and variants


def two_programme_spec() -> dict:
    spec = small_spec()
    spec["programs"] = [
        {"program_id": "G", "budget_yuan": 10.0, "rate": 0.5, "enterprise_cap_yuan": 100.0},
        {"program_id": "H", "budget_yuan": 30.0, "rate": 0.3, "enterprise_cap_yuan": 50.0},
    ]
    spec["enterprises"] = [
        {"enterprise_id": "E1", "program_id": "G", "rate": None, "cap_yuan": None},  # follows G
        {"enterprise_id": "E2", "program_id": "G", "rate": 0.5, "cap_yuan": 100.0},  # explicit, = G's standard
        {"enterprise_id": "E3", "program_id": "G", "rate": 0.3, "cap_yuan": 300.0},  # special terms
        {"enterprise_id": "E4", "program_id": "H", "rate": None, "cap_yuan": None},
    ]
    return spec


@pytest.mark.unit
def test_points_are_the_product_with_the_own_fund_added(tmp_path):
    instance = read_instance(builders.write(tmp_path / "i", two_programme_spec()))
    axes = SweepAxes(budget=parse_values("x0.5,x2", allow_scale=True), rate=parse_values("0.2,0.4", high=1.0),
                     green_share=parse_values("0,0.5", high=1.0))
    points = sweep_points(instance, scope_programs(instance, axes), axes)
    assert len(points) == 3 * 2 * 2
    assert {p.budget_scale for p in points} == {0.5, 2.0, 1.0}
    assert len({p.key for p in points}) == len(points)
    with pytest.raises(AllocatorError, match="need --program"):
        scope_programs(instance, SweepAxes(budget=parse_values("5,6")))


@pytest.mark.unit
def test_variant_changes_what_the_point_says_and_nothing_else(tmp_path):
    folder = builders.write(tmp_path / "i", two_programme_spec())
    instance = read_instance(folder)
    files = load_instance_files(folder)

    def variant(point: SweepPoint, scope=("G",)):
        return read_instance(write_files(tmp_path / point.key.replace(";", "_"),
                                         variant_files(files, instance, list(scope), point)))

    rated = variant(SweepPoint(budget_yuan=7.5, rate=0.4, cap_yuan=80.0, green_share=0.25))
    programs = rated.programs.set_index("program_id")
    ent = rated.enterprises.set_index("enterprise_id")
    assert programs.at["G", "budget_yuan"] == 7.5 and programs.at["H", "budget_yuan"] == 30.0
    assert programs.at["G", "rate"] == 0.4 and programs.at["H", "rate"] == 0.3
    assert ent["rate"].to_dict() == {"E1": 0.4, "E2": 0.4, "E3": 0.3, "E4": 0.3}  # E3 keeps its special rate
    assert ent["cap_yuan"].to_dict() == {"E1": 80.0, "E2": 80.0, "E3": 300.0, "E4": 50.0}
    assert set(rated.centers["min_green_share"]) == {0.25}

    scaled = variant(SweepPoint(budget_scale=0.5, cap_scale=2.0), scope=("G", "H"))
    programs = scaled.programs.set_index("program_id")
    assert programs["budget_yuan"].to_dict() == {"G": 5.0, "H": 15.0}
    assert scaled.enterprises.set_index("enterprise_id")["cap_yuan"].to_dict() == {
        "E1": 200.0, "E2": 200.0, "E3": 600.0, "E4": 100.0}
    assert read_instance(write_files(tmp_path / "same", variant_files(files, instance, ["G"], SweepPoint()))) \
        .files_sha256 == instance.files_sha256


# --------------------------------------------------------------------------- the sweep


@pytest.mark.component
def test_table_has_every_column_and_the_hand_derived_values(first_run):
    out, outcome = first_run
    table = read_sweep(out / "sweep.csv")
    assert list(table.columns) == sweep_columns(fcfs=True)
    assert list(table["fund_yuan"]) == [5.0, 10.0, 20.0]  # sorted; the own fund 10 was added
    assert dict(zip(table["fund_yuan"], table["served_value_fcfs"])) == FCFS_VALUE
    assert dict(zip(table["fund_yuan"], table["served_value_opt"])) == OPT_VALUE
    assert (table["served_value_opt"] >= table["served_value_fcfs"]).all()
    assert list(table["status_opt"]) == ["optimal"] * 3
    assert table["served_share_opt"].tolist() == pytest.approx([0.8, 0.8, 1.0])
    assert table["demands_served_fcfs"].tolist() == [1, 2, 3]
    assert ((table["utilization_opt"] >= 0) & (table["utilization_opt"] <= 1)).all()
    assert outcome.summary.opt_below_fcfs == []
    for _, line in table.groupby([c for c in ("rate", "cap_yuan", "green_share") if c in table], dropna=False):
        served = line.sort_values("fund_yuan")["served_value_opt"].to_numpy()
        assert (served[1:] >= served[:-1] - 1e-9).all()  # more money never serves less (each point starts from the last)


@pytest.mark.component
def test_reports_exist_offline_and_state_the_matching_fund(first_run):
    out, outcome = first_run
    assert (out / "sweep.png").stat().st_size > 10_000
    html = (out / "sweep.html").read_text(encoding="utf-8")
    assert re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE) is None  # nothing loaded from the network
    assert "data:image/png;base64," in html and len(html) < 1_000_000  # the curves embedded, no JS library
    assert html.count("<tr>") == 1 + len(outcome.table)  # the header and every point
    summary = (out / "summary.md").read_text(encoding="utf-8")
    line = outcome.summary.lines[0]
    assert (line.opt_share, line.fcfs_share) == (pytest.approx(0.8), pytest.approx(0.6))
    assert line.match.fund_yuan == pytest.approx(4.0)  # d2 + d3 at pB, by the min-budget MIP
    assert "min-budget MIP" in line.match.how
    assert "A 10 yuan fund serves 80.0 % of requested value; FCFS serves 60.0 %; the optimizer needs 4 yuan" in summary


@pytest.mark.component
def test_interpolation_when_asked(small, tmp_path):
    outcome = run_sweep(small, tmp_path / "o", AXES, SweepOptions(workers=1, progress=False, min_budget=False))
    match = outcome.summary.lines[0].match
    # the optimizer reaches FCFS's 6 already at the smallest swept fund (5): an upper figure
    assert match.fund_yuan == 5.0 and "smallest swept fund" in match.how


@pytest.mark.component
def test_resume_solves_only_the_missing_point_and_determinism(first_run, small):
    out, _ = first_run
    path = out / "sweep.csv"
    full = read_sweep(path)
    lines = path.read_text().splitlines()
    dropped = full["key"].iloc[1]
    kept = [line for line in lines if not line.startswith(dropped + ",")]
    path.write_text("\n".join(kept) + "\n" + lines[-1][: len(lines[-1]) // 2])  # and a torn last line
    outcome = run_sweep(small, out, AXES, SweepOptions(workers=1, progress=False, resume=True))
    assert outcome.solved == [dropped]
    assert len(outcome.skipped) == 2
    pd.testing.assert_frame_equal(timing_free(read_sweep(path)), timing_free(full))


@pytest.mark.component
def test_resume_refuses_other_settings(first_run, small):
    out, _ = first_run
    with pytest.raises(AllocatorError, match="different gap"):
        run_sweep(small, out, AXES, SweepOptions(workers=1, progress=False, resume=True, gap=0.5, min_budget=False))


@pytest.mark.component
def test_dask_cluster_gives_the_same_table(first_run, small, tmp_path):
    distributed = pytest.importorskip("distributed")
    out, _ = first_run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        options = SweepOptions(scheduler=cluster.scheduler_address, progress=False, min_budget=False)
        run_sweep(small, tmp_path / "dask", AXES, options)
    pd.testing.assert_frame_equal(timing_free(read_sweep(tmp_path / "dask" / "sweep.csv")),
                                  timing_free(read_sweep(out / "sweep.csv")))


@pytest.mark.component
def test_cli_sweep_with_rate_axis_and_no_fcfs(small, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(sweep_command, [str(small), "-o", str(out), "--budget", "x0.5:x1:2",
                                                "--rate", "0.25,0.5", "--no-fcfs", "--workers", "1"])
    assert result.exit_code == 0, result.output
    table = read_sweep(out / "sweep.csv")
    assert len(table) == 4 and "served_value_fcfs" not in table
    assert set(zip(table["budget_scale"], table["rate"])) == {(0.5, 0.25), (0.5, 0.5), (1.0, 0.25), (1.0, 0.5)}
    assert "4 points: 4 solved, 0 already" in result.output
    assert not any(math.isnan(v) for v in table["served_value_opt"])


@pytest.mark.unit
def test_cli_rejects_bad_values_with_exit_2(small, tmp_path):
    result = CliRunner().invoke(sweep_command, [str(small), "-o", str(tmp_path / "x"), "--rate", "1.5"])
    assert result.exit_code == 2 and "--rate" in result.output
    result = CliRunner().invoke(sweep_command, [str(small), "-o", str(tmp_path / "x"), "--program", "nope"])
    assert result.exit_code == 2 and "unknown programme 'nope'" in result.output


@pytest.mark.unit
def test_sweep_status_is_the_proof_of_the_served_value():
    """Equal plans at two funds read alike: the status says whether the value is proven within --gap,
    not whether the node-bounded cost stage happened to finish (issue 14: 'feasible' beside 'optimal')."""
    from types import SimpleNamespace

    from allocator.studies.sweep.run import plan_metrics

    plan = SimpleNamespace(pools=pd.DataFrame({"capacity_card_hours": [10.0], "used_card_hours": [5.0]}),
                           served_value=5.0,
                           assignments=pd.DataFrame({"demand_id": ["d"], "accelerator": ["gpu"], "usage_card_hours": [5.0],
                                                     "bill_yuan": [2.0], "subsidy_yuan": [1.0]}),
                           total_subsidy_yuan=1.0, total_bill_yuan=2.0, carbon_kg=0.0)
    cost_unproven = SimpleNamespace(plan=plan, status="feasible", gap=0.0)
    value_unproven = SimpleNamespace(plan=plan, status="feasible", gap=0.01)
    assert plan_metrics(cost_unproven, 10.0, 1.0, value_gap=1e-4)["status"] == "optimal"
    assert plan_metrics(value_unproven, 10.0, 1.0, value_gap=1e-4)["status"] == "feasible"
    assert plan_metrics(cost_unproven, 10.0, 1.0)["status"] == "feasible"  # fcfs: a heuristic proves nothing
