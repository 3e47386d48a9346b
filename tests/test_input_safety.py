"""Input that must never change a plan silently or crash (issue 14): misspelled columns, formula ids,
numbers out of any sane range, a folder where a table should be, thousands separators, and warnings
from every command that reads an instance. Line numbers of tiny: tests/test_validation.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from tests.validation_helpers import (
    add_column,
    assert_error,
    read_rows,
    set_cell,
    validate,
    write_rows,
)

pytestmark = pytest.mark.unit


def rename_column(folder: Path, file: str, old: str, new: str) -> None:
    rows = read_rows(folder / file)
    rows[0][rows[0].index(old)] = new
    write_rows(folder / file, rows)


@pytest.mark.parametrize("file, known, typed", [
    ("demands.csv", "priority", "Priority"),
    ("demands.csv", "card_hours", "card hours"),
    ("pools.csv", "price_yuan_per_card_hour", "Price-Yuan-Per-Card-Hour"),
    ("programs.csv", "min_voucher_yuan", "minvoucher_yuan"),
])
def test_a_misspelled_column_is_an_error_naming_the_known_one(inst, file, known, typed):
    rename_column(inst, file, known, typed)
    line = assert_error(validate(inst), file, 1, typed, "misspelling", f"'{known}'")
    assert "warning" not in line


def test_solve_refuses_a_misspelled_column_instead_of_using_the_default(inst, tmp_path):
    rename_column(inst, "demands.csv", "priority", "Priority")
    result = CliRunner().invoke(main, ["solve", str(inst), "-o", str(tmp_path / "plan")])
    assert result.exit_code == 2 and "'priority'" in result.output
    assert not (tmp_path / "plan").exists()


def test_an_extra_column_warns_from_solve_too(inst, tmp_path, caplog):
    add_column(inst, "demands.csv", "comment", "x")
    with caplog.at_level(logging.WARNING, logger="allocator"):
        result = CliRunner().invoke(main, ["solve", str(inst), "-o", str(tmp_path / "plan")])
    assert result.exit_code == 0, result.output
    assert any("column 'comment'" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", ["=HYPERLINK(\"x\")", "+cmd|calc", "-2+3", "@SUM(A1)", "\tfoo", "\rfoo"])
def test_an_id_a_spreadsheet_would_run_as_a_formula_is_refused(inst, bad):
    path = inst / "demands.csv"
    text = path.read_text(encoding="utf-8")
    quoted = '"' + bad.replace('"', '""') + '"'  # quoted, as a spreadsheet writes it (a bare CR ends a CSV row)
    path.write_text(text.replace("\nd1,", f"\n{quoted},", 1), encoding="utf-8", newline="")
    assert_error(validate(inst), "demands.csv", 2, "demand_id", "formula")


def test_a_formula_id_in_parquet_is_refused_too(inst):
    frame = pd.read_csv(inst / "pools.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "pool_id"] = "=1+1"
    (inst / "pools.csv").unlink()
    frame.to_parquet(inst / "pools.parquet")
    assert_error(validate(inst), "pools.parquet", 1, "pool_id", "formula")


@pytest.mark.parametrize("file, line, column, value, limit", [
    ("pools.csv", 2, "price_yuan_per_card_hour", "1e15", "<= 10000"),
    ("pools.csv", 2, "kw_per_card", "1e20", "<= 100"),
    ("centers.csv", 2, "pue", "1e20", "<= 5"),
    ("compatibility.csv", 2, "adaptation_yuan", "1e20", "<= 1e+09"),
    ("demands.csv", 2, "card_hours", "1e300", "<= 1e+09"),
])
def test_numbers_beyond_any_sane_range_are_refused_with_the_range(inst, file, line, column, value, limit):
    set_cell(inst, file, line, column, value)
    assert_error(validate(inst), file, line, column, "out of range", limit)


def test_inf_stays_allowed_where_the_spec_allows_it(inst):
    set_cell(inst, "programs.csv", 2, "budget_yuan", "inf")
    set_cell(inst, "centers.csv", 2, "grid_kwh_cap", "inf")
    result = validate(inst)
    assert result.exit_code == 0, result.output


def test_an_optional_table_that_is_a_folder_is_an_error(inst):
    (inst / "program_centers.csv").unlink()
    (inst / "program_centers.csv").mkdir()
    assert_error(validate(inst), "program_centers.csv", None, None, "not a readable file")


def test_thousands_separators_get_a_hint_and_many_bad_cells_a_count(inst):
    rows = read_rows(inst / "demands.csv")
    at = rows[0].index("card_hours")
    for row in rows[1:]:
        row[at] = "1,260"
    write_rows(inst / "demands.csv", rows)
    result = validate(inst)
    line = assert_error(result, "demands.csv", 2, "card_hours", "thousands separators", "1260")
    assert "1,260" in line
    errors = [e for e in result.output.splitlines() if e.startswith("error:") and "card_hours" in e]
    assert len(errors) == 4 and "and 6 more like these" in errors[-1]  # 9 bad cells: 3 shown, then a count


def test_a_model_too_large_for_memory_is_exit_2_before_it_is_built(inst, tmp_path, monkeypatch):
    import allocator.solve.pipeline as pipeline

    monkeypatch.setattr(pipeline, "MAX_MODEL_COLUMNS", 5)  # tiny's model has more columns than this
    result = CliRunner().invoke(main, ["solve", str(inst), "-o", str(tmp_path / "plan")])
    assert result.exit_code == 2 and "columns" in result.output and "split the instance" in result.output
    assert not (tmp_path / "plan").exists()
