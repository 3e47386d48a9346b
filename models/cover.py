"""R8's thresholds priced exactly: the cheapest way for an enterprise to meet them.

At prices y, pricing one enterprise (:mod:`models.lagrangian`) first takes each demand's most
profitable pair (or none). When that plan bills something but misses a threshold of R8
(claim A_e < min voucher, or spend_ytd + B_e < min spend), the best plan that meets them
is the best plan "moved up": some demands switch to another pair (or, if left out, are
served) to add claim and bill, each move losing some profit. Choosing the moves is a
multiple-choice covering knapsack, one choice per demand:

    min  sum_d loss_d(o_d)   s.t.  sum_d claim_d(o_d) >= need_claim,  sum_d bill_d(o_d) >= need_bill

with o_d = "stay" (loss 0, gains 0) or one option of demand d. Enterprises have few
requests, so :func:`cheapest_cover` solves it exactly for all of them at once, demand by
demand (a layer per demand): a partial plan (state) is its loss and the claim and bill it
adds so far; a state that meets both needs is a plan (the rest stay), and states that cannot
beat the best plan found, cannot reach the needs with the options left, or are dominated
(another state with the same claim, as much bill and less loss) are dropped. What is
dropped can never lead to a better plan, so the result is the optimum (the convex hull of
the enterprise's plans, not the one-cover LP). Gains are written per pair
(claim_k = r(d, p) * bill_k), so rates that differ by pool are exact too.

An enterprise whose partial plans grow beyond ``max_states`` is reported as not solved (NaN):
the caller prices it by a relaxation that stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_STATES = 2048  # partial plans kept per enterprise and layer
MAX_CHILDREN = 2048  # partial plans made per enterprise and layer; above it the search leaves the enterprise
MAX_LAYERS = 256  # demands with options per enterprise; above this it is not searched
BUCKETS = 64  # steps of the need in the bound of an enterprise the search left


@dataclass
class Cover:
    """Per enterprise (index = enterprise id): ``loss`` of the plan found (0 when nothing is needed, inf
    when no plan meets the needs) and ``bound``, a lower bound on the least loss of any plan (equal to
    ``loss`` where the search proved it; below it where the search gave up)."""

    loss: np.ndarray
    bound: np.ndarray
    chosen: np.ndarray  # indices of the options of the plans found (at most one per demand)

    @property
    def exact(self) -> np.ndarray:
        return (self.bound == self.loss) | (np.isinf(self.bound) & np.isinf(self.loss))


def cheapest_cover(enterprise: np.ndarray, demand: np.ndarray, loss: np.ndarray, gain_claim: np.ndarray,
                   gain_bill: np.ndarray, need_claim: np.ndarray, need_bill: np.ndarray,
                   max_states: int = MAX_STATES) -> Cover:
    """The least-loss choice of at most one option per demand whose gains meet both needs.

    Options are given flat (``enterprise``, ``demand`` ids, ``loss`` >= 0, gains of either sign);
    ``need_claim`` and ``need_bill`` per enterprise (index = enterprise id): the sums of the chosen
    gains must reach them (a need <= 0 is met by choosing nothing; options that take away may still
    break it).

    A search by demands (one layer each) with bounds: the LP of each need alone (one multiplier s
    per enterprise, found by bisection) gives a plan that meets it, the first best plan when it
    meets the other need too, and a lower bound on what covering the rest of a need costs
    (loss + s x (need - gain so far) - sum over later demands of max(0, max_o s g_o - l_o));
    a partial plan whose bound reaches the best plan's loss is dropped."""
    n_ent = len(need_claim)
    need_c = np.asarray(need_claim, dtype=float)  # may be negative: a margin that options of negative gain may use
    need_b = np.asarray(need_bill, dtype=float)
    best_loss = np.where((need_c > 0) | (need_b > 0), np.inf, 0.0)
    wanted = np.isinf(best_loss)[np.asarray(enterprise)] if len(loss) else np.zeros(0, dtype=bool)
    index = np.flatnonzero(wanted)
    if not len(index):
        return Cover(best_loss, best_loss.copy(), np.zeros(0, dtype=int))
    e_opt, d_opt = np.asarray(enterprise)[index], np.asarray(demand)[index]
    l_opt = np.asarray(loss, dtype=float)[index]
    gc, gb = np.asarray(gain_claim, dtype=float)[index], np.asarray(gain_bill, dtype=float)[index]
    # a gain beyond the need plus all that other options could take away is worth no more than that
    gc = np.minimum(gc, need_c[e_opt] + np.bincount(e_opt, weights=np.maximum(-gc, 0.0), minlength=n_ent)[e_opt])
    gb = np.minimum(gb, need_b[e_opt] + np.bincount(e_opt, weights=np.maximum(-gb, 0.0), minlength=n_ent)[e_opt])
    # options of a demand dominated by another of it (same claim, as much bill, no more loss)
    kept = _undominated(d_opt, gc, gb, l_opt)
    index, e_opt, d_opt, l_opt, gc, gb = index[kept], e_opt[kept], d_opt[kept], l_opt[kept], gc[kept], gb[kept]

    # slots: (enterprise, demand), ordered within an enterprise by what the demand can add at most
    scale_c = np.where(need_c > 0, 1.0 / np.where(need_c > 0, need_c, 1.0), 0.0)
    scale_b = np.where(need_b > 0, 1.0 / np.where(need_b > 0, need_b, 1.0), 0.0)
    reach = np.maximum(gc, 0.0) * scale_c[e_opt] + np.maximum(gb, 0.0) * scale_b[e_opt]
    key = np.unique(d_opt, return_inverse=True)[1]  # a demand belongs to one enterprise
    n_slots = int(key.max()) + 1
    slot_e = np.zeros(n_slots, dtype=int)
    slot_e[key] = e_opt
    slot_reach = np.full(n_slots, -np.inf)
    np.maximum.at(slot_reach, key, reach)
    slot_order = np.lexsort((-slot_reach, slot_e))
    rank_of_slot = np.empty(n_slots, dtype=int)
    rank_of_slot[slot_order] = np.arange(n_slots)
    key = rank_of_slot[key]  # slots now numbered by (enterprise, reach descending)
    slot_e = slot_e[slot_order]
    layers = np.bincount(slot_e, minlength=n_ent)
    slot_start = np.r_[0, np.cumsum(layers)[:-1]]
    order = np.argsort(key, kind="stable")
    index, e_opt, l_opt, gc, gb, key = index[order], e_opt[order], l_opt[order], gc[order], gb[order], key[order]
    opt_count = np.bincount(key, minlength=n_slots)
    opt_start = np.r_[0, np.cumsum(opt_count)[:-1]]
    last_slot = (slot_start + layers - 1)[slot_e]

    def suffix(v: np.ndarray) -> np.ndarray:
        """Per slot, the sum over the slots of its enterprise from it on; one more entry (0) for 'none'."""
        cs = np.cumsum(v)
        return np.r_[cs[last_slot] - cs + v, 0.0]

    def per_slot_max(v: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(v, opt_start)

    rest_c, rest_b = suffix(per_slot_max(np.maximum(gc, 0.0))), suffix(per_slot_max(np.maximum(gb, 0.0)))
    # a running sum above need + everything later options could take away is as good as any higher one
    cap_c = need_c + np.bincount(slot_e, weights=per_slot_max(np.maximum(-gc, 0.0)), minlength=n_ent)
    cap_b = need_b + np.bincount(slot_e, weights=per_slot_max(np.maximum(-gb, 0.0)), minlength=n_ent)

    # the LP of each need alone: a lower bound on covering the rest, and a first plan
    bounds = []
    incumbent = np.full(n_ent, -1)  # which LP's plan is the best plan so far
    plans = []
    for which, (gain, need) in enumerate(((gb, need_b), (gc, need_c))):
        s_e, plan = _lp_multiplier(e_opt, key, opt_start, l_opt, gain, need, n_ent)
        value = s_e[e_opt] * gain - l_opt
        h = np.maximum(per_slot_max(value), 0.0)
        rest = suffix(h)
        bounds.append((s_e, need, rest, value, h))
        plans.append(index[plan])
        took_c = np.bincount(e_opt[plan], weights=gc[plan], minlength=n_ent)
        took_b = np.bincount(e_opt[plan], weights=gb[plan], minlength=n_ent)
        plan_loss = np.bincount(e_opt[plan], weights=l_opt[plan], minlength=n_ent)
        ok = (took_c >= need_c) & (took_b >= need_b) & (layers > 0) & (plan_loss < best_loss)
        best_loss = np.where(ok, plan_loss, best_loss)
        incumbent = np.where(ok, which, incumbent)
    # reduced-cost fixing: a plan using option o costs at least the LP bound + o's reduced cost
    out = np.zeros(len(l_opt), dtype=bool)
    for s_e, need, rest, value, h in bounds:
        root = s_e * need - rest[np.minimum(slot_start, n_slots)]
        out |= root[e_opt] + (h[key] - value) >= best_loss[e_opt] - _slack(best_loss[e_opt])
    if out.any():
        index, e_opt, l_opt, gc, gb, key = index[~out], e_opt[~out], l_opt[~out], gc[~out], gb[~out], key[~out]
        opt_count = np.bincount(key, minlength=n_slots)
        opt_start = np.r_[0, np.cumsum(opt_count)[:-1]]

    def lower_bound(e, loss_so_far, got_c, got_b, nxt):
        lb = loss_so_far
        for (s_e, need, rest, _, _), got in zip(bounds, (got_b, got_c)):
            lb = np.maximum(lb, loss_so_far + s_e[e] * (need[e] - got) - rest[nxt])
        return lb

    unsolved = layers > MAX_LAYERS
    st_e = np.flatnonzero((best_loss > 0) & (layers > 0) & ~unsolved)
    root = slot_start[st_e]
    live = lower_bound(st_e, 0.0, 0.0, 0.0, root) < best_loss[st_e] - _slack(best_loss[st_e])
    live &= (rest_c[root] >= need_c[st_e]) & (rest_b[root] >= need_b[st_e])
    st_e = st_e[live]
    st_loss, st_c, st_b = np.zeros(len(st_e)), np.zeros(len(st_e)), np.zeros(len(st_e))
    st_child = np.full(len(st_e), -1)
    best_at = np.full((n_ent, 2), -1)  # (layer, child) of the best plan found by the search
    history: list[tuple[np.ndarray, np.ndarray]] = []  # per layer: previous child, option of every child
    l_pad, gc_pad, gb_pad = np.r_[l_opt, 0.0], np.r_[gc, 0.0], np.r_[gb, 0.0]
    i = 0
    while len(st_e):
        slot = slot_start[st_e] + i
        counts = 1 + opt_count[slot]
        over = np.bincount(st_e, weights=counts, minlength=n_ent) > MAX_CHILDREN
        if over.any():  # too many partial plans to make: leave the enterprise to the bound below
            unsolved |= over
            j = np.flatnonzero(~over[st_e])
            st_e, st_loss, st_c, st_b, st_child, slot, counts = (st_e[j], st_loss[j], st_c[j], st_b[j], st_child[j],
                                                                 slot[j], counts[j])
            if not len(st_e):
                break
        parent = np.repeat(np.arange(len(st_e)), counts)
        local = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
        opt = np.where(local > 0, opt_start[slot][parent] + local - 1, -1)
        e = st_e[parent]
        o = np.where(opt >= 0, opt, len(l_opt))  # "stay" reads the zeros appended below
        c_loss = st_loss[parent] + l_pad[o]
        c_c = np.minimum(st_c[parent] + gc_pad[o], cap_c[e])
        c_b = np.minimum(st_b[parent] + gb_pad[o], cap_b[e])
        history.append((st_child[parent], opt))
        done = (c_c >= need_c[e]) & (c_b >= need_b[e])
        if done.any():
            de, dl, dj = e[done], c_loss[done], np.flatnonzero(done)
            first = np.lexsort((dl, de))
            de, dl, dj = de[first], dl[first], dj[first]
            head = np.r_[True, de[1:] != de[:-1]]
            de, dl, dj = de[head], dl[head], dj[head]
            better = dl < best_loss[de] - _slack(best_loss[de])
            best_loss[de[better]] = dl[better]
            best_at[de[better]] = np.c_[np.full(int(better.sum()), i), dj[better]]
            incumbent[de[better]] = -1
        more = (i + 1) < layers[e]
        nxt = np.where(more, slot[parent] + 1, n_slots)  # the next slot of the same enterprise, if any
        keep = ~done & more & (c_c + rest_c[nxt] >= need_c[e]) & (c_b + rest_b[nxt] >= need_b[e])
        j = np.flatnonzero(keep)
        j = j[lower_bound(e[j], c_loss[j], c_c[j], c_b[j], nxt[j]) < best_loss[e[j]] - _slack(best_loss[e[j]])]
        if len(j):
            j = j[_undominated(e[j], c_c[j], c_b[j], c_loss[j])]
            over = np.bincount(e[j], minlength=n_ent) > max_states
            if over.any():
                unsolved |= over
                j = j[~over[e[j]]]
        st_e, st_loss, st_c, st_b, st_child = e[j], c_loss[j], c_c[j], c_b[j], j
        i += 1

    # the options of each best plan: an LP's plan, or walking back through the layers of the search
    chosen: list[np.ndarray] = []
    found = np.flatnonzero(best_at[:, 0] >= 0)
    layer, child = best_at[found, 0].copy(), best_at[found, 1].copy()
    for i in range(len(history) - 1, -1, -1):
        at = layer == i
        if not at.any():
            continue
        previous, opt = history[i]
        o = opt[child[at]]
        chosen.append(index[o[o >= 0]])
        child[at] = previous[child[at]]
        layer[at] = i - 1
    owner = np.asarray(enterprise)
    for which, plan in enumerate(plans):
        chosen.append(plan[incumbent[owner[plan]] == which])
    picked = np.concatenate(chosen)
    # a lower bound where the search gave up: the least loss of a plan may be the best found, or lower
    bound = best_loss.copy()
    if unsolved.any():
        lp = np.zeros(n_ent)
        for s_e, need, rest, _, _ in bounds:  # each need's LP
            lp = np.maximum(lp, s_e * need - rest[np.minimum(slot_start, n_slots)])
        bound = np.where(unsolved, np.minimum(best_loss, np.maximum(lp, 0.0)), bound)
        one = unsolved & (need_c <= 0) & (np.bincount(e_opt, weights=np.abs(gc), minlength=n_ent) == 0)
        if one.any():  # one need (the bill): the least loss with every gain rounded up to a step of the need
            steps = _stepped_bound(one, e_opt, key, slot_start, l_opt, gb, need_b)
            bound = np.where(one, np.minimum(best_loss, np.maximum(bound, steps)), bound)
    return Cover(best_loss, bound, np.sort(picked))


def _stepped_bound(which: np.ndarray, owner: np.ndarray, slot: np.ndarray, slot_start: np.ndarray, loss: np.ndarray,
                   gain: np.ndarray, need: np.ndarray, steps: int = BUCKETS) -> np.ndarray:
    """Per enterprise ``which``: min loss of at most one option per demand whose gains, each rounded up to
    a multiple of need / steps, reach the need. Every plan whose gains reach the need reaches it rounded
    up, so this is at most the least loss of a plan: a lower bound, by a dynamic program over demands
    with the sums 0 .. steps (capped) as states. Elsewhere 0."""
    out = np.zeros(len(need))
    rows = np.full(len(need), -1)
    todo = np.flatnonzero(which & (need > 0))
    rows[todo] = np.arange(len(todo))
    take = np.flatnonzero((rows[owner] >= 0) & (gain > 0))
    if not len(todo):
        return out
    o_row, o_loss = rows[owner[take]], loss[take]
    o_step = np.minimum(steps, np.ceil(gain[take] * steps / need[owner[take]])).astype(int)
    o_layer = slot[take] - slot_start[owner[take]]
    best = np.full((len(todo), steps + 1), np.inf)
    best[:, 0] = 0.0
    reach = np.arange(steps + 1)
    for layer in range(int(o_layer.max()) + 1 if len(take) else 0):
        at = np.flatnonzero(o_layer == layer)
        if not len(at):
            continue
        new = best.copy()
        rows_at = o_row[at]
        candidate = best[rows_at] + o_loss[at, None]
        columns = np.minimum(steps, reach[None, :] + o_step[at, None])
        np.minimum.at(new, (np.broadcast_to(rows_at[:, None], columns.shape), columns), candidate)
        best = new
    out[todo] = best[:, steps]
    return out


def _slack(loss: np.ndarray) -> np.ndarray:
    return 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(loss), loss, 0.0)))


def _lp_multiplier(owner: np.ndarray, slot: np.ndarray, slot_start: np.ndarray, loss: np.ndarray, gain: np.ndarray,
                   need: np.ndarray, n_ent: int, steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Per enterprise, the multiplier s of "sum of gains >= need" in the LP of the cover (bisection on
    where each demand's best option, max_o s g_o - l_o if positive, starts to meet the need), and the
    options of the plan at the upper end of the bracket (it meets the need wherever any plan can)."""
    active = need > 0
    if not active[owner].any():
        return np.zeros(n_ent), np.zeros(0, dtype=int)
    positive = gain > 0
    ratio = np.where(positive, loss / np.where(positive, gain, 1.0), 0.0)
    hi = np.zeros(n_ent)
    np.maximum.at(hi, owner, ratio)
    hi = 2.0 * hi + 1.0
    lo = np.zeros(n_ent)
    n = len(loss)
    position = np.arange(n)

    def plan_at(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = s[owner] * gain - loss
        best = np.maximum.reduceat(value, slot_start)
        arg = np.minimum.reduceat(np.where(value >= best[slot], position, n), slot_start)
        take = (best >= 0) & (gain[arg] > 0)
        got = np.bincount(owner[arg[take]], weights=gain[arg[take]], minlength=n_ent)
        return arg[take], got

    for _ in range(8):  # widen the bracket until its upper end meets the need (or the need is out of reach)
        _, got = plan_at(hi)
        short = active & (got < need)
        if not short.any():
            break
        hi = np.where(short, hi * 16.0, hi)
    for _ in range(steps):
        s = 0.5 * (lo + hi)
        _, got = plan_at(s)
        meets = got >= need
        hi = np.where(active & meets, s, hi)
        lo = np.where(active & ~meets, s, lo)
    plan, _ = plan_at(hi)
    plan_loss = np.bincount(owner[plan], weights=loss[plan], minlength=n_ent)
    # the plan at the lower end, short of the need, with the one switch of a demand that covers it cheapest
    low, got = plan_at(lo)
    n_slots = len(slot_start)
    now_gain, now_loss = np.zeros(n_slots), np.zeros(n_slots)
    now_gain[slot[low]], now_loss[slot[low]] = gain[low], loss[low]
    extra = np.where(gain - now_gain[slot] >= (need - got)[owner], loss - now_loss[slot], np.inf)
    first = np.lexsort((extra, owner))
    head = first[np.r_[True, owner[first][1:] != owner[first][:-1]]]
    switch = np.full(n_ent, -1)
    switch[owner[head]] = head
    cost = np.full(n_ent, np.inf)
    cost[owner[head]] = extra[head]
    better = active & (np.bincount(owner[low], weights=loss[low], minlength=n_ent) + cost < plan_loss)
    if better.any():
        moved = switch[better]
        low = low[better[owner[low]] & ~np.isin(slot[low], slot[moved])]
        plan = np.r_[plan[~better[owner[plan]]], low, moved]
    return np.where(active, hi, 0.0), plan


def _undominated(group: np.ndarray, claim: np.ndarray, bill: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the entries no other entry of the same group and the same claim dominates (as much
    bill and no more loss; of equal ones the first is kept), in an order grouped by (group, claim)."""
    order = np.lexsort((loss, -bill, claim, group))
    g, c, lost = group[order], claim[order], loss[order]
    start = np.r_[True, (g[1:] != g[:-1]) | (c[1:] != c[:-1])]
    # running minimum of the loss within each run: ranks of the losses, shifted down run by run
    rank = np.empty(len(lost), dtype=np.int64)
    rank[np.argsort(lost, kind="stable")] = np.arange(len(lost))  # equal losses: the later entry ranks higher
    run = np.cumsum(start) - 1
    shift = run * (len(lost) + 1)
    running = np.minimum.accumulate(rank - shift) + shift
    before = np.r_[len(lost), running[:-1]]
    before[start] = len(lost)
    return order[rank < before]
