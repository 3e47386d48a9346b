"""Tests of `allocator validate`: one valid fixture, one mutation per test.

Every test copies ``instances/tiny`` into a temporary folder, breaks (or bends)
one thing and runs the command line through click's CliRunner. An invalid
instance must exit 2 without a traceback and name the file, the line (the CSV
header is line 1; a Parquet file counts data rows from 1) and the column of the
problem. Valid instances, warnings and defaults are checked too, the latter on
the tables that :func:`allocator.reading.read_instance` returns.

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

import csv
import math
import re
import shutil
import traceback
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from allocator.cli import main
from allocator.instance.reading import read_instance
from allocator.instance.schema import TABLES
from allocator.instance.types import LINE, Instance
from allocator.instance.validation import DERIVED_COLUMNS
from allocator.problems import InvalidInstance

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"
EXIT_INVALID = 2


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def inst(tmp_path: Path) -> Path:
    """A fresh copy of instances/tiny."""
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    return folder


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cell(folder: Path, file: str, line: int, column: str, value: str) -> None:
    """Overwrite one cell; ``line`` counts the header as line 1."""
    path = folder / file
    rows = read_rows(path)
    rows[line - 1][rows[0].index(column)] = value
    write_rows(path, rows)


def append_row(folder: Path, file: str, **cells: str) -> int:
    """Append a row (missing columns empty) and return its line number."""
    path = folder / file
    rows = read_rows(path)
    rows.append([str(cells.get(name, "")) for name in rows[0]])
    write_rows(path, rows)
    return len(rows)


def copy_row(folder: Path, file: str, line: int, **changes: str) -> int:
    """Append a copy of the row at ``line`` with some cells changed; return its line."""
    rows = read_rows(folder / file)
    cells = dict(zip(rows[0], rows[line - 1]))
    cells.update(changes)
    return append_row(folder, file, **cells)


def drop_column(folder: Path, file: str, column: str) -> None:
    path = folder / file
    rows = read_rows(path)
    at = rows[0].index(column)
    write_rows(path, [row[:at] + row[at + 1 :] for row in rows])


def add_column(folder: Path, file: str, column: str, value: str = "") -> None:
    path = folder / file
    rows = read_rows(path)
    write_rows(path, [rows[0] + [column]] + [row + [value] for row in rows[1:]])


def write_table(folder: Path, file: str, header: list[str], *rows: list[object]) -> None:
    write_rows(folder / file, [header] + [[str(v) for v in row] for row in rows])


def edit_toml(folder: Path, old: str, new: str) -> None:
    path = folder / "instance.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in instance.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def validate(folder: Path) -> Result:
    """Run `allocator validate FOLDER`; it must never end in a traceback."""
    result = CliRunner().invoke(main, ["validate", str(folder)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail("validate raised:\n" + "".join(traceback.format_exception(*result.exc_info)))
    return result


def lines_of(result: Result, label: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{label}:")]


def names(line: str, file: str, row: int | None, column: str | None) -> bool:
    """Whether an output line names the file, the line (or row) and the column."""
    if file not in line:
        return False
    if row is not None and not re.search(rf"\b(line|row) {row}\b", line):
        return False
    return column is None or re.search(rf"\b{re.escape(column)}\b", line) is not None


def assert_error(result: Result, file: str, line: int | None, column: str | None, *words: str) -> str:
    """Exit 2 and an error naming file, line and column (and containing ``words``)."""
    assert result.exit_code == EXIT_INVALID, result.output
    errors = lines_of(result, "error")
    hits = [e for e in errors if names(e, file, line, column) and all(w.lower() in e.lower() for w in words)]
    assert hits, f"no error names {file}, line {line}, column {column} {words}; output:\n{result.output}"
    return hits[0]


def assert_valid(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert not lines_of(result, "error"), result.output


def read(folder: Path) -> Instance:
    try:
        return read_instance(folder)
    except InvalidInstance as error:  # pragma: no cover - shows the problems on failure
        pytest.fail("\n".join(map(str, error.problems)))


def demands_row(instance: Instance, demand_id: str) -> pd.Series:
    d = instance.demands
    return d[d["demand_id"] == demand_id].iloc[0]


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
    assert_error(validate(inst), "instance.toml", 5, "horizon.periods", "0", ">= 1")


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
