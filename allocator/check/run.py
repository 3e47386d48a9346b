"""The independent plan checker behind ``allocator check INSTANCE PLAN``.

Every number of a plan folder is recomputed here from the instance and the
plan's own choices (which pool serves each demand, and the schedule), straight
from the formulas of ``shared/SPEC.md``, and compared with what the plan says.
Nothing is imported from the solver side (screening, model, plan extraction):
the checker is plain Python over dicts, so that a bug there cannot hide itself.

Tolerance (SPEC): two numbers are equal when ``|a - b| <= 1e-6 + 1e-6 * max(|a|, |b|)``;
an inequality ``a <= b`` holds when ``a <= b`` plus that same slack.

Checks, in the order :func:`check_plan` runs them:

* files: every plan file present, readable, with exactly the SPEC columns;
* coverage: every demand exactly once in assignments.csv or unserved.csv;
* R1 eligibility and designated center, R2 compatibility and usage, R3 latency
  (and the pool/center/region/accelerator columns agree with the instance);
* R4 schedule, R5 capacity (and pools.csv), R6 energy and green power (and
  centers.csv), R7 bills, R8 subsidies (and enterprises.csv), R9 budgets (and
  programs.csv), R10 must_serve;
* summary.json fields and totals;
* the reason of every unserved demand (pre-screen reasons recomputed exactly).

An invalid instance raises :class:`allocator.problems.InvalidInstance` (exit 2);
everything wrong with the plan becomes a violation (exit 1).
"""

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
from allocator.check.summary import check_summary_fields, check_summary_totals
from allocator.instance.reading import read_instance


def check_plan(instance_dir: Path, plan_dir: Path) -> CheckReport:
    """Re-check a plan folder against an instance folder, every rule of shared/SPEC.md.

    Raises :class:`allocator.problems.InvalidInstance` when the instance itself is
    invalid; every problem of the plan is a violation in the returned report.
    """
    facts = instance_facts(read_instance(Path(instance_dir)))
    report = CheckReport()
    plan = check_files(Path(plan_dir), report)
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
