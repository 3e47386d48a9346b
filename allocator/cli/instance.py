"""`allocator validate INSTANCE` and `allocator check INSTANCE PLAN`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import (
    MAX_PROBLEMS_SHOWN,
    existing_folder,
    fail,
    print_problems,
)
from allocator.problems import EXIT_VIOLATED, AllocatorError


@click.command()
@click.argument("instance", type=existing_folder)
@options.verbosity
def validate(instance: Path) -> None:
    """Check INSTANCE; every problem is named with file, line and column (exit 0 valid, 2 invalid)."""
    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen

    try:
        inst = read_instance(instance)
    except AllocatorError as error:
        fail(error)
    scr = screen(inst)
    print_problems(inst.warnings, "warning")
    never = sorted(scr.reasons.items())
    for demand, reason in never[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"warning: demand '{demand}' can never be served: {reason}", err=True)
    if len(never) > MAX_PROBLEMS_SHOWN:
        click.echo(f"warning: ... and {len(never) - MAX_PROBLEMS_SHOWN} more demands that can never be served", err=True)
    click.echo(
        f"valid: {inst.name}: {len(inst.demands)} demands, {len(inst.pools)} pools, "
        f"{len(inst.centers)} centers, {inst.periods} period(s); {len(scr.pairs)} allowed (demand, pool) pairs"
    )


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
