"""`allocator generate`: byte-for-byte determinism, knobs that do what docs/generate.md says, valid solvable instances."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli.research import generate as generate_command
from allocator.studies.generate.knobs import GenerateError, Knobs, parse_mix
from allocator.studies.generate.make import generate, write_generated

TINY = {
    "city": ["--demands", "100"],
    "east-west": ["--demands", "60", "--periods", "3"],
    "gap-like": ["--demands", "12", "--pools-per-center", "3"],
}
ALL_KNOBS_CITY = ["--demands", "120", "--centers", "3", "--pools-per-center", "3", "--periods", "4",
                  "--enterprises", "20", "--programmes", "2", "--budget-ratio", "0.5", "--capacity-ratio", "0.8",
                  "--green-ratio", "0.5", "--stack-mix", "CUDA=1,CANN=1", "--latency-mix", "batch=0.7,interactive=0.3",
                  "--must-serve-share", "0.05"]


def run_generate(args: list[str]) -> object:
    return CliRunner().invoke(generate_command, args, catch_exceptions=False)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def table(folder: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{stem}.csv", keep_default_na=False, na_values=[""])


def made(tmp_path: Path, family: str, seed: int, **knobs) -> Path:
    folder = tmp_path / f"{family}-{seed}-{len(list(tmp_path.iterdir()))}"
    write_generated(folder, generate(family, seed, Knobs(**knobs)))
    return folder


# --------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("family, args", [*TINY.items(), ("city", ALL_KNOBS_CITY)])
def test_same_seed_same_bytes_other_seed_other_instance(tmp_path, family, args):
    for out, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        result = run_generate([family, "-o", str(tmp_path / out), "--seed", seed, *args])
        assert result.exit_code == 0, result.output
    a, b, c = (files(tmp_path / x) for x in "abc")
    assert a == b
    assert a["demands.csv"] != c["demands.csv"]
    assert set(a) == set(c)


@pytest.mark.unit
def test_description_records_the_command_and_rewriting_a_folder_replaces_it_whole(tmp_path):
    out = tmp_path / "i"
    assert run_generate(["city", "-o", str(out), "--seed", "2", "--demands", "100"]).exit_code == 0
    assert (out / "capacity.csv").exists()
    (out / "README.md").write_text("kept")
    assert run_generate(["gap-like", "-o", str(out), "--seed", "2", "--demands", "10"]).exit_code == 0
    settings = tomllib.loads((out / "instance.toml").read_text())
    assert settings["description"] == "allocator generate gap-like --seed 2 --demands 10"
    assert settings["name"] == "gap-like-2"
    assert not (out / "capacity.csv").exists() and not (out / "README.md").exists()  # the folder is replaced whole


# --------------------------------------------------------------------------
# Valid and solvable
# --------------------------------------------------------------------------


@pytest.mark.component
@pytest.mark.parametrize("family, args", [*TINY.items(), ("city", ALL_KNOBS_CITY),
                                          ("east-west", ["--demands", "60", "--periods", "2", "--centers", "5",
                                                         "--pools-per-center", "2", "--programmes", "3",
                                                         "--capacity-ratio", "1", "--budget-ratio", "0.6"])])
def test_generated_instances_validate_solve_and_check(tmp_path, family, args):
    from allocator.check.run import check_plan
    from allocator.instance.reading import read_instance
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write

    out = tmp_path / "i"
    assert run_generate([family, "-o", str(out), "--seed", "11", *args]).exit_code == 0
    instance = read_instance(out)
    assert [str(w) for w in instance.warnings] == []
    result = solve_and_write(out, tmp_path / "plan", SolveOptions(time_limit=60))
    assert result.status in ("optimal", "feasible")
    assert result.plan.served_value > 0
    assert check_plan(out, tmp_path / "plan").violations == []


# --------------------------------------------------------------------------
# Knobs
# --------------------------------------------------------------------------


@pytest.mark.unit
def test_structure_knobs_city(tmp_path):
    folder = made(tmp_path, "city", 4, demands=120, centers=3, pools_per_center=3, periods=4, programmes=2)
    centers, pools, demands = table(folder, "centers"), table(folder, "pools"), table(folder, "demands")
    assert len(centers) == 3 and len(demands) == 120
    assert pools.groupby("center_id").size().tolist() == [3, 3, 3]
    assert len(table(folder, "programs")) == 2
    assert set(table(folder, "enterprises")["program_id"]) <= set(table(folder, "programs")["program_id"])
    settings = tomllib.loads((folder / "instance.toml").read_text())
    assert (settings["horizon"]["periods"], settings["horizon"]["period_hours"]) == (4, 6.0)
    assert (demands["release"] == 0).all() and (demands["deadline"] == 3).all()
    assert set(table(folder, "capacity")["period"]) == {0, 1, 2, 3}


@pytest.mark.unit
def test_pools_split_into_partitions_keep_the_centers_cards(tmp_path):
    plain = made(tmp_path, "city", 4, demands=100)
    split = made(tmp_path, "city", 4, demands=100, pools_per_center=4)
    before = table(plain, "pools").groupby("center_id")["cards"].sum()
    after = table(split, "pools")
    assert after.groupby("center_id").size().eq(4).all()
    assert after.groupby("center_id")["cards"].sum().equals(before)
    assert "NSC_CD-CPU-p1" in set(after["pool_id"])


@pytest.mark.unit
def test_capacity_ratio(tmp_path):
    folder = made(tmp_path, "east-west", 2, demands=60, periods=4, capacity_ratio=0.5)
    pools, capacity, demands = table(folder, "pools"), table(folder, "capacity"), table(folder, "demands")
    cards = dict(zip(pools["pool_id"], pools["cards"]))
    total = sum(cards.values()) * 4 + sum(c - cards[p] for p, c in zip(capacity["pool_id"], capacity["cards"]))
    assert total * 6.0 == pytest.approx(0.5 * demands["card_hours"].sum(), rel=0.1)  # whole cards: rounding


@pytest.mark.unit
def test_budget_ratio(tmp_path):
    from allocator.studies.generate.enterprises import prescreen, requested_subsidy_yuan
    from allocator.studies.generate.tables import InstanceTables

    folder = made(tmp_path, "city", 4, demands=100, budget_ratio=0.25)
    inst = InstanceTables((folder / "instance.toml").read_text(),
                                   {stem: table(folder, stem) for stem in ("regions", "latency", "centers", "pools",
                                    "compatibility", "programs", "enterprises", "demands", "program_centers",
                                    "green", "capacity")})
    requested = requested_subsidy_yuan(prescreen(inst), inst.tables["enterprises"], inst.tables["programs"])
    programs = table(folder, "programs").set_index("program_id")["budget_yuan"]
    for program, budget in programs.items():
        assert budget == pytest.approx(round(0.25 * requested[program]), abs=0.5)


@pytest.mark.unit
def test_green_ratio(tmp_path):
    from allocator.studies.generate.apply import demand_energy_kwh

    folder = made(tmp_path, "east-west", 2, demands=60, periods=4, green_ratio=0.3)
    tables = {stem: table(folder, stem) for stem in ("centers", "pools", "demands", "green")}
    total = tables["green"]["green_kwh"].sum()  # east-west has a green row for every center and period
    assert len(tables["green"]) == len(tables["centers"]) * 4
    assert total == pytest.approx(0.3 * demand_energy_kwh(tables), rel=1e-3)


@pytest.mark.unit
def test_mixes_are_exact_for_demands_that_are_not_must_serve(tmp_path):
    folder = made(tmp_path, "city", 4, demands=100, stack_mix=parse_mix("CUDA=3,MPI=1"),
                  latency_mix=parse_mix("batch=0.5,interactive=0.5"))
    demands = table(folder, "demands")
    free = demands[~demands["must_serve"]]
    counts = free["stack"].value_counts()
    assert set(counts.index) == {"CUDA", "MPI"}
    assert abs(counts["CUDA"] - 0.75 * len(free)) <= 1
    assert abs((free["latency_class"] == "batch").sum() - 0.5 * len(free)) <= 1


@pytest.mark.unit
def test_must_serve_share(tmp_path):
    gap = table(made(tmp_path, "gap-like", 1, demands=40, must_serve_share=0.25), "demands")
    assert gap["must_serve"].sum() == 10
    city = table(made(tmp_path, "city", 1, demands=200, must_serve_share=0.03), "demands")
    assert 1 <= city["must_serve"].sum() <= 6  # at most round(0.03 x 200), among safely servable requests


@pytest.mark.unit
def test_gap_like_is_type_c_and_feasible_for_its_must_serve_jobs(tmp_path):
    folder = made(tmp_path, "gap-like", 8, demands=30, centers=2, pools_per_center=3, capacity_ratio=0.3)
    pools, comp, demands = table(folder, "pools"), table(folder, "compatibility"), table(folder, "demands")
    assert len(pools) == 6 and pools.groupby("center_id").size().tolist() == [3, 3]
    usage = demands.set_index("stack")["card_hours"].reindex(comp["stack"]).to_numpy() / comp["efficiency"].to_numpy()
    assert np.allclose(usage, np.round(usage), rtol=0, atol=1e-9)  # a_ij read back exactly
    assert usage.min() >= 5 and usage.max() <= 25
    assert comp["adaptation_yuan"].between(10, 50).all()
    assert (table(folder, "programs")["budget_yuan"] == 0).all() and (table(folder, "programs")["rate"] == 0).all()


@pytest.mark.component
def test_gap_like_solve_equals_brute_force(tmp_path):
    """3 agents x 6 jobs, all must-serve: the plan's total bill is the cheapest feasible assignment."""
    from allocator.solve.pipeline import solve_instance

    folder = made(tmp_path, "gap-like", 21, demands=6, pools_per_center=3, capacity_ratio=0.5)
    pools, comp, demands = table(folder, "pools"), table(folder, "compatibility"), table(folder, "demands")
    agents = list(pools["accelerator"])
    cost = comp.pivot(index="accelerator", columns="stack", values="adaptation_yuan").loc[agents, demands["stack"]].to_numpy()
    eff = comp.pivot(index="accelerator", columns="stack", values="efficiency").loc[agents, demands["stack"]].to_numpy()
    use = demands["card_hours"].to_numpy() / eff
    best = min(
        sum(cost[a, j] for j, a in enumerate(choice))
        for choice in itertools.product(range(3), repeat=6)
        if all(sum(use[a, j] for j, aa in enumerate(choice) if aa == a) <= pools["cards"][a] + 1e-9 for a in range(3))
    )
    result = solve_instance(folder)
    assert result.status == "optimal"
    assert result.plan.total_bill_yuan == pytest.approx(best)


@pytest.mark.unit
@pytest.mark.parametrize("args, message", [
    (["gap-like", "--budget-ratio", "0.5"], "gap-like does not take --budget-ratio"),
    (["gap-like", "--periods", "2"], "gap-like has one period"),
    (["city", "--centers", "9"], "this family has 7 centers"),
    (["city", "--programmes", "6"], "this family has 4 programmes"),
    (["city", "--demands", "20"], "city needs --demands 100 or more"),
    (["city", "--stack-mix", "COBOL=1"], "unknown stack COBOL"),
    (["east-west", "--demands", "60", "--data", "/nonexistent"], "no regions.csv"),
])
def test_invalid_knobs_exit_2_naming_the_knob(tmp_path, args, message):
    result = CliRunner().invoke(generate_command, [args[0], "-o", str(tmp_path / "x"), *args[1:]])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.unit
def test_parse_mix():
    assert parse_mix("CUDA=0.5, CANN=0.5") == (("CUDA", 0.5), ("CANN", 0.5))
    for bad in ("CUDA", "CUDA=-1", "CUDA=0", "CUDA=1,CUDA=2", "=1"):
        with pytest.raises(GenerateError):
            parse_mix(bad)
