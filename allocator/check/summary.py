"""summary.json: the SPEC's fields, and its totals recomputed from the plan.
"""

from __future__ import annotations

from typing import Any

from allocator.check.facts import Facts
from allocator.check.money import EnterpriseMoney
from allocator.check.plan_files import (
    PLAN_STATUSES,
    SUMMARY_FILE,
    SUMMARY_NUMBERS,
    SUMMARY_PHASES,
    SUMMARY_SECONDS,
    SUMMARY_TEXTS,
)
from allocator.check.report import CheckReport, Row, at_most, close, fmt, slack
from allocator.check.resources import CenterEnergy


def summary_number(summary: dict[str, Any], key: str) -> float | None:
    """A summary number: a JSON number or the strings "inf"/"-inf" the writer uses; None otherwise."""
    value = summary.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf"):
        return float(value)
    return None


def check_same_instance(facts: Facts, summary: dict[str, Any], report: CheckReport) -> bool:
    """True (and one violation) when summary.json names another instance: nothing else is worth checking."""
    named = summary.get("instance")
    if isinstance(named, str) and named != facts.name:
        report.violate(f"summary: the plan was made for instance '{named}', not for '{facts.name}' "
                       "(give the plan's own instance); nothing else was checked")
        return True
    return False


def check_summary_fields(facts: Facts, summary: dict[str, Any], report: CheckReport) -> None:
    """summary.json has every SPEC field: texts, numbers, instance_sha256 and wall_seconds per phase.

    The instance name and the sha256 of every instance file must be those of INSTANCE,
    and status is optimal or feasible (a plan is written for no other status).
    """
    for key in SUMMARY_TEXTS:
        if not isinstance(summary.get(key), str):
            report.violate(f"summary: {SUMMARY_FILE} lacks the text field '{key}'")
    for key in SUMMARY_NUMBERS:
        if summary_number(summary, key) is None:
            report.violate(f"summary: {SUMMARY_FILE} lacks the number field '{key}'")
    if isinstance(summary.get("status"), str) and summary["status"] not in PLAN_STATUSES:
        report.violate(f"summary: {SUMMARY_FILE} status is '{summary['status']}', a plan needs one of {', '.join(PLAN_STATUSES)}")
    digests = summary.get("instance_sha256")
    if not isinstance(digests, dict):
        report.violate(f"summary: {SUMMARY_FILE} lacks 'instance_sha256' (file name -> sha256 of each instance file)")
    elif digests != facts.files_sha256:
        differing = sorted(k for k in digests.keys() | facts.files_sha256.keys() if digests.get(k) != facts.files_sha256.get(k))
        report.violate(f"summary: {SUMMARY_FILE} instance_sha256 does not match the instance files: {', '.join(differing)}")
    seconds = summary.get(SUMMARY_SECONDS, summary.get("seconds"))
    if not isinstance(seconds, dict):
        report.violate(f"summary: {SUMMARY_FILE} lacks '{SUMMARY_SECONDS}' (wall seconds per phase: {', '.join(SUMMARY_PHASES)})")
        return
    for phase in SUMMARY_PHASES:
        value = summary_number(seconds, phase)
        if value is None or value < 0:
            report.violate(f"summary: {SUMMARY_FILE} {SUMMARY_SECONDS} lacks a wall time >= 0 for phase '{phase}'")


def check_summary_totals(facts: Facts, summary: dict[str, Any], served: dict[str, Row], bills: dict[str, float],
                         money: dict[str, EnterpriseMoney], energy: dict[tuple[str, int], CenterEnergy],
                         report: CheckReport) -> None:
    """summary.json numbers match the plan recomputed.

    served_value = sum priority * card_hours of served demands; total_bill_yuan = sum of
    bills; total_subsidy_yuan = sum of S_e; carbon_kg = sum grid * grid_carbon_kg_per_kwh
    of the center's region; demands_served / demands_total; best_bound >= served_value
    (maximization); gap >= 0; cost_yuan (if given) = total bill + carbon price * carbon_kg.
    """
    carbon_kg = sum(q.grid_kwh * facts.region_carbon_kg_per_kwh.get(facts.centers[c].region_id, 0.0)
                    for (c, _), q in energy.items())
    total_bill = sum(bills.values())
    expected = {
        "served_value": sum(facts.demands[d].value for d in served),
        "total_bill_yuan": total_bill,
        "total_subsidy_yuan": sum(m.subsidy_yuan for m in money.values()),
        "carbon_kg": carbon_kg,
        "demands_served": float(len(served)),
        "demands_total": float(len(facts.demands)),
    }
    if "cost_yuan" in summary:
        expected["cost_yuan"] = total_bill + facts.carbon_price_yuan_per_kg * carbon_kg
    for key, value in expected.items():
        given = summary_number(summary, key)
        if given is not None and not close(given, value):
            report.violate(f"summary: {SUMMARY_FILE} {key} is {fmt(given)}, recomputed {fmt(value)}")
    bound = summary_number(summary, "best_bound")
    if bound is not None and not at_most(expected["served_value"], bound):
        report.violate(f"summary: {SUMMARY_FILE} best_bound {fmt(bound)} is below the served value {fmt(expected['served_value'])}")
    gap = summary_number(summary, "gap")
    if gap is not None and gap < -slack(gap, 0.0):
        report.violate(f"summary: {SUMMARY_FILE} gap {fmt(gap)} is negative")
