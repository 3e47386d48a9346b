"""Kinds and rates in the generator families (--kinds, --rates), the bundled hangzhou-day, and the
domestic-accelerator rule of allocator.instance.hardware."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.instance.hardware import accelerator_family, is_domestic
from allocator.instance.reading import read_instance
from tests.conftest import check_plan_files

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "china"
needs_data = pytest.mark.skipif(not (DATA / "regions.csv").is_file(), reason=f"shared data missing: {DATA}")


@pytest.mark.unit
@pytest.mark.parametrize("accelerator, domestic", [
    ("Ascend-910B", True), ("Ascend-910", True), ("ascend910b", True), ("Hygon-DCU", True), ("dcu-z100", True),
    ("Atlas-300I-Duo", True), ("Sunway-node", True), ("Kunlun-R200", True), ("MLU370", True),
    ("NVIDIA-A800", False), ("NVIDIA-H800", False), ("gpu", False), ("a100", False), ("CPU-node", False),
    ("accelerator", False), ("npu", False),
])
def test_domestic_rule(accelerator, domestic):
    assert is_domestic(accelerator) is domestic
    assert accelerator_family(accelerator) == ("domestic" if domestic else "other")


@pytest.mark.unit
@pytest.mark.parametrize("args, message", [
    (["--rates", "domestic=1.5"], "rate within 0..1"),
    (["--rates", "domestic"], "NAME=RATE"),
    (["--rates", "domestic=0.3,domestic=0.2"], "twice"),
    (["--kinds", "startup=0"], "no positive weight"),
])
def test_bad_kinds_and_rates_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(main, ["generate", "city", "-o", str(tmp_path / "g"), *args])
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.unit
def test_gap_like_refuses_rates(tmp_path):
    result = CliRunner().invoke(main, ["generate", "gap-like", "-o", str(tmp_path / "g"), "--rates", "other=0.2"])
    assert result.exit_code == 2 and "does not take --rates" in result.output, result.output


@needs_data
@pytest.mark.component
def test_city_with_kinds_and_rates(tmp_path):
    """--kinds startup=0.5,sme=0.5 on the city family's 35 enterprises (150 demands): 18 and 17 (largest
    remainder, the first kind first); --rates domestic=0.3,other=0.2,startup=0.6: per programme one row per
    accelerator of the pools (Ascend-910, Ascend-910B, Hygon-DCU at 0.3; CPU-node, NVIDIA-A800, NVIDIA-H800
    at 0.2) and one startup row at 0.6. The instance validates and its plan passes the checker."""
    out = tmp_path / "g"
    result = CliRunner().invoke(main, ["generate", "city", "-o", str(out), "--seed", "3", "--demands", "150",
                                       "--data", str(DATA), "--kinds", "startup=0.5,sme=0.5",
                                       "--rates", "domestic=0.3,other=0.2,startup=0.6"])
    assert result.exit_code == 0, result.output
    inst = read_instance(out)
    assert inst.enterprises["kind"].value_counts().to_dict() == {"startup": 18, "sme": 17}
    rates = inst.rates
    chengdu = rates[rates["program_id"] == "chengdu"]
    assert sorted(zip(chengdu["accelerator"], chengdu["enterprise_kind"], chengdu["rate"])) == [
        ("", "startup", 0.6), ("Ascend-910", "", 0.3), ("Ascend-910B", "", 0.3), ("CPU-node", "", 0.2),
        ("Hygon-DCU", "", 0.3), ("NVIDIA-A800", "", 0.2), ("NVIDIA-H800", "", 0.2)]
    assert len(rates) == 7 * len(inst.programs)
    assert "--kinds startup=0.5,sme=0.5 --rates domestic=0.3,other=0.2,startup=0.6" in inst.description
    plan = tmp_path / "p"
    assert CliRunner().invoke(main, ["solve", str(out), "-o", str(plan), "--method", "greedy"]).exit_code == 0
    check_plan_files(out, plan)


@needs_data
@pytest.mark.component
def test_hangzhou_day_is_the_hangzhou_pattern_and_its_fund_binds(tmp_path):
    """instances/hangzhou-day: rates 0.3 on the Ascend and DCU pools, 0.2 on the others (subsidy_policies.csv,
    Hangzhou: 30 % domestic, 20 % other), every enterprise has a kind, and the optimal plan spends the fund."""
    folder = REPO / "instances" / "hangzhou-day"
    inst = read_instance(folder)
    rates = dict(zip(inst.rates["accelerator"], inst.rates["rate"]))
    assert rates == {"Ascend-910B": 0.3, "Hygon-DCU": 0.3, "CPU-node": 0.2, "NVIDIA-A800": 0.2, "NVIDIA-H800": 0.2}
    assert (inst.enterprises["kind"] != "").all()
    assert set(inst.enterprises["kind"]) == {"startup", "sme", "large", "university"}
    result = CliRunner().invoke(main, ["solve", str(folder), "-o", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    programs = pd.read_csv(tmp_path / "p" / "programs.csv")
    assert programs.loc[0, "remaining_yuan"] <= 1e-3 * programs.loc[0, "budget_yuan"]
    check_plan_files(folder, tmp_path / "p")
