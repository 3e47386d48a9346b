"""`allocator solve INSTANCE -o PLAN`: the main job, and the summary it prints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import existing_folder, fail
from allocator.problems import AllocatorError
from allocator.solve.options import METHODS, SOLVERS


@click.command()
@click.argument("instance", type=existing_folder)
@click.option("-o", "--output", "plan", type=click.Path(path_type=Path), required=True, help="Plan folder to write.")
@options.time_limit()
@options.gap("Stop once the plan is proven within this relative gap [default: 1e-4 for the exact MIP, "
             "0.005 for the fast method].")
@options.threads()
@click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True,
              help="MIP solver: highs, or scip / cbc where installed.")
@click.option("--method", type=click.Choice(METHODS), default="auto",
              show_default=True,
              help="auto (exact MIP up to 2,000 model columns, fast above, with the exact MIP from its plan up to "
                   "20,000, partition above 1,000,000 pairs with --time-limit 180 or more), exact, fast (price-and-fix), partition (parts by enterprise "
                   "in parallel), or the baselines fcfs and greedy.")
@click.option("--parts", type=click.IntRange(min=1), default=4, show_default=True,
              help="--method partition: parts (auto's partition: one per 350,000 (demand, pool) pairs).")
@options.workers("--method partition: local worker processes [default: one per core].")
@options.scheduler("--method partition: solve the parts on this Dask scheduler (e.g. tcp://10.0.0.5:8786).")
@options.verbosity
@click.pass_context
def solve(ctx, instance: Path, plan: Path, time_limit, gap, threads, solver, method, parts, workers, scheduler) -> None:
    """Solve INSTANCE and write the plan folder PLAN (exit 3 infeasible, 4 no solution)."""
    from allocator.executor import ExecutorOptions
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write

    executor = ExecutorOptions(workers=workers, scheduler=scheduler, progress=False, description="parts")
    solve_options = SolveOptions(time_limit=time_limit, gap=options.DEFAULT_GAP if gap is None else gap, gap_given=gap is not None,
                           threads=threads, solver=solver, method=method, parts=parts, executor=executor,
                           verbose=ctx.obj["verbose"] > 0,
                           progress=not ctx.obj["quiet"] and sys.stderr.isatty())
    try:
        result = solve_and_write(instance, plan, solve_options)
    except AllocatorError as error:
        fail(error)
    if not ctx.obj["quiet"]:
        _print_summary(result, plan)


def _cost_gap(result) -> float:
    from allocator.solve.result import cost_gap

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
    for g, entry in (result.price_of_a_yuan or {}).items():
        value = entry.get("value_per_yuan")
        shown = "not known" if value is None else f"{value:.4g} value per extra yuan"
        lines.append(f"yuan          {g}: {shown} ({entry.get('source', '')})")
    for note in result.notes:
        lines.append(f"note          {note}")
    click.echo("\n".join(lines))
