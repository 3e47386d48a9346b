"""Quantities of shared/SPEC.md derived from an instance, each computed in one place for every stage.

The checker (:mod:`allocator.check`) keeps its own copies on purpose: it re-derives every rule
from the SPEC independently of the solver side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.instance.types import Instance


def remaining_cap_yuan(enterprises: pd.DataFrame) -> pd.Series:
    """C_e = max(0, cap_yuan - subsidy_ytd_yuan) of R8."""
    return (enterprises["cap_yuan"] - enterprises["subsidy_ytd_yuan"]).clip(lower=0.0)


def pair_rates(instance: Instance, enterprise_ids, accelerators) -> np.ndarray:
    """r(d, p) of R8 for served work of each enterprise on each accelerator (element by element).

    The enterprise's own ``rate`` where given (``rate_given``); else the highest rate among the
    rows of rates.csv of its programme whose accelerator is empty or the pool's and whose
    enterprise_kind is empty or the enterprise's kind (exact matches; an enterprise without a
    kind matches only rows with an empty enterprise_kind; only the highest applicable row
    counts, and it may be below the programme's rate); else the programme's rate.

    Every stage takes r(d, p) from here (screening stores it per pair as ``rate`` with
    ``claim_yuan = rate * bill_yuan``); the checker has its own reading of R8.
    """
    ent = instance.enterprises.drop_duplicates("enterprise_id").set_index("enterprise_id")
    asked = pd.DataFrame({"enterprise_id": np.asarray(enterprise_ids, dtype=object),
                          "accelerator": np.asarray(accelerators, dtype=object)})
    if asked.empty:
        return np.zeros(0)
    own = asked["enterprise_id"].map(ent["rate"]).to_numpy(dtype=float)  # the own rate, else the programme's
    given = asked["enterprise_id"].map(ent["rate_given"]).fillna(False).to_numpy(dtype=bool)
    rates = instance.tables.get("rates")
    if rates is None or rates.empty:
        return own
    asked["program_id"] = asked["enterprise_id"].map(ent["program_id"])
    asked["kind"] = asked["enterprise_id"].map(ent["kind"]).fillna("")
    keys = asked[["program_id", "accelerator", "kind"]].drop_duplicates()
    rows = rates[["program_id", "accelerator", "enterprise_kind", "rate"]].rename(
        columns={"accelerator": "row_accelerator", "rate": "row_rate"})
    matched = keys.merge(rows, on="program_id", how="inner")
    applies = (((matched["row_accelerator"] == "") | (matched["row_accelerator"] == matched["accelerator"]))
               & ((matched["enterprise_kind"] == "") | (matched["enterprise_kind"] == matched["kind"])))
    best = matched[applies].groupby(["program_id", "accelerator", "kind"])["row_rate"].max()
    if best.empty:
        return own
    index = pd.MultiIndex.from_frame(asked[["program_id", "accelerator", "kind"]])
    from_rows = best.reindex(index).to_numpy(dtype=float)
    return np.where(given | np.isnan(from_rows), own, from_rows)
