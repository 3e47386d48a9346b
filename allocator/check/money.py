"""Money: R7 bills, R8 subsidies and thresholds (and enterprises.csv), R9 budgets (and programs.csv).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from allocator.check.facts import Demand, Facts, Pool
from allocator.check.plan_files import PlanFiles
from allocator.check.report import CheckReport, Row, at_most, close, fmt
from allocator.check.resources import compare_columns, keyed_rows


def bill_yuan(facts: Facts, demand: Demand, pool: Pool) -> float | None:
    """R7: bill = u * price_yuan_per_card_hour + adaptation_yuan; None when incompatible."""
    compat = facts.compatibility.get((demand.stack, pool.accelerator))
    if compat is None:
        return None
    return demand.card_hours / compat.efficiency * pool.price_yuan_per_card_hour + compat.adaptation_yuan


def check_r7_bills(facts: Facts, served: dict[str, Row], pools: dict[str, Pool], report: CheckReport) -> dict[str, float]:
    """R7: bill_yuan == usage * price + adaptation_yuan.

    Returns demand_id -> bill, recomputed where possible, else the plan's bill_yuan.
    """
    bills: dict[str, float] = {}
    for d, row in served.items():
        pool = pools.get(d)
        bill = None if pool is None else bill_yuan(facts, facts.demands[d], pool)
        if bill is None:
            bills[d] = row["bill_yuan"]
            continue
        bills[d] = bill
        if not close(row["bill_yuan"], bill):
            report.violate(f"R7 bill: assignments.csv demand {d} has bill_yuan {fmt(row['bill_yuan'])}, usage * price + adaptation = {fmt(bill)}")
    return bills


@dataclass
class EnterpriseMoney:
    """R8 for one enterprise: plan bill B_e, claim A_e = sum of r(d, p) * bill(d) and subsidy
    S_e = min(A_e, C_e), in yuan; ``claims`` holds each served demand's r(d, p) * bill(d)."""

    bill_yuan: float = 0.0
    claim_yuan: float = 0.0
    subsidy_yuan: float = 0.0
    served_demands: list[str] = field(default_factory=list)
    claims: dict[str, float] = field(default_factory=dict)


def enterprise_money(facts: Facts, served: dict[str, Row], bills: dict[str, float],
                     pools: dict[str, Pool]) -> dict[str, EnterpriseMoney]:
    """R8 per enterprise of the instance: B_e = sum of its served bills, A_e = sum of r(d, p) * bill(d)
    (r(d, p) by :meth:`Facts.rate`, at the pool the plan names), S_e = min(A_e, C_e)."""
    money = {e: EnterpriseMoney() for e in facts.enterprises}
    for d, row in served.items():
        e = facts.demands[d].enterprise_id
        m = money[e]
        pool = pools.get(d)
        accelerator = pool.accelerator if pool is not None else str(row.get("accelerator", ""))
        claim = facts.rate(e, accelerator) * bills[d]
        m.bill_yuan += bills[d]
        m.claim_yuan += claim
        m.claims[d] = claim
        m.served_demands.append(d)
    for e, m in money.items():
        enterprise = facts.enterprises[e]
        m.subsidy_yuan = min(m.claim_yuan, enterprise.remaining_cap_yuan) if m.bill_yuan > 0 else 0.0
    return money


def check_r8_subsidies(facts: Facts, plan: PlanFiles, served: dict[str, Row], bills: dict[str, float],
                       money: dict[str, EnterpriseMoney], report: CheckReport) -> None:
    """R8: subsidies follow min(A_e, C_e), split in proportion to r(d, p) * bill, with thresholds.

    Per demand: subsidy = S_e * claim(d) / A_e with claim(d) = r(d, p) * bill(d) (S_e * bill / B_e
    when every rate is 0, which is 0 since then S_e = 0) and enterprise_pays = bill - subsidy.
    Per enterprise: the plan's subsidies total at most C_e; if B_e > 0 then
    S_e >= min_voucher_yuan and spend_ytd_yuan + B_e >= min_spend_yuan of its program.
    enterprises.csv has one row per enterprise: bill B_e, subsidy S_e, cap_remaining C_e - S_e.
    """
    for e, m in money.items():
        enterprise = facts.enterprises[e]
        program = facts.programs[enterprise.program_id]
        paid = 0.0
        for d in m.served_demands:
            row = served[d]
            if m.claim_yuan > 0:
                share = m.subsidy_yuan * m.claims[d] / m.claim_yuan
                formula = (f"S_e * r(d, p) * bill / A_e = {fmt(m.subsidy_yuan)} * {fmt(m.claims[d])} / "
                           f"{fmt(m.claim_yuan)} = {fmt(share)}")
            else:
                share = m.subsidy_yuan * bills[d] / m.bill_yuan if m.bill_yuan > 0 else 0.0
                formula = f"S_e * bill / B_e (every rate 0) = {fmt(share)}"
            paid += row["subsidy_yuan"]
            if not close(row["subsidy_yuan"], share):
                report.violate(
                    f"R8 subsidy split: assignments.csv demand {d} (enterprise {e}) has subsidy_yuan {fmt(row['subsidy_yuan'])}, "
                    f"{formula}"
                )
            if not close(row["enterprise_pays_yuan"], bills[d] - share):
                report.violate(
                    f"R8 enterprise pays: assignments.csv demand {d} has enterprise_pays_yuan {fmt(row['enterprise_pays_yuan'])}, "
                    f"bill - subsidy = {fmt(bills[d] - share)}"
                )
        if not at_most(paid, enterprise.remaining_cap_yuan):
            report.violate(
                f"R8 cap: enterprise {e} gets {fmt(paid)} yuan of subsidy in assignments.csv > its remaining cap "
                f"C_e = {fmt(enterprise.remaining_cap_yuan)}"
            )
        if m.bill_yuan > 0:
            if not at_most(program.min_voucher_yuan, m.subsidy_yuan):
                report.violate(
                    f"R8 min voucher: enterprise {e} is served with subsidy S_e = {fmt(m.subsidy_yuan)} yuan "
                    f"< min_voucher_yuan {fmt(program.min_voucher_yuan)} of program {program.program_id}"
                )
            if not at_most(program.min_spend_yuan, enterprise.spend_ytd_yuan + m.bill_yuan):
                report.violate(
                    f"R8 min spend: enterprise {e} is served with spend_ytd_yuan + B_e = {fmt(enterprise.spend_ytd_yuan + m.bill_yuan)} "
                    f"yuan < min_spend_yuan {fmt(program.min_spend_yuan)} of program {program.program_id}"
                )
    rows = keyed_rows(plan, "enterprises.csv", ("enterprise_id",), {(e,) for e in facts.enterprises}, report)
    for (e,), row in rows.items():
        enterprise = facts.enterprises[e]
        if row["program_id"] != enterprise.program_id:
            report.violate(f"R8 table: enterprises.csv enterprise {e} has program_id {row['program_id']}, the instance says {enterprise.program_id}")
        m = money[e]
        compare_columns(
            "enterprises.csv", f"enterprise {e}", row,
            {"bill_yuan": m.bill_yuan, "subsidy_yuan": m.subsidy_yuan,
             "cap_remaining_yuan": enterprise.remaining_cap_yuan - m.subsidy_yuan},
            "R8 table", report,
        )


def check_r9_budgets(facts: Facts, plan: PlanFiles, money: dict[str, EnterpriseMoney], report: CheckReport) -> None:
    """R9: per program, sum of its enterprises' S_e <= budget_yuan; programs.csv matches.

    programs.csv has one row per program: budget_yuan, subsidy_yuan, remaining_yuan = budget - subsidy.
    """
    granted: dict[str, float] = {p: 0.0 for p in facts.programs}
    for e, m in money.items():
        granted[facts.enterprises[e].program_id] += m.subsidy_yuan
    for p, program in facts.programs.items():
        if not at_most(granted[p], program.budget_yuan):
            report.violate(f"R9 budget: program {p} grants {fmt(granted[p])} yuan of subsidy > budget_yuan {fmt(program.budget_yuan)}")
    rows = keyed_rows(plan, "programs.csv", ("program_id",), {(p,) for p in facts.programs}, report)
    for (p,), row in rows.items():
        budget = facts.programs[p].budget_yuan
        compare_columns(
            "programs.csv", f"program {p}", row,
            {"budget_yuan": budget, "subsidy_yuan": granted[p], "remaining_yuan": budget - granted[p]},
            "R9 table", report,
        )
