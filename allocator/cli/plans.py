"""The commands that work on a written plan: ``allocator report`` and ``allocator advance``."""

from __future__ import annotations

from pathlib import Path

import click

from allocator.cli import options
from allocator.cli.common import fail, folder, invalid
from allocator.problems import AllocatorError


@click.command("report")
@click.argument("plan", type=folder)
@click.option("--instance", type=folder, default=None,
              help="The plan's instance folder (default: found from summary.json, checked by its sha256).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="HTML file to write; the Markdown summary goes beside it (.md).")
@options.verbosity
def report(plan: Path, instance: Path | None, out: Path) -> None:
    """Write a self-contained HTML report of PLAN and a Markdown summary beside it."""
    from allocator.render.report import write_report

    try:
        written = write_report(plan, out, instance)
    except AllocatorError as error:
        fail(error)
    except (FileNotFoundError, ValueError) as error:
        invalid(str(error))
    if written.instance is None:
        click.echo("warning: the plan's instance was not found (give --instance): sections that need it are left out",
                   err=True)
    click.echo(f"wrote {written.html} and {written.markdown}")


@click.command("advance")
@click.argument("instance", type=folder)
@click.argument("plan", type=folder)
@click.option("-o", "--output", "out", type=folder, required=True, help="Folder of the next day's instance.")
@click.option("--new-demands", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV with demands.csv columns: the next day's new requests.")
@click.option("--age-priority", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Multiply the priority of every carried-over request by FACTOR.")
@click.option("--release", "releases", multiple=True, metavar="PROGRAM=YUAN",
              help="Add a tranche of YUAN to PROGRAM's fund for tomorrow (repeatable).")
@options.verbosity
def advance(instance: Path, plan: Path, out: Path, new_demands: Path | None, age_priority: float | None,
            releases: tuple[str, ...]) -> None:
    """Write tomorrow's instance: INSTANCE with PLAN's subsidies and bills booked, served requests removed."""
    from allocator.studies.advance import advance_instance

    try:
        done = advance_instance(instance, plan, out, new_demands, age_priority, list(releases))
    except AllocatorError as error:
        fail(error)
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {done.folder} ({done.name}): {done.served_removed} served removed, "
               f"{done.carried} carried over, {done.added} new")
