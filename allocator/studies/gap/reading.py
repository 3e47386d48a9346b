"""Read OR-Library / Yagiura generalized assignment files (both layouts) into :class:`GapProblem`.

The package docstring (:mod:`allocator.studies.gap`) has the formats and the mapping to instances.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np


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
