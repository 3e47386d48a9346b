"""A starting point for the solver from a heuristic plan (a MIP start)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models.data import ModelData


def start_values(m: pyo.ConcreteModel, data: ModelData, chosen: np.ndarray, schedule: pd.DataFrame) -> list[tuple]:
    """(variable, value) for every integer variable and the usage of the heuristic plan.

    Continuous variables not given (green, subsidy) are completed by the solver.
    """
    values: list[tuple] = [(m.assign[k], float(chosen[k])) for k in m.PAIRS]
    rows = data.usage_rows[data.usage_rows["var_j"] >= 0]
    if len(rows):
        pairs = data.pairs
        key = pd.MultiIndex.from_arrays([schedule["demand_id"], schedule["pool_id"], schedule["period"]])
        amount = pd.Series(schedule["card_hours"].to_numpy(), index=key)
        k = rows["k"].to_numpy()
        lookup = pd.MultiIndex.from_arrays([pairs["demand_id"].to_numpy()[k], pairs["pool_id"].to_numpy()[k], rows["t"].to_numpy()])
        got = amount.reindex(lookup).fillna(0.0).to_numpy()
        values += [(m.usage[int(j)], float(v)) for j, v in zip(rows["var_j"].to_numpy(), got)]
    enterprise = data.pairs["enterprise_id"].to_numpy()
    bills = data.pairs["bill_yuan"].to_numpy()
    bill = pd.Series(bills * chosen).groupby(enterprise).sum()
    billed = set(enterprise[chosen & (bills > 0)])
    ent = data.enterprises.set_index("enterprise_id")
    for e in m.THRESHOLD_ENTERPRISES:
        values.append((m.served[e], 1.0 if e in billed else 0.0))
    for e in m.EXACT_CAPPED:
        capped = ent.at[e, "rate"] * bill.get(e, 0.0) > ent.at[e, "remaining_cap_yuan"]
        values.append((m.capped[e], 1.0 if capped else 0.0))
    return values
