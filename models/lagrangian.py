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

    Phi_e(y) = max over plans x of e of   sum_k rho_k x_k - y_budget(g) * min(r_e B_e, C_e)

with rho_k = value_k - (cheapest schedule of pair k at per-card-hour prices
q(t) = y_cap(p, t) + kwh_per_card_hour * (y_grid(c, t) - y_green(c, t) + y_share(c) * share(c))).

For every y >= 0 and every plan that keeps the rules, L(y) >= the plan's served value
(weak duality: each relaxed row adds y * slack >= 0), so L(y) is a **certified upper
bound**. The bound of the best y is the LP bound of the model in which every
enterprise's own constraints are replaced by their convex hull, much tighter than the
big-M LP of :mod:`models.subsidy`: there the LP pays for a capped enterprise at the chord
C_e * B / B_max, or spreads a demand over several pools to look bigger than it is.

Phi_e is computed per enterprise, vectorized over all of them. Because
-y min(A, C) = max(-y A, -y C), Phi_e is the largest of
  * "rate":  max over plans of sum_k (rho_k - y claim_k)      (claim_k = r(d, p) x bill_k, per pair),
  * "capped": max over plans of sum_k rho_k - y C_e            (the cap paid once),
  * "free":  the best plan over pairs with a bill of 0 only (thresholds never apply),
where must-serve demands take their best pair even at a loss. Without thresholds each case
is each demand's best pair (or none). R8's thresholds ("if B_e > 0 then min(A_e, C_e) >= min
voucher and spend_ytd + B_e >= min spend") forbid billing altogether when C_e < min voucher;
otherwise, where a case's best plan bills but misses one, the best plan that meets them is
found exactly by :func:`models.cover.cheapest_cover` (the cheapest moves of whole demands from
the best plan up to the thresholds), so Phi_e is the enterprise's true best and column
generation converges to the convex hull's bound. Where that search gives up (an enterprise with
very many requests, or too many partial plans), Phi_e is bounded from above by a dynamic program on
the need rounded to steps (or the cover's LP), still valid, and priced with the best plan found that
meets the thresholds (or none). Every plan returned keeps the rules of its enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from models.cover import cheapest_cover
from models.data import ModelData

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
    phi: np.ndarray  # Phi_e per enterprise (an upper bound on the plan's own profit; equal where priced exactly)
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
        self.cap_yuan = ent["remaining_cap_yuan"].to_numpy(dtype=float)
        self.program_ids = list(data.programs["program_id"])
        self.n_programs = len(self.program_ids)
        self.program = pd.Index(self.program_ids).get_indexer(ent["program_id"])
        self.budget_yuan = data.programs["budget_yuan"].to_numpy(dtype=float)
        # R8's claim per pair, r(d, p) * bill (allocator.instance.derived.pair_rates, screened per pair):
        # every subsidy and threshold below reads it per pair
        self.claim = pairs["claim_yuan"].to_numpy(dtype=float) if self.n_pairs else np.zeros(0)
        self.voucher = ent["min_voucher_yuan"].to_numpy(dtype=float)
        self.spend_need = (ent["min_spend_yuan"] - ent["spend_ytd_yuan"]).clip(lower=0.0).to_numpy(dtype=float)
        self.never = self.cap_yuan < self.voucher - 1e-6  # billing at all breaks the minimum voucher
        billed = self.bill > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(billed, self.claim / np.where(billed, self.bill, 1.0), np.nan)
        self.rate_low = np.full(self.n_enterprises, np.inf)
        self.rate_high = np.zeros(self.n_enterprises)
        np.minimum.at(self.rate_low, self.enterprise[billed], ratio[billed])
        np.maximum.at(self.rate_high, self.enterprise[billed], ratio[billed])

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
        is given for those pairs. Returns per enterprise (total, claim, bill) and per demand of the
        subset (demand index, best pair, served)."""
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
        claim = np.bincount(owner, weights=np.where(on, self.claim[arg], 0.0), minlength=self.n_enterprises)
        bill = np.bincount(owner, weights=np.where(on, self.bill[arg], 0.0), minlength=self.n_enterprises)
        return total, claim, bill, demands, arg, on

    def _short(self, claim: np.ndarray, bill: np.ndarray) -> np.ndarray:
        """Per enterprise: a plan of this claim and bill bills something but misses a threshold of R8."""
        return (bill > TOLERANCE) & (self.never | (claim < self.voucher * (1 - TOLERANCE))
                                     | (bill < self.spend_need * (1 - TOLERANCE)))

    def _meet_threshold(self, profit, constant, total, claim, bill, arg, on, short):
        """For enterprises ``short`` of their thresholds: the best plan that meets them and its profit.

        Exact (:func:`models.cover.cheapest_cover`: the cheapest moves from the best plan up to the
        thresholds) for every enterprise it solves; the others are bounded by the one-cover LP
        (:meth:`_cover_relaxation`). A case with no plan meeting the thresholds is -inf."""
        never = short & self.never  # billing at all breaks a threshold: only bill-0 plans (the "free" case)
        total = np.where(never, -np.inf, total)
        short = short & ~never
        if not short.any():
            return total, arg, on
        pairs = np.flatnonzero(short[self.enterprise] & np.isfinite(profit))
        d = self.demand[pairs]
        base_on, base_k = on[d], arg[d]
        option = ~(base_on & (pairs == base_k))
        pairs, d, base_on, base_k = pairs[option], d[option], base_on[option], base_k[option]
        e = self.enterprise[pairs]
        loss = np.maximum(np.where(base_on, profit[base_k], 0.0) - profit[pairs], 0.0)
        gain_claim = self.claim[pairs] - np.where(base_on, self.claim[base_k], 0.0)
        gain_bill = self.bill[pairs] - np.where(base_on, self.bill[base_k], 0.0)
        # where an enterprise's claims are one rate times its bills, both needs are one need on the bill
        one = short & (self.rate_low >= self.rate_high * (1 - 1e-12)) & (self.rate_high > 0)
        voucher, spend = short & (self.voucher > 0), short & (self.spend_need > 0)
        need_claim = np.where(voucher, self.voucher * (1 - TOLERANCE) - claim, -np.inf)
        need_bill = np.where(spend, self.spend_need * (1 - TOLERANCE) - bill, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            need_bill = np.where(one, np.maximum(need_bill, need_claim / np.where(one, self.rate_high, 1.0)), need_bill)
        need_claim = np.where(one, -np.inf, need_claim)
        # a threshold of 0 holds whatever is chosen: its need and gains are left out
        gain_claim = np.where(np.isfinite(need_claim[e]), gain_claim, 0.0)
        gain_bill = np.where(np.isfinite(need_bill[e]), gain_bill, 0.0)
        need_claim = np.where(np.isfinite(need_claim), need_claim, 0.0)
        need_bill = np.where(np.isfinite(need_bill), need_bill, 0.0)
        useful = ((need_claim[e] > 0) & (gain_claim > 0)) | ((need_bill[e] > 0) & (gain_bill > 0))
        cover = cheapest_cover(e[useful], d[useful], loss[useful], gain_claim[useful], gain_bill[useful],
                               need_claim, need_bill)
        arg, on = arg.copy(), on.copy()
        picked = pairs[useful][cover.chosen]
        arg[self.demand[picked]], on[self.demand[picked]] = picked, True
        # the bound: exact where the search proved the least loss, else a lower bound on it (so Phi stays an
        # upper bound); -inf where no plan meets the thresholds. An enterprise left without a plan is left out.
        total = np.where(short, total - np.where(short, cover.bound, 0.0), total)
        planless = short & np.isinf(cover.loss) & np.isfinite(cover.bound)
        if planless.any():
            on = on & ~planless[self.enterprise_of_demand]
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
            total, claim, bill, _, arg, on = self._per_demand(profit)
            total = total - constant
            short = self._short(claim, bill) & np.isfinite(total)
            if mask is None and short.any():
                total, arg, on = self._meet_threshold(profit, constant, total, claim, bill, arg, on, short)
            options.append((total, arg, on))
        totals = np.stack([o[0] for o in options])
        which = np.argmax(totals, axis=0)
        phi = totals.max(axis=0)
        case_of_demand = which[self.enterprise_of_demand]
        arg = np.choose(case_of_demand, [o[1] for o in options])
        on = np.choose(case_of_demand, [o[2] for o in options]) & np.isfinite(phi)[self.enterprise_of_demand]
        selected = np.zeros(self.n_pairs, dtype=bool)
        selected[arg[on]] = True
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

    # -- plans as numbers -------------------------------------------------------------------------
    def plan_value(self, selected: np.ndarray) -> np.ndarray:
        return np.bincount(self.enterprise, weights=self.value * selected, minlength=self.n_enterprises)

    def plan_subsidy(self, selected: np.ndarray) -> np.ndarray:
        """min(A_e, C_e) of R8 per enterprise for the selected pairs (A_e: the sum of their claims)."""
        claim = np.bincount(self.enterprise, weights=self.claim * selected, minlength=self.n_enterprises)
        return np.minimum(claim, self.cap_yuan)
