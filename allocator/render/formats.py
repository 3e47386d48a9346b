"""Numbers as people read them, in one place for the report, the sweep and the bench.

CSV files keep exact numbers (:mod:`allocator.numbers`); these are for Markdown and HTML.
"""

from __future__ import annotations

import math

YUAN_PER_MILLION = 1e6


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def yuan(x: float) -> str:
    """'1,234.50 yuan'; 'unlimited' for inf."""
    if _missing(x):
        return "n/a"
    return "unlimited" if not math.isfinite(x) else f"{x:,.2f} yuan"


def yuan_short(x: float) -> str:
    """Yuan at a glance: '10 M', '430 k', '75' (up to 4 significant digits)."""
    if _missing(x):
        return "n/a"
    if not math.isfinite(x):
        return "unlimited"
    if abs(x) >= YUAN_PER_MILLION:
        return f"{x / YUAN_PER_MILLION:.4g} M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.4g} k"
    return f"{x:.4g}"


def number(x: float, digits: int = 4) -> str:
    """'0.1235', '1,234', '12,345'; 'n/a' and 'unlimited' for NaN and inf."""
    if _missing(x):
        return "n/a"
    if not math.isfinite(x):
        return "unlimited"
    return f"{x:,.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"


def percent(share: float | None, digits: int = 1) -> str:
    """A share 0..1 as '12.3 %'."""
    if _missing(share) or not math.isfinite(share):
        return "n/a"
    return f"{100 * share:.{digits}f} %"


def optional_float(value: object) -> float | None:
    """A cell as a float; None for empty or NaN ('inf' strings read as inf)."""
    if value is None or value == "":
        return None
    x = float(value)
    return None if math.isnan(x) else x
