"""What a benchmark run is: its tasks (one solver x method on one instance), settings and known optima."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("exact", "fcfs", "greedy")


NO_SOLVER = "none"  # the solver column of a heuristic run


KNOWN_SENSES = ("min", "max")


@dataclass(frozen=True)
class BenchTask:
    """One unit of work: ``kind`` "size" (measure the model) or "solve" (one solver x method run)."""

    kind: str
    label: str  # the instance's name in the table
    instance: str  # path of the instance folder
    solver: str = NO_SOLVER
    method: str = "exact"
    time_limit_s: float | None = None
    gap: float = 1e-4
    threads: int | None = None
    plan_dir: str | None = None
    check: bool = True


@dataclass(frozen=True)
class Known:
    """A known optimum: the objective value and which objective it is (min: cost K, max: served value V)."""

    objective: float
    sense: str


@dataclass(frozen=True)
class BenchSettings:
    solvers: tuple[str, ...] = ("highs",)
    methods: tuple[str, ...] = ("exact",)
    time_limit_s: float | None = None
    gap: float = 1e-4
    threads: int | None = 1  # one thread per run: runs share the machine's cores
    check: bool = True
