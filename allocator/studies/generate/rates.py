"""Enterprise kinds and rates.csv rows for generated instances (``--kinds``, ``--rates``).

* ``--kinds startup=0.3,sme=0.5,large=0.2`` gives every enterprise a kind, in exactly these
  shares (largest remainder), in a random order drawn from the seed's own stream.
* ``--rates domestic=0.3,other=0.2,startup=0.6`` writes rates.csv rows for every programme:

  - ``domestic=R``: one row per domestic accelerator of the pools (allocator.instance.hardware),
    rate R, any kind;
  - ``other=R``: one row per other accelerator of the pools, rate R, any kind;
  - ``ACCELERATOR=R`` (an accelerator id of the pools): one row for it;
  - any other name: a kind, one row (empty accelerator, that kind), rate R.

  With Hangzhou's 30 % on domestic and 20 % on other compute that is ``domestic=0.3,other=0.2``;
  Shenzhen's startups at 60 % (50 % for the rest) ``startup=0.6``; Langfang's major projects at
  60 % ``major-project=0.6`` (with ``--kinds`` naming that kind). R8 takes the highest
  applicable row, so a kind row and an accelerator row never add up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from allocator.instance.hardware import is_domestic
from allocator.studies.generate.tables import InstanceTables

RATE_COLUMNS = ["program_id", "accelerator", "enterprise_kind", "rate"]


def empty_rates() -> pd.DataFrame:
    """A rates.csv with its header only (no rates beyond the programmes' own)."""
    return pd.DataFrame({c: pd.Series(dtype=float if c == "rate" else object) for c in RATE_COLUMNS})


def set_kinds(inst: InstanceTables, mix: Sequence[tuple[str, float]], rng: np.random.Generator) -> None:
    """Every enterprise gets a kind: counts in the mix's shares (largest remainder), order drawn by ``rng``."""
    from allocator.studies.generate.enterprises import _split_counts

    ent = inst.tables["enterprises"]
    counts = _split_counts(len(ent), [w for _, w in mix])
    kinds = np.array([k for (k, _), n in zip(mix, counts) for _ in range(n)], dtype=object)
    ent["kind"] = rng.permutation(kinds) if len(kinds) else kinds


def rate_rows(inst: InstanceTables, selectors: Sequence[tuple[str, float]]) -> pd.DataFrame:
    """rates.csv rows for every programme of the instance (see the module docstring)."""
    accelerators = sorted(set(inst.tables["pools"]["accelerator"]))
    rows: dict[tuple[str, str, str], float] = {}
    for g in inst.tables["programs"]["program_id"]:
        for name, rate in selectors:
            if name in ("domestic", "other"):
                keys = [(g, a, "") for a in accelerators if is_domestic(a) == (name == "domestic")]
            elif name in accelerators:
                keys = [(g, name, "")]
            else:
                keys = [(g, "", name)]
            for key in keys:
                rows[key] = float(rate)  # a later selector for the same row wins
    return pd.DataFrame([(*k, r) for k, r in rows.items()], columns=RATE_COLUMNS) if rows else empty_rates()


def add_rates(inst: InstanceTables, selectors: Sequence[tuple[str, float]]) -> None:
    """Replace the instance's rates.csv with the rows of ``selectors``."""
    inst.tables["rates"] = rate_rows(inst, selectors)
