"""A generalized assignment problem as a SPEC instance, and the known optima of the OR-Library files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.writing import instance_toml, write_instance_folder
from allocator.studies.gap.reading import GapMappingError, GapProblem, read_gap_file

INSTANCE_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "regions": ("region_id", "grid_carbon_kg_per_kwh"),
    "latency": ("from_region", "to_region", "rtt_ms"),
    "centers": (
        "center_id", "region_id", "kind", "pue", "green_kwh", "min_green_share",
        "grid_kwh_cap",
    ),
    "pools": (
        "pool_id", "center_id", "accelerator", "cards", "price_yuan_per_card_hour",
        "kw_per_card",
    ),
    "compatibility": ("stack", "accelerator", "efficiency", "adaptation_yuan"),
    "programs": (
        "program_id", "budget_yuan", "rate", "enterprise_cap_yuan", "min_voucher_yuan",
        "min_spend_yuan",
    ),
    "enterprises": (
        "enterprise_id", "program_id", "eligible", "rate", "cap_yuan",
        "subsidy_ytd_yuan", "spend_ytd_yuan", "kind",
    ),
    "demands": (
        "demand_id", "enterprise_id", "home_region", "stack", "latency_class",
        "card_hours", "max_cards", "release", "deadline", "priority", "must_serve",
    ),
}
"""The required SPEC tables and their columns, in SPEC order (what we write)."""


REGION = "R"


CENTER = "C"


PROGRAM = "gap"


ENTERPRISE = "gap"


def _check_mappable(problem: GapProblem) -> None:
    """Reject values the SPEC cannot express (see the module docstring)."""
    if np.any(problem.resource <= 0):
        i, j = (int(v) for v in np.argwhere(problem.resource <= 0)[0])
        raise GapMappingError(
            f"resource a[{i}][{j}] = {problem.resource[i, j]} is not positive; a SPEC "
            "demand always uses a positive number of card-hours, so this GAP problem "
            "cannot be converted exactly"
        )
    if np.any(problem.cost < 0):
        i, j = (int(v) for v in np.argwhere(problem.cost < 0)[0])
        raise GapMappingError(
            f"cost c[{i}][{j}] = {problem.cost[i, j]} is negative; adaptation_yuan "
            "must be >= 0 (shift all costs of job j by a constant first)"
        )
    if np.any(problem.capacity < 0):
        i = int(np.argwhere(problem.capacity < 0)[0][0])
        raise GapMappingError(f"capacity b[{i}] = {problem.capacity[i]} is negative")


def _instance_toml(problem: GapProblem, name: str, description: str) -> str:
    """The instance.toml text: one period of one hour, default latencies."""
    return instance_toml(name, description, 1, 1.0, latency_classes_ms=None, intra_region_rtt_ms=None)


def _pools(problem: GapProblem) -> pd.DataFrame:
    agents = range(1, problem.m + 1)
    return pd.DataFrame(
        {
            "pool_id": [f"agent{i}" for i in agents],
            "center_id": CENTER,
            "accelerator": [f"acc{i}" for i in agents],
            "cards": problem.capacity.astype(float),
            "price_yuan_per_card_hour": 0.0,
            "kw_per_card": 0.0,
        },
        columns=list(INSTANCE_TABLE_COLUMNS["pools"]),
    )


def _card_hours(problem: GapProblem) -> np.ndarray:
    """Work of every job on efficiency-1 hardware: its smallest resource use."""
    return problem.resource.min(axis=0).astype(float)


def _compatibility(problem: GapProblem) -> pd.DataFrame:
    """One row per (job, agent), ordered by job then agent.

    ``efficiency = card_hours / a`` gives back ``card_hours / efficiency == a``
    to within one ulp (about 2e-16 relative); for some integer pairs no
    float efficiency divides back exactly, and neighbouring floats do no better.
    """
    card_hours = _card_hours(problem)
    rows = [
        (
            f"job{j + 1}",
            f"acc{i + 1}",
            card_hours[j] / float(problem.resource[i, j]),
            float(problem.cost[i, j]),
        )
        for j in range(problem.n)
        for i in range(problem.m)
    ]
    return pd.DataFrame(rows, columns=list(INSTANCE_TABLE_COLUMNS["compatibility"]))


def _demands(problem: GapProblem) -> pd.DataFrame:
    jobs = [f"job{j}" for j in range(1, problem.n + 1)]
    return pd.DataFrame(
        {
            "demand_id": jobs,
            "enterprise_id": ENTERPRISE,
            "home_region": REGION,
            "stack": jobs,
            "latency_class": "batch",
            "card_hours": _card_hours(problem),
            "max_cards": np.nan,  # empty cell: the default, inf
            "release": 0,
            "deadline": 0,
            "priority": 1.0,
            "must_serve": True,
        },
        columns=list(INSTANCE_TABLE_COLUMNS["demands"]),
    )


def _fixed_tables() -> dict[str, pd.DataFrame]:
    """The tables that do not depend on the problem."""
    cols = INSTANCE_TABLE_COLUMNS

    def one_row(stem: str, *values: object) -> pd.DataFrame:
        return pd.DataFrame([values], columns=list(cols[stem]))

    return {
        "regions": one_row("regions", REGION, 0.0),
        "latency": pd.DataFrame(columns=list(cols["latency"])),
        "centers": one_row("centers", CENTER, REGION, "general", 1.0, 0.0, 0.0, math.inf),
        "programs": one_row("programs", PROGRAM, 0.0, 0.0, math.inf, 0.0, 0.0),
        "enterprises": one_row("enterprises", ENTERPRISE, PROGRAM, True, 0.0, math.inf, 0.0, 0.0, ""),
    }


def gap_instance_tables(
    problem: GapProblem, name: str, description: str | None = None
) -> tuple[str, dict[str, pd.DataFrame]]:
    """The SPEC instance of a GAP problem: ``(instance.toml text, tables)``.

    ``tables`` maps a table stem (``"pools"``) to its DataFrame with the
    SPEC's columns in SPEC order; an empty ``max_cards`` is NaN. Raises
    :class:`GapMappingError` for a problem the SPEC cannot express.
    """
    _check_mappable(problem)
    if description is None:
        description = (
            f"Generalized assignment problem, {problem.m} agents x {problem.n} jobs; "
            "the minimum total bill equals the minimum GAP cost"
        )
    tables = _fixed_tables()
    tables["pools"] = _pools(problem)
    tables["compatibility"] = _compatibility(problem)
    tables["demands"] = _demands(problem)
    ordered = {stem: tables[stem] for stem in INSTANCE_TABLE_COLUMNS}
    return _instance_toml(problem, name, description), ordered


def _default_name(path: Path, index: int, count: int) -> str:
    """``c10400`` for a one-problem file, ``gap1-3`` for problem 3 of gap1.txt."""
    stem = path.name.removesuffix(".txt")
    return stem if count == 1 else f"{stem}-{index}"


def write_gap_instance(
    path_to_file: str | os.PathLike[str],
    index: int,
    out_dir: str | os.PathLike[str],
    name: str | None = None,
) -> Path:
    """Convert problem ``index`` (1-based) of a GAP file into an instance folder.

    Writes ``instance.toml`` and the required CSV tables into ``out_dir`` whole
    (:func:`allocator.instance.writing.write_instance_folder`: a folder the tool did not
    write is refused) and returns its path.
    """
    source = Path(path_to_file)
    problems = read_gap_file(source)
    if not 1 <= index <= len(problems):
        raise IndexError(f"{source}: index {index} out of range 1..{len(problems)}")
    target = Path(out_dir)
    name = name or _default_name(source, index, len(problems))
    description = (
        f"GAP {source.name} problem {index} of {len(problems)} "
        f"({problems[index - 1].m} agents x {problems[index - 1].n} jobs), converted by "
        "allocator.studies.gap; the minimum total bill equals the minimum GAP cost"
    )
    toml_text, tables = gap_instance_tables(problems[index - 1], name, description)
    return write_instance_folder(target, toml_text, tables, {"command": "import-gap", "file": str(source.resolve()),
                                                             "index": index})


_REPO_ROOT = Path(__file__).resolve().parents[3]


_DATA_DIR_CANDIDATES = (
    _REPO_ROOT / "benchmarks" / "gap",
    _REPO_ROOT.parent / "shared" / "benchmarks" / "gap",
)


def find_gap_data_dir() -> Path | None:
    """The folder of GAP files and optima.csv, or None if none is found.

    ``$ALLOCATOR_GAP_DIR`` wins; then ``benchmarks/gap`` in the repository,
    then ``shared/benchmarks/gap`` next to it.
    """
    env = os.environ.get("ALLOCATOR_GAP_DIR")
    candidates = ([Path(env)] if env else []) + list(_DATA_DIR_CANDIDATES)
    for folder in candidates:
        if (folder / "optima.csv").is_file():
            return folder
    return None


def _optima_path(file_name: str | os.PathLike[str]) -> Path | None:
    sibling = Path(file_name).parent / "optima.csv"
    if Path(file_name).parent != Path(".") and sibling.is_file():
        return sibling
    folder = find_gap_data_dir()
    return None if folder is None else folder / "optima.csv"


def known_optimum(
    file_name: str | os.PathLike[str],
    index: int,
    sense: str = "min",
    optima_csv: str | os.PathLike[str] | None = None,
) -> float | None:
    """The published optimum (or best known value) of a GAP problem.

    ``file_name`` is the benchmark file (``"gap1.txt"`` or a path to it),
    ``index`` the 1-based problem number, ``sense`` ``"min"`` or ``"max"``.
    ``optima.csv`` is looked up next to ``file_name``, else via
    :func:`find_gap_data_dir`, unless ``optima_csv`` is given. Returns None when
    there is no such row (or no optima.csv). Note the column
    ``is_proven_optimal``: some rows are best-known values only.
    """
    if sense not in ("min", "max"):
        raise ValueError(f"sense must be 'min' or 'max', not {sense!r}")
    table_path = Path(optima_csv) if optima_csv is not None else _optima_path(file_name)
    if table_path is None or not table_path.is_file():
        return None
    optima = pd.read_csv(table_path, dtype={"file": str, "sense": str})
    row = optima[
        (optima["file"] == Path(file_name).name)
        & (optima["instance_index"] == index)
        & (optima["sense"] == sense)
    ]
    if row.empty:
        return None
    return float(row["optimal_or_best_known"].iloc[0])
