"""Sweeps over rates.csv rows (--rate-row), the domestic shares and the marginal value per yuan in sweep.csv.

Worlds: tests/test_sweep.py's small instance (funds 5, 10, 20: optimizer 8, 8, 10; FCFS 2, 6, 10) and
tests/test_rates.py's bonus world (without the bonus row F is below the voucher and d runs on gpu;
with ascend at 0.3 d moves to the Ascend pool and F is served).
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli.budget import sweep as sweep_command
from allocator.instance.reading import read_instance
from allocator.problems import AllocatorError
from allocator.studies.sweep.points import RateRow, SweepAxes, SweepOptions, SweepPoint
from allocator.studies.sweep.run import run_sweep
from allocator.studies.sweep.table import read_sweep
from allocator.studies.sweep.values import parse_values
from allocator.studies.sweep.variants import load_instance_files, variant_files
from tests import builders
from tests.test_rates import _ascend_world, _bonus_world
from tests.test_sweep import small_spec

QUIET = SweepOptions(workers=1, progress=False, min_budget=False)


@pytest.mark.component
def test_marginal_value_per_yuan_between_funds(tmp_path):
    """Optimizer 8, 8, 10 at funds 5, 10, 20: per yuan (8 - 8) / 5 = 0 and (10 - 8) / 10 = 0.2; FCFS 2, 6, 10:
    4 / 5 = 0.8 and 4 / 10 = 0.4; nothing at the smallest fund. summary.md shows them."""
    folder = builders.write(tmp_path / "i", small_spec())
    run_sweep(folder, tmp_path / "o", SweepAxes(budget=parse_values("5,20", money=True)), QUIET)
    table = read_sweep(tmp_path / "o" / "sweep.csv")
    assert list(table["fund_yuan"]) == [5.0, 10.0, 20.0]
    assert table["marginal_value_per_yuan_opt"].tolist()[1:] == pytest.approx([0.0, 0.2])
    assert table["marginal_value_per_yuan_fcfs"].tolist()[1:] == pytest.approx([0.8, 0.4])
    assert table[["marginal_value_per_yuan_opt", "marginal_value_per_yuan_fcfs"]].iloc[0].isna().all()
    assert (table["domestic_card_hours_share_opt"] == 0).all()  # gpu only
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "| 20 | 100.0 % | optimal" in summary and "| 0.2 | 100.0 % | +0.0 | 0.4 |" in summary


@pytest.mark.component
def test_domestic_rate_row_sweep_on_the_bonus_world(tmp_path):
    """--rate-row @domestic/=0.2,0.3 (the Ascend pool's row): at 0.2 only d is served, on gpu (value 10,
    domestic 0 % of card-hours and subsidy); at 0.3 d and f1 run on Ascend, f2 on gpu: value 30, domestic
    20 / 30 card-hours and (6 + 3.6) / 11.6 of the subsidy."""
    folder = builders.write(tmp_path / "i", _bonus_world(False))
    axes = SweepAxes(rate_row=RateRow.parse("@domestic/"), row_rate=parse_values("0.2,0.3", high=1.0))
    outcome = run_sweep(folder, tmp_path / "o", axes, QUIET)
    table = read_sweep(tmp_path / "o" / "sweep.csv").set_index("row_rate")
    assert table.loc[[0.2, 0.3], "served_value_opt"].tolist() == [10.0, 30.0]
    assert table.loc[[0.2, 0.3], "domestic_card_hours_share_opt"].tolist() == pytest.approx([0.0, 2 / 3])
    assert table.loc[[0.2, 0.3], "domestic_subsidy_share_opt"].tolist() == pytest.approx([0.0, 9.6 / 11.6])
    assert [line.label for line in outcome.summary.lines] == ["row rate 0.2", "row rate 0.3"]
    assert "row(s) @domestic/ (ACCELERATOR/KIND" in (tmp_path / "o" / "summary.md").read_text()
    assert (tmp_path / "o" / "sweep.png").stat().st_size > 10_000


@pytest.mark.unit
def test_rate_row_variants_set_add_and_keep_rows(tmp_path):
    """rates.csv G/ascend/ 0.5 and G//sme 0.4: '@domestic/=0.35' sets the first; '/startup=0.6' adds a
    G//startup row; '@other/=0.1' adds G/gpu/; other rows stay as they were."""
    spec = _ascend_world()
    spec["enterprises"][0]["kind"] = "startup"
    spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.5},
                     {"program_id": "G", "accelerator": "", "enterprise_kind": "sme", "rate": 0.4}]
    folder = builders.write(tmp_path / "i", spec)
    instance = read_instance(folder)
    files = load_instance_files(folder)

    def rows(selector: str, rate: float) -> list[tuple]:
        out = variant_files(files, instance, ["G"], SweepPoint(row_rate=rate), RateRow.parse(selector))
        table = pd.read_csv(io.BytesIO(out["rates.csv"]), dtype=str, keep_default_na=False)
        return sorted(map(tuple, table.to_numpy().tolist()))

    assert rows("@domestic/", 0.35) == [("G", "", "sme", "0.4"), ("G", "ascend", "", "0.35")]
    assert rows("/startup", 0.6) == [("G", "", "sme", "0.4"), ("G", "", "startup", "0.6"), ("G", "ascend", "", "0.5")]
    assert rows("@other/", 0.1) == [("G", "", "sme", "0.4"), ("G", "ascend", "", "0.5"), ("G", "gpu", "", "0.1")]
    with pytest.raises(AllocatorError, match="unknown accelerator 'tpu'"):
        rows("tpu/", 0.3)


@pytest.mark.unit
@pytest.mark.parametrize("value, message", [
    ("@domestic=0.3", "ACCELERATOR/KIND"),
    ("@domestic/", "ACCELERATOR/KIND=VALUES"),
    ("@domestic/=1.5", "outside"),
])
def test_cli_rate_row_errors_exit_2(tmp_path, value, message):
    folder = builders.write(tmp_path / "i", _bonus_world(False))
    result = CliRunner().invoke(sweep_command, [str(folder), "-o", str(tmp_path / "o"), "--rate-row", value])
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.unit
def test_cli_rate_row_naming_no_domestic_pool_exits_2(tmp_path):
    folder = builders.write(tmp_path / "i", small_spec())  # gpu pools only
    result = CliRunner().invoke(sweep_command, [str(folder), "-o", str(tmp_path / "o"), "--rate-row", "@domestic/=0.3",
                                                "--workers", "1"])
    assert result.exit_code == 2 and "no domestic accelerator" in result.output, result.output
