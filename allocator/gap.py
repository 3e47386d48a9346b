"""Generalized assignment problem (GAP) benchmarks as allocator instances.

The OR-Library / Yagiura GAP files hold, as a stream of whitespace-separated
integers, for each problem::

    m n                 agents, jobs
    c[0][0] .. c[m-1][n-1]   cost of job j on agent i   (m rows of n)
    a[0][0] .. a[m-1][n-1]   resource job j uses on agent i (m rows of n)
    b[0] .. b[m-1]           capacity of agent i

Two layouts exist (:func:`read_gap_file` tells them apart by token count):

* multi-problem files (``gap1.txt`` .. ``gap12.txt``, ``gapa.txt`` ..
  ``gapd.txt``) start with the number of problems P, then P problems;
* single-instance files (``c10400``, ``d801600``, ``e05100``, ...) hold one
  problem and no leading P.

A problem becomes a SPEC instance (see ``shared/SPEC.md``) whose minimum total
bill equals the minimum GAP cost:

* one period of 1 hour; one region ``R``; one general center ``C`` (pue 1,
  no green-power rules);
* agent i -> pool ``agent{i+1}`` with its own accelerator ``acc{i+1}``,
  ``cards = b[i]``, free cards and zero power;
* job j -> must-serve batch demand ``job{j+1}`` with its own stack
  ``job{j+1}`` and ``card_hours = min_i a[i][j]``;
* pair (i, j) -> compatibility row with ``efficiency = card_hours / a[i][j]``
  (so the usage ``card_hours / efficiency`` is ``a[i][j]`` to within one ulp;
  CSV cells are written with ``repr`` so they read back bit for bit) and
  ``adaptation_yuan = c[i][j]`` (so the bill is ``c[i][j]``);
* one program ``gap`` (budget 0, rate 0) with one enterprise ``gap``.

A resource use ``a[i][j] <= 0`` cannot be written this way (the SPEC needs
``card_hours > 0`` and ``0 < efficiency <= 1``, so usage is always positive);
:func:`gap_instance_tables` refuses it with :class:`GapMappingError`. None of
the bundled benchmark files has one (a few ``e`` files have zero *costs*,
which map to ``adaptation_yuan = 0`` and are fine).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "GapFormatError",
    "GapMappingError",
    "GapProblem",
    "read_gap_file",
    "gap_instance_tables",
    "write_gap_instance",
    "known_optimum",
    "find_gap_data_dir",
    "INSTANCE_TABLE_COLUMNS",
]

# --------------------------------------------------------------------------
# Errors and the problem record
# --------------------------------------------------------------------------


class GapFormatError(ValueError):
    """A GAP file does not follow either layout.

    ``line`` is 1-based (``None`` when not known), ``token`` the 0-based index
    of the offending token in the file's token stream (``None`` when the file
    is simply too short or too long as a whole).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        message: str,
        line: int | None = None,
        token: int | None = None,
    ) -> None:
        self.path = str(path)
        self.message = message
        self.line = line
        self.token = token
        where = self.path if line is None else f"{self.path}:{line}"
        if token is not None:
            where += f" (token {token + 1})"
        super().__init__(f"{where}: {message}")


class GapMappingError(ValueError):
    """A parsed GAP problem cannot be expressed as a SPEC instance."""


@dataclass(frozen=True, eq=False)
class GapProblem:
    """One GAP problem: ``m`` agents, ``n`` jobs.

    ``cost[i, j]`` and ``resource[i, j]`` are (m, n) integer arrays,
    ``capacity[i]`` an (m,) integer array.
    """

    m: int
    n: int
    cost: np.ndarray
    resource: np.ndarray
    capacity: np.ndarray

    def __post_init__(self) -> None:
        if self.cost.shape != (self.m, self.n) or self.resource.shape != (self.m, self.n):
            raise ValueError(f"cost and resource must be {self.m}x{self.n} arrays")
        if self.capacity.shape != (self.m,):
            raise ValueError(f"capacity must have {self.m} entries")

    def assignment_cost(self, agent_of_job: list[int] | np.ndarray) -> int:
        """Total cost of assigning job j to agent ``agent_of_job[j]`` (0-based)."""
        agents = np.asarray(agent_of_job)
        return int(self.cost[agents, np.arange(self.n)].sum())

    def assignment_loads(self, agent_of_job: list[int] | np.ndarray) -> np.ndarray:
        """Resource used on every agent by the assignment (length m)."""
        agents = np.asarray(agent_of_job)
        used = self.resource[agents, np.arange(self.n)]
        return np.bincount(agents, weights=used, minlength=self.m).astype(np.int64)

    def is_feasible(self, agent_of_job: list[int] | np.ndarray) -> bool:
        """True when no agent's resource use exceeds its capacity."""
        return bool(np.all(self.assignment_loads(agent_of_job) <= self.capacity))


# --------------------------------------------------------------------------
# Reading GAP files
# --------------------------------------------------------------------------

_TOKEN = re.compile(r"\S+")
_INTEGER = re.compile(r"[+-]?\d+\Z")


@dataclass(frozen=True)
class _Tokens:
    """The integer tokens of a file, with enough to locate each one."""

    path: str
    text: str
    starts: list[int]  # character offset of every token
    values: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.starts)

    def line_of(self, token: int) -> int:
        """1-based line of token ``token`` (the last line for ``len(self)``)."""
        if token >= len(self.starts):
            return self.text.count("\n", 0, len(self.text.rstrip())) + 1
        return self.text.count("\n", 0, self.starts[token]) + 1

    def error(self, message: str, token: int | None) -> GapFormatError:
        line = None if token is None else self.line_of(token)
        shown = token if token is not None and token < len(self) else None
        return GapFormatError(self.path, message, line=line, token=shown)


def _tokenize(path: Path) -> _Tokens:
    """Split a file into integer tokens, failing on the first non-integer."""
    text = path.read_text(encoding="utf-8-sig")
    matches = list(_TOKEN.finditer(text))
    words = [mt.group() for mt in matches]
    starts = [mt.start() for mt in matches]
    try:
        values = np.array(words, dtype=np.int64)
    except (ValueError, OverflowError):
        tokens = _Tokens(str(path), text, starts, np.zeros(0, dtype=np.int64))
        for k, word in enumerate(words):
            if not _INTEGER.match(word) or abs(int(word)) >= 2**63:
                raise tokens.error(f"expected an integer, found {word!r}", k) from None
        raise  # pragma: no cover - numpy rejected something the regex accepts
    return _Tokens(str(path), text, starts, values)


def _numbers(count: int) -> str:
    return f"{count} number" + ("" if count == 1 else "s")


def _problem_size(m: int, n: int) -> int:
    """Tokens of one problem after its ``m n`` header."""
    return 2 * m * n + m


Offsets = list[tuple[int, int, int]]  # (token of the 'm n' header, m, n) per problem


def _dimensions(tokens: _Tokens, at: int, label: str) -> tuple[int, int] | GapFormatError:
    """``m n`` at token ``at`` (both must be positive), or the error."""
    if at + 2 > len(tokens):
        return tokens.error(f"file ends before the 'm n' header of {label}", len(tokens))
    m, n = (int(v) for v in tokens.values[at : at + 2])
    if m < 1 or n < 1:
        return tokens.error(f"{label}: agents m={m} and jobs n={n} must be positive", at)
    return m, n


def _single_layout(tokens: _Tokens) -> tuple[Offsets, GapFormatError | None]:
    """The one problem of a single-instance file, or why the file is not one."""
    dims = _dimensions(tokens, 0, "the instance")
    if isinstance(dims, GapFormatError):
        return [], dims
    m, n = dims
    need = 2 + _problem_size(m, n)
    if len(tokens) < need:
        return [], tokens.error(
            f"truncated: a single {m}x{n} instance needs {need} numbers, "
            f"the file has {len(tokens)}",
            len(tokens),
        )
    if len(tokens) > need:
        return [], tokens.error(
            f"{_numbers(len(tokens) - need)} too many after a single {m}x{n} "
            f"instance of {need} numbers",
            need,
        )
    return [(0, m, n)], None


def _multi_layout(tokens: _Tokens) -> tuple[Offsets, GapFormatError | None]:
    """The problems of a multi-problem file read so far, and the error if any.

    On a mismatch the problems read completely before it are returned too, so
    that the caller can judge which layout the file was meant to have.
    """
    count = int(tokens.values[0])
    if count < 1:
        return [], tokens.error(f"number of problems P={count} must be positive", 0)
    offsets: Offsets = []
    at = 1
    for k in range(1, count + 1):
        label = f"problem {k} of {count}"
        dims = _dimensions(tokens, at, label)
        if isinstance(dims, GapFormatError):
            return offsets, dims
        m, n = dims
        end = at + 2 + _problem_size(m, n)
        if end > len(tokens):
            return offsets, tokens.error(
                f"truncated in {label} ({m}x{n}): it needs {end} numbers in all, "
                f"the file has {len(tokens)}",
                len(tokens),
            )
        offsets.append((at, m, n))
        at = end
    if at != len(tokens):
        return offsets, tokens.error(
            f"{_numbers(len(tokens) - at)} too many after the last of {count} problems",
            at,
        )
    return offsets, None


def _detect_layout(tokens: _Tokens) -> Offsets:
    """Offsets of every problem, whichever layout fits.

    The single layout is tried first: it fits when the first two numbers are
    m n and the file holds exactly ``2 + 2mn + m`` numbers. Otherwise the file
    must be a multi-problem file whose problems add up to the token count.
    """
    if len(tokens) < 3:
        raise tokens.error(f"only {len(tokens)} numbers: not a GAP file", None)
    offsets, single_error = _single_layout(tokens)
    if single_error is None:
        return offsets
    offsets, multi_error = _multi_layout(tokens)
    if multi_error is None:
        return offsets
    multi_likelier = bool(offsets) or tokens.path.endswith(".txt")
    raise _neither_layout(tokens, single_error, multi_error, multi_likelier)


def _neither_layout(
    tokens: _Tokens,
    single: GapFormatError,
    multi: GapFormatError,
    multi_likelier: bool,
) -> GapFormatError:
    """Explain a file that fits neither layout, leading with the likelier one."""
    explained = [
        ("as a single instance", single),
        ("as a multi-problem file", multi),
    ]
    if multi_likelier:
        explained.reverse()
    detail = "; ".join(f"{label}: {err.message}" for label, err in explained)
    first = explained[0][1]
    return GapFormatError(
        tokens.path, f"matches neither GAP layout; {detail}", line=first.line, token=first.token
    )


def _problem_at(tokens: _Tokens, start: int, m: int, n: int) -> GapProblem:
    """Cut one problem out of the token stream."""
    body = tokens.values[start + 2 : start + 2 + _problem_size(m, n)]
    mn = m * n
    return GapProblem(
        m=m,
        n=n,
        cost=body[:mn].reshape(m, n).copy(),
        resource=body[mn : 2 * mn].reshape(m, n).copy(),
        capacity=body[2 * mn :].copy(),
    )


def read_gap_file(path: str | os.PathLike[str]) -> list[GapProblem]:
    """Read every problem of an OR-Library / Yagiura GAP file.

    Both layouts (multi-problem with a leading count, single instance without)
    are accepted; see the module docstring. Raises :class:`GapFormatError`,
    naming the file, line and token, when the file fits neither.
    """
    tokens = _tokenize(Path(path))
    return [_problem_at(tokens, s, m, n) for s, m, n in _detect_layout(tokens)]


# --------------------------------------------------------------------------
# The SPEC instance
# --------------------------------------------------------------------------

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
        "subsidy_ytd_yuan", "spend_ytd_yuan",
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


def _toml_string(value: str) -> str:
    """A TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch >= " " else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'


def _instance_toml(problem: GapProblem, name: str, description: str) -> str:
    """The instance.toml text: one period of one hour, default latencies."""
    return (
        "schema = 1\n"
        f"name = {_toml_string(name)}\n"
        f"description = {_toml_string(description)}\n"
        "\n"
        "[horizon]\n"
        "periods = 1\n"
        "period_hours = 1.0\n"
        "\n"
        "[objective]\n"
        "carbon_price_yuan_per_kg = 0.0\n"
    )


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
        "enterprises": one_row("enterprises", ENTERPRISE, PROGRAM, True, 0.0, math.inf, 0.0, 0.0),
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


def _cell(value: object) -> str:
    """One CSV cell: floats round-trip exactly (repr), NaN is empty."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write a table as UTF-8 CSV with "\\n" line ends, deterministically."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(df.columns)
        for row in df.itertuples(index=False, name=None):
            writer.writerow(_cell(v) for v in row)


def _default_name(path: Path, index: int, count: int) -> str:
    """``c10400`` for a one-problem file, ``gap1-3`` for problem 3 of gap1.txt."""
    stem = path.name.removesuffix(".txt")
    return stem if count == 1 else f"{stem}-{index}"


def write_gap_instance(
    path_to_file: str | os.PathLike[str],
    index: int,
    out_dir: str | os.PathLike[str],
    name: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert problem ``index`` (1-based) of a GAP file into an instance folder.

    Writes ``instance.toml`` and the required CSV tables into ``out_dir``
    (created if missing) and returns its path. A non-empty ``out_dir`` is
    refused unless ``overwrite`` is true.
    """
    source = Path(path_to_file)
    problems = read_gap_file(source)
    if not 1 <= index <= len(problems):
        raise IndexError(f"{source}: index {index} out of range 1..{len(problems)}")
    target = Path(out_dir)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{target} exists and is not empty")
    name = name or _default_name(source, index, len(problems))
    description = (
        f"GAP {source.name} problem {index} of {len(problems)} "
        f"({problems[index - 1].m} agents x {problems[index - 1].n} jobs), converted by "
        "allocator.gap; the minimum total bill equals the minimum GAP cost"
    )
    toml_text, tables = gap_instance_tables(problems[index - 1], name, description)
    target.mkdir(parents=True, exist_ok=True)
    (target / "instance.toml").write_text(toml_text, encoding="utf-8", newline="\n")
    for stem, df in tables.items():
        write_table(df, target / f"{stem}.csv")
    return target


# --------------------------------------------------------------------------
# Published optima
# --------------------------------------------------------------------------

_REPO_ROOT = Path(__file__).resolve().parent.parent
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
