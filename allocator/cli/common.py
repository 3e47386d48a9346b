"""What every command shares: clean failures with the SPEC's exit codes, problem lists, global flags."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allocator.problems import (
    EXIT_INVALID,
    AllocatorError,
    InvalidInstance,
    summarize_problems,
)

MAX_PROBLEMS_SHOWN = 200

existing_folder = click.Path(exists=False, file_okay=False, path_type=Path)
folder = click.Path(file_okay=False, path_type=Path)


def print_problems(problems, label: str, verbose: bool = False) -> None:
    """Problems on stderr, a few per column (:func:`allocator.problems.summarize_problems`; all with -v)."""
    lines = summarize_problems(problems, verbose=verbose)
    for line in lines[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"{label}: {line}", err=True)
    if len(lines) > MAX_PROBLEMS_SHOWN:
        click.echo(f"{label}: ... and {len(lines) - MAX_PROBLEMS_SHOWN} more", err=True)


def fail(error: AllocatorError) -> None:
    """One message (every problem of an invalid instance) and the error's exit code."""
    if isinstance(error, InvalidInstance):
        verbose = bool((click.get_current_context(silent=True) and flags(click.get_current_context()).get("verbose")))
        print_problems(error.warnings, "warning", verbose)
        print_problems(error.problems, "error", verbose)
        click.echo(f"invalid instance: {len(error.problems)} error(s)", err=True)
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


def invalid(message: str) -> None:
    """A usage error found after click parsed the arguments: exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_INVALID)


def flags(ctx: click.Context) -> dict:
    """The group's -v / -q flags ({'verbose': n, 'quiet': bool})."""
    root = ctx.find_root().obj
    return root if isinstance(root, dict) else {}


def quiet(ctx: click.Context) -> bool:
    return bool(flags(ctx).get("quiet"))
