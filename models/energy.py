"""Center energy, green power, grid cap and the horizon green share (R6)."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from models.data import ModelData
from models.matrix import MatrixModel, usage_entries
from models.terms import usage_terms


def centers_needing_energy(data: ModelData) -> np.ndarray:
    """Centers whose energy the model must see: a finite grid cap, a green share, or a carbon price."""
    inst = data.instance
    c = inst.centers
    intensity = c["region_id"].map(inst.regions.set_index("region_id")["grid_carbon_kg_per_kwh"]).fillna(0.0)
    priced = inst.carbon_price_yuan_per_kg * intensity.to_numpy() > 0
    needs = np.isfinite(c["grid_kwh_cap"].to_numpy()) | (c["min_green_share"].to_numpy() > 0) | priced
    used = np.zeros(len(c), dtype=bool)
    used[data.usage_rows["center_idx"].unique()] = True
    return np.flatnonzero(needs & used)


def carbon_yuan_per_kwh(data: ModelData) -> np.ndarray:
    """carbon_price_yuan_per_kg * grid_carbon_kg_per_kwh of each center's region."""
    inst = data.instance
    intensity = inst.centers["region_id"].map(inst.regions.set_index("region_id")["grid_carbon_kg_per_kwh"]).fillna(0.0)
    return inst.carbon_price_yuan_per_kg * intensity.to_numpy()


def add_energy(m: pyo.ConcreteModel, data: ModelData) -> None:
    """energy(c, t) = sum_{p of c} usage(p, t) * kw_per_card(p) * pue(c)          [kWh]
    green[c, t]  <= green_kwh(c, t),  green[c, t] <= energy(c, t)                 [kWh]
    grid_cap:     energy(c, t) - green[c, t] <= grid_kwh_cap(c)                     [kWh]
    green_share:  sum_t green[c, t] >= min_green_share(c) * sum_t energy(c, t)

    The SPEC's green is min(energy, green_kwh); any green[c, t] below it only
    tightens these rows and raises the carbon cost, so an optimal plan attains it,
    and the plan reports green = min(energy, green_kwh) exactly.
    """
    inst = data.instance
    centers = centers_needing_energy(data)
    rows = data.usage_rows[data.usage_rows["center_idx"].isin(centers)]
    kw = data.pairs["kw_per_card"].to_numpy()[rows["k"].to_numpy()]
    pue = inst.centers["pue"].to_numpy()[rows["center_idx"].to_numpy()]
    groups = rows.groupby(["center_idx", "t"], sort=True).indices
    energy = {(int(c), int(t)): usage_terms(m, rows.iloc[idx], kw[idx] * pue[idx]) for (c, t), idx in groups.items()}
    green_kwh = data.screen.green_kwh
    m.CENTER_PERIODS = pyo.Set(initialize=list(energy), dimen=2, ordered=True)
    m.energy_kwh = pyo.Expression(m.CENTER_PERIODS, rule=lambda m, c, t: energy[(c, t)])

    def green_bounds(m, c, t):
        top = float(green_kwh[c, t])
        return (0.0, None if math.isinf(top) else top)

    m.green = pyo.Var(m.CENTER_PERIODS, domain=pyo.NonNegativeReals, bounds=green_bounds)

    @m.Constraint(m.CENTER_PERIODS, doc="green power used is at most the energy drawn")
    def green_within_energy(m, c, t):
        return m.green[c, t] <= m.energy_kwh[c, t]

    m.grid_kwh = pyo.Expression(m.CENTER_PERIODS, rule=lambda m, c, t: m.energy_kwh[c, t] - m.green[c, t])
    cap = inst.centers["grid_kwh_cap"].to_numpy()
    capped = [(c, t) for (c, t) in energy if math.isfinite(cap[c])]

    @m.Constraint(capped, doc="grid energy within the center's cap in every period (R6)")
    def grid_cap(m, c, t):
        return m.grid_kwh[c, t] <= float(cap[c])

    share = inst.centers["min_green_share"].to_numpy()
    shared = sorted({c for (c, _) in energy if share[c] > 0})
    periods_of = {c: [t for (cc, t) in energy if cc == c] for c in shared}

    @m.Constraint(shared, doc="green share of the center's energy over the horizon (R6)")
    def green_share(m, c):
        ts = periods_of[c]
        return sum(m.green[c, t] for t in ts) >= float(share[c]) * sum(m.energy_kwh[c, t] for t in ts)


def energy_rows(mm: MatrixModel, data: ModelData) -> None:
    """The same family as :func:`add_energy`, as matrix rows: columns ``green``; rows
    ``green_within_energy``, ``grid_cap``, ``green_share``; the carbon price added to ``mm.cost``."""
    inst = data.instance
    centers = centers_needing_energy(data)
    rows = data.usage_rows[data.usage_rows["center_idx"].isin(centers)]
    if rows.empty:
        return
    periods = inst.periods
    kw = data.pairs["kw_per_card"].to_numpy()[rows["k"].to_numpy()]
    center = rows["center_idx"].to_numpy()
    kwh_per_card_hour = kw * inst.centers["pue"].to_numpy()[center]
    keys, row_of = np.unique(center * periods + rows["t"].to_numpy(), return_inverse=True)
    c_of, t_of = keys // periods, keys % periods
    labels = list(zip(c_of.tolist(), t_of.tolist()))
    n = len(keys)
    green = mm.add_columns("green", np.zeros(n), data.screen.green_kwh[c_of, t_of])
    col, coef = usage_entries(mm, rows, kwh_per_card_hour)  # energy(c, t) entries
    # green - energy <= 0
    mm.add_rows("green_within_energy", np.concatenate([row_of, np.arange(n)]), np.concatenate([col, green]),
                np.concatenate([-coef, np.ones(n)]), -np.inf, 0.0, labels)
    # energy - green <= grid_kwh_cap
    cap = inst.centers["grid_kwh_cap"].to_numpy(dtype=float)[c_of]
    capped = np.flatnonzero(np.isfinite(cap))
    if len(capped):
        renumber = np.full(n, -1)
        renumber[capped] = np.arange(len(capped))
        on = renumber[row_of] >= 0
        mm.add_rows("grid_cap", np.concatenate([renumber[row_of][on], np.arange(len(capped))]),
                    np.concatenate([col[on], green[capped]]), np.concatenate([coef[on], -np.ones(len(capped))]),
                    -np.inf, cap[capped], [labels[i] for i in capped])
    # sum_t green - share * sum_t energy >= 0
    share = inst.centers["min_green_share"].to_numpy(dtype=float)
    shared = np.unique(c_of[share[c_of] > 0])
    if len(shared):
        s_row = np.searchsorted(shared, c_of)  # row of each (c, t), valid where c is shared
        on_ct = np.isin(c_of, shared)
        on = on_ct[row_of]
        mm.add_rows("green_share", np.concatenate([s_row[row_of][on], s_row[on_ct]]),
                    np.concatenate([col[on], green[on_ct]]),
                    np.concatenate([-share[c_of][row_of][on] * coef[on], np.ones(int(on_ct.sum()))]),
                    0.0, np.inf, shared.tolist())
    # carbon: price * intensity * (energy - green)
    price = carbon_yuan_per_kwh(data)[c_of]
    mm.add_objective("cost", col, price[row_of] * coef)
    mm.add_objective("cost", green, -price)
