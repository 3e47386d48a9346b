"""`allocator bench`: the table, known-optimum distances, OR-Library imports, local workers and a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli.research import bench as bench_command
from allocator.executor import ExecutorOptions
from allocator.studies.bench.outputs import read_known
from allocator.studies.bench.run import combined_sha256, parse_gap_spec, run_bench
from allocator.studies.bench.tasks import BenchSettings
from tests.test_solvers import HAVE_SCIP

REPO = Path(__file__).resolve().parents[1]
GAP_DIR = REPO.parent / "shared" / "benchmarks" / "gap"


@pytest.fixture
def two_instances(tmp_path) -> list[Path]:
    """A gap-like instance and OR-Library gap1 #1 side by side, with a known.csv beside them."""
    from allocator.studies.gap.instance import write_gap_instance
    from allocator.studies.generate.knobs import Knobs
    from allocator.studies.generate.make import generate, write_generated

    folder = tmp_path / "instances"
    gap_like = folder / "gap-like-3"
    write_generated(gap_like, generate("gap-like", 3, Knobs(demands=10, pools_per_center=3)))
    orlib = write_gap_instance(GAP_DIR / "gap1.txt", 1, folder / "gap1-1")
    pd.DataFrame({"instance": ["gap1-1", "gap-like-3"], "objective": [261.0, 1.0], "sense": ["min", "max"]}).to_csv(
        folder / "known.csv", index=False)
    return [gap_like, orlib]


def read_bench(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "bench.csv", keep_default_na=False, na_values=[""])


@pytest.mark.e2e
def test_bench_writes_the_table_with_known_optimum_distances(tmp_path, two_instances):
    out = tmp_path / "bench"
    args = [*map(str, two_instances), "-o", str(out), "--method", "exact,greedy", "--workers", "1"]
    result = CliRunner().invoke(bench_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = read_bench(out)
    assert list(zip(rows["instance"], rows["solver"], rows["method"])) == [
        ("gap-like-3", "highs", "exact"), ("gap-like-3", "none", "greedy"),
        ("gap1-1", "highs", "exact"), ("gap1-1", "none", "greedy")]
    exact = rows[rows["method"] == "exact"].set_index("instance")
    assert exact.loc["gap1-1", "status"] == "optimal"
    assert exact.loc["gap1-1", "cost_yuan"] == pytest.approx(261.0)
    assert exact.loc["gap1-1", "distance"] == pytest.approx(0.0) and bool(exact.loc["gap1-1", "reached_known"])
    # sense max compares the served value: known 1 is far below it, so the distance is negative (better)
    assert exact.loc["gap-like-3", "distance"] == pytest.approx(1.0 - exact.loc["gap-like-3", "served_value"])
    assert (exact["rows"] > 0).all() and (exact["nonzeros"] > 0).all() and (exact["integer_columns"] > 0).all()
    assert exact.loc["gap1-1", "columns"] == 75  # 5 agents x 15 jobs, one binary each
    assert (exact["check"] == "ok").all()
    for column in ("instance_sha256", "allocator_version", "pyomo_version", "highspy_version",
                   "platform", "cpu_count", "python", "host", "wall_s"):
        assert rows[column].notna().all(), column  # every row, failed runs too
    for column in ("solver_version", "build_s", "solve_s"):
        assert exact[column].notna().all(), column
    greedy = rows[rows["method"] == "greedy"]
    assert (greedy["status"] == "no_solution").all()  # greedy cannot place every must-serve GAP job
    assert greedy["error"].str.contains("must_serve").all()
    assert len(exact.loc["gap1-1", "instance_sha256"]) == 64
    summary = json.loads((out / "plans" / "gap1-1" / "highs-exact" / "summary.json").read_text())
    assert exact.loc["gap1-1", "instance_sha256"] == combined_sha256(summary["instance_sha256"])
    assert (out / "plans" / "gap1-1" / "highs-exact" / "summary.json").is_file()
    md = (out / "bench.md").read_text()
    assert "| gap1-1 | highs | exact |" in md and "known optimum" in md and "Environment:" in md


@pytest.mark.e2e
def test_orlib_problems_reach_the_published_optimum(tmp_path):
    """The test-sized OR-Library bench: gap1 #1 and gapc #1 (5 agents x 100 jobs), HiGHS and SCIP where installed."""
    solvers = "highs,scip" if HAVE_SCIP else "highs"
    out = tmp_path / "orlib"
    args = ["--gap-file", f"{GAP_DIR / 'gap1.txt'}:1", "--gap-file", f"{GAP_DIR / 'gapc.txt'}:1", "--solver", solvers,
            "--time-limit", "300", "--workers", "2", "-o", str(out)]
    result = CliRunner().invoke(bench_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = read_bench(out)
    assert len(rows) == 2 * len(solvers.split(","))
    assert set(rows["instance"]) == {"gap1-1", "gapc-1"}
    assert rows["reached_known"].all(), rows[["instance", "solver", "status", "cost_yuan", "known_objective", "error"]]
    assert dict(zip(rows["instance"], rows["known_objective"])) == {"gap1-1": 261.0, "gapc-1": 1931.0}
    assert (rows["status"] == "optimal").all()
    assert read_known(out / "instances" / "known.csv")["gapc-1"].objective == 1931.0


@pytest.mark.slow
def test_bench_on_a_dask_cluster(tmp_path, two_instances):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "bench"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rows = run_bench(two_instances, out, BenchSettings(methods=("exact", "fcfs")),
                         ExecutorOptions(scheduler=cluster.scheduler_address, progress=False))
    assert [(r["instance"], r["method"]) for r in rows] == [
        ("gap-like-3", "exact"), ("gap-like-3", "fcfs"), ("gap1-1", "exact"), ("gap1-1", "fcfs")]
    exact = [r for r in rows if r["method"] == "exact"]
    assert all(r["status"] == "optimal" and r["check"] == "ok" for r in exact)
    assert [r["reached_known"] for r in exact] == [True, True]
    assert all(r["rows"] and r["host"] for r in rows)
    assert read_bench(out).shape[0] == 4


@pytest.mark.e2e
def test_failed_runs_are_rows_not_crashes(tmp_path):
    """A must-serve demand that cannot be served: status infeasible, the bench still writes its table."""
    from tests import builders

    spec = builders.base()
    spec["demands"] += [builders.demand("d1", 1, stack="fortran", must_serve="true")]
    instance = builders.write(tmp_path / "infeasible", spec)
    rows = run_bench([instance], tmp_path / "out", BenchSettings(), ExecutorOptions(workers=1, progress=False))
    assert rows[0]["status"] == "infeasible" and "d1" in rows[0]["error"]
    assert (tmp_path / "out" / "bench.md").is_file()


@pytest.mark.unit
@pytest.mark.parametrize("args, message", [
    (["--solver", "gurobi"], "unknown solver gurobi"),
    (["--method", "magic"], "unknown method magic"),
    ([], "no instances"),
])
def test_bad_arguments_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(bench_command, [*args, "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.unit
def test_missing_solver_exits_2_before_running(monkeypatch, tmp_path, two_instances):
    from pyomo.contrib.solver.common.base import Availability
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    monkeypatch.setattr(ScipDirect, "available", lambda self: Availability.NotFound)
    result = CliRunner().invoke(bench_command, [str(two_instances[0]), "--solver", "highs,scip", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "pip install pyscipopt" in result.output
    assert not (tmp_path / "o" / "bench.csv").exists()


@pytest.mark.unit
def test_known_csv_is_checked(tmp_path):
    bad = tmp_path / "known.csv"
    bad.write_text("instance,objective,sense\nx,1,down\n")
    with pytest.raises(ValueError, match="line 2: sense must be min or max"):
        read_known(bad)
    bad.write_text("instance,value\nx,1\n")
    with pytest.raises(ValueError, match="needs the columns instance, objective, sense"):
        read_known(bad)


@pytest.mark.unit
def test_parse_gap_spec_and_combined_hash():
    assert parse_gap_spec("a/gap1.txt") == (Path("a/gap1.txt"), [1])
    assert parse_gap_spec("a/gapc.txt:1-4") == (Path("a/gapc.txt"), [1, 2, 3, 4])
    assert parse_gap_spec("gap2.txt:1,3,5-6") == (Path("gap2.txt"), [1, 3, 5, 6])
    with pytest.raises(ValueError):
        parse_gap_spec("gap2.txt:0")
    digest = combined_sha256({"b.csv": "2", "a.csv": "1"})
    assert digest == combined_sha256({"a.csv": "1", "b.csv": "2"}) and len(digest) == 64
