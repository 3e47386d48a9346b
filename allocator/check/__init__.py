"""The independent plan checker behind ``allocator check INSTANCE PLAN``.

Every number of a plan folder is recomputed here from the instance and the
plan's own choices (which pool serves each demand, and the schedule), straight
from the formulas of ``shared/SPEC.md``, and compared with what the plan says.
Nothing is imported from the solver side (screening, model, plan extraction):
the checker is plain Python over dicts, so that a bug there cannot hide itself.

Tolerance (SPEC): two numbers are equal when ``|a - b| <= 1e-6 + 1e-6 * max(|a|, |b|)``;
an inequality ``a <= b`` holds when ``a <= b`` plus that same slack.

Checks, in the order :func:`allocator.check.run.check_plan` runs them:

* files: every plan file present, readable, with exactly the SPEC columns
  (:mod:`allocator.check.plan_files`);
* coverage: every demand exactly once in assignments.csv or unserved.csv;
* R1 eligibility and designated center, R2 compatibility and usage, R3 latency
  (and the pool/center/region/accelerator columns agree with the instance), R4 schedule,
  R10 must_serve (:mod:`allocator.check.assignments`);
* R5 capacity (and pools.csv), R6 energy and green power (and centers.csv)
  (:mod:`allocator.check.resources`);
* R7 bills, R8 subsidies (and enterprises.csv), R9 budgets (and programs.csv)
  (:mod:`allocator.check.money`);
* summary.json fields and totals (:mod:`allocator.check.summary`);
* the reason of every unserved demand (pre-screen reasons recomputed exactly)
  (:mod:`allocator.check.reasons`).

An invalid instance raises :class:`allocator.problems.InvalidInstance` (exit 2);
everything wrong with the plan becomes a violation (exit 1).
"""

from allocator.check.report import CheckReport
from allocator.check.run import check_plan

__all__ = ["CheckReport", "check_plan"]
