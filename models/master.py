"""The restricted master problem: enterprise plans combined under the shared rows.

Each column is one whole plan of one enterprise (which demands, at which pools, in
which periods), as priced by :class:`models.lagrangian.Relaxation`; it keeps every rule
that concerns the enterprise alone (R1-R4, R7, R8, R10). The master chooses at most one
plan per enterprise (``convexity``) so that the shared rows hold:

    capacity[p, t]:  sum_plans usage(p, t) * theta                      <= cards(p, t) * hours   (R5)
    grid[c, t]:      sum_plans energy(c, t) * theta - green[c, t]       <= grid_kwh_cap(c)       (R6)
    green_use[c, t]: green[c, t] - sum_plans energy(c, t) * theta       <= 0                     (R6)
    share[c]:        share(c) * sum_t energy - sum_t green[c, t]        <= 0                     (R6)
    budget[g]:       sum_plans subsidy * theta                          <= budget_yuan(g)        (R9)
    convexity[e]:    sum_plans of e theta                               <= 1
    must[d]:         sum_plans serving d theta + short[d]               >= 1                     (R10)

with 0 <= green[c, t] <= green_kwh(c, t) and 0 <= short[d] <= 1 priced above any plan's value (fixed
at 0 in the integer master). Its LP duals are the prices of the next
pricing round (column generation); with theta binary it is a MIP whose every solution
is a plan that keeps all rules (one plan per enterprise, shared rows within limits).
Energy rows exist only at centers with a finite grid cap or a green share.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from models.lagrangian import Multipliers, Relaxation

INF = highspy.kHighsInf
FEASIBILITY = 1e-7  # relative slack allowed when checking a set of plans against the shared rows


@dataclass
class PlanBatch:
    """Columns for some enterprises, built at once: CSC arrays over the master's rows."""

    enterprise: np.ndarray  # per column
    value: np.ndarray  # served value per column
    subsidy_yuan: np.ndarray
    starts: np.ndarray  # CSC column starts (len = columns + 1)
    rows: np.ndarray
    coefs: np.ndarray
    pairs: list  # per column: pair indices of the plan
    schedule: list  # per column: (usage-row indices, card-hours)

    def __len__(self) -> int:
        return len(self.enterprise)

    def entries(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rows[self.starts[j]:self.starts[j + 1]], self.coefs[self.starts[j]:self.starts[j + 1]]


class Master:
    """The master LP / MIP in highspy, built row by row once, growing by columns."""

    def __init__(self, relaxation: Relaxation):
        r = self.r = relaxation
        P, T, C = r.n_pools, r.periods, r.n_centers
        h = self.h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("simplex_strategy", 4)  # primal simplex: new columns keep the basis primal feasible
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.n_rows = 0
        upper: list[np.ndarray] = []

        def block(bounds: np.ndarray) -> np.ndarray:
            """Row numbers of a new block of rows (-inf, bounds]."""
            index = np.arange(self.n_rows, self.n_rows + len(bounds))
            self.n_rows += len(bounds)
            upper.append(np.asarray(bounds, dtype=float))
            return index

        self.capacity_row = block(r.capacity.ravel()).reshape(P, T)
        energy = np.flatnonzero(r.energy_center)
        share_centers = energy[r.green_share[energy] > 0]
        self.grid_row = np.full((C, T), -1)
        gc, gt = np.nonzero(np.isfinite(r.grid_cap))
        self.grid_row[gc, gt] = block(r.grid_cap[gc, gt])
        self.green_use_row = np.full((C, T), -1)
        self.green_use_row[energy] = block(np.zeros(len(energy) * T)).reshape(len(energy), T)
        self.share_row = np.full(C, -1)
        self.share_row[share_centers] = block(np.zeros(len(share_centers)))
        finite_budget = np.flatnonzero(np.isfinite(r.budget_yuan))
        self.budget_row = np.full(r.n_programs, -1)
        self.budget_row[finite_budget] = block(r.budget_yuan[finite_budget])
        self.convexity_row = block(np.ones(r.n_enterprises))
        must = np.flatnonzero(r.must)
        self.must_row = np.full(r.n_demands, -1)
        self.must_row[must] = block(np.full(len(must), INF))
        self.row_upper = np.concatenate(upper) if upper else np.zeros(0)
        row_lower = np.full(self.n_rows, -INF)
        row_lower[self.must_row[must]] = 1.0
        h.addRows(self.n_rows, row_lower, self.row_upper, 0, np.zeros(self.n_rows, dtype=np.int32),
                  np.zeros(0, dtype=np.int32), np.zeros(0))

        # green[c, t] columns
        cc, tt = np.repeat(energy, T), np.tile(np.arange(T), len(energy))
        self.green_center, self.green_period = cc, tt
        entries = [(self.grid_row[cc, tt], -1.0), (self.green_use_row[cc, tt], 1.0), (self.share_row[cc], -1.0)]
        col_rows, col_coefs, col_of = [], [], []
        for rows, coef in entries:
            on = rows >= 0
            col_rows.append(rows[on]), col_coefs.append(np.full(int(on.sum()), coef)), col_of.append(np.flatnonzero(on))
        self._add_columns(np.zeros(len(cc)), np.zeros(len(cc)), r.green_kwh[cc, tt].astype(float),
                          np.concatenate(col_of), np.concatenate(col_rows), np.concatenate(col_coefs))
        # must[d] columns: sum of the plans serving d + short[d] >= 1, short in [0, 1] at a price above any
        # plan's value, so the LP always has a solution and serves d wherever some set of plans can
        self.must_penalty = 1.0 + float(np.abs(r.value).sum())
        self._add_columns(np.full(len(must), -self.must_penalty), np.zeros(len(must)), np.ones(len(must)),
                          np.arange(len(must)), self.must_row[must], np.ones(len(must)))
        self.must_short_column = len(cc) + np.arange(len(must))
        self.n_fixed_columns = len(cc) + len(must)
        self.plans: list[tuple[PlanBatch, int]] = []  # master column (after the green ones) -> (batch, column in it)
        self.plan_enterprise = np.zeros(0, dtype=int)
        self.duals = np.zeros(self.n_rows)

    # -- columns --------------------------------------------------------------------------------
    def _add_columns(self, cost, lower, upper, col_of, rows, coefs) -> None:
        n = len(cost)
        if n == 0:
            return
        order = np.lexsort((rows, col_of))
        counts = np.bincount(col_of, minlength=n)
        starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int32)
        self.h.addCols(n, np.asarray(cost, dtype=float), np.asarray(lower, dtype=float), np.asarray(upper, dtype=float),
                       len(order), starts, rows[order].astype(np.int32), coefs[order].astype(float))

    def batch(self, selected: np.ndarray, take: np.ndarray, enterprises: np.ndarray) -> PlanBatch:
        """The plans of ``enterprises`` given by selected pairs and their usage per usage row."""
        r = self.r
        enterprises = np.asarray(enterprises, dtype=int)
        position = np.full(r.n_enterprises, -1)
        position[enterprises] = np.arange(len(enterprises))
        row_col = position[r.enterprise[r.row_pair]]
        live = np.flatnonzero((row_col >= 0) & selected[r.row_pair] & (take > 0))
        col, t = row_col[live], r.row_period[live]
        amount = take[live]
        parts = [(col, self.capacity_row[r.row_pool[live], t], amount)]
        energy = amount * r.row_kwh[live]
        c = r.row_center[live]
        for rows, coef in ((self.grid_row[c, t], energy), (self.green_use_row[c, t], -energy),
                           (self.share_row[c], energy * r.green_share[c])):
            on = rows >= 0
            parts.append((col[on], rows[on], coef[on]))
        subsidy = r.plan_subsidy(selected)[enterprises]
        value = r.plan_value(selected)[enterprises]
        budget_rows = self.budget_row[r.program[enterprises]]
        on = budget_rows >= 0
        parts.append((np.flatnonzero(on), budget_rows[on], subsidy[on]))
        parts.append((np.arange(len(enterprises)), self.convexity_row[enterprises], np.ones(len(enterprises))))
        served = np.flatnonzero(selected)
        served = served[(position[r.enterprise[served]] >= 0) & r.must[r.demand[served]]]
        parts.append((position[r.enterprise[served]], self.must_row[r.demand[served]], np.ones(len(served))))
        cols = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts])
        coefs = np.concatenate([p[2] for p in parts])
        # merge duplicate (column, row) entries
        key = cols.astype(np.int64) * self.n_rows + rows
        unique, inverse = np.unique(key, return_inverse=True)
        coefs = np.bincount(inverse, weights=coefs)
        cols, rows = unique // self.n_rows, unique % self.n_rows
        counts = np.bincount(cols, minlength=len(enterprises))
        starts = np.r_[0, np.cumsum(counts)]
        pair_index = np.flatnonzero(selected)
        pair_col = position[r.enterprise[pair_index]]
        order = np.argsort(pair_col, kind="stable")
        pair_bounds = np.searchsorted(pair_col[order], np.arange(len(enterprises) + 1))
        row_order = np.argsort(col, kind="stable")
        row_bounds = np.searchsorted(col[row_order], np.arange(len(enterprises) + 1))
        pairs = [pair_index[order[pair_bounds[j]:pair_bounds[j + 1]]] for j in range(len(enterprises))]
        schedule = [(live[row_order[row_bounds[j]:row_bounds[j + 1]]], amount[row_order[row_bounds[j]:row_bounds[j + 1]]])
                    for j in range(len(enterprises))]
        return PlanBatch(enterprises, value, subsidy, starts, rows, coefs, pairs, schedule)

    def reduced_costs(self, batch: PlanBatch) -> np.ndarray:
        """value - duals . column: > 0 where the plan would improve the master."""
        counts = np.diff(batch.starts)
        col = np.repeat(np.arange(len(batch)), counts)
        return batch.value - np.bincount(col, weights=self.duals[batch.rows] * batch.coefs, minlength=len(batch))

    def add(self, batch: PlanBatch, which: np.ndarray | None = None) -> np.ndarray:
        """Add the batch's columns ``which`` (default all); returns their master plan numbers."""
        which = np.arange(len(batch)) if which is None else np.asarray(which, dtype=int)
        if not len(which):
            return np.zeros(0, dtype=int)
        counts = np.diff(batch.starts)[which]
        take = np.concatenate([np.arange(batch.starts[j], batch.starts[j + 1]) for j in which])
        col_of = np.repeat(np.arange(len(which)), counts)
        self._add_columns(batch.value[which], np.zeros(len(which)), np.full(len(which), INF), col_of,
                          batch.rows[take], batch.coefs[take])
        first = len(self.plans)
        self.plans += [(batch, int(j)) for j in which]
        self.plan_enterprise = np.concatenate([self.plan_enterprise, batch.enterprise[which]])
        return np.arange(first, len(self.plans))

    # -- solving --------------------------------------------------------------------------------
    def solve(self, seconds: float | None = None) -> tuple[bool, float]:
        """Solve the LP (or MIP once integrality is set); returns (a solution exists, objective)."""
        if seconds is not None:
            self.h.setOptionValue("time_limit", max(0.1, float(seconds)))
        self.h.run()
        status = self.h.getModelStatus()
        ok = status == highspy.HighsModelStatus.kOptimal or self.h.getInfo().primal_solution_status == 2
        if ok:
            solution = self.h.getSolution()
            if solution.dual_valid:
                self.duals = np.asarray(solution.row_dual)
        return ok, float(self.h.getInfo().objective_function_value) if ok else -np.inf

    def multipliers(self) -> Multipliers:
        """The shared rows' duals as prices (>= 0; zero where a row does not exist)."""
        y = np.maximum(self.duals, 0.0)

        def pick(rows: np.ndarray) -> np.ndarray:
            return np.where(rows >= 0, y[np.maximum(rows, 0)], 0.0)

        return Multipliers(pick(self.capacity_row), pick(self.grid_row), pick(self.green_use_row), pick(self.share_row),
                           pick(self.budget_row))

    def near_optimal(self, tolerance: float = 1e-3) -> np.ndarray:
        """Bool per plan column: its LP reduced cost is within ``tolerance`` x its value of 0 (the columns
        an integer solution near the LP optimum is made of)."""
        rc = np.asarray(self.h.getSolution().col_dual)[self.n_fixed_columns:]
        values = np.array([self.plan_value(n) for n in range(len(self.plans))])
        return rc >= -tolerance * np.maximum(1.0, np.abs(values))

    def theta(self) -> np.ndarray:
        """Weight of every plan column in the current solution."""
        return np.asarray(self.h.getSolution().col_value)[self.n_fixed_columns:]

    def set_plan_bounds(self, plans: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        plans = np.asarray(plans, dtype=np.int32)
        if len(plans):
            self.h.changeColsBounds(len(plans), plans + self.n_fixed_columns, np.asarray(lower, float), np.asarray(upper, float))

    def set_integer(self) -> None:
        n = len(self.plans)
        index = (np.arange(n) + self.n_fixed_columns).astype(np.int32)
        self.h.changeColsIntegrality(n, index, np.full(n, highspy.HighsVarType.kInteger))

    def require_must_serve(self) -> None:
        """Every must-serve demand served (R10): its shortfall column fixed at 0, for the integer master."""
        n = len(self.must_short_column)
        if n:
            self.h.changeColsBounds(n, self.must_short_column.astype(np.int32), np.zeros(n), np.zeros(n))

    def set_start(self, plans: np.ndarray) -> None:
        """A MIP start: these plan columns at 1, every other at 0, green at min(energy, green_kwh) and the
        must-serve shortfalls they leave. A whole solution: HiGHS completes a partial one by a sub-MIP
        that takes as long as the time limit before the search itself starts."""
        r = self.r
        plans = np.asarray(plans, dtype=int)
        x = np.zeros(self.n_fixed_columns + len(self.plans))
        x[self.n_fixed_columns + plans] = 1.0
        energy = np.zeros((r.n_centers, r.periods))
        served = np.zeros(r.n_demands, dtype=bool)
        for n in plans:
            pairs, (rows, amount) = self.plan(int(n))
            np.add.at(energy, (r.row_center[rows], r.row_period[rows]), amount * r.row_kwh[rows])
            served[r.demand[pairs]] = True
        x[:len(self.green_center)] = np.minimum(energy[self.green_center, self.green_period],
                                                r.green_kwh[self.green_center, self.green_period])
        x[self.must_short_column] = np.where(served[np.flatnonzero(r.must)], 0.0, 1.0)
        solution = highspy.HighsSolution()
        solution.col_value = x.tolist()
        solution.value_valid = True
        self.h.setSolution(solution)

    def plan(self, number: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(pair indices, (usage rows, card-hours)) of a plan column."""
        batch, j = self.plans[number]
        return batch.pairs[j], batch.schedule[j]

    def plan_value(self, number: int) -> float:
        batch, j = self.plans[number]
        return float(batch.value[j])


class Ledger:
    """The shared rows used by plans accepted so far, to test whether one more still fits."""

    def __init__(self, master: Master):
        self.m = master
        self.activity = np.zeros(master.n_rows)
        r = master.r
        self._energy = np.zeros((r.n_centers, r.periods))

    def fits(self, number: int) -> bool:
        m = self.m
        r = m.r
        batch, j = m.plans[number]
        rows, coefs = batch.entries(j)
        trial = self.activity.copy()
        np.add.at(trial, rows, coefs)
        limit = m.row_upper
        check = np.r_[m.capacity_row.ravel(), m.budget_row[m.budget_row >= 0]]
        if np.any(trial[check] > limit[check] + FEASIBILITY * np.maximum(1.0, np.abs(limit[check]))):
            return False
        energy = self._energy + self._plan_energy(number)
        green = np.minimum(energy, r.green_kwh)
        grid = r.grid_cap
        if np.any(energy - green > grid + FEASIBILITY * np.maximum(1.0, np.where(np.isfinite(grid), grid, 1.0))):
            return False
        total = energy.sum(axis=1)
        return not np.any(green.sum(axis=1) < r.green_share * total - FEASIBILITY * np.maximum(1.0, total))

    def accept(self, number: int) -> None:
        batch, j = self.m.plans[number]
        rows, coefs = batch.entries(j)
        np.add.at(self.activity, rows, coefs)
        self._energy += self._plan_energy(number)

    def _plan_energy(self, number: int) -> np.ndarray:
        r = self.m.r
        _, (usage_rows, amount) = self.m.plan(number)
        out = np.zeros((r.n_centers, r.periods))
        np.add.at(out, (r.row_center[usage_rows], r.row_period[usage_rows]), amount * r.row_kwh[usage_rows])
        return out
