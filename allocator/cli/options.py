"""Options shared by several commands, each defined once (as rasterio's ``rio/options.py``).

Every command also takes ``-v`` / ``-q`` after its name (``allocator solve ... -q``), with the
same meaning as before it (:func:`verbosity`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import click

DEFAULT_GAP = 1e-4  # the relative MIP gap where a command needs one and none is given


def time_limit(help: str = "Seconds for the whole command, reading to writing.") -> Callable:
    return click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
                        metavar="SECONDS", help=help)


def gap(help: str = f"Relative MIP gap, a stopping target [default: {DEFAULT_GAP:g}].") -> Callable:
    """``--gap`` (None when not given: each command says what it uses then)."""
    return click.option("--gap", type=click.FloatRange(min=0), default=None, metavar="REL", help=help)


def threads(default: int | None = None, help: str = "Solver threads [default: the solver's choice].") -> Callable:
    return click.option("--threads", type=click.IntRange(min=1), default=default, show_default=default is not None,
                        help=help)


def workers(help: str = "Local worker processes [default: one per core].") -> Callable:
    return click.option("--workers", type=click.IntRange(min=1), default=None, help=help)


def scheduler(help: str = "Run on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of local processes.") -> Callable:
    return click.option("--scheduler", default=None, metavar="ADDRESS", callback=_address, help=help)


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --scheduler that is not tcp://HOST:PORT is a usage error (exit 2) before anything runs."""
    if value is None:
        return None
    from allocator.executor import SchedulerUnavailable, parse_scheduler_address

    try:
        parse_scheduler_address(value)
    except SchedulerUnavailable as error:
        raise click.BadParameter(str(error)) from None
    return value


def _set_verbosity(ctx: click.Context, param: click.Parameter, value) -> None:
    if not value:
        return
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {"verbose": 0, "quiet": False}
    if param.name == "quiet":
        root.obj["quiet"] = True
    else:
        root.obj["verbose"] = max(root.obj.get("verbose", 0), int(value))
    apply_logging(root.obj["verbose"], root.obj["quiet"])


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is when a message comes (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Lines(logging.Formatter):
    """``warning: ...`` like every other message of the command line."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def apply_logging(verbose: int, quiet: bool) -> None:
    """-q: only errors; -v: info and the solver log; -vv: debug. Messages go to stderr as ``level: text``."""
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    root = logging.getLogger()
    if not any(getattr(h, "allocator_cli", False) for h in root.handlers):
        handler = _Stderr()
        handler.setFormatter(_Lines())
        handler.allocator_cli = True
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("pyomo").setLevel(logging.ERROR)


def verbosity(command: Callable) -> Callable:
    """-v / -q on a subcommand, merged into the group's flags (``ctx.find_root().obj``)."""
    command = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
                           help="Only errors.")(command)
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=_set_verbosity,
                        help="More output (solver log with -v).")(command)
