"""Report figures of issue 16: served work and subsidy by accelerator family and by enterprise kind,
and the price of a yuan per programme.

* **Accelerator family** (allocator.instance.hardware): domestic (Ascend, DCU, ...) or other, from
  assignments.csv alone: demands served, usage card-hours (what the cards run), bill and subsidy,
  and each family's share of the card-hours and of the subsidy.
* **Enterprise kind** (enterprises.kind of the instance, "(no kind)" for an empty one): requested
  and served value, demands, usage card-hours and subsidy, and the kind's share of the subsidy.
* **The price of a yuan**: summary.json's ``price_of_a_yuan`` (allocator.solve.yuan), one row per
  programme: the value one more yuan of its fund serves, and how that was found.
"""

from __future__ import annotations

import math

import pandas as pd

from allocator.instance.hardware import DOMESTIC, OTHER, accelerator_family

NO_KIND = "(no kind)"


def _share(part: pd.Series, total: float) -> pd.Series:
    return part / total if total > 0 else part * 0.0


def by_family(assignments: pd.DataFrame) -> pd.DataFrame:
    """family, demands, card_hours, card_hours_share, bill_yuan, subsidy_yuan, subsidy_share (domestic first)."""
    a = assignments.assign(family=assignments["accelerator"].map(accelerator_family))
    out = a.groupby("family").agg(demands=("demand_id", "size"), card_hours=("usage_card_hours", "sum"),
                                  bill_yuan=("bill_yuan", "sum"), subsidy_yuan=("subsidy_yuan", "sum"))
    out = out.reindex([DOMESTIC, OTHER]).fillna(0.0)
    out["demands"] = out["demands"].astype(int)
    out["card_hours_share"] = _share(out["card_hours"], float(out["card_hours"].sum()))
    out["subsidy_share"] = _share(out["subsidy_yuan"], float(out["subsidy_yuan"].sum()))
    out = out.reset_index().rename(columns={"index": "family"})
    return out[["family", "demands", "card_hours", "card_hours_share", "bill_yuan", "subsidy_yuan", "subsidy_share"]]


def domestic_shares(assignments: pd.DataFrame) -> tuple[float, float]:
    """(domestic share of the served usage card-hours, domestic share of the subsidy); 0 when nothing."""
    table = by_family(assignments).set_index("family")
    return float(table.at[DOMESTIC, "card_hours_share"]), float(table.at[DOMESTIC, "subsidy_share"])


def by_kind(assignments: pd.DataFrame, instance) -> pd.DataFrame:
    """kind, requested_value, served_value, demands, served, card_hours, subsidy_yuan, subsidy_share."""
    kind = instance.enterprises.set_index("enterprise_id")["kind"].replace("", NO_KIND)
    d = instance.demands[["demand_id", "enterprise_id", "priority", "card_hours"]].copy()
    d["kind"] = d["enterprise_id"].map(kind).fillna(NO_KIND)
    d["value"] = d["priority"] * d["card_hours"]
    served = assignments.set_index("demand_id")
    d["served"] = d["demand_id"].isin(served.index)
    d["served_value"] = d["value"].where(d["served"], 0.0)
    d["usage"] = d["demand_id"].map(served["usage_card_hours"]).fillna(0.0)
    d["subsidy"] = d["demand_id"].map(served["subsidy_yuan"]).fillna(0.0)
    out = d.groupby("kind").agg(requested_value=("value", "sum"), served_value=("served_value", "sum"),
                                demands=("demand_id", "size"), served=("served", "sum"), card_hours=("usage", "sum"),
                                subsidy_yuan=("subsidy", "sum")).reset_index()
    out["served"] = out["served"].astype(int)
    out["subsidy_share"] = _share(out["subsidy_yuan"], float(out["subsidy_yuan"].sum()))
    return out.sort_values(["subsidy_yuan", "kind"], ascending=[False, True]).reset_index(drop=True)


def yuan_table(summary: dict) -> pd.DataFrame | None:
    """program_id, budget_yuan, subsidy_yuan, value_per_yuan, how, from summary.json (None if absent)."""
    entries = summary.get("price_of_a_yuan")
    if not isinstance(entries, dict) or not entries:
        return None
    rows = []
    for g, e in entries.items():
        value = e.get("value_per_yuan")
        rows.append({"program_id": g, "budget_yuan": _number(e.get("budget_yuan")), "subsidy_yuan": _number(e.get("subsidy_yuan")),
                     "value_per_yuan": _number(value), "how": str(e.get("source", ""))})
    return pd.DataFrame(rows)


def _number(value) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        return float(value)
    return float(value)
