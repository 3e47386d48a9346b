"""One day of the year: its instance folder, and what its plan books in the ledger.

The day's instance (``days/NNN/instance``) is the day-0 instance with three tables rewritten,
as ``allocator advance`` rewrites them, and every other table copied byte for byte:

* programs.csv -- ``budget_yuan`` is the policy's release for the day;
* enterprises.csv -- the enterprises with requests waiting that morning (no other can be in the
  day's plan, and a year of a city's thousands of enterprises would otherwise be copied every day;
  the ledger keeps every enterprise's year-to-date), ``subsidy_ytd_yuan`` and ``spend_ytd_yuan``
  from the ledger that morning, every other column (rate, cap) explicit as on day 0;
* demands.csv -- the requests waiting that morning, with their own release and deadline
  (periods of the day) and must_serve false.

The name in instance.toml is the day-0 name with ``+t`` (as advance names the next day).

Booking (:func:`book_plan`): the plan folder passed the independent checker as it was written
(``solve`` checks every plan before renaming it into place), and its bills
B_e and subsidies S_e recomputed from its choices with R7 and R8 (``advance.ledger_of``, the
same function ``allocator advance`` uses), then rounded down to the fen. The fen amounts of an
enterprise's requests are its S_e (and B_e) split in proportion to the plan's per-request
amounts, largest remainder first, so that they add up exactly.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import atomic_folder
from allocator.instance.schema import TABLE_BY_STEM
from allocator.instance.types import Instance
from allocator.instance.writing import table_csv_text
from allocator.problems import EXIT_VIOLATED, AllocatorError
from allocator.studies.advance import ledger_of, renamed_toml
from allocator.studies.year.arrivals import DEMAND_COLUMNS
from allocator.studies.year.ledger import floor_fen, split_fen, yuan

REWRITTEN = ("programs", "enterprises", "demands")
log = logging.getLogger(__name__)


class LedgerBroken(AllocatorError):
    """A booked amount would break a fund or a cap: never expected (the plan passed the checker)."""

    exit_code = EXIT_VIOLATED


def day_name(base_name: str, day: int) -> str:
    return base_name if day == 0 else f"{base_name}+{day}"


def write_day_instance(base: Instance, folder: Path, day: int, release_fen: dict[str, int | None],
                       ytd: pd.DataFrame, waiting: pd.DataFrame) -> None:
    """Write the day's instance folder whole (atomically)."""
    base_dir = Path(base.folder)
    programs = base.tables["programs"][TABLE_BY_STEM["programs"].column_names].copy()
    programs["budget_yuan"] = programs["program_id"].map(lambda g: yuan(release_fen[g]))
    enterprises = base.tables["enterprises"][TABLE_BY_STEM["enterprises"].column_names]
    enterprises = enterprises[enterprises["enterprise_id"].isin(set(waiting["enterprise_id"]))].copy()
    fen = ytd.reindex(enterprises["enterprise_id"])
    enterprises["subsidy_ytd_yuan"] = fen["subsidy_ytd_fen"].to_numpy() / 100.0
    enterprises["spend_ytd_yuan"] = fen["spend_ytd_fen"].to_numpy() / 100.0
    demands = waiting[DEMAND_COLUMNS].copy()
    demands["must_serve"] = False
    texts = {
        "instance.toml": renamed_toml((base_dir / "instance.toml").read_bytes().decode("utf-8-sig"), day_name(base.name, day)),
        "programs.csv": table_csv_text(programs),
        "enterprises.csv": table_csv_text(enterprises),
        "demands.csv": table_csv_text(demands),
    }
    skip = set(REWRITTEN)
    with atomic_folder(folder) as tmp:
        for stem, file in base.table_files.items():
            if stem not in skip and (base_dir / file).is_file():
                shutil.copyfile(base_dir / file, tmp / file)
        for name, text in texts.items():
            (tmp / name).write_text(text, encoding="utf-8")


@dataclass
class Booked:
    """What a day's plan books, in fen."""

    assignments: pd.DataFrame  # demand_id, enterprise_id, program_id, pool_id, center_id, value, bill_fen, subsidy_fen
    enterprises: pd.DataFrame  # enterprise_id, program_id, bill_fen, subsidy_fen
    program_subsidy_fen: dict[str, int]
    reasons: dict[str, str]  # unserved demand -> reason


def book_plan(instance: Instance, instance_dir: Path, plan_dir: Path, release_fen: dict[str, int | None],
              cap_left_fen: pd.Series) -> Booked:
    """Check the plan and turn it into fen amounts that keep every fund and cap.

    ``cap_left_fen``: enterprise -> cap - subsidy_ytd in fen (NaN: no cap).
    """
    ids = {"demand_id": str, "enterprise_id": str, "pool_id": str, "center_id": str}
    plan = pd.read_csv(Path(plan_dir) / "assignments.csv", dtype=ids, keep_default_na=False, na_values=[""])
    # The folder passed the independent checker as written (solve checks a plan before it is renamed into
    # place); money is recomputed from its choices with R7 and R8, as advance books it.
    ledger = ledger_of(instance, plan[["demand_id", "pool_id"]])
    unserved = pd.read_csv(Path(plan_dir) / "unserved.csv", dtype=ids, keep_default_na=False, na_values=[""])
    ent = instance.enterprises.set_index("enterprise_id")
    billed = ledger.bill_yuan[ledger.bill_yuan > 0]
    enterprises = pd.DataFrame({"enterprise_id": billed.index.astype(str)})
    enterprises["program_id"] = enterprises["enterprise_id"].map(ent["program_id"])
    enterprises["bill_fen"] = [floor_fen(x) for x in billed.to_numpy()]
    enterprises["subsidy_fen"] = [floor_fen(x) for x in ledger.subsidy_yuan.reindex(billed.index).to_numpy()]
    _within_caps(enterprises, cap_left_fen)
    _within_releases(enterprises, release_fen)
    program_subsidy = enterprises.groupby("program_id")["subsidy_fen"].sum().to_dict()

    rows = plan[["demand_id", "enterprise_id", "pool_id", "center_id", "bill_yuan", "subsidy_yuan"]].copy()
    rows["program_id"] = rows["enterprise_id"].map(ent["program_id"])
    demand_value = instance.demands.set_index("demand_id")
    rows["value"] = rows["demand_id"].map(demand_value["priority"] * demand_value["card_hours"]).astype(float)
    rows["bill_fen"] = np.zeros(len(rows), dtype=np.int64)
    rows["subsidy_fen"] = np.zeros(len(rows), dtype=np.int64)
    totals = enterprises.set_index("enterprise_id")
    for e, idx in rows.groupby("enterprise_id").groups.items():
        part = rows.loc[idx]
        bills = part["bill_yuan"].to_numpy(float)
        subsidies = part["subsidy_yuan"].to_numpy(float)
        bill_fen = int(totals.at[e, "bill_fen"]) if e in totals.index else 0
        subsidy_fen = int(totals.at[e, "subsidy_fen"]) if e in totals.index else 0
        rows.loc[idx, "bill_fen"] = split_fen(bill_fen, bills)
        rows.loc[idx, "subsidy_fen"] = split_fen(subsidy_fen, subsidies if subsidies.sum() > 0 else bills)
    assignments = rows[["demand_id", "enterprise_id", "program_id", "pool_id", "center_id", "value", "bill_fen", "subsidy_fen"]]
    reasons = dict(zip(unserved["demand_id"], unserved["reason"]))
    return Booked(assignments.reset_index(drop=True), enterprises, {g: int(v) for g, v in program_subsidy.items()}, reasons)


def _within_caps(enterprises: pd.DataFrame, cap_left_fen: pd.Series) -> None:
    """A subsidy the checker accepted within its tolerance but above the cap left in fen is cut to it."""
    left = cap_left_fen.reindex(enterprises["enterprise_id"]).to_numpy(dtype=float)
    fen = enterprises["subsidy_fen"].to_numpy()
    over = np.isfinite(left) & (fen > left)
    if over.any():
        log.warning("subsidies of %s cut to their caps left (round-off within the checker's tolerance)",
                    ", ".join(enterprises["enterprise_id"].to_numpy()[over]))
        enterprises["subsidy_fen"] = np.where(over, np.maximum(left, 0), fen).astype(np.int64)


def _within_releases(enterprises: pd.DataFrame, release_fen: dict[str, int | None]) -> None:
    """The subsidies of a programme never add up to more than its release: fen over it (a plan within the
    checker's tolerance, not within the fen) are taken off the largest subsidies, so the fund never pays more."""
    for g, idx in enterprises.groupby("program_id").groups.items():
        released = release_fen.get(g)
        excess = int(enterprises.loc[idx, "subsidy_fen"].sum()) - (released if released is not None else 10**18)
        if excess <= 0:
            continue
        log.warning("programme %s: %d fen over the release (round-off) taken off the largest subsidies", g, excess)
        for i in enterprises.loc[idx].sort_values("subsidy_fen", ascending=False, kind="stable").index:
            cut = min(excess, int(enterprises.at[i, "subsidy_fen"]))
            enterprises.at[i, "subsidy_fen"] -= cut
            excess -= cut
            if excess == 0:
                break
        if excess > 0:
            raise LedgerBroken(f"programme {g}: the subsidies cannot be booked within the release")
