"""The budget officer's commands: ``allocator sweep`` and ``allocator min-budget``.

Heavy imports stay inside the commands. Exit codes as everywhere: 2 invalid input (instance or
arguments), 3 infeasible (min-budget: the target cannot be reached with any fund),
4 no solution within the limits.
"""

from __future__ import annotations

from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import existing_folder as instance_folder
from allocator.cli.common import fail, flags
from allocator.problems import AllocatorError

BUDGET_HELP = (
    "Fund sizes, as a comma list and/or ranges start:stop:num (num values, both ends included). "
    "Yuan values (suffix k or M allowed: 500k, 2.5M) set the budget of --program (needed when the instance "
    "has several programmes). Factors written x0.5,x1,x2 or x0.5:x2:7 multiply the budget of --program, or of "
    "every programme without it. The instance's own fund is always added as a point."
)


def _values(text: str | None, name: str, **kwargs):
    """Parse a sweep option; a bad value is a usage error (exit 2) naming the option."""
    from allocator.studies.sweep.values import parse_values

    if text is None:
        return None
    try:
        return parse_values(text, **kwargs)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=f"'--{name}'") from None


def _rate_row(text: str | None):
    """(RateRow, Values) of ``--rate-row ACCELERATOR/KIND=VALUES``; a bad one is a usage error (exit 2)."""
    from allocator.studies.sweep.points import RateRow

    if text is None:
        return None, None
    selector, sep, values = text.partition("=")
    try:
        if not sep:
            raise ValueError(f"'{text}': write ACCELERATOR/KIND=VALUES, e.g. @domestic/=0.2:0.6:5")
        row = RateRow.parse(selector)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--rate-row'") from None
    return row, _values(values, "rate-row", high=1.0)


@click.command("sweep")
@click.argument("instance", type=instance_folder)
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for sweep.csv, sweep.png, sweep.html and summary.md.")
@click.option("--budget", metavar="LIST|RANGE", default=None, help=BUDGET_HELP)
@click.option("--program", "program_id", default=None, metavar="ID",
              help="The programme whose budget, rate and cap are swept (default: every programme; yuan budgets "
                   "need one programme).")
@click.option("--rate", metavar="LIST|RANGE", default=None,
              help="Standard subsidy rates (0..1) of the programme(s); enterprises with a special rate keep it.")
@click.option("--cap", metavar="LIST|RANGE", default=None,
              help="Per-enterprise caps in yuan (k/M suffixes) of the programme(s), or factors xF that also "
                   "scale special enterprise caps.")
@click.option("--green-share", metavar="LIST|RANGE", default=None,
              help="min_green_share (0..1) of every center.")
@click.option("--rate-row", metavar="ACCELERATOR/KIND=LIST|RANGE", default=None,
              help="Rates (0..1) of rates.csv rows of the programme(s), set or added: ACCELERATOR an accelerator id, "
                   "@domestic or @other (every domestic / other accelerator of the pools) or empty (any); KIND an "
                   "enterprise kind or empty (any). E.g. '@domestic/=0.2:0.6:5' or '/startup=0.5,0.6'.")
@options.workers()
@options.scheduler("Run the points on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of local processes.")
@options.time_limit("Seconds per exact solve (and per min-budget solve).")
@options.gap()
@click.option("--resume", is_flag=True, help="Keep the points already in OUTDIR/sweep.csv and solve the rest.")
@click.option("--no-fcfs", is_flag=True, help="Solve only the optimizer (no first-come-first-served baseline).")
@click.option("--no-min-budget", is_flag=True,
              help="Find the fund matching FCFS by interpolation on the sweep, not by a min-budget MIP.")
@options.verbosity
@click.pass_context
def sweep(ctx: click.Context, instance: Path, out: Path, budget, program_id, rate, cap, green_share, rate_row, workers,
          scheduler, time_limit, gap, resume, no_fcfs, no_min_budget) -> None:
    """Solve INSTANCE for every combination of the values given, optimizer and FCFS side by side.

    \b
    Examples:
      allocator sweep instances/chengdu-day -o out --budget x0.25:x2:8
      allocator sweep inst -o out --program chengdu --budget 0:2M:11 --rate 0.3,0.5
      allocator sweep instances/hangzhou-day -o out --rate-row '@domestic/=0.2:0.6:5'
    Each point is streamed into OUTDIR/sweep.csv as it finishes (--resume skips finished
    points); then sweep.png, sweep.html and summary.md are written.
    """
    from allocator.studies.sweep.points import SweepAxes, SweepOptions
    from allocator.studies.sweep.run import run_sweep

    row, row_values = _rate_row(rate_row)
    axes = SweepAxes(
        budget=_values(budget, "budget", money=True, allow_scale=True),
        rate=_values(rate, "rate", high=1.0),
        cap=_values(cap, "cap", money=True, allow_scale=True),
        green_share=_values(green_share, "green-share", high=1.0),
        program_id=program_id,
        rate_row=row,
        row_rate=row_values,
    )
    quiet = bool(flags(ctx).get("quiet"))
    sweep_options = SweepOptions(workers=workers, scheduler=scheduler, time_limit=time_limit,
                                 gap=options.DEFAULT_GAP if gap is None else gap, fcfs=not no_fcfs, resume=resume,
                                 min_budget=not no_min_budget, progress=not quiet)
    try:
        outcome = run_sweep(instance, out, axes, sweep_options)
    except AllocatorError as error:
        fail(error)
    if quiet:
        return
    click.echo(f"{len(outcome.solved) + len(outcome.skipped)} points: {len(outcome.solved)} solved, "
               f"{len(outcome.skipped)} already in {out / 'sweep.csv'}")
    for sentence in outcome.summary.sentences():
        click.echo(sentence)
    if outcome.summary.opt_below_fcfs:
        click.echo(f"warning: the optimizer served less than FCFS at {len(outcome.summary.opt_below_fcfs)} point(s) "
                   "(not solved to optimality; see sweep.csv)", err=True)
    click.echo("wrote " + ", ".join(str(p) for p in [out / "sweep.csv", *outcome.files.values()]))


@click.command("min-budget")
@click.argument("instance", type=instance_folder)
@click.option("--target", type=click.FloatRange(0.0, 1.0), required=True,
              help="Share (0..1) of the requested value (priority x card-hours of all demands) to serve.")
@click.option("--program", "program_id", default=None, metavar="ID",
              help="The programme whose budget is minimized (default: the only programme).")
@click.option("-o", "--output", "plan", type=click.Path(path_type=Path), required=True,
              help="Plan folder to write; summary.json adds min_budget_yuan.")
@options.time_limit()
@options.gap()
@options.threads()
@click.option("--instance-out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a copy of INSTANCE with the programme's budget set to the minimum found.")
@options.verbosity
@click.pass_context
def min_budget(ctx: click.Context, instance: Path, target: float, program_id, plan: Path, time_limit, gap, threads,
               instance_out) -> None:
    """The smallest budget of one programme whose plan serves at least TARGET of the requested value.

    Solved as one MIP with the budget as a variable, then the plan at that budget
    (maximum value, then minimum cost) is written to PLAN. Exit 3 when even an
    unlimited budget cannot reach the target.
    """
    from allocator.solve.options import SolveOptions
    from allocator.studies.min_budget import write_min_budget

    solve_options = SolveOptions(time_limit=time_limit, gap=options.DEFAULT_GAP if gap is None else gap, threads=threads,
                                 verbose=flags(ctx).get("verbose", 0) > 0)
    try:
        result = write_min_budget(instance, plan, target, program_id, solve_options, instance_out)
    except AllocatorError as error:
        fail(error)
    if flags(ctx).get("quiet"):
        return
    lines = [
        f"programme     {result.program_id}",
        f"min budget    {result.min_budget_yuan:,.2f} yuan ({result.status}; proven at least {result.bound_yuan:,.2f}; "
        f"the instance's own budget is {result.original_budget_yuan:,.2f})",
        f"served        value {result.served_value:,.6g} = {result.served_share:.2%} of requested "
        f"(target {result.target_share:.2%})",
        f"plan          {plan}",
    ]
    if instance_out is not None:
        lines.append(f"instance      {instance_out} (budget set to the minimum)")
    click.echo("\n".join(lines))

