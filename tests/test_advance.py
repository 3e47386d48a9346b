"""allocator advance: tomorrow's instance from today's instance and plan.

Unit and component tests on tiny instances (the world of tests/builders.py), then
ten days of advance + solve on instances/chengdu-day with fresh requests every day,
summing the ten plans against the year's budgets and caps.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli.plans import advance
from allocator.files import OutputRefused
from allocator.instance.reading import read_instance
from allocator.problems import InvalidInstance
from allocator.studies.advance import (
    AdvanceInputError,
    PlanRejected,
    advance_instance,
    next_name,
    renamed_toml,
)
from tests.builders import base, demand
from tests.conftest import REPO, check_plan_files

TOLERANCE = 1e-6  # the SPEC's: absolute 1e-6 plus relative 1e-6


def at_most(a: float, b: float) -> bool:
    return a <= b + TOLERANCE + TOLERANCE * max(abs(a), abs(b))


def table(folder: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{stem}.csv", keep_default_na=False, na_values=[""], dtype={"demand_id": str})


# --------------------------------------------------------------------------- names


@pytest.mark.unit
def test_day_suffix():
    assert next_name("chengdu-day") == "chengdu-day+1"
    assert next_name("chengdu-day+1") == "chengdu-day+2"
    assert next_name("x+9") == "x+10"


@pytest.mark.unit
def test_only_the_top_level_name_is_rewritten():
    text = 'schema = 1\nname = "a+1"  # day\ndescription = "name = b"\n[horizon]\nname = 3\n'
    assert renamed_toml(text, "a+2") == 'schema = 1\nname = "a+2"  # day\ndescription = "name = b"\n[horizon]\nname = 3\n'
    with pytest.raises(AdvanceInputError):
        renamed_toml("schema = 1\n[horizon]\nname = 'x'\n", "y")


# --------------------------------------------------------------------------- one day on a tiny world


def day_spec() -> dict:
    """pB only (1 yuan/card-hour, 10 cards, two periods of one hour); G: rate 0.5, budget 6.

    d1 (E1, 6 card-hours, period 1) and d2 (E2, 4) are served, bills 6 and 4, subsidies 3
    and 2: 5 of the budget, value 10. d3 (E2, 14 card-hours, priority 0.5: value 7, subsidy 7)
    fits the budget neither alone nor with them; it is carried over, and so is d4 (E2, fortran),
    which can never run.
    """
    spec = base()
    spec["settings"]["periods"] = 2
    spec["programs"][0]["budget_yuan"] = 6.0
    spec["program_centers"] = [{"program_id": "G", "center_id": "cB"}]
    spec["enterprises"] = [{"enterprise_id": "E1", "program_id": "G", "subsidy_ytd_yuan": 10, "spend_ytd_yuan": 100},
                           {"enterprise_id": "E2", "program_id": "G", "cap_yuan": 50}]
    spec["demands"] += [demand("d1", 6, release=1, deadline=1), demand("d2", 4, enterprise="E2"),
                        demand("d3", 14, enterprise="E2", priority=0.5),
                        demand("d4", 1, enterprise="E2", stack="fortran", priority=3)]
    return spec


@pytest.fixture
def day0(solve_spec):
    s = solve_spec(day_spec())
    assert s.served == {"d1": "pB", "d2": "pB"}
    return s


@pytest.mark.component
def test_one_day_books_the_plan_and_carries_the_rest(day0, tmp_path):
    done = advance_instance(day0.instance_dir, day0.plan_dir, tmp_path / "next", age_priority=1.5)
    nxt = read_instance(tmp_path / "next")
    assert nxt.name == "test+1" and done.name == "test+1"
    assert (done.served_removed, done.carried, done.added) == (2, 2, 0)
    ent = nxt.enterprises.set_index("enterprise_id")
    assert ent.at["E1", "subsidy_ytd_yuan"] == pytest.approx(10 + 3)
    assert ent.at["E1", "spend_ytd_yuan"] == pytest.approx(100 + 6)
    assert ent.at["E2", "subsidy_ytd_yuan"] == pytest.approx(2)
    assert ent.at["E2", "spend_ytd_yuan"] == pytest.approx(4)
    assert ent.at["E2", "cap_yuan"] == 50 and ent.at["E1", "cap_yuan"] == math.inf  # caps kept
    assert nxt.programs.set_index("program_id").at["G", "budget_yuan"] == pytest.approx(1.0)
    d = nxt.demands.set_index("demand_id")
    assert list(d.index) == ["d3", "d4"]
    assert (d["release"] == 0).all() and (d["deadline"] == 1).all()  # the new horizon's last period
    assert d.at["d3", "priority"] == pytest.approx(0.75) and d.at["d4", "priority"] == pytest.approx(4.5)
    assert not d["must_serve"].any()  # kept as they were
    raw = table(tmp_path / "next", "demands")
    assert raw["deadline"].isna().all()  # written empty: "the last period"
    for name in ("regions.csv", "latency.csv", "centers.csv", "pools.csv", "compatibility.csv", "program_centers.csv"):
        assert (tmp_path / "next" / name).read_bytes() == (day0.instance_dir / name).read_bytes()
    provenance = json.loads((tmp_path / "next" / "summary.json").read_text())
    assert provenance["from_instance"] == "test" and provenance["age_priority"] == 1.5


@pytest.mark.component
def test_new_demands_are_merged(day0, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("demand_id,enterprise_id,home_region,stack,latency_class,card_hours,must_serve,colour\n"
                   "n1,E1,A,cuda,batch,2,true,red\n"
                   "n2,E2,B,cuda,interactive,3,,\n")
    done = advance_instance(day0.instance_dir, day0.plan_dir, tmp_path / "next", new_demands=new)
    assert done.added == 2 and any("colour" in w for w in done.warnings)
    d = read_instance(tmp_path / "next").demands.set_index("demand_id")
    assert list(d.index) == ["d3", "d4", "n1", "n2"]
    assert bool(d.at["n1", "must_serve"]) and not bool(d.at["n2", "must_serve"])
    assert d.at["n2", "priority"] == 1.0  # defaults apply to new rows


@pytest.mark.component
@pytest.mark.parametrize("rows, what", [
    ("d3,E1,A,cuda,batch,2\n", "already a demand"),
    ("n1,E1,A,cuda,batch,2\nn1,E2,A,cuda,batch,1\n", "appears twice"),
])
def test_duplicate_demand_ids_exit_2(day0, tmp_path, rows, what):
    new = tmp_path / "new.csv"
    new.write_text("demand_id,enterprise_id,home_region,stack,latency_class,card_hours\n" + rows)
    result = CliRunner().invoke(advance, [str(day0.instance_dir), str(day0.plan_dir), "-o", str(tmp_path / "next"),
                                          "--new-demands", str(new)])
    assert result.exit_code == 2, result.output
    assert what in result.output and "line" in result.output
    assert not (tmp_path / "next").exists()


@pytest.mark.component
def test_invalid_new_demand_is_named_at_its_line(day0, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("demand_id,enterprise_id,home_region,stack,latency_class,card_hours\n\nn1,E1,A,cuda,batch,2\n"
                   "n2,NOBODY,A,cuda,batch,2\n")
    with pytest.raises(InvalidInstance) as caught:
        advance_instance(day0.instance_dir, day0.plan_dir, tmp_path / "next", new_demands=new)
    text = "\n".join(map(str, caught.value.problems))
    assert f"{new}, line 4" in text and "NOBODY" in text
    assert not (tmp_path / "next").exists()
    assert not any(p.name.startswith(".next") for p in tmp_path.iterdir())  # no temporary folder left


@pytest.mark.component
def test_a_plan_of_another_instance_is_refused(day0, solve_spec, tmp_path):
    other = day_spec()
    other["programs"][0]["budget_yuan"] = 7.0
    s2 = solve_spec(other)
    with pytest.raises(PlanRejected, match="instance_sha256"):
        advance_instance(day0.instance_dir, s2.plan_dir, tmp_path / "next")
    result = CliRunner().invoke(advance, [str(day0.instance_dir), str(s2.plan_dir), "-o", str(tmp_path / "next")])
    assert result.exit_code == 1


@pytest.mark.component
def test_an_existing_folder_is_replaced_whole(day0, tmp_path):
    """A next-day folder this tool wrote is replaced whole; a folder it did not write is refused, untouched."""
    out = tmp_path / "next"
    advance_instance(day0.instance_dir, day0.plan_dir, out)
    (out / "stale.txt").write_text("old")
    advance_instance(day0.instance_dir, day0.plan_dir, out)
    assert not (out / "stale.txt").exists() and (out / "instance.toml").is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputRefused):
        advance_instance(day0.instance_dir, day0.plan_dir, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


@pytest.mark.e2e
def test_cli_advance(day0, tmp_path):
    result = CliRunner().invoke(advance, [str(day0.instance_dir), str(day0.plan_dir), "-o", str(tmp_path / "n"),
                                          "--age-priority", "1.2"])
    assert result.exit_code == 0, result.output
    assert "2 served removed, 2 carried over, 0 new" in result.output
    bad = CliRunner().invoke(advance, [str(day0.instance_dir), str(day0.plan_dir), "-o", str(tmp_path / "m"),
                                       "--age-priority", "0"])
    assert bad.exit_code == 2


# --------------------------------------------------------------------------- ten days


def bundled(name: str, tmp_path_factory) -> Path | None:
    """instances/NAME, or the same instance generated by instances/build.py into a temporary
    folder while it is not bundled yet; None if neither is possible."""
    folder = REPO / "instances" / name
    if (folder / "instance.toml").is_file():
        return folder
    data = REPO.parent / "shared" / "data" / "china"
    build = REPO / "instances" / "build.py"
    if not build.is_file() or not (data / "regions.csv").is_file():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location("instances_build", build)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return module.build(data, [name], tmp_path_factory.mktemp("generated"))[0]
    except Exception:  # noqa: BLE001 - a generator still being written is no reason to fail these tests
        return None


def chengdu_day(tmp_path_factory) -> Path:
    folder = bundled("chengdu-day", tmp_path_factory)
    if folder is None:
        pytest.skip("instances/chengdu-day is not bundled and cannot be generated here")
    return folder


def stretch_the_year(source: Path, folder: Path) -> Path:
    """chengdu-day with a fund that lasts a few days and caps that bind within ten.

    chengdu-day's budgets are one day's share of the fund: each programme gets two
    days' worth, and each enterprise's cap is set 60,000 yuan above what it has had
    this year, so that budgets and caps run out during the ten days and the test sees them hold.
    """
    shutil.copytree(source, folder)
    programs = pd.read_csv(folder / "programs.csv", keep_default_na=False, na_values=[""])
    programs["budget_yuan"] = programs["budget_yuan"] * 2
    programs.to_csv(folder / "programs.csv", index=False, lineterminator="\n")
    ent = pd.read_csv(folder / "enterprises.csv", keep_default_na=False, na_values=[""], dtype=str)
    ytd = pd.to_numeric(ent["subsidy_ytd_yuan"].replace("", "0"))
    ent["cap_yuan"] = (ytd + 60000).map(lambda x: f"{x:g}")
    ent.to_csv(folder / "enterprises.csv", index=False, lineterminator="\n")
    return folder


def fresh_demands(template: pd.DataFrame, day: int, n: int = 40) -> pd.DataFrame:
    """n new requests for a day: drawn (seeded by the day) from the original day's requests, new ids and sizes."""
    rng = np.random.default_rng(1000 + day)
    rows = template.iloc[rng.choice(len(template), size=n, replace=False)].copy()
    rows["demand_id"] = [f"N{day:02d}-{i:03d}" for i in range(n)]
    rows["card_hours"] = (rows["card_hours"].astype(float) * rng.uniform(0.5, 1.5, n)).round(0).clip(lower=1)
    rows["must_serve"] = "false"
    rows["release"] = ""
    rows["deadline"] = ""
    return rows


@pytest.mark.e2e
@pytest.mark.slow
def test_ten_days_keep_every_annual_total(tmp_path, tmp_path_factory):
    """Ten days of solve + advance with 40 fresh requests a day. Summing the ten plans: every programme's
    subsidy is within its original budget and every enterprise's within its remaining cap; every
    day's plan passes allocator check; the last day's ledger equals the first day's plus the ten plans."""
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write

    first = stretch_the_year(chengdu_day(tmp_path_factory), tmp_path / "day00")
    template = pd.read_csv(first / "demands.csv", keep_default_na=False, na_values=[""], dtype=str)
    budgets = read_instance(first).programs.set_index("program_id")["budget_yuan"]
    ent0 = read_instance(first).enterprises.set_index("enterprise_id")
    program_total = pd.Series(0.0, index=budgets.index)
    enterprise_total = pd.Series(0.0, index=ent0.index)
    options = SolveOptions(time_limit=20.0, gap=1e-3)
    instance, served_per_day = first, []
    for day in range(10):
        plan = tmp_path / f"plan{day:02d}"
        solve_and_write(instance, plan, options)
        check_plan_files(instance, plan)
        programs = table(plan, "programs").set_index("program_id")
        enterprises = table(plan, "enterprises").set_index("enterprise_id")
        program_total = program_total.add(programs["subsidy_yuan"], fill_value=0.0)
        enterprise_total = enterprise_total.add(enterprises["subsidy_yuan"], fill_value=0.0)
        served_per_day.append(len(table(plan, "assignments")))
        new = tmp_path / f"new{day + 1:02d}.csv"
        fresh_demands(template, day + 1).to_csv(new, index=False, lineterminator="\n")
        nxt = tmp_path / f"day{day + 1:02d}"
        advance_instance(instance, plan, nxt, new_demands=new, age_priority=1.1)
        instance = nxt

    for g, budget in budgets.items():
        assert at_most(program_total[g], budget), f"programme {g}: {program_total[g]} over the year's {budget}"
    remaining = (ent0["cap_yuan"] - ent0["subsidy_ytd_yuan"]).clip(lower=0.0)
    for e, total in enterprise_total.items():
        assert at_most(total, remaining[e]), f"enterprise {e}: {total} over its remaining cap {remaining[e]}"
        assert at_most(ent0.at[e, "subsidy_ytd_yuan"] + total, max(ent0.at[e, "cap_yuan"], ent0.at[e, "subsidy_ytd_yuan"]))
    last = read_instance(instance)
    assert last.name.endswith("+10")
    # The ledger is kept in whole fen on the safe side: each day's subsidy_ytd rounded up (at most a fen a
    # day above the plans' total), each day's fund left rounded down (at most a fen a day below).
    ledger = last.enterprises.set_index("enterprise_id")["subsidy_ytd_yuan"].reindex(ent0.index)
    exact_ytd = ent0["subsidy_ytd_yuan"] + enterprise_total
    assert ((ledger >= exact_ytd - 1e-6) & (ledger <= exact_ytd + 0.01 * 10 + 1e-6)).all()
    assert np.allclose(ledger * 100, np.round(ledger * 100), atol=1e-6)  # whole fen
    left = last.programs.set_index("program_id")["budget_yuan"].reindex(budgets.index)
    exact_left = (budgets - program_total).clip(lower=0)
    assert ((left <= exact_left + 1e-6) & (left >= exact_left - 0.01 * 10 - 1e-6)).all()
    assert np.allclose(left * 100, np.round(left * 100), atol=1e-6)
    # The year's money does run out during the ten days (so the test exercises the limits).
    assert any(program_total[g] >= 0.99 * budgets[g] for g in budgets.index if budgets[g] > 0)
    assert (enterprise_total >= remaining - 1.0).sum() >= 1
    assert sum(served_per_day[1:]) > 0
