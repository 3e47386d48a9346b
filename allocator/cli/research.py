"""Research commands: ``allocator generate`` (seeded instance families), ``allocator bench``,
``allocator export`` (MPS / LP) and ``allocator import-gap`` (OR-Library GAP files).

Exit codes follow shared/SPEC.md: 0 success, 2 invalid arguments (a knob a
family does not take, a solver that is not installed, an unreadable known.csv).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import existing_folder, fail
from allocator.cli.common import invalid as _invalid
from allocator.cli.common import quiet as _quiet
from allocator.problems import EXIT_INVALID, AllocatorError


def _rates(ctx, param, value: str | None):
    from allocator.studies.generate.knobs import GenerateError, parse_rates

    if value is None:
        return None
    try:
        return parse_rates(value)
    except GenerateError as error:
        raise click.BadParameter(str(error)) from None


def _mix(ctx, param, value: str | None):
    from allocator.studies.generate.knobs import GenerateError, parse_mix

    if value is None:
        return None
    try:
        return parse_mix(value)
    except GenerateError as error:
        raise click.BadParameter(str(error)) from None


@click.command()
@click.argument("family", type=click.Choice(["city", "east-west", "gap-like", "year"]))
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Instance folder to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--name", default=None, help="Instance name (default FAMILY-SEED).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the shared China facts (default <repo>/../shared/data/china).")
@click.option("--demands", type=click.IntRange(min=1), help="Number of demands (gap-like: jobs).")
@click.option("--centers", type=click.IntRange(min=1), help="Number of centers.")
@click.option("--pools-per-center", type=click.IntRange(min=1), help="Pools at every center (gap-like: agents per center).")
@click.option("--periods", type=click.IntRange(min=1), help="Periods of the day.")
@click.option("--enterprises", type=click.IntRange(min=1), help="Number of enterprises (approximate: see docs/generate.md).")
@click.option("--programmes", type=click.IntRange(min=1), help="Number of subsidy programmes.")
@click.option("--budget-ratio", type=click.FloatRange(min=0), help="Budget / subsidy requested by every servable demand.")
@click.option("--capacity-ratio", type=click.FloatRange(min=0), help="Card-hours of all pools / card-hours demanded.")
@click.option("--green-ratio", type=click.FloatRange(min=0), help="Green kWh / kWh the demand would draw.")
@click.option("--stack-mix", callback=_mix, help="Stack shares, e.g. CUDA=0.5,CANN=0.3,DTK=0.1,MPI=0.1.")
@click.option("--latency-mix", callback=_mix, help="Latency class shares, e.g. realtime=0.2,interactive=0.3,batch=0.5.")
@click.option("--must-serve-share", type=click.FloatRange(min=0, max=1), help="Share of demands that must be served.")
@click.option("--kinds", callback=_mix, help="Enterprise kinds and their shares, e.g. startup=0.3,sme=0.5,large=0.2.")
@click.option("--rates", callback=_rates,
              help="rates.csv rows for every programme: domestic=R (each domestic accelerator), other=R (each other "
                   "accelerator), ACCELERATOR=R, or KIND=R, e.g. domestic=0.3,other=0.2 (Hangzhou) or startup=0.6.")
@click.option("--days", type=click.IntRange(min=1), default=None, help="year: days of the year [default: 365].")
@click.pass_context
@options.verbosity
def generate(ctx: click.Context, family: str, out: Path, seed: int, name: str | None, data_dir: Path | None,
             days: int | None, **knob_values) -> None:
    """Write a seeded instance of FAMILY (city, east-west, gap-like; year: OUTPUT/instance and OUTPUT/arrivals.csv)
    to a folder; same seed and knobs, same bytes."""
    from allocator.studies.generate.knobs import GenerateError, Knobs
    from allocator.studies.generate.make import generate as make
    from allocator.studies.generate.make import write_generated

    if family == "year" or days is not None:
        _generate_year(ctx, family, out, seed, name, data_dir, days, knob_values)
        return
    knobs = Knobs(**knob_values)
    try:
        generated = make(family, seed, knobs, data_dir, name)
    except GenerateError as error:
        _invalid(str(error))
    try:
        write_generated(out, generated, {"family": family, "seed": seed, "name": name,
                                         "knobs": {k: v for k, v in knob_values.items() if v is not None}})
    except AllocatorError as error:
        fail(error)
    if not _quiet(ctx):
        t = generated.tables
        must = int(t["demands"]["must_serve"].sum())
        click.echo(f"wrote {out}: {len(t['demands'])} demands ({must} must-serve), {len(t['pools'])} pools at "
                   f"{len(t['centers'])} centers, {len(t['enterprises'])} enterprises, {len(t['programs'])} programmes")


def _generate_year(ctx, family: str, out: Path, seed: int, name: str | None, data_dir: Path | None, days: int | None,
                   knob_values: dict) -> None:
    """``generate year``: --days, --demands (requests a day on average) and --budget-ratio
    (allocator.studies.year.arrivals_family)."""
    from allocator.studies.generate.knobs import DEFAULT_DATA_DIR
    from allocator.studies.year.arrivals_family import generate_year

    if family != "year":
        _invalid(f"{family} does not take --days (only year does)")
    refused = [k for k, v in knob_values.items() if v is not None and k not in ("demands", "budget_ratio")]
    if refused:
        _invalid("year does not take " + ", ".join("--" + k.replace("_", "-") for k in refused)
                 + " (it takes --days, --demands, --budget-ratio)")
    data_dir = Path(data_dir or DEFAULT_DATA_DIR)
    if not (data_dir / "regions.csv").is_file():
        _invalid(f"no regions.csv in {data_dir} (the shared China facts; see --data)")
    ratio = 0.35 if knob_values.get("budget_ratio") is None else knob_values["budget_ratio"]
    try:
        generated = generate_year(out, seed, days or 365, knob_values.get("demands") or 200, ratio, data_dir, name)
    except AllocatorError as error:
        fail(error)
    if not _quiet(ctx):
        click.echo(f"wrote {out}/instance ({len(generated.instance.tables['enterprises']):,} enterprises, "
                   f"{len(generated.instance.tables['demands'])} requests waiting on day 0) and {out}/arrivals.csv "
                   f"({len(generated.arrivals):,} requests over {days or 365} days)")


def _names(text: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise click.BadParameter(f"unknown {what} {', '.join(unknown) or '(none given)'} (known: {', '.join(known)})")
    return names


@click.command()
@click.argument("instances", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for bench.csv, bench.md and the plans.")
@click.option("--solver", "solvers", default="highs", show_default=True, help="Comma-separated: highs, scip, cbc.")
@click.option("--method", "methods", default="exact", show_default=True, help="Comma-separated: exact, fcfs, greedy.")
@options.time_limit("Seconds per run.")
@options.gap()
@options.threads(default=1, help="Solver threads per run (runs go in parallel, one per worker).")
@options.workers()
@options.scheduler("Address of a running Dask scheduler (instead of local workers).")
@click.option("--known", "known_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="known.csv (instance, objective, sense); a known.csv beside the instances is read anyway.")
@click.option("--gap-file", "gap_files", multiple=True, metavar="FILE[:N]",
              help="OR-Library GAP file and problem numbers (1, 1-4, 1,3); imported to OUTPUT/instances with known.csv.")
@click.option("--check/--no-check", default=True, show_default=True, help="Re-check every plan with `allocator check`.")
@click.pass_context
@options.verbosity
def bench(ctx: click.Context, instances: tuple[Path, ...], out: Path, solvers: str, methods: str, time_limit, gap,
          threads, workers, scheduler, known_files, gap_files, check: bool) -> None:
    """Run every INSTANCE x solver x method and write OUTPUT/bench.csv and OUTPUT/bench.md."""
    from allocator.executor import ExecutorOptions
    from allocator.files import start_incremental_folder
    from allocator.solve.options import SOLVERS
    from allocator.studies.bench.run import import_gap_problems, run_bench
    from allocator.studies.bench.tasks import METHODS, BenchSettings

    settings = BenchSettings(solvers=_names(solvers, SOLVERS, "solver"), methods=_names(methods, METHODS, "method"),
                             time_limit_s=time_limit, gap=options.DEFAULT_GAP if gap is None else gap, threads=threads,
                             check=check)
    folders = list(instances)
    try:
        start_incremental_folder(out, folders, resume=False, kind="bench")
        if gap_files:
            folders += import_gap_problems(gap_files, out / "instances")
    except AllocatorError as error:
        fail(error)
    except (OSError, ValueError, IndexError) as error:
        _invalid(str(error))
    if not folders:
        _invalid("no instances: give instance folders or --gap-file")
    executor = ExecutorOptions(workers=workers, scheduler=scheduler, progress=not _quiet(ctx), description="bench")
    try:
        rows = run_bench(folders, out, settings, executor, known_files)
    except AllocatorError as error:
        _invalid(str(error))
    except ValueError as error:
        _invalid(str(error))
    if not _quiet(ctx):
        _print_bench_summary(rows, out)


def _print_bench_summary(rows: list[dict], out: Path) -> None:
    from collections import Counter

    statuses = Counter(r["status"] for r in rows)
    click.echo(f"{len(rows)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    compared = [r for r in rows if r.get("reached_known") is not None]
    if compared:
        reached = sum(1 for r in compared if r["reached_known"])
        click.echo(f"known optimum reached in {reached} of {len(compared)} runs that have one")
    failed = [r for r in rows if r.get("check") not in (None, "", "ok")]
    for r in failed:
        click.echo(f"check failed: {r['instance']} / {r['solver']} / {r['method']}: {r['check']}")
    click.echo(f"wrote {out / 'bench.csv'} and {out / 'bench.md'}")


@click.command("import-gap")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--index", type=click.IntRange(min=1), default=1, show_default=True, help="1-based problem in the file.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True)
@options.verbosity
def import_gap(file: Path, index: int, out: Path) -> None:
    """Convert an OR-Library / Yagiura generalized assignment FILE into a SPEC instance."""
    from allocator.studies.gap.instance import write_gap_instance
    from allocator.studies.gap.reading import GapFormatError

    try:
        write_gap_instance(file, index, out)
    except AllocatorError as error:
        fail(error)
    except (GapFormatError, IndexError, ValueError) as error:
        click.echo(f"error: {file}: {error}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {out}")


@click.command()
@click.argument("instance", type=existing_folder)
@click.option("--format", "fmt", type=click.Choice(["mps", "lp"]), default="mps", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@options.verbosity
def export(instance: Path, fmt: str, out: Path) -> None:
    """Write the model of INSTANCE (stage 1: maximize served value) as an MPS or LP file."""
    from allocator.studies.export import export_model

    try:
        names = export_model(instance, out, fmt)
    except AllocatorError as error:
        fail(error)
    click.echo(f"wrote {out} and its name map {names}")
