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

from allocator.studies.gap.instance import (
    INSTANCE_TABLE_COLUMNS,
    find_gap_data_dir,
    gap_instance_tables,
    known_optimum,
    write_gap_instance,
)
from allocator.studies.gap.reading import (
    GapFormatError,
    GapMappingError,
    GapProblem,
    read_gap_file,
)

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
