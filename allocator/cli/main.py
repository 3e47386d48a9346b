"""The `allocator` command line: a thin click group over the stages.

Domain errors become one clean message and the SPEC's exit code:
0 success, 1 a plan violates a rule, 2 invalid input, 3 infeasible, 4 no solution.
Each command (or family of commands) is its own module; this one is only the group.
"""

from __future__ import annotations

import signal

import click

from allocator.cli.budget import min_budget, sweep
from allocator.cli.instance import check, validate
from allocator.cli.options import apply_logging
from allocator.cli.plans import advance, report
from allocator.cli.research import bench, export, generate, import_gap
from allocator.cli.solve import solve
from allocator.cli.year import year
from allocator.problems import Interrupted


class AllocatorGroup(click.Group):
    """The group, with interruptions as the SPEC says: SIGINT exits 130, SIGTERM 143, one line, nothing written."""

    def invoke(self, ctx: click.Context):
        previous = _on_sigterm(_raise_interrupted)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as error:  # SIGINT, or SIGTERM as Interrupted
            click.echo("\ninterrupted: nothing was written", err=True)
            raise click.exceptions.Exit(getattr(error, "exit_code", 128 + signal.SIGINT)) from None
        finally:
            _on_sigterm(previous)


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


def _on_sigterm(handler):
    """Install ``handler`` for SIGTERM (main thread only); return the previous one."""
    try:
        return signal.signal(signal.SIGTERM, handler)
    except (ValueError, TypeError):  # not the main thread, or no previous Python handler
        return None


@click.group(cls=AllocatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="allocator")
@click.option("-v", "--verbose", count=True, help="More output (solver log with -v).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Allocate a compute-subsidy fund: which requests are approved, and where and when each runs."""
    apply_logging(verbose, quiet)
    ctx.obj = {"verbose": verbose, "quiet": quiet}


for command in (validate, solve, check, import_gap, export, report, advance, generate, bench, sweep, min_budget, year):
    main.add_command(command)
