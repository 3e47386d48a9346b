"""The figures of a plan report, computed from a plan folder (and its instance, when found).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.files import file_digest
from allocator.render.formats import number, percent, yuan
from allocator.render.mix import by_family, by_kind, yuan_table

PLAN_TABLES = ("assignments", "schedule", "unserved", "pools", "centers", "enterprises", "programs")


@dataclass
class PlanFolder:
    """A plan folder as written by ``allocator solve``: summary.json and its tables."""

    folder: Path
    summary: dict
    tables: dict[str, pd.DataFrame]

    def __getattr__(self, stem: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if stem in tables:
            return tables[stem]
        raise AttributeError(stem)


def read_plan_folder(folder: Path) -> PlanFolder:
    """Read summary.json and every plan table (ids as text, numbers as floats)."""
    folder = Path(folder)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{folder} is not a plan folder: summary.json is missing")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    tables = {}
    for stem in PLAN_TABLES:
        path = folder / f"{stem}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a plan folder: {stem}.csv is missing")
        tables[stem] = pd.read_csv(path, keep_default_na=False, na_values=[""],
                                   dtype={c: str for c in ("demand_id", "enterprise_id", "pool_id", "center_id",
                                                           "region_id", "program_id", "accelerator", "reason")})
    return PlanFolder(folder, summary, tables)


def instance_matches(folder: Path, summary: dict) -> bool:
    """True if every file named in summary['instance_sha256'] exists in ``folder`` with that digest."""
    digests = summary.get("instance_sha256")
    if not isinstance(digests, dict) or not digests or not Path(folder).is_dir():
        return False
    return all((Path(folder) / name).is_file() and file_digest(Path(folder) / name) == digest
               for name, digest in digests.items())


def find_instance(plan: PlanFolder, given: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The instance folder of the plan (see the module docstring for where it is looked for).

    A folder given explicitly must match the plan's instance hashes (ValueError otherwise).
    """
    if given is not None:
        if not instance_matches(given, plan.summary):
            raise ValueError(f"{given} is not the instance this plan was made from "
                             "(its files differ from instance_sha256 in summary.json)")
        return Path(given)
    name = str(plan.summary.get("instance", ""))
    cwd = Path.cwd() if cwd is None else cwd
    candidates = []
    if plan.summary.get("instance_path"):
        candidates.append(Path(plan.summary["instance_path"]))
    if name:
        candidates += [cwd / "instances" / name, plan.folder.parent / name, plan.folder.parent / "instances" / name,
                       plan.folder.parent.parent / "instances" / name]
    for candidate in candidates:
        if instance_matches(candidate, plan.summary):
            return candidate
    return None


@dataclass
class Figures:
    """Everything the page and the Markdown show, computed once."""

    title: str
    headline: list[tuple[str, str]]
    programs: pd.DataFrame  # program_id, budget_yuan, subsidy_yuan, remaining_yuan
    utilization: pd.DataFrame  # pools x periods
    energy: pd.DataFrame  # center_id, period, energy_kwh, green_kwh, grid_kwh (+ grid_kwh_cap)
    enterprises: pd.DataFrame  # enterprise_id, program_id, ytd, today, left, cap
    reasons: pd.DataFrame  # reason, demands, value
    unserved: pd.DataFrame
    flows: pd.DataFrame | None = None  # home_region, region_id, card_hours, demands
    by_class: pd.DataFrame | None = None  # group, requested_value, served_value, demands, served
    by_stack: pd.DataFrame | None = None
    by_family: pd.DataFrame | None = None  # allocator.render.mix.by_family: domestic vs other accelerators
    by_kind: pd.DataFrame | None = None  # allocator.render.mix.by_kind (needs the instance)
    yuan: pd.DataFrame | None = None  # allocator.render.mix.yuan_table: the price of a yuan per programme
    instance_note: str = ""
    notes: list[str] = field(default_factory=list)


def _float(value) -> float:
    if isinstance(value, str):
        return float(value)  # "inf"
    return float("nan") if value is None else float(value)


def compute_figures(plan: PlanFolder, instance=None) -> Figures:
    """All report figures from the plan and, when given, its instance (``allocator.instance.types.Instance``)."""
    s = plan.summary
    centers = plan.centers
    energy, green = float(centers["energy_kwh"].sum()), float(centers["green_kwh"].sum())
    served_value = _float(s.get("served_value"))
    requested = float((instance.demands["priority"] * instance.demands["card_hours"]).sum()) if instance is not None else float("nan")
    bill, subsidy = _float(s.get("total_bill_yuan")), _float(s.get("total_subsidy_yuan"))
    headline = [
        ("status", f"{s.get('status', '?')} (gap {number(_float(s.get('gap')), 3)})"),
        ("served value", f"{number(served_value)} of {number(requested)} requested ({percent(served_value / requested if requested > 0 else float('nan'))})"),
        ("demands served", f"{s.get('demands_served', len(plan.assignments))} of {s.get('demands_total', '?')}"),
        ("bill", yuan(bill)),
        ("subsidy", f"{yuan(subsidy)} ({percent(subsidy / bill if bill > 0 else float('nan'))} of the bill)"),
        ("enterprises pay", yuan(bill - subsidy)),
        ("carbon", f"{number(_float(s.get('carbon_kg')))} kg"),
        ("green share", f"{percent(green / energy if energy > 0 else float('nan'))} of {number(energy)} kWh"),
        ("method", f"{s.get('method', '?')} ({s.get('solver', '')} {s.get('solver_version', '')})".strip()),
    ]
    figures = Figures(
        title=f"Plan for {s.get('instance', plan.folder.name)}",
        headline=headline,
        programs=plan.programs.copy(),
        utilization=plan.pools.pivot(index="pool_id", columns="period", values="utilization")
        .reindex(pd.unique(plan.pools["pool_id"])),
        energy=_energy(plan, instance),
        enterprises=_enterprises(plan, instance),
        reasons=_reasons(plan, instance),
        unserved=plan.unserved.copy(),
        notes=[str(n) for n in s.get("notes", [])],
        by_family=by_family(plan.assignments),
        yuan=yuan_table(s),
    )
    if instance is None:
        figures.instance_note = ("The instance was not found (give --instance): home regions, stacks, latency classes, "
                                 "requested value and caps are not shown.")
        return figures
    figures.flows = _flows(plan, instance)
    figures.by_class = _served_share(plan, instance, "latency_class")
    figures.by_stack = _served_share(plan, instance, "stack")
    figures.by_kind = by_kind(plan.assignments, instance)
    return figures


def _energy(plan: PlanFolder, instance) -> pd.DataFrame:
    energy = plan.centers.copy()
    if instance is not None:
        energy["grid_kwh_cap"] = energy["center_id"].map(instance.centers.set_index("center_id")["grid_kwh_cap"])
    return energy


def _enterprises(plan: PlanFolder, instance) -> pd.DataFrame:
    ent = plan.enterprises.rename(columns={"subsidy_yuan": "today_yuan", "cap_remaining_yuan": "left_yuan"}).copy()
    if instance is not None:
        known = instance.enterprises.set_index("enterprise_id")
        ent["ytd_yuan"] = ent["enterprise_id"].map(known["subsidy_ytd_yuan"]).fillna(0.0)
        ent["cap_yuan"] = ent["enterprise_id"].map(known["cap_yuan"])
    else:
        ent["ytd_yuan"] = float("nan")
        ent["cap_yuan"] = float("nan")
    return ent


def _demand_values(instance) -> pd.Series:
    d = instance.demands
    return pd.Series((d["priority"] * d["card_hours"]).to_numpy(), index=d["demand_id"])


def _reasons(plan: PlanFolder, instance) -> pd.DataFrame:
    u = plan.unserved.copy()
    u["value"] = u["demand_id"].map(_demand_values(instance)) if instance is not None else float("nan")
    out = u.groupby("reason").agg(demands=("demand_id", "size"),
                                  value=("value", lambda v: v.sum(min_count=1))).reset_index()
    return out.sort_values(["demands", "reason"], ascending=[False, True]).reset_index(drop=True)


def _flows(plan: PlanFolder, instance) -> pd.DataFrame:
    a = plan.assignments.merge(instance.demands[["demand_id", "home_region"]], on="demand_id", how="left")
    flows = a.groupby(["home_region", "region_id"]).agg(card_hours=("usage_card_hours", "sum"),
                                                         demands=("demand_id", "size")).reset_index()
    return flows.sort_values("card_hours", ascending=False).reset_index(drop=True)


def _served_share(plan: PlanFolder, instance, column: str) -> pd.DataFrame:
    d = instance.demands[["demand_id", column, "priority", "card_hours"]].copy()
    d["value"] = d["priority"] * d["card_hours"]
    d["served"] = d["demand_id"].isin(set(plan.assignments["demand_id"]))
    d["served_value"] = d["value"].where(d["served"], 0.0)
    out = d.groupby(column).agg(requested_value=("value", "sum"), served_value=("served_value", "sum"),
                                demands=("demand_id", "size"), served=("served", "sum")).reset_index()
    out = out.rename(columns={column: "group"})
    out["share"] = np.where(out["requested_value"] > 0, out["served_value"] / out["requested_value"].where(out["requested_value"] > 0, 1), 0.0)
    return out.sort_values("requested_value", ascending=False).reset_index(drop=True)


def region_order(flows: pd.DataFrame) -> list[str]:
    """Regions from net senders of work to net receivers (east data first, west computing last)."""
    sent = flows.groupby("home_region")["card_hours"].sum()
    hosted = flows.groupby("region_id")["card_hours"].sum()
    regions = sorted(set(sent.index) | set(hosted.index))
    net = {r: float(sent.get(r, 0.0) - hosted.get(r, 0.0)) for r in regions}
    return sorted(regions, key=lambda r: (-net[r], r))
