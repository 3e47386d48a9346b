"""The Lagrangian relaxation of the shared resources: a certified bound for any prices.

Enterprises interact only through shared resources: pool capacity (R5), center energy
and green power (R6) and programme budgets (R9). Everything else (one pool per demand,
the window and per-period card limit of R4, the bill of R7, the capped subsidy and the
thresholds of R8, must-serve of R10) concerns one enterprise alone. Pricing each shared
row with a multiplier >= 0 and moving it into the objective splits the problem into one
small problem per enterprise:

    L(y) = sum_rows y_row * rhs_row
         + sum_{c,t} green_kwh(c, t) * max(0, y_grid(c,t) - y_green(c,t) + y_share(c))
         + sum_e Phi_e(y)

    Phi_e(y) = max over plans x of e of   sum_k rho_k x_k - y_budget(g) * min(A_e, C_e)

with A_e = sum_k a_k x_k the claim of R8, a_k = r(d, p) * b_k per pair (``claim_yuan``)

with rho_k = value_k - (cheapest schedule of pair k at per-card-hour prices
q(t) = y_cap(p, t) + kwh_per_card_hour * (y_grid(c, t) - y_green(c, t) + y_share(c) * share(c))).

For every y >= 0 and every plan that keeps the rules, L(y) >= the plan's served value
(weak duality: each relaxed row adds y * slack >= 0), so L(y) is a **certified upper
bound**. The bound of the best y is the LP bound of the model in which every
enterprise's own constraints are replaced by their convex hull, much tighter than the
big-M LP of :mod:`models.subsidy`: there the LP pays for a capped enterprise at the chord
C_e * B / B_max, or spreads a demand over several pools to look bigger than it is.

Phi_e has a closed form. Because -y min(A, C) = max(-y A, -y C), Phi_e is the larger of
  * "rate":  sum_d max(0, max_k (rho_k - y a_k))     (each demand on its own),
  * "capped": sum_d max(0, max_k rho_k) - y C_e        (the cap paid once),
  * "free":  the same over pairs with a bill of 0 only (thresholds never apply),
where must-serve demands take their best pair even at a loss. The thresholds of R8 ("if
B_e > 0 then S_e >= min voucher and spend_ytd + B_e >= min spend") read B_e >= beta_e with
beta_e = max(min_voucher / r_e, min_spend - spend_ytd), r_e the largest rate r(d, p) of e's
pairs (A_e <= r_e B_e, so every plan meeting the voucher has B_e >= min_voucher / r_e: the
relaxation stays valid; it is exact when e has one rate), and forbid billing altogether when
C_e < min_voucher. Where a case's best plan bills 0 < B_e < beta_e, the case is bounded by
min over s >= 0 of max_x [sum_k (c_k + s b_k) x_k] - s beta_e (the bound of the cover
B_e >= beta_e relaxed with one multiplier s, found by bisection), and the plan at the
upper end of the bracket meets the threshold, so every plan returned keeps the rules of
its enterprise. Where e's pairs have different rates (rates.csv), B_e >= beta_e does not
imply A_e >= min voucher: a plan that misses the true thresholds is dropped (e plans
nothing at those prices; the bound is unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from models.data import ModelData

THRESHOLD_STEPS = 40  # bisection steps for the threshold multiplier s
TOLERANCE = 1e-9


@dataclass
class Multipliers:
    """Prices of the shared rows, all >= 0 (value per unit of the row)."""

    capacity: np.ndarray  # (pools, periods): per card-hour of pool capacity (R5)
    grid: np.ndarray  # (centers, periods): per kWh on energy - green <= grid_kwh_cap (R6)
    green_use: np.ndarray  # (centers, periods): per kWh on green <= energy (R6)
    share: np.ndarray  # (centers,): per kWh on share * sum_t energy - sum_t green <= 0 (R6)
    budget: np.ndarray  # (programs,): per subsidy yuan (R9)

    @classmethod
    def zeros(cls, relaxation: "Relaxation") -> "Multipliers":
        r = relaxation
        return cls(np.zeros((r.n_pools, r.periods)), np.zeros((r.n_centers, r.periods)),
                   np.zeros((r.n_centers, r.periods)), np.zeros(r.n_centers), np.zeros(r.n_programs))

    def fits(self, relaxation: "Relaxation") -> bool:
        """Whether these prices have the shapes of ``relaxation``'s rows."""
        zero = Multipliers.zeros(relaxation)
        return all(getattr(self, f.name).shape == getattr(zero, f.name).shape for f in fields(self))

    @classmethod
    def mean(cls, many: list["Multipliers"], weights) -> "Multipliers":
        """The weighted mean of several price vectors of the same shapes."""
        w = np.asarray(weights, dtype=float) / float(np.sum(weights))
        return cls(*(sum(wi * getattr(m, f.name) for wi, m in zip(w, many)) for f in fields(cls)))

    def blend(self, other: "Multipliers", weight: float) -> "Multipliers":
        """weight * self + (1 - weight) * other (smoothing towards a stability centre)."""
        return Multipliers(*(weight * getattr(self, f.name) + (1.0 - weight) * getattr(other, f.name) for f in fields(self)))


@dataclass
class Priced:
    """What the enterprises do at given prices: the bound and each enterprise's best plan."""

    bound: float  # L(y)
    phi: np.ndarray  # Phi_e per enterprise (relaxed thresholds: an upper bound on the plan's own profit)
    selected: np.ndarray  # bool per pair: the plans, one per enterprise
    take_card_hours: np.ndarray  # per usage row: the cheapest schedule of the selected pairs (0 elsewhere)


class Relaxation:
    """Arrays of one instance, laid out for pricing; :meth:`price` evaluates L(y) and the plans.

    ``blocks``: aggregate the periods into this many consecutive blocks of equal length (the
    last may be shorter). Each block's capacity, green energy and grid cap are the sums over
    its periods, and a pair may use in a block at most the sum of what it may use in its
    periods. Every plan that keeps the hourly rules keeps these (green: sum_t min(E_t, G_t) <=
    min(sum E_t, sum G_t)), so L(y) stays a certified bound; with fewer rows it converges in
    far fewer rounds. Plans priced on blocks are assignments only, not schedules (``exact``).

    Per period, the green a center can use is at most min(green_kwh, E_max) and its grid draw
    at most min(grid_kwh_cap, E_max - green_kwh), E_max being the energy of all its pools
    busy: the same rule per period, but summed over a block it keeps the hours' shape.
    """

    def __init__(self, data: ModelData, blocks: int | None = None):
        inst = data.instance
        pairs = data.pairs
        self.data = data
        self.n_pools = data.screen.capacity_card_hours.shape[0]
        self.n_centers = len(inst.centers)
        self.value = pairs["value"].to_numpy(dtype=float)
        self.bill = pairs["bill_yuan"].to_numpy(dtype=float)
        self.claim = pairs["claim_yuan"].to_numpy(dtype=float)  # r(d, p) * bill: the pair's claim (R8)
        self.n_pairs = len(pairs)
        self.demand = pd.factorize(pairs["demand_id"], sort=False)[0]  # pairs are contiguous per demand
        self.n_demands = int(self.demand.max()) + 1 if self.n_pairs else 0
        self.demand_start = np.flatnonzero(np.r_[True, self.demand[1:] != self.demand[:-1]]) if self.n_pairs else np.zeros(0, int)
        ent_code, self.enterprise_ids = pd.factorize(pairs["enterprise_id"], sort=False)
        self.enterprise = ent_code
        self.n_enterprises = len(self.enterprise_ids)
        self.enterprise_of_demand = np.zeros(self.n_demands, dtype=int)
        self.enterprise_of_demand[self.demand] = ent_code
        self.must = np.zeros(self.n_demands, dtype=bool)
        self.must[self.demand[pairs["must_serve"].to_numpy(dtype=bool)]] = True

        ent = data.enterprises.set_index("enterprise_id").reindex(self.enterprise_ids)
        pair_rate = pairs["rate"].to_numpy(dtype=float)
        self.rate = np.full(self.n_enterprises, -np.inf)  # the largest rate r(d, p) of the enterprise's pairs
        np.maximum.at(self.rate, ent_code, pair_rate)
        lowest = np.full(self.n_enterprises, np.inf)
        np.minimum.at(lowest, ent_code, pair_rate)
        self.mixed_rate = lowest < self.rate  # the thresholds are checked on the true claim (see price)
        self.cap_yuan = ent["remaining_cap_yuan"].to_numpy(dtype=float)
        self.program_ids = list(data.programs["program_id"])
        self.n_programs = len(self.program_ids)
        self.program = pd.Index(self.program_ids).get_indexer(ent["program_id"])
        self.budget_yuan = data.programs["budget_yuan"].to_numpy(dtype=float)
        voucher = ent["min_voucher_yuan"].to_numpy(dtype=float)
        spend_gap = (ent["min_spend_yuan"] - ent["spend_ytd_yuan"]).clip(lower=0.0).to_numpy(dtype=float)
        self.voucher_yuan, self.spend_gap_yuan = voucher, spend_gap
        with np.errstate(divide="ignore", invalid="ignore"):
            voucher_bill = np.where(voucher > 0, voucher / self.rate, 0.0)  # rate 0 and a voucher: inf
        never = self.cap_yuan < voucher - 1e-6
        self.threshold_bill = np.where(never, np.inf, np.maximum(voucher_bill, spend_gap))
        if self.n_pairs:
            most = np.maximum.reduceat(self.bill, self.demand_start)
            is_most = self.bill >= most[self.demand]
            self.largest_bill_pair = np.minimum.reduceat(np.where(is_most, np.arange(self.n_pairs), self.n_pairs), self.demand_start)
            self.max_bill = np.bincount(self.enterprise_of_demand, weights=most, minlength=self.n_enterprises)
        positive = self.bill[self.bill > 0]
        self.smallest_bill = float(positive.min()) if len(positive) else 1.0

        rows = data.usage_rows
        periods = data.screen.capacity_card_hours.shape[1]
        n_blocks = periods if blocks is None else max(1, min(int(blocks), periods))
        length = -(-periods // n_blocks)
        block_of = np.arange(periods) // length
        self.periods = int(block_of[-1]) + 1 if periods else 0  # number of time blocks (= periods when exact)
        self.exact = self.periods == periods
        self.block_of_period = block_of
        if not self.exact:  # usage rows of a pair summed over each block: the most it may use there
            rows = rows.assign(t=block_of[rows["t"].to_numpy()])
            rows = rows.groupby(["k", "t"], sort=True, as_index=False).agg(
                pool_idx=("pool_idx", "first"), center_idx=("center_idx", "first"),
                cap_card_hours=("cap_card_hours", "sum"), usage_card_hours=("usage_card_hours", "first"))
        self.row_pair = rows["k"].to_numpy()
        self.row_period = rows["t"].to_numpy()
        self.row_pool = rows["pool_idx"].to_numpy()
        self.row_center = rows["center_idx"].to_numpy()
        usage = rows["usage_card_hours"].to_numpy(dtype=float)
        self.row_cap = np.minimum(rows["cap_card_hours"].to_numpy(dtype=float), usage)
        self.row_usage = usage
        kw = pairs["kw_per_card"].to_numpy(dtype=float)
        pue = inst.centers["pue"].to_numpy(dtype=float)
        self.row_kwh = kw[self.row_pair] * pue[self.row_center]  # kWh per card-hour
        single = np.bincount(self.row_pair, minlength=self.n_pairs) == 1
        self.row_single = single[self.row_pair]

        def per_block(matrix: np.ndarray) -> np.ndarray:
            out = np.zeros((matrix.shape[0], self.periods))
            np.add.at(out.T, block_of, matrix.T)
            return out

        # the most energy a center can draw in a period: all its pools' cards busy
        pools = inst.pools
        center_of_pool = pd.Index(inst.centers["center_id"]).get_indexer(pools["center_id"])
        kwh_per_pool = pools["kw_per_card"].to_numpy(dtype=float) * pue[center_of_pool]
        most_kwh = np.zeros((self.n_centers, periods))
        np.add.at(most_kwh, center_of_pool, data.screen.capacity_card_hours * kwh_per_pool[:, None])
        green = data.screen.green_kwh
        cap = inst.centers["grid_kwh_cap"].to_numpy(dtype=float)
        # per period: usable green is min(green_kwh, most energy); grid is at most min(cap, most - green)
        grid = np.minimum(cap[:, None], np.maximum(most_kwh - green, 0.0))
        self.capacity = per_block(data.screen.capacity_card_hours)
        self.green_kwh = per_block(np.minimum(green, most_kwh))
        self.grid_cap = np.where(np.isfinite(cap)[:, None], per_block(np.where(np.isfinite(grid), grid, 0.0)), np.inf)
        self.green_share = inst.centers["min_green_share"].to_numpy(dtype=float)
        self.energy_center = np.isfinite(cap) | (self.green_share > 0)

    # -- the pieces of L(y) -------------------------------------------------------------------
    def row_price(self, y: Multipliers) -> np.ndarray:
        """q per usage row: what a card-hour there costs at prices y."""
        c, t = self.row_center, self.row_period
        energy = np.where(self.energy_center[c], y.grid[c, t] - y.green_use[c, t] + y.share[c] * self.green_share[c], 0.0)
        return y.capacity[self.row_pool, t] + self.row_kwh * energy

    def cheapest_schedule(self, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Card-hours per usage row filling each pair's cheapest periods first (R4 limits), and its cost."""
        take = np.where(self.row_single, self.row_usage, 0.0)
        multi = np.flatnonzero(~self.row_single)
        if len(multi):
            order = multi[np.lexsort((price[multi], self.row_pair[multi]))]
            k = self.row_pair[order]
            cap = self.row_cap[order]
            cum = np.cumsum(cap)
            first = np.r_[True, k[1:] != k[:-1]]
            offset = np.maximum.accumulate(np.where(first, cum - cap, 0.0))
            before = cum - cap - offset  # card-hours placed at cheaper periods of the same pair
            take[order] = np.clip(self.row_usage[order] - before, 0.0, cap)
        cost = np.bincount(self.row_pair, weights=take * price, minlength=self.n_pairs)
        return take, cost

    def _per_demand(self, profit: np.ndarray, pairs: np.ndarray | None = None):
        """Best pair per demand (must-serve demands take it even at a loss) and the enterprise sums.

        ``pairs``: a subset of pair indices, whole demands, in order (default: every pair); ``profit``
        is given for those pairs. Returns per enterprise (total, bill) and per demand of the subset
        (demand index, best pair, served)."""
        if pairs is None:
            starts, demands = self.demand_start, np.arange(self.n_demands)
            index = np.arange(self.n_pairs)
        else:
            codes = self.demand[pairs]
            starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            demands, index = codes[starts], pairs
        n = len(index)
        best = np.maximum.reduceat(profit, starts)
        is_best = profit >= np.repeat(best, np.diff(np.r_[starts, n]))
        local = np.minimum.reduceat(np.where(is_best, np.arange(n), n), starts)
        arg = index[np.minimum(local, n - 1)]
        must = self.must[demands]
        on = np.isfinite(best) & (must | (best > 0))
        gain = np.where(on, best, np.where(must, -np.inf, 0.0))
        owner = self.enterprise_of_demand[demands]
        total = np.bincount(owner, weights=gain, minlength=self.n_enterprises)
        bill = np.bincount(owner, weights=np.where(on, self.bill[arg], 0.0), minlength=self.n_enterprises)
        return total, bill, demands, arg, on

    def _meet_threshold(self, profit, constant, total, arg, on, short):
        """For enterprises ``short`` of their threshold bill: the cover bound and a plan that meets it.

        Any s >= 0 gives a valid bound; bisection looks for the s at which the plan's bill
        crosses beta_e. A case whose largest possible bill misses beta_e is infeasible."""
        never = short & ~np.isfinite(self.threshold_bill)  # billing at all breaks a threshold: only bill-0 plans
        total = np.where(never, -np.inf, total)
        short = short & ~never
        if not short.any():
            return total, arg, on
        pairs = np.flatnonzero(short[self.enterprise])
        profit, bill, owner = profit[pairs], self.bill[pairs], self.enterprise[pairs]
        beta = np.where(short, self.threshold_bill, 0.0)
        reachable = self.max_bill >= beta * (1 - TOLERANCE)
        finite = profit[np.isfinite(profit)]
        spread = float(finite.max() - finite.min()) if len(finite) else 1.0
        lo = np.zeros(self.n_enterprises)
        hi = np.full(self.n_enterprises, 2.0 * (spread + 1.0) / self.smallest_bill)
        bound = total.copy()
        for _ in range(THRESHOLD_STEPS):
            s = np.where(short, 0.5 * (lo + hi), 0.0)
            t, b, _, _, _ = self._per_demand(profit + s[owner] * bill, pairs)
            bound = np.where(short, np.minimum(bound, t - constant - s * beta), bound)
            under = b < beta * (1 - TOLERANCE)
            lo = np.where(short & under, s, lo)
            hi = np.where(short & ~under, s, hi)
        s = np.where(short, hi, 0.0)
        t, b, demands, a, o = self._per_demand(profit + s[owner] * bill, pairs)
        bound = np.where(short, np.minimum(bound, t - constant - s * beta), bound)
        missed = (reachable & (b < beta * (1 - TOLERANCE)))[self.enterprise_of_demand[demands]]
        a = np.where(missed, self.largest_bill_pair[demands], a)  # bracket too narrow: largest bills meet beta
        o = o | missed
        total = np.where(short, np.where(reachable, bound, -np.inf), total)
        arg, on = arg.copy(), on.copy()
        arg[demands], on[demands] = a, o
        return total, arg, on

    def price(self, y: Multipliers) -> Priced:
        """L(y) and each enterprise's best plan at prices y."""
        if self.n_pairs == 0:
            return Priced(self._constant(y), np.zeros(0), np.zeros(0, bool), np.zeros(len(self.row_pair)))
        take, cost = self.cheapest_schedule(self.row_price(y))
        rho = self.value - cost
        budget_price = y.budget[self.program]  # per enterprise
        capped = np.isfinite(self.cap_yuan)
        cases = [(rho - budget_price[self.enterprise] * self.claim, np.zeros(self.n_enterprises), None),
                 (rho, np.where(capped, budget_price * np.where(capped, self.cap_yuan, 0.0), np.inf), None),
                 (rho, np.zeros(self.n_enterprises), self.bill <= 0)]
        options = []
        for profit, constant, mask in cases:
            if mask is not None:
                profit = np.where(mask, profit, -np.inf)
            total, bill, _, arg, on = self._per_demand(profit)
            total = total - constant
            short = (bill > TOLERANCE) & (bill < self.threshold_bill * (1 - TOLERANCE)) & np.isfinite(total)
            if mask is None and short.any():
                total, arg, on = self._meet_threshold(profit, constant, total, arg, on, short)
            options.append((total, arg, on))
        totals = np.stack([o[0] for o in options])
        which = np.argmax(totals, axis=0)
        phi = totals.max(axis=0)
        case_of_demand = which[self.enterprise_of_demand]
        arg = np.choose(case_of_demand, [o[1] for o in options])
        on = np.choose(case_of_demand, [o[2] for o in options]) & np.isfinite(phi)[self.enterprise_of_demand]
        selected = np.zeros(self.n_pairs, dtype=bool)
        selected[arg[on]] = True
        if self.mixed_rate.any():
            selected &= self._meets_thresholds(selected)[self.enterprise]
        take = np.where(selected[self.row_pair], take, 0.0)
        return Priced(self._constant(y) + float(phi.sum()), phi, selected, take)

    def _constant(self, y: Multipliers) -> float:
        """The terms of L(y) that do not depend on the plans: prices times right-hand sides, green."""
        grid = np.where(np.isfinite(self.grid_cap), self.grid_cap, 0.0)
        budget = np.where(np.isfinite(self.budget_yuan), self.budget_yuan, 0.0)
        green_price = np.where(self.energy_center[:, None], y.grid - y.green_use + y.share[:, None], 0.0)
        with np.errstate(invalid="ignore"):
            green = np.where(green_price > 0, green_price * self.green_kwh, 0.0)
        return float((y.capacity * self.capacity).sum() + (y.grid * grid).sum()
                     + (y.budget * budget).sum() + green.sum())

    def _meets_thresholds(self, selected: np.ndarray) -> np.ndarray:
        """Per enterprise: its selected plan meets R8's thresholds on the true claim (B_e = 0 always does)."""
        bill = np.bincount(self.enterprise, weights=self.bill * selected, minlength=self.n_enterprises)
        voucher, gap = self.voucher_yuan, self.spend_gap_yuan
        ok = ((self.plan_subsidy(selected) >= voucher - 1e-7 * (1.0 + voucher))
              & (bill >= gap - 1e-7 * (1.0 + gap)))
        return (bill <= 0) | ok | ~self.mixed_rate

    # -- plans as numbers -------------------------------------------------------------------------
    def plan_value(self, selected: np.ndarray) -> np.ndarray:
        return np.bincount(self.enterprise, weights=self.value * selected, minlength=self.n_enterprises)

    def plan_subsidy(self, selected: np.ndarray) -> np.ndarray:
        """min(A_e, C_e) of R8 per enterprise for the selected pairs, A_e the sum of their claims."""
        claim = np.bincount(self.enterprise, weights=self.claim * selected, minlength=self.n_enterprises)
        return np.minimum(claim, self.cap_yuan)
