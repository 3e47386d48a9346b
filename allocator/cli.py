"""The `allocator` command line: a thin click layer over the stages.

Domain errors become one clean message and the SPEC's exit code:
0 success, 1 a plan violates a rule, 2 invalid input, 3 infeasible, 4 no solution.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from allocator.problems import (
    EXIT_INVALID,
    EXIT_VIOLATED,
    AllocatorError,
    InfeasibleInstance,
    InvalidInstance,
)

MAX_PROBLEMS_SHOWN = 200

existing_folder = click.Path(exists=False, file_okay=False, path_type=Path)


def _print_problems(problems, label: str) -> None:
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"{label}: {problem}", err=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"{label}: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more", err=True)


def _fail(error: AllocatorError) -> None:
    if isinstance(error, InvalidInstance):
        _print_problems(error.warnings, "warning")
        _print_problems(error.problems, "error")
        click.echo(f"invalid instance: {len(error.problems)} error(s)", err=True)
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="allocator")
@click.option("-v", "--verbose", count=True, help="More output (solver log with -v).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Allocate a compute-subsidy fund: which requests are approved, and where and when each runs."""
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    logging.getLogger("pyomo").setLevel(logging.ERROR)
    ctx.obj = {"verbose": verbose, "quiet": quiet}


@main.command()
@click.argument("instance", type=existing_folder)
def validate(instance: Path) -> None:
    """Check INSTANCE; every problem is named with file, line and column (exit 0 valid, 2 invalid)."""
    from allocator.reading import read_instance

    try:
        inst = read_instance(instance)
    except AllocatorError as error:
        _fail(error)
    from allocator.screening import screen

    scr = screen(inst)
    _print_problems(inst.warnings, "warning")
    never = sorted(scr.reasons.items())
    for demand, reason in never[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"warning: demand '{demand}' can never be served: {reason}", err=True)
    if len(never) > MAX_PROBLEMS_SHOWN:
        click.echo(f"warning: ... and {len(never) - MAX_PROBLEMS_SHOWN} more demands that can never be served", err=True)
    click.echo(
        f"valid: {inst.name}: {len(inst.demands)} demands, {len(inst.pools)} pools, "
        f"{len(inst.centers)} centers, {inst.periods} period(s); {len(scr.pairs)} allowed (demand, pool) pairs"
    )


@main.command()
@click.argument("instance", type=existing_folder)
@click.option("-o", "--output", "plan", type=click.Path(path_type=Path), required=True, help="Plan folder to write.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds for the whole command, reading to writing.")
@click.option("--gap", type=click.FloatRange(min=0), default=None,
              help="Stop once the plan is proven within this relative gap [default: 1e-4 for the exact MIP, "
                   "0.005 for the fast method].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Solver threads.")
@click.option("--solver", type=click.Choice(["highs", "scip", "cbc"]), default="highs", show_default=True,
              help="MIP solver: highs, or scip / cbc where installed.")
@click.option("--method", type=click.Choice(["auto", "exact", "fast", "partition", "fcfs", "greedy"]), default="auto",
              show_default=True,
              help="auto (exact MIP up to 2,000 model columns, fast above, with the exact MIP from its plan up to "
                   "20,000), exact, fast (price-and-fix), partition (parts by enterprise in parallel), or the "
                   "baselines fcfs and greedy.")
@click.option("--parts", type=click.IntRange(min=1), default=4, show_default=True, help="--method partition: parts.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="--method partition: local worker processes [default: one per core].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="--method partition: solve the parts on this Dask scheduler (e.g. tcp://10.0.0.5:8786).")
@click.pass_context
def solve(ctx, instance: Path, plan: Path, time_limit, gap, threads, solver, method, parts, workers, scheduler) -> None:
    """Solve INSTANCE and write the plan folder PLAN (exit 3 infeasible, 4 no solution)."""
    from allocator.executor import ExecutorOptions
    from allocator.pipeline import solve_and_write
    from allocator.solving import SolveOptions

    executor = ExecutorOptions(workers=workers, scheduler=scheduler, progress=False, description="parts")
    options = SolveOptions(time_limit=time_limit, gap=1e-4 if gap is None else gap, gap_given=gap is not None,
                           threads=threads, solver=solver, method=method, parts=parts, executor=executor,
                           verbose=ctx.obj["verbose"] > 0,
                           progress=not ctx.obj["quiet"] and sys.stderr.isatty())
    try:
        result = solve_and_write(instance, plan, options)
    except InfeasibleInstance as error:
        _fail(error)
    except AllocatorError as error:
        _fail(error)
    if not ctx.obj["quiet"]:
        _print_summary(result, plan)


def _cost_gap(result) -> float:
    from allocator.pipeline import cost_gap

    return cost_gap(result.plan.cost, result.cost_bound)


def _print_summary(result, plan_path: Path) -> None:
    p = result.plan
    total_value = float((result.instance.demands["priority"] * result.instance.demands["card_hours"]).sum())
    share = p.served_value / total_value if total_value > 0 else 0.0
    s = result.seconds
    lines = [
        f"status        {result.status} (gap {result.gap:.3g}, bound {result.best_bound:,.6g})",
        f"served        {len(p.assignments)} of {len(result.instance.demands)} demands, value {p.served_value:,.6g} ({share:.1%} of requested)",
        f"bill          {p.total_bill_yuan:,.2f} yuan, subsidy {p.total_subsidy_yuan:,.2f} yuan"
        + ("" if result.cost_bound is None else f" (cost within {_cost_gap(result):.3g} of the cheapest plan of this value)"),
        f"carbon        {p.carbon_kg:,.1f} kg",
        "seconds       " + ", ".join(f"{k} {v:.2f}" for k, v in s.items()),
        f"plan          {plan_path}",
    ]
    for note in result.notes:
        lines.append(f"note          {note}")
    click.echo("\n".join(lines))


@main.command()
@click.argument("instance", type=existing_folder)
@click.argument("plan", type=existing_folder)
def check(instance: Path, plan: Path) -> None:
    """Re-check every rule R1-R10 on PLAN, independently of the solver (exit 0 valid, 1 violated)."""
    from allocator.check import check_plan

    try:
        report = check_plan(instance, plan)
    except AllocatorError as error:
        _fail(error)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for violation in report.violations:
        click.echo(f"violation: {violation}")
    if report.violations:
        click.echo(f"{len(report.violations)} violation(s)")
        sys.exit(EXIT_VIOLATED)
    click.echo("plan is valid: every rule R1-R10 holds")


@main.command("import-gap")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--index", type=click.IntRange(min=1), default=1, show_default=True, help="1-based problem in the file.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True)
def import_gap(file: Path, index: int, out: Path) -> None:
    """Convert an OR-Library / Yagiura generalized assignment FILE into a SPEC instance."""
    from allocator.gap import GapFormatError, write_gap_instance

    try:
        write_gap_instance(file, index, out)
    except (GapFormatError, IndexError, ValueError) as error:
        click.echo(f"error: {file}: {error}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {out}")


@main.command()
@click.argument("instance", type=existing_folder)
@click.option("--format", "fmt", type=click.Choice(["mps", "lp"]), default="mps", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(instance: Path, fmt: str, out: Path) -> None:
    """Write the model of INSTANCE (stage 1: maximize served value) as an MPS or LP file."""
    from allocator.export import export_model

    try:
        names = export_model(instance, out, fmt)
    except AllocatorError as error:
        _fail(error)
    click.echo(f"wrote {out} and its name map {names}")


from allocator.cmd_plans import advance, report  # noqa: E402 - commands that work on a written plan

from allocator.cmd_budget import min_budget, sweep  # noqa: E402 - budget officers' commands
from allocator.cmd_research import bench, generate  # noqa: E402 - research commands

main.add_command(report)
main.add_command(advance)
main.add_command(generate)
main.add_command(bench)
main.add_command(sweep)
main.add_command(min_budget)

if __name__ == "__main__":  # pragma: no cover
    main()
