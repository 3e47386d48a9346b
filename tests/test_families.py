"""Instance generators (allocator.studies.generate) and the bundled instances they build."""

from __future__ import annotations

import io
import math
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from allocator.instance.schema import TABLE_BY_STEM, TABLES
from allocator.studies.generate.bundled import (
    BUNDLED,
    bundled_instance,
    table_csv_text,
    write_instance,
)
from allocator.studies.generate.city_day import city_day
from allocator.studies.generate.east_west import east_west
from allocator.studies.generate.enterprises import prescreen, requested_subsidy_yuan
from allocator.studies.generate.facts import load_china_facts
from allocator.studies.generate.tables import InstanceTables

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "china"
INSTANCES = REPO / "instances"

ALL_STEMS = [t.stem for t in TABLES]
REASONS = {
    "ineligible_enterprise",
    "no_designated_center",
    "no_compatible_pool",
    "no_pool_within_latency",
    "window_too_short",
    "below_threshold",
}

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not (DATA / "regions.csv").is_file(), reason=f"shared data missing: {DATA}"),
]


@pytest.fixture(scope="module")
def facts() -> dict:
    return load_china_facts(DATA)


@pytest.fixture(scope="module")
def generated(facts) -> dict[str, InstanceTables]:
    return {name: bundled_instance(name, facts) for name in BUNDLED}


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every generated file of an instance folder (README.md excluded)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "README.md"}


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "make",
    [
        lambda f, s: city_day(f, s, n_demands=120),
        lambda f, s: east_west(f, s, n_demands=300, periods=12),
    ],
    ids=["city_day", "east_west"],
)
def test_same_seed_gives_identical_bytes(facts, tmp_path, make):
    write_instance(tmp_path / "a", make(facts, 7))
    write_instance(tmp_path / "b", make(facts, 7))
    write_instance(tmp_path / "c", make(facts, 8))
    a, b, c = (folder_bytes(tmp_path / x) for x in "abc")
    assert a == b
    assert a["demands.csv"] != c["demands.csv"]


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_instance_equals_regeneration(generated, tmp_path, name):
    bundled = INSTANCES / name
    assert bundled.is_dir(), f"run: PYTHONPATH=. python instances/build.py {name}"
    write_instance(tmp_path / name, generated[name])
    assert folder_bytes(bundled) == folder_bytes(tmp_path / name), (
        f"instances/{name} is stale; regenerate with: PYTHONPATH=. python instances/build.py {name}"
    )
    assert (bundled / "README.md").is_file()


def test_csv_formatting_is_plain(generated):
    text = table_csv_text(generated["chengdu-day"].tables["programs"])
    assert "\r" not in text and text.endswith("\n")
    assert "e+" not in text and "e-" not in text  # fixed-point, no exponent notation


# ---------------------------------------------------------------- sanity


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_spec_column_present_when_read_back(generated, tmp_path, name):
    write_instance(tmp_path, generated[name])
    for stem in ALL_STEMS:
        path = tmp_path / f"{stem}.csv"
        assert path.is_file(), stem
        df = pd.read_csv(path, keep_default_na=False, dtype=str)
        assert list(df.columns) == TABLE_BY_STEM[stem].column_names, stem
        for column in TABLE_BY_STEM[stem].columns:
            if column.required:
                assert (df[column.name] != "").all(), f"{stem}.{column.name} has empty cells"
    cfg = tomllib.loads((tmp_path / "instance.toml").read_text(encoding="utf-8"))
    assert cfg["schema"] == 1 and cfg["name"] == name


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_ids_unique(generated, name):
    for stem, df in generated[name].tables.items():
        key = list(TABLE_BY_STEM[stem].key)
        assert not df.duplicated(key).any(), f"{stem}: duplicate {key}"


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_references_resolve(generated, name):
    t = generated[name].tables
    regions = set(t["regions"]["region_id"])
    centers = set(t["centers"]["center_id"])
    pools = set(t["pools"]["pool_id"])
    programs = set(t["programs"]["program_id"])
    enterprises = set(t["enterprises"]["enterprise_id"])
    stacks = set(t["compatibility"]["stack"])
    assert set(t["latency"]["from_region"]) | set(t["latency"]["to_region"]) <= regions
    assert set(t["centers"]["region_id"]) <= regions
    assert set(t["pools"]["center_id"]) <= centers
    assert set(t["pools"]["accelerator"]) <= set(t["compatibility"]["accelerator"])
    assert set(t["enterprises"]["program_id"]) <= programs
    assert set(t["demands"]["enterprise_id"]) <= enterprises
    assert set(t["demands"]["home_region"]) <= regions
    assert set(t["demands"]["stack"]) <= stacks
    assert set(t["program_centers"]["program_id"]) <= programs
    assert set(t["program_centers"]["center_id"]) <= centers
    assert set(t["green"]["center_id"]) <= centers
    assert set(t["capacity"]["pool_id"]) <= pools


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_values_within_spec_ranges(generated, name):
    inst = generated[name]
    cfg = tomllib.loads(inst.toml_text)
    periods = cfg["horizon"]["periods"]
    t = inst.tables
    d = t["demands"]
    assert (d["release"] >= 0).all() and (d["release"] <= d["deadline"]).all()
    assert (d["deadline"] <= periods - 1).all()
    assert (d["card_hours"] > 0).all() and (d["max_cards"] > 0).all()
    assert set(d["latency_class"]) <= set(cfg["latency_classes"])
    for stem in ("green", "capacity"):
        assert t[stem]["period"].between(0, periods - 1).all()
    c = t["compatibility"]
    assert ((c["efficiency"] > 0) & (c["efficiency"] <= 1)).all()
    assert t["programs"]["rate"].between(0, 1).all()
    assert t["centers"]["min_green_share"].between(0, 1).all()
    assert (t["centers"]["pue"] >= 1).all()


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_must_serve_demands_pass_prescreen(generated, name):
    inst = generated[name]
    screen = prescreen(inst).set_index("demand_id")
    must = inst.tables["demands"].loc[inst.tables["demands"]["must_serve"], "demand_id"]
    assert len(must) > 0
    assert (screen.loc[must, "reason"] == "").all()


def test_chengdu_day_shows_every_prescreen_reason(generated):
    reasons = set(prescreen(generated["chengdu-day"])["reason"]) - {""}
    assert reasons == REASONS


def test_chengdu_day_shape(generated):
    inst = generated["chengdu-day"]
    cfg = tomllib.loads(inst.toml_text)
    assert cfg["horizon"] == {"periods": 1, "period_hours": 24.0}
    t = inst.tables
    assert len(t["demands"]) == 300
    assert 60 <= len(t["enterprises"]) <= 80
    assert len(t["pools"]) <= 12
    assert set(t["demands"]["stack"]) == {"CUDA", "CANN", "DTK", "MPI"}
    programs = t["programs"].set_index("program_id")
    assert programs.loc["chengdu", ["rate", "enterprise_cap_yuan", "min_voucher_yuan"]].tolist() == [
        0.5, 1_000_000.0, 10_000.0
    ]
    assert programs.loc["chengdu-major-national", "enterprise_cap_yuan"] == 3_000_000.0
    assert programs.loc["chengdu-major-provincial", "enterprise_cap_yuan"] == 1_500_000.0


def test_chengdu_budget_binds(generated):
    inst = generated["chengdu-day"]
    t = inst.tables
    requested = requested_subsidy_yuan(prescreen(inst), t["enterprises"], t["programs"])
    budget = t["programs"].set_index("program_id").loc["chengdu", "budget_yuan"]
    assert 1.5 <= requested["chengdu"] / budget <= 2.0


def test_east_west_shape(generated):
    inst = generated["east-west-24h"]
    cfg = tomllib.loads(inst.toml_text)
    assert cfg["horizon"] == {"periods": 24, "period_hours": 1.0}
    assert cfg["objective"]["carbon_price_yuan_per_kg"] > 0
    t = inst.tables
    regions = set(t["regions"]["region_id"])
    assert len(regions) == 18 and all(r.startswith(("HUB_", "CL_")) for r in regions)
    assert len(t["latency"]) == 18 * 17 // 2
    assert 30 <= len(t["pools"]) <= 40
    assert 1500 <= len(t["demands"]) <= 2500
    homes = t["demands"]["home_region"]
    assert homes.isin(["HUB_BTH", "HUB_YRD", "HUB_GBA", "HUB_CY"]).mean() > 0.8
    green = t["green"].pivot(index="center_id", columns="period", values="green_kwh")
    solar = green.loc["QY_SH"]
    assert solar[0] == 0 and solar[23] == 0 and solar.idxmax() in (11, 12)
    wind = green.loc["ZJK_DC"]
    assert wind[3] > wind[15] > 0


def test_east_west_batch_windows_are_longer(generated):
    d = generated["east-west-24h"].tables["demands"]
    window = d["deadline"] - d["release"] + 1
    by_class = window.groupby(d["latency_class"]).median()
    assert by_class["batch"] >= 12 > by_class["realtime"]


def test_latency_matches_shared_matrix(facts, generated):
    matrix = facts["latency_ms"]
    for row in generated["east-west-24h"].tables["latency"].itertuples(index=False):
        assert math.isclose(row.rtt_ms, matrix.loc[row.from_region, row.to_region])
        assert math.isclose(row.rtt_ms, matrix.loc[row.to_region, row.from_region])


def test_write_instance_removes_stale_tables(generated, tmp_path):
    (tmp_path / "old.csv").write_text("x\n")
    (tmp_path / "green.parquet").write_bytes(b"stale")
    (tmp_path / "README.md").write_text("keep\n")
    inst = generated["chengdu-day"]
    smaller = InstanceTables(inst.toml_text, {k: v for k, v in inst.tables.items() if k != "capacity"})
    write_instance(tmp_path, inst)
    write_instance(tmp_path, smaller)
    assert not (tmp_path / "capacity.csv").exists()
    assert not (tmp_path / "green.parquet").exists()
    assert (tmp_path / "README.md").read_text() == "keep\n"
    assert (tmp_path / "old.csv").exists()  # not a schema table: left alone
    pd.read_csv(io.StringIO((tmp_path / "demands.csv").read_text()))
