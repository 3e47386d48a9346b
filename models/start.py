"""A starting point for the solver from a heuristic plan (a MIP start)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel


def start_arrays(data: ModelData, chosen: np.ndarray, schedule: pd.DataFrame, served_ids, capped_ids) -> dict:
    """Values of the heuristic plan: assign per pair, usage per usage variable j, and
    served / capped per listed enterprise. Continuous variables not given (green,
    subsidy) are completed by the solver."""
    rows = data.usage_rows[data.usage_rows["var_j"] >= 0]
    usage = np.zeros(len(rows))
    if len(rows):
        pairs = data.pairs
        key = pd.MultiIndex.from_arrays([schedule["demand_id"], schedule["pool_id"], schedule["period"]])
        amount = pd.Series(schedule["card_hours"].to_numpy(), index=key)
        k = rows["k"].to_numpy()
        lookup = pd.MultiIndex.from_arrays([pairs["demand_id"].to_numpy()[k], pairs["pool_id"].to_numpy()[k], rows["t"].to_numpy()])
        usage = amount.reindex(lookup).fillna(0.0).to_numpy()
    enterprise = data.pairs["enterprise_id"].to_numpy()
    bills = data.pairs["bill_yuan"].to_numpy()
    claim = pd.Series(data.pairs["claim_yuan"].to_numpy() * chosen).groupby(enterprise).sum()
    billed = set(enterprise[chosen & (bills > 0)])
    ent = data.enterprises.set_index("enterprise_id")
    served = np.array([1.0 if e in billed else 0.0 for e in served_ids])
    capped = np.array([1.0 if claim.get(e, 0.0) > ent.at[e, "remaining_cap_yuan"] else 0.0 for e in capped_ids])
    return {"assign": chosen.astype(float), "usage": usage, "served": served, "capped": capped}


def start_values(m: pyo.ConcreteModel, data: ModelData, chosen: np.ndarray, schedule: pd.DataFrame) -> list[tuple]:
    """(variable, value) for every integer variable and the usage of the heuristic plan (Pyomo model)."""
    served, capped = list(m.THRESHOLD_ENTERPRISES), list(m.EXACT_CAPPED)
    got = start_arrays(data, chosen, schedule, served, capped)
    values: list[tuple] = [(m.assign[k], float(v)) for k, v in zip(m.PAIRS, got["assign"])]
    values += [(m.usage[j], float(v)) for j, v in enumerate(got["usage"])]
    values += [(m.served[e], float(v)) for e, v in zip(served, got["served"])]
    values += [(m.capped[e], float(v)) for e, v in zip(capped, got["capped"])]
    return values


def matrix_start(mm: MatrixModel, data: ModelData, chosen: np.ndarray, schedule: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(column index, value) of the heuristic plan for :class:`~models.matrix.MatrixModel`: every
    column, with subsidy = min(claim, C) of R8 and green = min(energy, green_kwh), so HiGHS need not
    complete the start with an LP of its own."""
    from models.subsidy import subsidy_sets

    sets = subsidy_sets(data)
    got = start_arrays(data, chosen, schedule, sets.thresholds, sets.exact)
    ent = sets.ent
    claim = pd.Series(data.pairs["claim_yuan"].to_numpy() * chosen).groupby(data.pairs["enterprise_id"].to_numpy()).sum()
    capped = list(sets.capped)
    got["subsidy"] = np.minimum(claim.reindex(capped).fillna(0.0).to_numpy(),
                                ent["remaining_cap_yuan"].reindex(capped).to_numpy(dtype=float))
    labels = mm.row_labels.get("green_within_energy", [])
    if labels:
        rows = data.usage_rows
        var_j = rows["var_j"].to_numpy()
        k = rows["k"].to_numpy()
        amount = np.where(var_j < 0, rows["usage_card_hours"].to_numpy() * chosen[k], got["usage"][np.maximum(var_j, 0)] if len(got["usage"]) else 0.0)
        kwh = amount * data.pairs["kw_per_card"].to_numpy()[k] * data.instance.centers["pue"].to_numpy()[rows["center_idx"].to_numpy()]
        energy = pd.Series(kwh).groupby([rows["center_idx"].to_numpy(), rows["t"].to_numpy()]).sum()
        c, t = np.array(labels).T
        got["green"] = np.minimum(energy.reindex(pd.MultiIndex.from_arrays([c, t])).fillna(0.0).to_numpy(), data.screen.green_kwh[c, t])
    names = [name for name in ("assign", "usage", "served", "capped", "subsidy", "green") if name in got]
    index = np.concatenate([mm.columns(name) for name in names])
    value = np.concatenate([np.asarray(got[name], dtype=float) for name in names])
    return index.astype(np.int32), value
