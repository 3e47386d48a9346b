"""check_plan: every check of :mod:`allocator.check`, in order, on one plan folder."""

from __future__ import annotations

from pathlib import Path

from allocator.check.assignments import (
    check_assignment_columns,
    check_coverage,
    check_enterprise_columns,
    check_r1_eligibility,
    check_r2_compatibility,
    check_r3_latency,
    check_r4_schedule,
    check_r10_must_serve,
)
from allocator.check.facts import instance_facts
from allocator.check.money import (
    check_r7_bills,
    check_r8_subsidies,
    check_r9_budgets,
    enterprise_money,
)
from allocator.check.plan_files import check_files
from allocator.check.reasons import check_reasons
from allocator.check.report import CheckReport
from allocator.check.resources import (
    center_energy,
    check_r5_capacity,
    check_r6_energy,
    check_schedule_keys,
    pool_usage,
)
from allocator.check.summary import (
    check_same_instance,
    check_summary_fields,
    check_summary_totals,
)
from allocator.instance.reading import read_instance
from allocator.instance.types import Instance


def check_plan(instance_dir: Path, plan_dir: Path, instance: Instance | None = None) -> CheckReport:
    """Re-check a plan folder against an instance folder, every rule of shared/SPEC.md.

    Raises :class:`allocator.problems.InvalidInstance` when the instance itself is
    invalid; every problem of the plan is a violation in the returned report.
    ``instance``: the folder already read by :func:`allocator.instance.reading.read_instance`
    (a caller that has it saves reading it again). A plan made for another instance
    (summary.json names another instance) gets that one violation and nothing else.
    """
    facts = instance_facts(instance if instance is not None else read_instance(Path(instance_dir)))
    report = CheckReport()
    plan = check_files(Path(plan_dir), report)
    if plan.summary is not None and check_same_instance(facts, plan.summary, report):
        return report
    served = check_coverage(facts, plan, report)
    check_enterprise_columns(facts, plan, report)
    pools = check_assignment_columns(facts, served, report)
    check_r1_eligibility(facts, served, pools, report)
    usage = check_r2_compatibility(facts, served, pools, report)
    check_r3_latency(facts, served, pools, report)
    check_schedule_keys(facts, plan, report)
    check_r4_schedule(facts, plan, served, usage, report)
    used = pool_usage(facts, plan)
    check_r5_capacity(facts, plan, used, report)
    energy = center_energy(facts, used)
    check_r6_energy(facts, plan, energy, report)
    bills = check_r7_bills(facts, served, pools, report)
    money = enterprise_money(facts, served, bills, pools)
    check_r8_subsidies(facts, plan, served, bills, money, report)
    check_r9_budgets(facts, plan, money, report)
    check_r10_must_serve(facts, served, report)
    if plan.summary is not None:
        check_summary_fields(facts, plan.summary, report)
        check_summary_totals(facts, plan.summary, served, bills, money, energy, report)
    check_reasons(facts, plan, served, money, report)
    return report
