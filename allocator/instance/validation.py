"""Cross-table checks of an instance, run after every cell has been parsed.

Each ``check_*`` function looks at one kind of consistency and appends
:class:`~allocator.problems.Problem` rows; :func:`validate_instance` calls them in
order and then fills the defaults that depend on other tables (an enterprise's
rate and cap from its program, a demand's deadline from the horizon).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.instance.types import LINE, Instance
from allocator.problems import Problem


def _unknown_refs(
    instance: Instance,
    stem: str,
    column: str,
    target: str,
    target_column: str,
    what: str,
    problems: list[Problem],
) -> None:
    """Every non-empty ``stem.column`` names a row of ``target`` (by ``target_column``).

    Skipped when ``target`` is missing or could not be read: that is reported once
    already, and blaming every row that refers to it would bury it.
    """
    df = instance.tables[stem]
    if df.empty or target in instance.unreadable:
        return
    known = set(instance.tables[target][target_column])
    bad = ~df[column].isin(known) & (df[column] != "")
    file = instance.table_files[stem]
    target_file = instance.table_files[target]
    for value, line in zip(df.loc[bad, column], df.loc[bad, LINE]):
        problems.append(
            Problem(file, f"unknown {what} '{value}' (no {target_column} '{value}' in {target_file})", line=int(line), column=column)
        )


def check_references(instance: Instance, problems: list[Problem]) -> None:
    """Every id that names a row of another table names an existing one."""
    _unknown_refs(instance, "latency", "from_region", "regions", "region_id", "region", problems)
    _unknown_refs(instance, "latency", "to_region", "regions", "region_id", "region", problems)
    _unknown_refs(instance, "centers", "region_id", "regions", "region_id", "region", problems)
    _unknown_refs(instance, "pools", "center_id", "centers", "center_id", "center", problems)
    _unknown_refs(instance, "enterprises", "program_id", "programs", "program_id", "program", problems)
    _unknown_refs(instance, "demands", "enterprise_id", "enterprises", "enterprise_id", "enterprise", problems)
    _unknown_refs(instance, "demands", "home_region", "regions", "region_id", "region", problems)
    _unknown_refs(instance, "program_centers", "program_id", "programs", "program_id", "program", problems)
    _unknown_refs(instance, "program_centers", "center_id", "centers", "center_id", "center", problems)
    _unknown_refs(instance, "green", "center_id", "centers", "center_id", "center", problems)
    _unknown_refs(instance, "capacity", "pool_id", "pools", "pool_id", "pool", problems)
    _unknown_refs(instance, "rates", "program_id", "programs", "program_id", "program", problems)
    check_latency_classes(instance, problems)
    check_rate_rows(instance, problems)


def check_latency_classes(instance: Instance, problems: list[Problem]) -> None:
    """Every demand's latency_class is a default class or one of instance.toml [latency_classes]."""
    if instance.unreadable & {"instance.toml", "latency_classes"}:
        return  # the classes named in instance.toml are not known
    d = instance.tables["demands"]
    known = instance.latency_classes_ms
    not_read = {key.split(".", 1)[1] for key in instance.unreadable if key.startswith("latency_classes.")}  # reported already
    bad = ~d["latency_class"].isin(set(known) | not_read) & (d["latency_class"] != "")
    listed = ", ".join(known)
    for value, line in zip(d.loc[bad, "latency_class"], d.loc[bad, LINE]):
        problems.append(
            Problem(instance.table_files["demands"],
                    f"unknown latency class '{value}' (known: {listed}; more can be named in instance.toml [latency_classes])",
                    line=int(line), column="latency_class")
        )


def _folded(text: str) -> str:
    """A name with case, spaces, '-' and '_' dropped: two names equal this way are one name misspelt."""
    return "".join(ch for ch in text.casefold() if ch not in " -_")


def check_rate_rows(instance: Instance, problems: list[Problem]) -> None:
    """rates.csv names accelerators and enterprise kinds that exist (R8 matches them exactly).

    * accelerator: an error when neither pools.csv nor compatibility.csv has it (a row that
      could never apply, most likely misspelt); the message names a known accelerator that
      differs only in case, spaces, '-' or '_'.
    * enterprise_kind: an error when it equals an enterprise's kind only once case, spaces,
      '-' and '_' are dropped ('Startup' for 'startup': the row would silently never apply);
      a warning when no enterprise has the kind at all (legitimate: a kind of the programme
      with no applicant today).
    """
    rates = instance.tables["rates"]
    if rates.empty:
        return
    file = instance.table_files["rates"]
    if not instance.unreadable & {"pools", "compatibility"}:
        accelerators = set(instance.tables["pools"]["accelerator"]) | set(instance.tables["compatibility"]["accelerator"])
        folded = {_folded(a): a for a in sorted(accelerators)}
        for value, line in zip(rates["accelerator"], rates[LINE]):
            if value == "" or value in accelerators:
                continue
            near = folded.get(_folded(value))
            hint = f"; did you mean '{near}'? (names match exactly)" if near else ""
            problems.append(Problem(file, f"unknown accelerator '{value}' (in no row of pools.csv or compatibility.csv){hint}",
                                    line=int(line), column="accelerator"))
    if "enterprises" in instance.unreadable:
        return
    kinds = set(instance.tables["enterprises"]["kind"]) - {""}
    folded = {_folded(k): k for k in sorted(kinds)}
    for value, line in zip(rates["enterprise_kind"], rates[LINE]):
        if value == "" or value in kinds:
            continue
        near = folded.get(_folded(value))
        if near is not None:
            problems.append(Problem(file, f"unknown enterprise kind '{value}': enterprises.csv has '{near}' "
                                          "(kinds match exactly, case included)", line=int(line), column="enterprise_kind"))
        else:
            known = ", ".join(sorted(kinds)) or "none"
            problems.append(Problem(file, f"no enterprise has kind '{value}' (kinds in enterprises.csv: {known}): "
                                          "the row applies to nobody", line=int(line), column="enterprise_kind",
                                    severity="warning"))


def _whole(value: float) -> str:
    return str(int(value)) if abs(value) < 1e15 else f"{value:g}"


def check_periods(instance: Instance, problems: list[Problem]) -> None:
    """Periods of green.csv / capacity.csv and demand windows lie in 0 .. periods-1."""
    if instance.unreadable & {"instance.toml", "horizon", "horizon.periods"}:
        return  # the horizon is not known; its problem is reported already
    last = instance.periods - 1
    horizon = f"the horizon 0..{last} (periods are numbered from 0; instance.toml has periods = {instance.periods})"
    for stem in ("green", "capacity"):
        df = instance.tables[stem]
        bad = df["period"].notna() & (df["period"] > last)
        for value, line in zip(df.loc[bad, "period"], df.loc[bad, LINE]):
            problems.append(
                Problem(instance.table_files[stem], f"period {_whole(value)} is outside {horizon}", line=int(line), column="period")
            )
    d = instance.tables["demands"]
    file = instance.table_files["demands"]
    for column in ("release", "deadline"):
        bad = d[column].notna() & (d[column] > last)
        for value, line in zip(d.loc[bad, column], d.loc[bad, LINE]):
            problems.append(Problem(file, f"{column} {_whole(value)} is outside {horizon}", line=int(line), column=column))
    deadline = d["deadline"].fillna(last)
    bad = d["release"].notna() & (d["release"] > deadline)
    for rel, dl, line in zip(d.loc[bad, "release"], deadline[bad], d.loc[bad, LINE]):
        problems.append(Problem(file, f"release {_whole(rel)} is after deadline {_whole(dl)}: the window is empty (both are inclusive periods)", line=int(line), column="release"))


def check_latency_symmetry(instance: Instance, problems: list[Problem]) -> None:
    """A pair given both ways with different RTTs is suspicious (the table is symmetric)."""
    lat = instance.tables["latency"]
    if lat.empty:
        return
    forward = lat.set_index(["from_region", "to_region"])["rtt_ms"]
    backward = lat.rename(columns={"from_region": "to_region", "to_region": "from_region"}).set_index(
        ["from_region", "to_region"]
    )
    joined = backward.join(forward.rename("forward"), how="inner")
    differ = joined[~np.isclose(joined["rtt_ms"], joined["forward"], rtol=1e-9, atol=1e-9, equal_nan=True)]
    for (a, b), row in differ.iterrows():
        if a < b:
            problems.append(
                Problem(
                    instance.table_files["latency"],
                    f"({b}, {a}) and ({a}, {b}) differ ({row['rtt_ms']:g} vs {row['forward']:g} ms); each direction is used as given",
                    line=int(row[LINE]),
                    column="rtt_ms",
                    severity="warning",
                )
            )


def check_unused(instance: Instance, problems: list[Problem]) -> None:
    """Warnings for stacks or accelerators that can never meet."""
    t = instance.tables
    stacks = set(t["compatibility"]["stack"])
    accelerators = set(t["pools"]["accelerator"])
    d = t["demands"]
    no_row = ~d["stack"].isin(stacks)
    for value, line in zip(d.loc[no_row, "stack"], d.loc[no_row, LINE]):
        problems.append(
            Problem(instance.table_files["demands"], f"stack '{value}' has no row in compatibility: the demand can never be served",
                    line=int(line), column="stack", severity="warning")
        )
    comp = t["compatibility"]
    unused = ~comp["accelerator"].isin(accelerators)
    for value, line in zip(comp.loc[unused, "accelerator"], comp.loc[unused, LINE]):
        problems.append(
            Problem(instance.table_files["compatibility"], f"accelerator '{value}' is in no pool", line=int(line),
                    column="accelerator", severity="warning")
        )


#: Columns the reader adds to a table besides the SPEC's (and LINE): facts the defaults would hide.
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {"enterprises": ("rate_given",)}


def fill_derived_defaults(instance: Instance) -> None:
    """Defaults that come from another table: enterprise rate and cap, demand deadline.

    An enterprise's ``rate`` not given keeps that fact in ``rate_given`` (False): R8 then
    takes the highest applicable row of rates.csv per pool (:func:`allocator.instance.derived.pair_rates`)
    and only else the programme's rate, which ``rate`` holds (so ``rate`` is the enterprise's
    rate wherever rates.csv has no row for it).
    """
    t = instance.tables
    programs = t["programs"].drop_duplicates("program_id").set_index("program_id")  # duplicates are reported
    e = t["enterprises"]
    program_rate = e["program_id"].map(programs["rate"]) if not programs.empty else pd.Series(np.nan, index=e.index)
    program_cap = e["program_id"].map(programs["enterprise_cap_yuan"]) if not programs.empty else pd.Series(np.nan, index=e.index)
    e["rate_given"] = e["rate"].notna()
    e["rate"] = e["rate"].fillna(program_rate).fillna(0.0).astype(float)
    e["cap_yuan"] = e["cap_yuan"].fillna(program_cap).fillna(np.inf).astype(float)
    d = t["demands"]
    d["deadline"] = d["deadline"].fillna(instance.periods - 1).astype(int)
    d["release"] = d["release"].fillna(0).astype(int)
    for stem in ("green", "capacity"):
        t[stem]["period"] = t[stem]["period"].fillna(-1).astype(int)


def validate_instance(instance: Instance, problems: list[Problem]) -> None:
    """Run every cross-table check, then fill the derived defaults."""
    check_references(instance, problems)
    check_periods(instance, problems)
    check_latency_symmetry(instance, problems)
    check_unused(instance, problems)
    fill_derived_defaults(instance)
