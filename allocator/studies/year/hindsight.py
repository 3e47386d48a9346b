"""The hindsight bound: a proven upper bound on the served value of any policy over the year.

Any policy -- even one that knows every arrival in advance and chooses every day's release
and plan with perfect foresight -- produces a sequence of daily plans, each obeying R1-R10
against its day's instance, whose releases add up to at most each fund's start. The bound is
the optimum of a linear program that every such sequence satisfies (a *relaxation*), so no
policy serves more; its value is certified by weak LP duality (:func:`certified_bound`).

The relaxation. Requests r (backlog and arrivals) may be served on the days
D_r = a_r .. min(N - 1, a_r + max_wait_days) (the backlog on every day), at the pools that
survive the pre-screen (R1-R4, identical every day); days are grouped into blocks of B
consecutive days (B = 1 when the model is small enough, doubled until it has at most
``MAX_COLUMNS`` columns). Variables x[k, b] in [0, 1] -- pair k = (r, p) served in block b
(b meets D_r) -- and, for an enterprise whose cap can bind, the share z_e in [0, 1] of its
"capped" mode. Rows:

* **each request at most once**: sum over its pairs and blocks of x <= 1 (split by mode for a
  two-mode enterprise: sum x1 + z_e <= 1, sum x2 - z_e <= 0);
* **capacity**: for pool p and block b, sum of u_k x[k, b] <= the pool's card-hours over the
  block's days (each day's R5 summed over its periods and the block's days);
* **energy**: for center c and block b, the kWh of its pools' usage <= the block's days times
  min(sum_t G(c, t) / min_green_share, sum_t (G(c, t) + grid_kwh_cap)) -- both implied by R6
  on every day (the green share gives sum E <= sum G / share; the grid cap E <= G + cap);
* **the annual fund**: for programme g, sum over its enterprises of the year's subsidy
  <= its start plus 1 fen per request of g (the ledger books each day's S_e rounded down, so
  a day may pay up to 1 fen less per enterprise than R8's exact S_e). Over a year the sum of
  an enterprise's daily S_e = min(A_t, cap - ytd_t) is min(A, C_e) (A its year's claim, R8's r(d, p) x bill,
  C_e = max(0, cap - ytd on day 0)): linear r B in the "uncapped" mode; C_e z_e in the capped
  mode, with r B1 <= C_e (1 - z_e) in the uncapped one (the convex hull of the two modes,
  Balas' disjunctive formulation; an enterprise that can never reach its cap has one mode);
* **thresholds**: an enterprise whose every request of the year together (each at its
  largest claim and, apart, its largest bill: :func:`allocator.plan.extract.bundle_blocked`)
  misses the minimum voucher or spend can never be served with a bill: its priced pairs are
  left out. Other threshold rules, and R4's periods within a day, are
  relaxed.

Why it is an upper bound: take any policy's year. Put x[k, b] = 1 for each served request at
its pool and the block of its day, and z_e = 1 exactly for the enterprises whose year's claim
r B exceeds C_e. Every row above holds (each is a sum, over days, of rules every day's plan
obeys, or the identity for the year's subsidy), so the year is a point of the LP and its
served value is at most the LP's optimum, which is at most the certified dual bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.plan.extract import bundle_blocked

MAX_COLUMNS = 400_000
FEN = 0.01
ROUND_OFF = 1e-9  # relative inflation of the dual bound for floating-point sums


@dataclass
class Hindsight:
    bound: float
    block_days: int
    columns: int
    rows: int
    status: str
    lp_value: float | None
    seconds: float
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"bound": self.bound, "method": "LP relaxation of the year, certified by its dual (docs/year.md)",
                "block_days": self.block_days, "columns": self.columns, "rows": self.rows, "lp_status": self.status,
                "lp_value": self.lp_value, "seconds": self.seconds, "notes": self.notes}


class _Rows:
    """Rows ``sum coef * x <= upper`` as COO triplets."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.n = 0

    def add(self, row_within: np.ndarray, col: np.ndarray, coef: np.ndarray, upper: np.ndarray) -> None:
        if len(upper) == 0:
            return
        self.r.append(np.asarray(row_within, dtype=np.int64) + self.n)
        self.c.append(np.asarray(col, dtype=np.int64))
        self.v.append(np.asarray(coef, dtype=float))
        self.upper.append(np.asarray(upper, dtype=float))
        self.n += len(upper)

    def arrays(self):
        def cat(xs, dt):
            return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dtype=dt)
        return cat(self.r, np.int64), cat(self.c, np.int64), cat(self.v, float), cat(self.upper, float)


def hindsight_bound(year, time_limit: float | None = 600.0) -> Hindsight:
    """The bound for a loaded year (:class:`allocator.studies.year.run.Year`)."""
    t0 = time.perf_counter()
    inst, table, n_days = year.instance, year.requests.table, year.requests.days
    pairs = year.pairs.copy()
    trivial = float(pairs.drop_duplicates("demand_id")["value"].sum()) if len(pairs) else 0.0
    ent = inst.enterprises.set_index("enterprise_id")
    prog = inst.programs.set_index("program_id")
    cap_left = (ent["cap_yuan"] - ent["subsidy_ytd_yuan"]).clip(lower=0.0)
    blocked = bundle_blocked(pairs, inst.enterprises, inst.programs)
    gone = pairs["enterprise_id"].map(blocked).fillna(False).to_numpy(dtype=bool) & (pairs["bill_yuan"] > 0).to_numpy()
    pairs = pairs[~gone].reset_index(drop=True)  # no day can bill an enterprise whose whole year misses R8's thresholds
    if pairs.empty:
        return Hindsight(0.0, 1, 0, 0, "empty", 0.0, time.perf_counter() - t0, ["no request can ever be served"])

    request = table.set_index("demand_id")
    first = pairs["demand_id"].map(request["day"]).to_numpy(dtype=np.int64)
    last = np.minimum(n_days - 1, pairs["demand_id"].map(request["last_day"]).to_numpy(dtype=float)).astype(np.int64)
    claim_max = (pairs.groupby("demand_id").agg(e=("enterprise_id", "first"), claim=("claim_yuan", "max"))
                 .groupby("e")["claim"].sum())  # R8's r(d, p) x bill at each request's dearest pool
    two_mode = claim_max > cap_left.reindex(claim_max.index) + 1e-9
    modal = pairs["enterprise_id"].map(two_mode).fillna(False).to_numpy(dtype=bool)
    modes = np.where(modal, 2, 1)

    block_days = 1
    while True:
        n_blocks = (last // block_days - first // block_days + 1)
        n_cols = int((n_blocks * modes).sum())
        if n_cols <= MAX_COLUMNS or block_days >= n_days:
            break
        block_days *= 2

    # columns: for each pair, each block of its window, each mode (1 = uncapped, 2 = capped)
    k = np.repeat(np.arange(len(pairs)), n_blocks * modes)
    within = np.arange(len(k)) - np.repeat(np.cumsum(n_blocks * modes) - n_blocks * modes, n_blocks * modes)
    mode = np.where(modes[k] == 2, within % 2 + 1, 1)
    block = first[k] // block_days + (within // modes[k])
    value = pairs["value"].to_numpy(float)[k]
    usage = pairs["usage_card_hours"].to_numpy(float)[k]
    claim = pairs["claim_yuan"].to_numpy(float)[k]
    e_names = sorted(set(pairs["enterprise_id"]))
    capped = [e for e in e_names if bool(two_mode.get(e, False))]
    z_col = {e: len(k) + i for i, e in enumerate(capped)}
    n_x, n_total = len(k), len(k) + len(capped)
    rows = _Rows()

    # each request at most once (per mode for two-mode enterprises)
    codes = pd.factorize(pairs["demand_id"])[0]
    req_index = codes[k]
    slot = req_index * 2 + (mode - 1)
    slots, row_of = np.unique(slot, return_inverse=True)
    upper = np.where(slots % 2 == 0, 1.0, 0.0)
    req_e = pairs["enterprise_id"].groupby(codes).first().to_numpy()
    slot_e = pd.Series(req_e[slots // 2])
    with_z = np.flatnonzero(slot_e.isin(z_col).to_numpy())
    rows.add(np.concatenate([row_of, with_z]),
             np.concatenate([np.arange(n_x), slot_e.iloc[with_z].map(z_col).to_numpy(dtype=np.int64)]),
             np.concatenate([np.ones(n_x), np.where(slots[with_z] % 2 == 0, 1.0, -1.0)]), upper)

    # capacity per pool and block
    n_blocks_year = (n_days - 1) // block_days + 1
    days_in_block = np.array([min(n_days, (b + 1) * block_days) - b * block_days for b in range(n_blocks_year)], float)
    pool = pairs["pool_idx"].to_numpy()[k]
    day_cards = year.capacity_card_hours.sum(axis=1)
    key = pool * n_blocks_year + block
    keys, row_of = np.unique(key, return_inverse=True)
    rows.add(row_of, np.arange(n_x), usage, day_cards[keys // n_blocks_year] * days_in_block[keys % n_blocks_year])

    # energy per center and block (where R6 limits it)
    center = pairs["center_idx"].to_numpy()[k]
    limit = _daily_energy_limit(inst, year.green_kwh)
    pue = inst.centers["pue"].to_numpy(float)
    kwh = usage * pairs["kw_per_card"].to_numpy(float)[k] * pue[center]
    finite = np.isfinite(limit[center]) & (kwh > 0)
    key = center[finite] * n_blocks_year + block[finite]
    keys, row_of = np.unique(key, return_inverse=True)
    rows.add(row_of, np.flatnonzero(finite), kwh[finite], limit[keys // n_blocks_year] * days_in_block[keys % n_blocks_year])

    # the annual fund of each programme, and the caps of two-mode enterprises
    g_of = pairs["program_id"].to_numpy()[k]
    budgets = prog["budget_yuan"]
    requests_per_program = table.groupby("program_id").size()
    funded = [g for g in budgets.index if math.isfinite(budgets[g])]
    for i, g in enumerate(funded):
        cols = np.flatnonzero((g_of == g) & (mode == 1))
        zs = [z_col[e] for e in capped if ent.at[e, "program_id"] == g]
        coef = np.concatenate([claim[cols], [cap_left[e] for e in capped if ent.at[e, "program_id"] == g]])
        slack = FEN * float(requests_per_program.get(g, 0))
        rows.add(np.zeros(len(coef), dtype=np.int64), np.concatenate([cols, zs]).astype(np.int64), coef,
                 np.array([budgets[g] + slack]))
    e_of = pairs["enterprise_id"].to_numpy()[k]
    for e in capped:
        cols = np.flatnonzero((e_of == e) & (mode == 1))
        coef = np.concatenate([claim[cols], [cap_left[e]]])
        rows.add(np.zeros(len(coef), dtype=np.int64), np.append(cols, z_col[e]), coef, np.array([cap_left[e]]))

    objective = np.concatenate([value, np.zeros(len(capped))])
    status, lp_value, duals = _solve(rows, objective, n_total, time_limit)
    bound, notes = trivial, []
    if duals is not None:
        certified = certified_bound(rows, objective, np.ones(n_total), duals)
        if certified < bound:
            bound = certified
        else:
            notes.append("the LP's dual gave no bound below the total value of the servable requests")
    else:
        notes.append(f"the LP ended {status}: the bound is the total value of the servable requests")
    if block_days > 1:
        notes.append(f"days grouped in blocks of {block_days} to keep the LP within {MAX_COLUMNS:,} columns")
    return Hindsight(bound, block_days, n_total, rows.n, status, lp_value, time.perf_counter() - t0, notes)


def _daily_energy_limit(inst, green_kwh: np.ndarray) -> np.ndarray:
    """kWh a center may draw in a day under R6: min(sum G / min_green_share, sum (G + grid cap)); inf if neither binds."""
    green_day = green_kwh.sum(axis=1)
    share = inst.centers["min_green_share"].to_numpy(float)
    grid = inst.centers["grid_kwh_cap"].to_numpy(float) * green_kwh.shape[1]
    by_share = np.where(share > 0, green_day / np.where(share > 0, share, 1.0), np.inf)
    return np.minimum(by_share, green_day + grid)


def _solve(rows: _Rows, objective: np.ndarray, n_cols: int, time_limit: float | None):
    """Maximize objective . x over the rows, 0 <= x <= 1, with HiGHS; (status, value, row duals or None)."""
    import highspy

    r, c, v, upper = rows.arrays()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.addVars(n_cols, np.zeros(n_cols), np.ones(n_cols))
    h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), objective)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order]
    starts = np.searchsorted(r, np.arange(rows.n))
    h.addRows(rows.n, np.full(rows.n, -highspy.kHighsInf), upper, len(v), starts.astype(np.int32), c.astype(np.int32), v)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    solution = h.getSolution()
    if not solution.dual_valid:
        return status, None, None
    return status, float(h.getInfo().objective_function_value), np.asarray(solution.row_dual, dtype=float)


def certified_bound(rows: _Rows, objective: np.ndarray, col_upper: np.ndarray, duals: np.ndarray) -> float:
    """Weak duality for max c.x, A x <= U, 0 <= x <= u: for any y >= 0,
    c.x <= y.U + sum_j max(0, c_j - (A'y)_j) u_j. Both signs of the solver's duals are tried
    (conventions differ for maximization); the smaller finite bound is returned, inflated by
    a relative 1e-9 for the floating-point sums."""
    r, c, v, upper = rows.arrays()
    best = math.inf
    for sign in (1.0, -1.0):
        y = np.clip(sign * duals, 0.0, None)
        if np.any(y[~np.isfinite(upper)] > 0):
            continue
        reduced = objective - np.bincount(c, weights=v * y[r], minlength=len(objective))
        value = float(np.dot(y, np.where(np.isfinite(upper), upper, 0.0)) + np.sum(np.clip(reduced, 0.0, None) * col_upper))
        best = min(best, value)
    return best * (1.0 + ROUND_OFF) + ROUND_OFF
