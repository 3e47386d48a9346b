"""Tests of `allocator validate` (continued): references between tables, periods, instance.toml,
the CSV files themselves, and no cascades or crashes. Line numbers of tiny: tests/test_validation.py."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.validation_helpers import (
    EXIT_INVALID,
    add_column,
    append_row,
    assert_error,
    assert_valid,
    copy_row,
    edit_toml,
    lines_of,
    names,
    set_cell,
    validate,
    write_rows,
    write_table,
)

# --------------------------------------------------------------------------- references


@pytest.mark.unit
def test_unknown_region_in_centers(inst):
    set_cell(inst, "centers.csv", 4, "region_id", "NORTH")
    assert_error(validate(inst), "centers.csv", 4, "region_id", "NORTH", "regions.csv")


@pytest.mark.unit
def test_unknown_center_in_pools(inst):
    set_cell(inst, "pools.csv", 3, "center_id", "cZ")
    assert_error(validate(inst), "pools.csv", 3, "center_id", "cZ", "centers.csv")


@pytest.mark.unit
def test_unknown_program_in_enterprises(inst):
    set_cell(inst, "enterprises.csv", 4, "program_id", "Z")
    assert_error(validate(inst), "enterprises.csv", 4, "program_id", "'Z'", "programs.csv")


@pytest.mark.unit
def test_unknown_enterprise_in_demands(inst):
    set_cell(inst, "demands.csv", 5, "enterprise_id", "e99")
    assert_error(validate(inst), "demands.csv", 5, "enterprise_id", "e99", "enterprises.csv")


@pytest.mark.unit
def test_unknown_home_region_in_demands(inst):
    set_cell(inst, "demands.csv", 5, "home_region", "MARS")
    assert_error(validate(inst), "demands.csv", 5, "home_region", "MARS")


@pytest.mark.unit
def test_unknown_latency_class(inst):
    set_cell(inst, "demands.csv", 3, "latency_class", "overnight")
    error = assert_error(validate(inst), "demands.csv", 3, "latency_class", "overnight")
    assert "batch" in error  # the known classes are listed


@pytest.mark.unit
def test_latency_class_added_in_toml_is_known(inst):
    (inst / "instance.toml").write_text(
        (inst / "instance.toml").read_text(encoding="utf-8") + "[latency_classes]\novernight = 100.0\n", encoding="utf-8"
    )
    set_cell(inst, "demands.csv", 3, "latency_class", "overnight")
    assert_valid(validate(inst))


@pytest.mark.unit
def test_unknown_pool_in_capacity(inst):
    write_table(inst, "capacity.csv", ["pool_id", "period", "cards"], ["pE", 0, 2], ["pZ", 1, 3])
    assert_error(validate(inst), "capacity.csv", 3, "pool_id", "pZ", "pools.csv")


@pytest.mark.unit
def test_unknown_region_in_latency(inst):
    write_table(inst, "latency.csv", ["from_region", "to_region", "rtt_ms"], ["EAST", "WEST", 25], ["EAST", "SOUTH", 9])
    assert_error(validate(inst), "latency.csv", 3, "to_region", "SOUTH")


@pytest.mark.unit
def test_unknown_center_in_program_centers(inst):
    line = append_row(inst, "program_centers.csv", program_id="Q", center_id="cNone")
    assert_error(validate(inst), "program_centers.csv", line, "center_id", "cNone")


# --------------------------------------------------------------------------- periods


@pytest.mark.unit
def test_release_after_deadline(inst):
    set_cell(inst, "demands.csv", 2, "release", "1")
    set_cell(inst, "demands.csv", 2, "deadline", "0")
    assert_error(validate(inst), "demands.csv", 2, "release", "after", "deadline")


@pytest.mark.unit
def test_deadline_outside_the_horizon(inst):
    set_cell(inst, "demands.csv", 4, "deadline", "2")  # periods = 2: 0..1
    assert_error(validate(inst), "demands.csv", 4, "deadline", "horizon", "0..1")


@pytest.mark.unit
def test_release_after_the_default_deadline(inst):
    set_cell(inst, "demands.csv", 4, "deadline", "")
    set_cell(inst, "demands.csv", 4, "release", "2")
    result = validate(inst)
    assert_error(result, "demands.csv", 4, "release", "horizon")


@pytest.mark.unit
def test_period_outside_the_horizon_in_green(inst):
    write_table(inst, "green.csv", ["center_id", "period", "green_kwh"], ["cW", 0, 1], ["cW", 2, 1])
    assert_error(validate(inst), "green.csv", 3, "period", "2", "0..1")


@pytest.mark.unit
def test_duplicate_center_period_in_green(inst):
    write_table(inst, "green.csv", ["center_id", "period", "green_kwh"], ["cW", 0, 1], ["cW", 0, 2])
    assert_error(validate(inst), "green.csv", 3, "center_id", "duplicate")


# --------------------------------------------------------------------------- instance.toml


@pytest.mark.unit
def test_broken_toml(inst):
    edit_toml(inst, 'name = "tiny"', 'name = "tiny')  # unterminated string on line 2
    result = validate(inst)
    assert_error(result, "instance.toml", 2, None, "TOML")


@pytest.mark.unit
def test_unknown_schema_version(inst):
    edit_toml(inst, "schema = 1", "schema = 2")
    assert_error(validate(inst), "instance.toml", 1, "schema", "2", "schema = 1")


@pytest.mark.unit
def test_missing_schema(inst):
    edit_toml(inst, "schema = 1\n", "")
    assert_error(validate(inst), "instance.toml", None, "schema", "missing")


@pytest.mark.unit
def test_missing_name(inst):
    edit_toml(inst, 'name = "tiny"\n', "")
    assert_error(validate(inst), "instance.toml", None, "name", "missing")


@pytest.mark.unit
def test_zero_periods(inst):
    edit_toml(inst, "periods = 2", "periods = 0")
    assert_error(validate(inst), "instance.toml", 5, "horizon.periods", "0", "from 1 to 8784")


@pytest.mark.unit
def test_periods_beyond_a_year_of_hours(inst):
    """A horizon longer than a leap year of hours is refused before anything is allocated."""
    edit_toml(inst, "periods = 2", "periods = 1000000")
    assert_error(validate(inst), "instance.toml", 5, "horizon.periods", "1000000", "from 1 to 8784")


@pytest.mark.unit
def test_missing_instance_toml(inst):
    (inst / "instance.toml").unlink()
    assert_error(validate(inst), "instance.toml", None, None, "missing")


@pytest.mark.unit
def test_unknown_toml_key_is_a_warning(inst):
    edit_toml(inst, "period_hours = 1.0", "period_hours = 1.0\nperiod_hour = 2.0")
    result = validate(inst)
    assert_valid(result)
    assert any(names(w, "instance.toml", 7, "period_hour") for w in lines_of(result, "warning")), result.output


# --------------------------------------------------------------------------- CSV files themselves


@pytest.mark.unit
def test_several_errors_are_all_reported(inst):
    set_cell(inst, "pools.csv", 2, "cards", "-1")
    set_cell(inst, "demands.csv", 6, "card_hours", "lots")
    result = validate(inst)
    assert_error(result, "pools.csv", 2, "cards")
    assert_error(result, "demands.csv", 6, "card_hours", "lots")


@pytest.mark.unit
def test_utf8_bom_is_accepted(inst):
    path = inst / "regions.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel writes "CSV UTF-8"
    assert_valid(validate(inst))


@pytest.mark.unit
def test_blank_lines_do_not_shift_line_numbers(inst):
    path = inst / "pools.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "")  # a blank line 3: pW moves to line 4
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    set_cell(inst, "pools.csv", 4, "cards", "-3")  # csv.reader keeps the blank row as []
    assert_error(validate(inst), "pools.csv", 4, "cards", "-3")


@pytest.mark.unit
def test_quoted_newline_does_not_shift_line_numbers(inst):
    path = inst / "centers.csv"
    text = path.read_text(encoding="utf-8").replace("cE,EAST,intelligent", 'cE,EAST,"intelli\ngent"', 1)
    path.write_text(text, encoding="utf-8")
    set_cell(inst, "centers.csv", 3, "pue", "0.5")  # the cW row, now on line 4
    result = validate(inst)
    assert_error(result, "centers.csv", 2, "kind")
    assert_error(result, "centers.csv", 4, "pue", "0.5")


@pytest.mark.unit
def test_row_with_too_few_cells(inst):
    path = inst / "pools.csv"
    path.write_text(path.read_text(encoding="utf-8") + "pY,cE,gpu\n", encoding="utf-8")
    result = validate(inst)
    assert_error(result, "pools.csv", 5, None, "3")
    assert "nan" not in result.output


@pytest.mark.unit
def test_row_with_too_many_cells(inst):
    path = inst / "pools.csv"
    path.write_text(path.read_text(encoding="utf-8") + "pY,cE,gpu,1,1,1,extra\n", encoding="utf-8")
    assert_error(validate(inst), "pools.csv", 5, None, "7")


@pytest.mark.unit
def test_duplicate_column_name(inst):
    add_column(inst, "pools.csv", "cards", "9")
    assert_error(validate(inst), "pools.csv", 1, "cards", "twice")


@pytest.mark.unit
def test_empty_file(inst):
    (inst / "regions.csv").write_text("", encoding="utf-8")
    assert_error(validate(inst), "regions.csv", 1, None, "header")


@pytest.mark.unit
def test_not_utf8(inst):
    path = inst / "regions.csv"
    path.write_bytes(path.read_bytes() + "北京,0.5\n".encode("gb18030"))
    assert_error(validate(inst), "regions.csv", 4, None, "UTF-8")


@pytest.mark.unit
def test_both_csv_and_parquet_is_a_warning(inst):
    pd.read_csv(inst / "regions.csv").to_parquet(inst / "regions.parquet", index=False)
    result = validate(inst)
    assert_valid(result)
    assert any("regions.parquet" in w for w in lines_of(result, "warning")), result.output


@pytest.mark.unit
def test_unknown_table_file_is_a_warning(inst):
    shutil.copy(inst / "pools.csv", inst / "capacities.csv")  # a misspelt optional table
    result = validate(inst)
    assert_valid(result)
    assert any("capacities.csv" in w for w in lines_of(result, "warning")), result.output


@pytest.mark.unit
def test_not_a_folder(tmp_path):
    result = validate(tmp_path / "nowhere")
    assert result.exit_code == EXIT_INVALID, result.output
    assert "nowhere" in result.output


# --------------------------------------------------------------------------- no cascades, no crashes


@pytest.mark.unit
def test_duplicate_program_id_is_reported_not_a_crash(inst):
    line = copy_row(inst, "programs.csv", 2, rate="0.1")
    assert_error(validate(inst), "programs.csv", line, "program_id", "duplicate", "'P'")


@pytest.mark.unit
def test_duplicate_latency_pair(inst):
    line = append_row(inst, "latency.csv", from_region="EAST", to_region="WEST", rtt_ms="30")
    assert_error(validate(inst), "latency.csv", line, "from_region", "duplicate", "EAST, WEST")


@pytest.mark.unit
def test_invalid_periods_does_not_blame_every_deadline(inst):
    edit_toml(inst, "periods = 2", "periods = 1.5")
    result = validate(inst)
    assert_error(result, "instance.toml", 5, "horizon.periods", "1.5")
    assert not any("demands.csv" in e for e in lines_of(result, "error")), result.output


@pytest.mark.unit
def test_broken_toml_does_not_blame_custom_latency_classes(inst):
    (inst / "instance.toml").write_text(
        (inst / "instance.toml").read_text(encoding="utf-8") + "[latency_classes]\novernight = 100.0\n[oops\n",
        encoding="utf-8",
    )
    set_cell(inst, "demands.csv", 3, "latency_class", "overnight")
    result = validate(inst)
    assert_error(result, "instance.toml", 11, None, "TOML")  # tiny has 8 lines
    assert not any("demands.csv" in e for e in lines_of(result, "error")), result.output


@pytest.mark.unit
def test_huge_number_is_shown_short(inst):
    set_cell(inst, "demands.csv", 2, "deadline", "1e300")
    error = assert_error(validate(inst), "demands.csv", 2, "deadline", "horizon")
    assert len(error) < 300, error


@pytest.mark.unit
def test_file_that_is_not_parquet(inst):
    (inst / "demands.csv").unlink()
    (inst / "demands.parquet").write_text("demand_id\nd1\n", encoding="utf-8")
    result = validate(inst)
    assert_error(result, "demands.parquet", None, None, "Parquet")
    assert len(lines_of(result, "error")) == 1, result.output


@pytest.mark.unit
def test_trailing_commas_are_tolerated(inst):
    write_rows(inst / "regions.csv", [["region_id", "grid_carbon_kg_per_kwh", ""], ["EAST", "0.5", ""], ["WEST", "0.2", ""]])
    assert_valid(validate(inst))


@pytest.mark.unit
def test_windows_line_endings_keep_line_numbers(inst):
    set_cell(inst, "pools.csv", 3, "cards", "-4")
    path = inst / "pools.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert_error(validate(inst), "pools.csv", 3, "cards", "-4")
