"""Tests of `allocator validate`: one valid fixture, one mutation per test.

Every test copies ``instances/tiny`` into a temporary folder, breaks (or bends)
one thing and runs the command line through click's CliRunner. An invalid
instance must exit 2 without a traceback and name the file, the line (the CSV
header is line 1; a Parquet file counts data rows from 1) and the column of the
problem. Valid instances, warnings and defaults are checked too, the latter on
the tables that :func:`allocator.instance.reading.read_instance` returns.

``CliRunner().invoke(...).output`` holds stdout and stderr interleaved (click 8.2+;
click 8.1's default ``mix_stderr=True`` does the same; 8.5 is installed), so the
errors printed to stderr are seen there.

Line numbers of the tiny instance used below:
pools.csv       2 pE, 3 pW, 4 pX
centers.csv     2 cE, 3 cW, 4 cX, 5 cEmpty
programs.csv    2 P, 3 Q, 4 R
enterprises.csv 2 e1 .. 7 e6
demands.csv     2 d1 .. 10 d9
instance.toml   1 schema, 2 name, 3 description, 4 [horizon], 5 periods, 6 period_hours
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from allocator.instance.schema import TABLES
from allocator.instance.types import LINE
from allocator.instance.validation import DERIVED_COLUMNS
from tests.validation_helpers import (
    add_column,
    append_row,
    assert_error,
    assert_valid,
    copy_row,
    demands_row,
    drop_column,
    edit_toml,
    lines_of,
    names,
    read,
    read_rows,
    set_cell,
    validate,
    write_rows,
    write_table,
)

# --------------------------------------------------------------------------- valid instances


@pytest.mark.unit
def test_tiny_is_valid(inst):
    result = validate(inst)
    assert_valid(result)
    assert "valid" in result.output


@pytest.mark.unit
def test_read_instance_tables_carry_every_spec_column_and_the_line(inst):
    instance = read(inst)
    for table in TABLES:
        df = instance.tables[table.stem]
        assert list(df.columns) == table.column_names + [LINE, *DERIVED_COLUMNS.get(table.stem, ())], table.stem
    assert list(instance.pools[LINE]) == [2, 3, 4]
    assert instance.name == "tiny" and instance.periods == 2 and instance.period_hours == 1.0


@pytest.mark.unit
def test_unused_extra_column_is_a_warning_only(inst):
    add_column(inst, "pools.csv", "note", "rented")
    result = validate(inst)
    assert_valid(result)
    warnings = lines_of(result, "warning")
    assert any(names(w, "pools.csv", 1, "note") for w in warnings), result.output


@pytest.mark.unit
def test_demand_that_can_never_be_served_is_a_warning_only(inst):
    set_cell(inst, "demands.csv", 2, "stack", "cobol")  # d1: no compatibility row
    result = validate(inst)
    assert_valid(result)
    warnings = lines_of(result, "warning")
    assert any(names(w, "demands.csv", 2, "stack") and "cobol" in w for w in warnings), result.output
    assert any("d1" in w and "never be served" in w for w in warnings), result.output


@pytest.mark.unit
def test_header_only_latency_is_valid(inst):
    write_table(inst, "latency.csv", ["from_region", "to_region", "rtt_ms"])
    assert_valid(validate(inst))
    latency = read(inst).latency
    assert latency.empty and {"from_region", "to_region", "rtt_ms"} <= set(latency.columns)


@pytest.mark.unit
@pytest.mark.parametrize(
    "rows",
    [
        [["WEST", "EAST", 25]],  # only the reverse direction
        [["EAST", "WEST", 25], ["WEST", "EAST", 25]],  # both directions
        [["EAST", "EAST", 0.5]],  # a region with itself; EAST-WEST unreachable
    ],
    ids=["reverse-only", "both-ways", "self-only"],
)
def test_latency_symmetric_lookups_are_not_validations_business(inst, rows):
    write_table(inst, "latency.csv", ["from_region", "to_region", "rtt_ms"], *rows)
    result = validate(inst)
    assert_valid(result)
    assert not any("latency.csv" in w for w in lines_of(result, "warning")), result.output


@pytest.mark.unit
def test_inf_is_accepted_where_the_default_is_inf(inst):
    set_cell(inst, "centers.csv", 2, "grid_kwh_cap", "inf")
    set_cell(inst, "demands.csv", 3, "max_cards", "inf")
    set_cell(inst, "programs.csv", 2, "enterprise_cap_yuan", "inf")
    set_cell(inst, "programs.csv", 3, "budget_yuan", "inf")
    set_cell(inst, "enterprises.csv", 2, "cap_yuan", "inf")
    assert_valid(validate(inst))
    instance = read(inst)
    assert math.isinf(instance.centers.loc[0, "grid_kwh_cap"])
    assert math.isinf(demands_row(instance, "d2")["max_cards"])
    assert math.isinf(instance.programs.loc[0, "enterprise_cap_yuan"])
    assert math.isinf(instance.programs.loc[1, "budget_yuan"])
    assert math.isinf(instance.enterprises.loc[0, "cap_yuan"])


EMPTIED = {
    "centers.csv": ["pue", "green_kwh", "grid_kwh_cap", "min_green_share"],
    "demands.csv": ["max_cards", "release", "deadline", "priority", "must_serve"],
    "enterprises.csv": ["eligible", "rate", "cap_yuan", "subsidy_ytd_yuan", "spend_ytd_yuan"],
    "programs.csv": ["enterprise_cap_yuan", "min_voucher_yuan", "min_spend_yuan"],
    "regions.csv": ["grid_carbon_kg_per_kwh"],
    "compatibility.csv": ["adaptation_yuan"],
}


@pytest.mark.unit
@pytest.mark.parametrize("how", ["empty-cells", "columns-left-out"])
def test_defaults_of_the_spec(inst, how):
    for file, columns in EMPTIED.items():
        rows = read_rows(inst / file)
        for column in columns:
            if how == "empty-cells":
                at = rows[0].index(column)
                for row in rows[1:]:
                    row[at] = ""
            else:
                at = rows[0].index(column)
                rows = [row[:at] + row[at + 1 :] for row in rows]
        write_rows(inst / file, rows)
    edit_toml(inst, "periods = 2", "periods = 3")
    assert_valid(validate(inst))
    instance = read(inst)

    c = instance.centers
    assert (c["pue"] == 1.0).all() and (c["green_kwh"] == 0.0).all() and (c["min_green_share"] == 0.0).all()
    assert c["grid_kwh_cap"].map(math.isinf).all()
    d = instance.demands
    assert d["max_cards"].map(math.isinf).all()
    assert (d["release"] == 0).all() and (d["deadline"] == 2).all()  # periods - 1
    assert (d["priority"] == 1.0).all()
    assert not d["must_serve"].any() and d["must_serve"].dtype == bool
    e = instance.enterprises.set_index("enterprise_id")
    p = instance.programs.set_index("program_id")
    assert e["eligible"].all() and e["eligible"].dtype == bool
    for eid, row in e.iterrows():
        assert row["rate"] == p.loc[row["program_id"], "rate"]
        assert row["cap_yuan"] == p.loc[row["program_id"], "enterprise_cap_yuan"]
    assert (e["subsidy_ytd_yuan"] == 0).all() and (e["spend_ytd_yuan"] == 0).all()
    assert e.loc["e5", "cap_yuan"] == math.inf  # program Q's cap is its default, inf
    assert (p["min_voucher_yuan"] == 0).all() and (p["min_spend_yuan"] == 0).all()
    assert p["enterprise_cap_yuan"].map(math.isinf).all()
    assert (instance.regions["grid_carbon_kg_per_kwh"] == 0).all()
    assert (instance.compatibility["adaptation_yuan"] == 0).all()


@pytest.mark.unit
def test_enterprise_rate_and_cap_given_override_the_program(inst):
    instance = read(inst)
    e = instance.enterprises.set_index("enterprise_id")
    assert e.loc["e3", "cap_yuan"] == 12.0  # given
    assert e.loc["e1", "cap_yuan"] == 1000.0 and e.loc["e1", "rate"] == 0.5  # program P's


@pytest.mark.unit
def test_booleans_true_false_one_zero(inst):
    for line, word in zip(range(2, 6), ["TRUE", "False", "1", "0"]):
        set_cell(inst, "demands.csv", line, "must_serve", word)
    for line, word in zip(range(2, 6), ["True", "FALSE", "0", "1"]):
        set_cell(inst, "enterprises.csv", line, "eligible", word)
    set_cell(inst, "demands.csv", 4, "must_serve", "1")  # d3 belongs to the ineligible e2 in tiny
    set_cell(inst, "demands.csv", 4, "enterprise_id", "e1")
    assert_valid(validate(inst))
    instance = read(inst)
    assert list(instance.demands["must_serve"][:4]) == [True, False, True, False]
    assert list(instance.enterprises["eligible"][:4]) == [True, False, False, True]


@pytest.mark.unit
def test_parquet_table_is_read_and_validates(inst):
    csv_table = read(inst).demands
    raw = pd.read_csv(inst / "demands.csv")
    raw.to_parquet(inst / "demands.parquet", index=False)
    (inst / "demands.csv").unlink()
    result = validate(inst)
    assert_valid(result)
    instance = read(inst)
    assert instance.table_files["demands"] == "demands.parquet"
    assert "demands.parquet" in instance.files_sha256
    pd.testing.assert_frame_equal(
        instance.demands.drop(columns=LINE), csv_table.drop(columns=LINE), check_dtype=False
    )


@pytest.mark.unit
def test_parquet_with_string_cells_is_read(inst):
    """A Parquet file written from text (every column a string) reads like the CSV."""
    raw = pd.read_csv(inst / "pools.csv", dtype=str, keep_default_na=False)
    raw.to_parquet(inst / "pools.parquet", index=False)
    (inst / "pools.csv").unlink()
    assert_valid(validate(inst))
    assert list(read(inst).pools["cards"]) == [4.0, 4.0, 100.0]


@pytest.mark.unit
def test_parquet_bad_value_is_reported_with_its_file_name(inst):
    raw = pd.read_csv(inst / "demands.csv")
    raw.loc[2, "card_hours"] = -1.0  # third data row (d3)
    raw.to_parquet(inst / "demands.parquet", index=False)
    (inst / "demands.csv").unlink()
    result = validate(inst)
    error = assert_error(result, "demands.parquet", 3, "card_hours")
    assert "demands.csv" not in error


@pytest.mark.unit
def test_header_only_parquet_table_is_valid(inst):
    pd.DataFrame({"pool_id": pd.Series(dtype=str), "period": pd.Series(dtype="int64"),
                  "cards": pd.Series(dtype=float)}).to_parquet(inst / "capacity.parquet", index=False)
    assert_valid(validate(inst))
    assert read(inst).capacity.empty


# --------------------------------------------------------------------------- tables and columns


@pytest.mark.unit
def test_missing_required_table(inst):
    (inst / "centers.csv").unlink()
    result = validate(inst)
    assert_error(result, "centers.csv", None, None, "missing")
    # no cascade: pools that name centers are not blamed for the missing table
    assert not any("pools.csv" in e for e in lines_of(result, "error")), result.output


@pytest.mark.unit
def test_missing_required_column(inst):
    drop_column(inst, "pools.csv", "kw_per_card")
    result = validate(inst)
    assert_error(result, "pools.csv", 1, "kw_per_card", "missing")


@pytest.mark.unit
def test_missing_required_column_does_not_cascade(inst):
    drop_column(inst, "centers.csv", "kind")
    result = validate(inst)
    assert_error(result, "centers.csv", 1, "kind", "missing")
    assert not any("pools.csv" in e for e in lines_of(result, "error")), result.output


@pytest.mark.unit
def test_unparsable_number(inst):
    set_cell(inst, "pools.csv", 3, "price_yuan_per_card_hour", "cheap")
    assert_error(validate(inst), "pools.csv", 3, "price_yuan_per_card_hour", "cheap", "number")


@pytest.mark.unit
def test_negative_value(inst):
    set_cell(inst, "pools.csv", 2, "cards", "-1")
    assert_error(validate(inst), "pools.csv", 2, "cards", "-1", ">= 0")


@pytest.mark.unit
@pytest.mark.parametrize("value, expected", [("0", "> 0"), ("1.5", "<= 1")])
def test_efficiency_out_of_range(inst, value, expected):
    set_cell(inst, "compatibility.csv", 2, "efficiency", value)
    assert_error(validate(inst), "compatibility.csv", 2, "efficiency", value, expected)


@pytest.mark.unit
def test_rate_above_one(inst):
    set_cell(inst, "programs.csv", 3, "rate", "1.2")
    assert_error(validate(inst), "programs.csv", 3, "rate", "1.2", "<= 1")


@pytest.mark.unit
def test_enterprise_rate_above_one(inst):
    set_cell(inst, "enterprises.csv", 4, "rate", "1.2")
    assert_error(validate(inst), "enterprises.csv", 4, "rate", "1.2")


@pytest.mark.unit
def test_min_green_share_above_one(inst):
    set_cell(inst, "centers.csv", 3, "min_green_share", "2")
    assert_error(validate(inst), "centers.csv", 3, "min_green_share", "<= 1")


@pytest.mark.unit
def test_pue_below_one(inst):
    set_cell(inst, "centers.csv", 3, "pue", "0.9")
    assert_error(validate(inst), "centers.csv", 3, "pue", ">= 1")


@pytest.mark.unit
def test_kind_not_in_choices(inst):
    set_cell(inst, "centers.csv", 4, "kind", "quantum")
    assert_error(validate(inst), "centers.csv", 4, "kind", "quantum", "supercomputing")


@pytest.mark.unit
def test_duplicate_pool_id(inst):
    line = copy_row(inst, "pools.csv", 2, cards="8")
    assert_error(validate(inst), "pools.csv", line, "pool_id", "duplicate", "pE", "line 2")


@pytest.mark.unit
def test_duplicate_demand_id(inst):
    line = copy_row(inst, "demands.csv", 3, card_hours="1")
    assert_error(validate(inst), "demands.csv", line, "demand_id", "duplicate", "d2")


@pytest.mark.unit
def test_duplicate_compatibility_pair(inst):
    line = append_row(inst, "compatibility.csv", stack="cuda", accelerator="gpu", efficiency="0.5")
    assert_error(validate(inst), "compatibility.csv", line, "stack", "duplicate", "cuda", "gpu")


@pytest.mark.unit
def test_empty_id_cell(inst):
    set_cell(inst, "pools.csv", 3, "pool_id", "")
    result = validate(inst)
    assert_error(result, "pools.csv", 3, "pool_id", "empty")


@pytest.mark.unit
def test_two_empty_ids_are_not_also_duplicates(inst):
    set_cell(inst, "demands.csv", 3, "demand_id", "")
    set_cell(inst, "demands.csv", 4, "demand_id", "")
    result = validate(inst)
    assert_error(result, "demands.csv", 3, "demand_id", "empty")
    assert_error(result, "demands.csv", 4, "demand_id", "empty")
    assert not any("duplicate" in e for e in lines_of(result, "error")), result.output


@pytest.mark.unit
def test_empty_required_number(inst):
    set_cell(inst, "pools.csv", 4, "cards", "")
    assert_error(validate(inst), "pools.csv", 4, "cards", "empty")


@pytest.mark.unit
def test_boolean_maybe(inst):
    set_cell(inst, "demands.csv", 2, "must_serve", "maybe")
    assert_error(validate(inst), "demands.csv", 2, "must_serve", "maybe", "true")


@pytest.mark.unit
def test_non_integer_release(inst):
    set_cell(inst, "demands.csv", 2, "release", "1.5")
    assert_error(validate(inst), "demands.csv", 2, "release", "1.5", "whole")


@pytest.mark.unit
def test_inf_where_not_allowed(inst):
    set_cell(inst, "demands.csv", 2, "card_hours", "inf")
    assert_error(validate(inst), "demands.csv", 2, "card_hours", "inf")


@pytest.mark.unit
@pytest.mark.parametrize("value", ["-inf", "nan"])
def test_minus_inf_and_nan_are_rejected_even_where_inf_is_allowed(inst, value):
    set_cell(inst, "centers.csv", 2, "grid_kwh_cap", value)
    assert_error(validate(inst), "centers.csv", 2, "grid_kwh_cap", value)


