"""``allocator year INSTANCE --arrivals F -o DIR [--days N] [--policy NAME[,NAME...]] [--resume]
[--time-limit-per-day S] [--gap-per-day G] [--workers N] [--scheduler ADDR]``: the click command
(registered in allocator.cli).

Exit codes as every command: 0 done, 1 a day's plan failed the checker (never expected),
2 invalid input (instance, arrivals, options, an output folder that is not this tool's, a
--resume with other inputs), 4 no plan within a day's limits; 130 / 143 interrupted by
SIGINT / SIGTERM (the days committed so far stay in the ledger: ``--resume`` continues).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import fail, invalid, quiet
from allocator.problems import AllocatorError


@click.command("year")
@click.argument("instance", type=click.Path(file_okay=False, path_type=Path))
@click.option("--arrivals", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ARRIVALS.csv: demands.csv columns plus day and max_wait_days.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder of the year (one sub-folder per policy when several are given).")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Days to plan [default: up to the last arrival].")
@click.option("--policy", "policies", default=None, metavar="NAME[,NAME...]",
              help="all, even, quarterly or threshold (the recommended default); several run side by side.")
@click.option("--resume", is_flag=True, help="Continue the year in OUTPUT after its last committed day.")
@click.option("--time-limit-per-day", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds for each day's solve (solve --time-limit).")
@click.option("--gap-per-day", type=click.FloatRange(min=0), default=0.005, show_default=True,
              help="Relative gap each day's plan is proven within (solve --gap).")
@options.workers("Local worker processes for several policies [default: one per core].")
@options.scheduler("Run the policies on this Dask scheduler instead of local processes.")
@click.option("--hindsight-time-limit", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True,
              help="Seconds for the LP of the hindsight bound.")
@options.verbosity
@click.pass_context
def year(ctx: click.Context, instance: Path, arrivals: Path, out: Path, days: int | None, policies: str | None,
         resume: bool, time_limit_per_day: float | None, gap_per_day: float, workers: int | None,
         scheduler: str | None, hindsight_time_limit: float) -> None:
    """Plan a year of days over INSTANCE's annual funds, one plan a day, and keep the ledger."""
    from allocator.studies.year.compare import run_many, run_one
    from allocator.studies.year.policies import parse_policies
    from allocator.studies.year.run import YearOptions

    silent = quiet(ctx)
    try:
        names = parse_policies(policies)
    except ValueError as error:
        invalid(f"--policy: {error}")
    options = YearOptions(policy=names[0], days=days, time_limit_per_day=time_limit_per_day, gap_per_day=gap_per_day)
    progress = not silent and sys.stderr.isatty()
    try:
        if len(names) == 1:
            summary = run_one(instance, arrivals, out, options, resume, progress, hindsight_time_limit)
            summaries = {names[0]: summary}
        else:
            comparison = run_many(instance, arrivals, out, options, names, resume, workers, scheduler, progress,
                                  hindsight_time_limit)
            summaries = {p: {"served_value": comparison["served_value"][p],
                             "share_of_hindsight_bound": comparison["share_of_hindsight_bound"][p],
                             "total_subsidy_yuan": comparison["total_subsidy_yuan"][p],
                             "fund_ran_out_day": comparison["fund_ran_out_day"][p]} for p in names}
    except AllocatorError as error:
        fail(error)
    except KeyboardInterrupt as interrupt:  # SIGINT, or SIGTERM as allocator.problems.Interrupted (cli.main)
        code = getattr(interrupt, "exit_code", 128 + signal.SIGINT)
        word = "terminated" if code == 128 + signal.SIGTERM else "interrupted"
        click.echo(f"{word}: the days committed so far are in the ledger (continue with --resume)", err=True)
        sys.exit(code)
    if not silent:
        for name, s in summaries.items():
            share = s.get("share_of_hindsight_bound")
            ran = ", ".join(f"{g} day {d}" for g, d in s["fund_ran_out_day"].items() if d is not None) or "no fund ran out"
            click.echo(f"{name:>10}: served value {s['served_value']:,.6g}"
                       + ("" if share is None else f" ({share:.1%} of the hindsight bound)")
                       + f", subsidies {s['total_subsidy_yuan']:,.2f} yuan; {ran}")
        click.echo(f"wrote {out}")
