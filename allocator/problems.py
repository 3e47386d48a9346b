"""Problems found in input, and the exceptions that carry them with an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Exit codes of shared/SPEC.md, for every command.
EXIT_OK = 0
EXIT_VIOLATED = 1
EXIT_INVALID = 2
EXIT_INFEASIBLE = 3
EXIT_NO_SOLUTION = 4


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in the input, located as precisely as known.

    ``line`` is the 1-based line of a CSV file (the header is line 1), or the
    1-based data row of a Parquet file.
    """

    file: str
    message: str
    line: int | None = None
    column: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


def summarize_problems(problems: list[Problem], per_column: int = 3, verbose: bool = False) -> list[str]:
    """The problems as lines, at most ``per_column`` for each (file, column, severity) unless ``verbose``:
    a column with many bad cells (a file typed with thousands separators) reads as a few examples and a count."""
    groups: dict[tuple, list[Problem]] = {}
    for problem in problems:
        groups.setdefault((problem.file, problem.column, problem.severity), []).append(problem)
    lines = []
    for (file, column, _), group in groups.items():
        shown = group if verbose or len(group) <= per_column + 1 else group[:per_column]
        lines += [str(problem) for problem in shown]
        if len(shown) < len(group):
            where = f"{file}, column '{column}'" if column else file
            lines.append(f"{where}: ... and {len(group) - len(shown)} more like these (-v shows every one)")
    return lines


def some_of(names: list[str], shown: int = 10) -> str:
    """The first ``shown`` names, comma-separated, and how many more there are."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


class AllocatorError(Exception):
    """A domain error that the command line turns into one message and an exit code."""

    exit_code = EXIT_INVALID


class InvalidInstance(AllocatorError):
    """The instance folder has errors; ``problems`` lists every one found."""

    exit_code = EXIT_INVALID

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None):
        self.problems = problems
        self.warnings = warnings or []
        super().__init__(f"{len(problems)} problem(s) in the instance")


class InstanceTooLarge(AllocatorError):
    """The instance is valid but its model would not fit in memory (exit 2, before anything is built)."""

    exit_code = EXIT_INVALID


class InfeasibleInstance(AllocatorError):
    """No plan satisfies every rule; ``reasons`` says what conflicts; ``unservable``: the must_serve demands
    that fail R1-R5 on their own, with the screening's reason (when that is the cause)."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, message: str, reasons: list[str] | None = None, unservable: dict[str, str] | None = None):
        self.reasons = reasons or []
        self.unservable = unservable or {}
        super().__init__(message)


class NoSolution(AllocatorError):
    """The solver found no plan within the limits."""

    exit_code = EXIT_NO_SOLUTION


class PlanFailedCheck(NoSolution):
    """The plan a method returned broke a rule in the independent check: it is not written (exit 4)."""

    def __init__(self, violations: list[str]):
        self.violations = violations
        shown = "\n  ".join(violations[:10]) + (f"\n  ... and {len(violations) - 10} more" if len(violations) > 10 else "")
        super().__init__(f"the plan failed the independent check and was not written ({len(violations)} violation(s)):\n  {shown}")


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) as an exception: the command stops, nothing is written (exit 128 + signal).

    A KeyboardInterrupt, so that no ``except Exception`` on the way swallows it and every
    ``finally`` (temporary folders) runs.
    """

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by signal {signum}: nothing was written")
