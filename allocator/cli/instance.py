"""`allocator validate INSTANCE` and `allocator check INSTANCE PLAN`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import existing_folder, fail, flags, print_problems
from allocator.problems import EXIT_VIOLATED, AllocatorError


@click.command()
@click.argument("instance", type=existing_folder)
@options.verbosity
@click.pass_context
def validate(ctx: click.Context, instance: Path) -> None:
    """Check INSTANCE; every problem is named with file, line and column (exit 0 valid, 2 invalid).

    Warnings are counted per column and per reason (-v lists every one).
    """
    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen

    try:
        inst = read_instance(instance, log_warnings=False)
    except AllocatorError as error:
        fail(error)
    verbose = bool(flags(ctx).get("verbose"))
    quiet_now = bool(flags(ctx).get("quiet"))
    scr = screen(inst)
    if not quiet_now:
        print_problems(inst.warnings, "warning", verbose)
        never_served_warnings(scr.reasons, verbose)
    click.echo(
        f"valid: {inst.name}: {len(inst.demands)} demands, {len(inst.pools)} pools, "
        f"{len(inst.centers)} centers, {inst.periods} period(s); {len(scr.pairs)} allowed (demand, pool) pairs"
    )


def never_served_warnings(reasons: dict[str, str], verbose: bool) -> None:
    """Demands that can never be served: one line per reason with a count (each demand with -v)."""
    if verbose:
        for demand, reason in sorted(reasons.items()):
            click.echo(f"warning: demand '{demand}' can never be served: {reason}", err=True)
        return
    by_reason: dict[str, list[str]] = {}
    for demand, reason in sorted(reasons.items()):
        by_reason.setdefault(reason, []).append(demand)
    for reason, demands in by_reason.items():
        shown = ", ".join(f"'{d}'" for d in demands[:3]) + (", ..." if len(demands) > 3 else "")
        click.echo(f"warning: {len(demands)} demand(s) can never be served: {reason} ({shown})", err=True)
    if any(len(d) > 3 for d in by_reason.values()):
        click.echo("warning: (-v lists every demand)", err=True)


@click.command()
@click.argument("instance", type=existing_folder)
@click.argument("plan", type=existing_folder)
@options.verbosity
def check(instance: Path, plan: Path) -> None:
    """Re-check every rule R1-R10 on PLAN, independently of the solver (exit 0 valid, 1 violated)."""
    from allocator.check import check_plan

    try:
        report = check_plan(instance, plan)
    except AllocatorError as error:
        fail(error)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for violation in report.violations:
        click.echo(f"violation: {violation}")
    if report.violations:
        click.echo(f"{len(report.violations)} violation(s)")
        sys.exit(EXIT_VIOLATED)
    click.echo("plan is valid: every rule R1-R10 holds")
