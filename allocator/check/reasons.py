"""The reason of every unserved demand: pre-screen reasons recomputed exactly, the others plausible.
"""

from __future__ import annotations

from dataclasses import dataclass

from allocator.check.assignments import usage_card_hours
from allocator.check.facts import Demand, Facts, Pool
from allocator.check.money import EnterpriseMoney, bill_yuan
from allocator.check.plan_files import PlanFiles
from allocator.check.report import FIT_REL_SLACK, CheckReport, Row, slack

# Pre-screen reasons in the SPEC's filter order (ineligible_enterprise before any filter).
PRESCREEN_REASONS = (
    "ineligible_enterprise", "no_designated_center", "no_compatible_pool",
    "no_pool_within_latency", "window_too_short",
)


NOT_SELECTED = "not_selected"


NOT_SELECTED_REFINEMENTS = ("budget", "capacity", "green", "cap")


BELOW_THRESHOLD = "below_threshold"


SELECTION_REASONS = (BELOW_THRESHOLD, NOT_SELECTED) + tuple(f"{NOT_SELECTED}:{r}" for r in NOT_SELECTED_REFINEMENTS)


@dataclass
class Screening:
    """Pre-screen of one demand: the reason of the first filter that left no pool, and the pools left."""

    reason: str | None
    pools: list[Pool]


class Screener:
    """The SPEC's pre-screen, filter by filter, with caches so that it stays linear in the demands.

    Filters (in order, starting from all pools): eligible enterprise (checked first),
    designated centers, compatible with the stack, within the latency limit, fits
    alone in the window: sum over t in release..deadline of
    min(max_cards, cards(p, t)) * period_hours >= u * (1 - 1e-9).
    """

    def __init__(self, facts: Facts):
        self.facts = facts
        self._designated: dict[str, list[Pool]] = {}
        self._compatible: dict[tuple[str, str], list[Pool]] = {}
        self._near: dict[tuple[str, str, str, str], list[Pool]] = {}
        self._window: dict[tuple[str, float, int, int], float] = {}

    def designated_pools(self, program_id: str) -> list[Pool]:
        if program_id not in self._designated:
            centers = self.facts.designated_centers.get(program_id)
            if centers is None:
                self._designated[program_id] = list(self.facts.pools.values())
            else:
                self._designated[program_id] = [p for c in sorted(centers) for p in self.facts.pools_by_center.get(c, [])]
        return self._designated[program_id]

    def compatible_pools(self, program_id: str, stack: str) -> list[Pool]:
        key = (program_id, stack)
        if key not in self._compatible:
            self._compatible[key] = [p for p in self.designated_pools(program_id)
                                     if (stack, p.accelerator) in self.facts.compatibility]
        return self._compatible[key]

    def near_pools(self, program_id: str, demand: Demand) -> list[Pool]:
        key = (program_id, demand.stack, demand.home_region, demand.latency_class)
        if key not in self._near:
            limit = self.facts.latency_limit_ms(demand.latency_class)
            self._near[key] = [p for p in self.compatible_pools(program_id, demand.stack)
                               if self.facts.rtt_ms(demand.home_region, self.facts.center_region(p)) <= limit]
        return self._near[key]

    def window_card_hours(self, pool: Pool, demand: Demand) -> float:
        """The most the demand alone can use at the pool in its window (empty pool)."""
        key = (pool.pool_id, demand.max_cards, demand.release, demand.deadline)
        if key not in self._window:
            first, last = max(0, demand.release), min(self.facts.periods - 1, demand.deadline)
            self._window[key] = sum(min(demand.max_cards, self.facts.cards(pool.pool_id, t)) * self.facts.period_hours
                                    for t in range(first, last + 1))
        return self._window[key]

    def screen(self, demand: Demand) -> Screening:
        enterprise = self.facts.enterprises[demand.enterprise_id]
        if not enterprise.eligible:
            return Screening("ineligible_enterprise", [])
        program_id = enterprise.program_id
        if not self.designated_pools(program_id):
            return Screening("no_designated_center", [])
        if not self.compatible_pools(program_id, demand.stack):
            return Screening("no_compatible_pool", [])
        near = self.near_pools(program_id, demand)
        if not near:
            return Screening("no_pool_within_latency", [])
        fitting = [p for p in near
                   if self.window_card_hours(p, demand) >= usage_card_hours(self.facts, demand, p) * (1 - FIT_REL_SLACK)]
        if not fitting:
            return Screening("window_too_short", [])
        return Screening(None, fitting)


def meets_thresholds_alone(facts: Facts, demand: Demand, pool: Pool) -> bool:
    """Served alone at the pool (B_e = its bill), would the demand clearly meet R8's thresholds?

    A zero bill meets them (thresholds apply only when B_e > 0). Otherwise both
    min(r(d, p) * b, C_e) >= min_voucher_yuan and spend_ytd_yuan + b >= min_spend_yuan must
    hold by more than the tolerance (a zero threshold always holds), so that a plan
    is given the benefit of round-off.
    """
    bill = bill_yuan(facts, demand, pool)
    if bill is None or bill <= 0.0:
        return bill is not None
    enterprise = facts.enterprises[demand.enterprise_id]
    program = facts.programs[enterprise.program_id]
    subsidy = min(facts.rate(demand.enterprise_id, pool.accelerator) * bill, enterprise.remaining_cap_yuan)
    spend = enterprise.spend_ytd_yuan + bill
    voucher_ok = program.min_voucher_yuan <= 0.0 or subsidy > program.min_voucher_yuan + slack(subsidy, program.min_voucher_yuan)
    spend_ok = program.min_spend_yuan <= 0.0 or spend > program.min_spend_yuan + slack(spend, program.min_spend_yuan)
    return voucher_ok and spend_ok


def check_reasons(facts: Facts, plan: PlanFiles, served: dict[str, Row], money: dict[str, EnterpriseMoney],
                  report: CheckReport) -> None:
    """Reasons: every unserved demand carries the right reason.

    A demand some pre-screen filter leaves without a pool must carry exactly that
    filter's reason; one that passes every filter must carry below_threshold or
    not_selected (optionally not_selected:budget|capacity|green|cap). below_threshold
    must be plausible: alone, at every screened pool, the demand misses the min
    voucher or the min spend (a warning when its enterprise is already billed in the plan).
    """
    screener = Screener(facts)
    for row in plan.rows("unserved.csv"):
        d, reason, line = row["demand_id"], row["reason"], row["_line"]
        demand = facts.demands.get(d)
        if demand is None or d in served:
            continue  # reported by check_coverage
        where = f"unserved.csv line {line}: demand {d}"
        if reason not in PRESCREEN_REASONS and reason not in SELECTION_REASONS:
            report.violate(f"reason: {where} has reason '{reason}', which the SPEC does not define")
            continue
        screening = screener.screen(demand)
        if screening.reason is not None:
            if reason != screening.reason:
                report.violate(f"reason: {where} has reason '{reason}', the pre-screen says '{screening.reason}'")
            continue
        if reason in PRESCREEN_REASONS:
            report.violate(f"reason: {where} has pre-screen reason '{reason}', but it passes every pre-screen filter "
                           f"(pools left: {', '.join(p.pool_id for p in screening.pools)})")
            continue
        if reason != BELOW_THRESHOLD:
            continue
        for pool in screening.pools:
            if meets_thresholds_alone(facts, demand, pool):
                report.violate(f"reason: {where} is below_threshold but the demand alone meets the thresholds at pool {pool.pool_id}")
                break
        else:
            if money[demand.enterprise_id].bill_yuan > 0:
                report.warn(f"{where} is below_threshold but its enterprise {demand.enterprise_id} is already billed "
                            f"in the plan, so adding it could not miss the thresholds")
