"""Tomorrow's instance from today's instance and its plan (``allocator advance``).

``allocator advance INSTANCE PLAN -o NEXT [--new-demands FILE.csv] [--age-priority FACTOR]``

What changes, and nothing else:

* **enterprises.csv** -- each enterprise's ``subsidy_ytd_yuan`` grows by its plan
  subsidy and ``spend_ytd_yuan`` by its plan bill (plan enterprises.csv);
* **programs.csv** -- each programme's ``budget_yuan`` shrinks by its plan subsidy
  (plan programs.csv; an unlimited budget stays unlimited; a round-off overspend
  within the checker's tolerance leaves 0, never a negative budget);
* **demands.csv** -- served demands are removed; unserved ones are carried over
  with ``release`` 0 and ``deadline`` empty (the last period of the new horizon),
  ``must_serve`` kept, and ``priority`` multiplied by ``--age-priority`` if given;
  the rows of ``--new-demands`` (demands.csv columns) are appended; a demand id
  given twice (in the file, or already carried over) is an error (exit 2);
* **programs.csv** also takes the tranches of ``--release PROGRAM=YUAN`` (repeatable):
  money added to a fund for tomorrow (a quarterly settlement, a top-up), on top of what
  is left; an unknown programme or an amount that is not a finite number >= 0 is exit 2;
* **instance.toml** -- the name gets a day suffix: ``chengdu-day`` becomes
  ``chengdu-day+1``, ``chengdu-day+1`` becomes ``chengdu-day+2``;
* **README.md** -- written for the next day (its name, where it came from, what was
  booked, what each fund holds now and the requests waiting), not copied from today.

Every other file of the folder is copied byte for byte. The three rewritten tables
are written as CSV with every SPEC column explicit (defaults filled in: an
enterprise's cap is the one it had today; its ``rate`` stays empty where it was not
given, so that R8 keeps taking it from rates.csv, else from the programme), whatever
format they were read from. ``summary.json`` beside them records where the day came from.

Why the annual amounts hold. Before anything is written, the plan is re-checked
against the instance with the independent checker (``allocator check``): a plan
that is not of this instance (its summary.json hashes differ) or breaks a rule is
refused (exit 1). A valid plan spends at most each budget and each enterprise's
remaining cap, so after advancing, budget_yuan is what is left of the year's fund
and cap - subsidy_ytd_yuan what is left of each cap: any valid plan of the next
day keeps the running totals within the annual ones.

The next instance is validated like any instance before it is moved into place
(a new demand naming an unknown enterprise is reported at its line of
``--new-demands``); the folder is written whole or not at all (a hidden temporary
folder renamed into place).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import OWNER_MARK, atomic_folder, claim_output_folder
from allocator.instance.derived import pair_rates, remaining_cap_yuan
from allocator.instance.reading import read_instance
from allocator.instance.schema import TABLE_BY_STEM
from allocator.instance.types import Instance
from allocator.instance.writing import csv_text
from allocator.numbers import cell_text, fen_down, fen_up
from allocator.problems import (
    EXIT_VIOLATED,
    AllocatorError,
    InvalidInstance,
)
from allocator.render.markdown import md_table
from allocator.studies.new_demands import (
    DEMAND_COLUMNS,
    AdvanceInputError,
    NewDemands,
    point_at_source,
    read_new_demands,
)

REWRITTEN = ("enterprises", "programs", "demands")
DAY_SUFFIX = re.compile(r"^(?P<base>.*)\+(?P<day>\d+)$")
class PlanRejected(AllocatorError):
    """The plan is not a valid plan of this instance: exit 1, the checker's violations listed."""

    exit_code = EXIT_VIOLATED

    def __init__(self, violations: list[str]):
        self.violations = violations
        shown = "\n  ".join(violations[:20]) + ("\n  ..." if len(violations) > 20 else "")
        super().__init__(f"the plan is not a valid plan of this instance ({len(violations)} violation(s)):\n  {shown}")


@dataclass
class Advanced:
    """What advance wrote."""

    folder: Path
    name: str
    served_removed: int
    carried: int
    added: int
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- names


def next_name(name: str) -> str:
    """``x`` -> ``x+1``; ``x+N`` -> ``x+(N+1)``."""
    match = DAY_SUFFIX.match(name)
    if match:
        return f"{match['base']}+{int(match['day']) + 1}"
    return f"{name}+1"


def renamed_toml(text: str, new_name: str) -> str:
    """instance.toml with its top-level ``name`` replaced (everything else kept as written)."""
    lines = text.splitlines(keepends=True)
    pattern = re.compile(r"""^(\s*name\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(.*)$""", re.S)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("["):
            break  # only the top-level table holds the instance name
        match = pattern.match(line)
        if match:
            lines[i] = f"{match[1]}{json.dumps(new_name, ensure_ascii=False)}{match[3]}"
            result = "".join(lines)
            if tomllib.loads(result).get("name") != new_name:
                raise AdvanceInputError("instance.toml: could not rewrite the instance name")
            return result
    raise AdvanceInputError("instance.toml: no top-level 'name = \"...\"' line to give the day suffix")


# --------------------------------------------------------------------------- the ledger of the plan


@dataclass(frozen=True)
class Ledger:
    """What the plan spent: served demands, per-enterprise bill and subsidy, per-programme subsidy."""

    served: set[str]
    bill_yuan: pd.Series  # enterprise_id ->
    subsidy_yuan: pd.Series  # enterprise_id ->
    program_subsidy_yuan: pd.Series  # program_id ->


def read_ledger(instance: Instance, instance_dir: Path, plan_dir: Path) -> Ledger:
    """The plan's spending, after the independent checker has accepted the plan for this instance.

    Bills and subsidies are recomputed from the plan's choices (which pool serves each
    demand) with the SPEC's formulas R7 and R8, so that the printed round-off of the
    plan's CSV numbers never leaks into the year's ledger.
    """
    from allocator.check.run import check_plan

    report = check_plan(Path(instance_dir), Path(plan_dir), instance)
    if report.violations:
        raise PlanRejected(report.violations)
    ids = {"demand_id": str, "enterprise_id": str, "pool_id": str}
    assignments = pd.read_csv(Path(plan_dir) / "assignments.csv", dtype=ids, keep_default_na=False, na_values=[""])
    return ledger_of(instance, assignments[["demand_id", "pool_id"]])


def ledger_of(instance: Instance, served: pd.DataFrame) -> Ledger:
    """Bills (R7) and subsidies (R8) of the served (demand_id, pool_id) pairs, per enterprise and programme."""
    rows = (served.merge(instance.demands[["demand_id", "enterprise_id", "stack", "card_hours"]], on="demand_id")
            .merge(instance.pools[["pool_id", "accelerator", "price_yuan_per_card_hour"]], on="pool_id")
            .merge(instance.compatibility[["stack", "accelerator", "efficiency", "adaptation_yuan"]], on=["stack", "accelerator"]))
    if len(rows) != len(served):
        raise PlanRejected(["assignments.csv: a served demand has no compatible pool row in the instance"])
    bill = rows["card_hours"] / rows["efficiency"] * rows["price_yuan_per_card_hour"] + rows["adaptation_yuan"]
    claim = bill * pair_rates(instance, rows["enterprise_id"], rows["accelerator"])  # r(d, p) x bill (R8)
    bill_e = bill.groupby(rows["enterprise_id"]).sum()
    ent = instance.enterprises.set_index("enterprise_id")
    remaining = remaining_cap_yuan(ent)
    bills = bill_e.reindex(ent.index).fillna(0.0)
    subsidy = np.minimum(claim.groupby(rows["enterprise_id"]).sum().reindex(ent.index).fillna(0.0), remaining)
    return Ledger(
        served=set(served["demand_id"]),
        bill_yuan=bills,
        subsidy_yuan=subsidy,
        program_subsidy_yuan=subsidy.groupby(ent["program_id"]).sum(),
    )


# --------------------------------------------------------------------------- the next tables


def next_enterprises(instance: Instance, ledger: Ledger) -> pd.DataFrame:
    """Year-to-date columns moved on, in whole fen and on the safe side: the subsidy rounded up
    (the cap still holds over the year), the spend rounded down (no threshold is met by round-off)."""
    ent = _spec_columns(instance, "enterprises")
    ent["rate"] = ent["rate"].where(instance.enterprises["rate_given"], None)  # not given: still from rates.csv / programme
    subsidy = ent["subsidy_ytd_yuan"] + ent["enterprise_id"].map(ledger.subsidy_yuan).fillna(0.0)
    spend = ent["spend_ytd_yuan"] + ent["enterprise_id"].map(ledger.bill_yuan).fillna(0.0)
    ent["subsidy_ytd_yuan"] = fen_up(subsidy)
    ent["spend_ytd_yuan"] = fen_down(spend)
    return ent


def next_programs(instance: Instance, ledger: Ledger, releases: dict[str, float] | None = None) -> pd.DataFrame:
    """What is left of each fund, rounded down to the fen (the fund still holds over the year),
    plus the tranches released for tomorrow."""
    prog = _spec_columns(instance, "programs")
    spent = prog["program_id"].map(ledger.program_subsidy_yuan).fillna(0.0)
    prog["budget_yuan"] = fen_down((prog["budget_yuan"] - spent).clip(lower=0.0))  # inf - x = inf
    if releases:
        prog["budget_yuan"] = prog["budget_yuan"] + prog["program_id"].map(releases).fillna(0.0)
    return prog


def parse_releases(texts, program_ids) -> dict[str, float]:
    """``["chengdu=2500000", ...]`` -> {program_id: yuan}; a programme given twice is summed."""
    releases: dict[str, float] = {}
    known = set(program_ids)
    for text in texts or ():
        program, sep, amount = str(text).partition("=")
        program = program.strip()
        try:
            yuan = float(amount)
        except ValueError:
            yuan = math.nan
        if not sep or not program:
            raise AdvanceInputError(f"--release '{text}': expected PROGRAM=YUAN")
        if program not in known:
            raise AdvanceInputError(f"--release '{text}': unknown programme '{program}' "
                                    f"(programs.csv has: {', '.join(sorted(known))})")
        if not (math.isfinite(yuan) and yuan >= 0):
            raise AdvanceInputError(f"--release '{text}': the amount must be a finite number of yuan >= 0")
        releases[program] = releases.get(program, 0.0) + yuan
    return releases


def carried_demands(instance: Instance, ledger: Ledger, age_priority: float | None) -> pd.DataFrame:
    """Unserved demands for the new horizon: release 0, deadline empty (last period), priority aged."""
    dem = _spec_columns(instance, "demands")
    dem = dem[~dem["demand_id"].isin(ledger.served)].copy()
    dem["release"] = 0
    dem["deadline"] = np.nan
    if age_priority is not None:
        dem["priority"] = dem["priority"] * age_priority
    return dem.reset_index(drop=True)


def _spec_columns(instance: Instance, stem: str) -> pd.DataFrame:
    return instance.tables[stem][TABLE_BY_STEM[stem].column_names].copy()


def table_rows(df: pd.DataFrame) -> list[list[str]]:
    """The cells of ``df`` as instance CSV text (:func:`allocator.numbers.cell_text`)."""
    return [[cell_text(v) for v in row] for row in df.itertuples(index=False, name=None)]


# --------------------------------------------------------------------------- writing


def advance_instance(instance_dir: Path, plan_dir: Path, out: Path, new_demands: Path | None = None,
                     age_priority: float | None = None, releases: list[str] | None = None) -> Advanced:
    """Write tomorrow's instance to ``out`` (atomically) and say what changed."""
    if age_priority is not None and not (age_priority > 0 and math.isfinite(age_priority)):
        raise AdvanceInputError(f"--age-priority must be a positive number, got {age_priority}")
    instance_dir = Path(instance_dir)
    claim_output_folder(out, [instance_dir, plan_dir], "instance folder")
    instance = read_instance(instance_dir)
    tranches = parse_releases(releases, instance.programs["program_id"])
    ledger = read_ledger(instance, instance_dir, plan_dir)
    carried = carried_demands(instance, ledger, age_priority)
    added = read_new_demands(new_demands, set(carried["demand_id"])) if new_demands is not None else None
    name = next_name(instance.name)
    programs = next_programs(instance, ledger, tranches)
    n_added = len(added.rows) if added else 0
    demand_rows = table_rows(carried)
    first_new_line = len(demand_rows) + 2  # header is line 1
    if added is not None:
        demand_rows += added.rows
    texts = {
        "instance.toml": renamed_toml((instance_dir / "instance.toml").read_bytes().decode("utf-8-sig"), name),
        "enterprises.csv": csv_text(TABLE_BY_STEM["enterprises"].column_names, table_rows(next_enterprises(instance, ledger))),
        "programs.csv": csv_text(TABLE_BY_STEM["programs"].column_names, table_rows(programs)),
        "demands.csv": csv_text(DEMAND_COLUMNS, demand_rows),
        "summary.json": json.dumps({
            **OWNER_MARK, "kind": "instance", "command": "advance",
            "from_instance": instance.name, "from_folder": str(instance_dir.resolve()),
            "from_instance_sha256": instance.files_sha256, "plan": str(Path(plan_dir).resolve()),
            "served_removed": len(ledger.served), "carried": len(carried), "added": n_added,
            "age_priority": age_priority, "new_demands": str(Path(new_demands).resolve()) if new_demands else None,
            "releases_yuan": tranches,
        }, indent=2) + "\n",
        "README.md": next_readme(instance, name, ledger, programs, tranches, len(carried), n_added, age_priority),
    }
    skip = {"instance.toml", "summary.json", "advance.json", "README.md"} | {f"{stem}{ext}" for stem in REWRITTEN for ext in (".csv", ".parquet")}
    _write_folder(Path(out), instance_dir, texts, skip, lambda tmp: _validate(tmp, added, first_new_line))
    return Advanced(Path(out), name, len(ledger.served), len(carried), n_added, added.warnings if added else [])


def next_readme(instance: Instance, name: str, ledger: Ledger, programs: pd.DataFrame, releases: dict[str, float],
                carried: int, added: int, age_priority: float | None) -> str:
    """The README of the next day: what that day is, not a copy of the first day's."""
    def yuan(x: float) -> str:
        return "unlimited" if math.isinf(x) else f"{x:,.2f}"

    before = instance.programs.set_index("program_id")["budget_yuan"]
    aged = f", priority x {age_priority:g}" if age_priority else ""
    lines = [
        f"# {name}", "",
        (f"The next day of `{instance.name}`, written by `allocator advance` from that day's instance and its plan "
         f"(see `summary.json` for the folders and the instance's sha256)."), "",
        (f"- {len(ledger.served)} request(s) served yesterday were booked and removed: subsidies "
         f"{yuan(float(ledger.subsidy_yuan.sum()))} yuan on bills of {yuan(float(ledger.bill_yuan.sum()))} yuan;"),
        (f"- {carried} request(s) carried over (release 0, deadline the last period{aged}), {added} new; "
         f"{carried + added} waiting today;"),
        "- enterprises' `subsidy_ytd_yuan` and `spend_ytd_yuan` include yesterday's plan.", "",
    ]
    rows = [[row.program_id, yuan(float(before[row.program_id])),
             yuan(float(ledger.program_subsidy_yuan.get(row.program_id, 0.0))),
             yuan(releases.get(row.program_id, 0.0)), yuan(float(row.budget_yuan))]
            for row in programs.itertuples(index=False)]
    lines += [md_table(["programme", "fund yesterday (yuan)", "subsidies booked", "tranche released", "fund today"],
                       rows)]
    lines += ["", "Regions, centers, pools, compatibility and the other tables are the previous day's, "
              "copied byte for byte.", ""]
    return "\n".join(lines)


def _validate(folder: Path, added: NewDemands | None, first_new_line: int) -> None:
    """Read the next instance like any other; demands.csv problems in new rows point at the new-demands file."""
    try:
        read_instance(folder)
    except InvalidInstance as error:
        if added is None:
            raise
        error.problems = [point_at_source(p, added, first_new_line) for p in error.problems]
        raise


def _write_folder(out: Path, source: Path, texts: dict[str, str], skip: set[str], validate) -> None:
    """Copy ``source`` (minus ``skip``), write ``texts``, validate, then rename into ``out`` (atomically)."""
    with atomic_folder(out) as tmp:
        for path in sorted(source.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.name not in skip:
                shutil.copy2(path, tmp / path.name)
        for name, content in texts.items():
            (tmp / name).write_text(content, encoding="utf-8")
        validate(tmp)

