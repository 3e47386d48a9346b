"""The scaling benchmark: its instance generator and one end-to-end measurement."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.scale import (
    LADDER_ALL,
    PIPELINE_COLUMNS,
    Settings,
    measure,
    parse_sizes,
    render,
)
from benchmarks.synthetic import Size, make_instance


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.unit
def test_generator_is_deterministic(tmp_path):
    a = make_instance(tmp_path / "a", 300, 20, 24, seed=7)
    b = make_instance(tmp_path / "b", 300, 20, 24, seed=7)
    c = make_instance(tmp_path / "c", 300, 20, 24, seed=8)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


@pytest.mark.unit
@pytest.mark.parametrize("n_demands, n_pools, periods", [(100, 10, 1), (400, 25, 1), (200, 20, 24)])
def test_generated_instance_is_valid_and_shaped_as_asked(tmp_path, n_demands, n_pools, periods):
    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen

    folder = make_instance(tmp_path / "inst", n_demands, n_pools, periods, seed=0)
    instance = read_instance(folder)  # raises InvalidInstance on any error
    assert instance.warnings == []
    assert len(instance.demands) == n_demands
    assert len(instance.pools) == n_pools
    assert instance.periods == periods
    assert instance.period_hours == (24.0 if periods == 1 else 1.0)
    assert len(instance.regions) == 8
    assert instance.pools.groupby("center_id").size().between(1, 10).all()
    assert 2 <= len(instance.programs) <= 3
    assert len(instance.enterprises) == max(2, round(n_demands / 20))
    assert not instance.demands["must_serve"].any()
    cross = instance.compatibility[instance.compatibility["efficiency"] < 1.0]
    assert cross["efficiency"].between(0.6, 0.9).all() and (cross["adaptation_yuan"] > 0).all()
    assert (instance.programs["min_voucher_yuan"] > 0).sum() <= 1
    # capacity alone cannot take every demand
    capacity = instance.pools["cards"].sum() * instance.periods * instance.period_hours
    assert instance.demands["card_hours"].sum() > capacity
    # after screening, a demand sees a minority of the pools
    pairs = screen(instance).pairs
    assert 0.05 < len(pairs) / (n_demands * n_pools) < 0.6
    if periods > 1:
        assert (instance.demands["deadline"] > instance.demands["release"]).any()
        assert not instance.green.empty and (instance.centers["min_green_share"] > 0).any()


@pytest.mark.unit
def test_sizes_option():
    assert parse_sizes("all") == LADDER_ALL
    assert parse_sizes("100,10,1; 200,20,24") == (Size(100, 10, 1), Size(200, 20, 24))
    with pytest.raises(Exception):
        parse_sizes("100,10")


@pytest.mark.unit
def test_render_marks_missing_figures():
    text = render([{"size": "1x1x1", "pairs": 1234, "total_s": float("nan")}], PIPELINE_COLUMNS)
    assert "1,234" in text and " - " in text


@pytest.mark.component
def test_smallest_ladder_size_end_to_end(tmp_path):
    smallest = LADDER_ALL[0]
    row = measure(smallest, tmp_path, Settings(time_limit=3.0, gap=1e-4), in_process=True)
    assert "probe_error" not in row and "pipeline_error" not in row
    assert row["status"] in ("optimal", "feasible")
    assert row["rows"] > 0 and row["cols"] >= row["pairs"] > 0 and row["nnz"] > row["cols"]
    for phase in ("load_s", "build_s", "solve_s", "extract_s", "write_s", "stage1_s", "alone_seconds", "lp_seconds"):
        assert row[phase] >= 0.0, phase
    assert 0.0 < row["build_extract_share"] < 1.0
    # the exported matrix is stage 1: HiGHS alone reaches the same served value, under the LP bound
    if row["stage1_status"] == "optimal" and row["alone_status"] == "Optimal":
        assert math.isclose(row["alone_objective"], row["stage1_objective"], rel_tol=2e-4)
    assert row["lp_objective"] >= row["served_value"] - 1e-6
    assert row["stage1_objective"] >= row["greedy_value"] - 1e-6  # the greedy plan is the MIP start
    assert (tmp_path / "plan" / "summary.json").is_file()
    assert len(pd.read_csv(tmp_path / "plan" / "assignments.csv")) == row["demands_served"]
