"""Quantities of shared/SPEC.md derived from an instance, each computed in one place for every stage.

The checker (:mod:`allocator.check`) keeps its own copies on purpose: it re-derives every rule
from the SPEC independently of the solver side.
"""

from __future__ import annotations

import pandas as pd


def remaining_cap_yuan(enterprises: pd.DataFrame) -> pd.Series:
    """C_e = max(0, cap_yuan - subsidy_ytd_yuan) of R8."""
    return (enterprises["cap_yuan"] - enterprises["subsidy_ytd_yuan"]).clip(lower=0.0)
