"""Sweep axes as typed on the command line: `2M:20M:10`, `0.3,0.5`, `x0.5:x2:4`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MONEY_SUFFIXES = {"k": 1e3, "K": 1e3, "M": 1e6}


SCALE_PREFIX = "x"


@dataclass(frozen=True)
class Values:
    """The values of one swept parameter: absolute numbers, or factors on the instance's own values."""

    numbers: tuple[float, ...]
    scale: bool = False


def parse_values(text: str, *, money: bool = False, allow_scale: bool = False,
                 low: float = 0.0, high: float = math.inf) -> Values:
    """Parse ``a,b,c`` and ranges ``start:stop:num`` (inclusive linspace), mixed freely.

    ``money``: numbers may end in k (thousand) or M (million) yuan: ``500k``, ``2.5M``.
    ``allow_scale``: tokens written ``x0.5`` (a range ``x0.5:x2:4``) are factors. A list is
    all factors or all absolute. Values outside [low, high] (factors: below 0) are errors.
    Duplicates are dropped, the first order kept. Raises ValueError with the reason.
    """
    tokens = [t.strip() for t in text.split(",") if t.strip()]
    if not tokens:
        raise ValueError("no values given")
    numbers: list[float] = []
    kinds: set[bool] = set()
    for token in tokens:
        values, scale = _parse_token(token, money=money, allow_scale=allow_scale)
        kinds.add(scale)
        numbers += values
    if len(kinds) > 1:
        raise ValueError(f"mix of factors ({SCALE_PREFIX}F) and absolute values in '{text}': use one kind")
    scale = kinds.pop()
    lo, hi = (0.0, math.inf) if scale else (low, high)
    for x in numbers:
        if not lo <= x <= hi or math.isnan(x):
            raise ValueError(f"{_plain(x)} is outside {_plain(lo)}..{_plain(hi)}")
    return Values(tuple(dict.fromkeys(_tidy(x) for x in numbers)), scale)


def _parse_token(token: str, *, money: bool, allow_scale: bool) -> tuple[list[float], bool]:
    parts = token.split(":")
    if len(parts) == 1:
        scale, x = _parse_number(parts[0], money=money, allow_scale=allow_scale)
        return [x], scale
    if len(parts) != 3:
        raise ValueError(f"'{token}': a range is start:stop:num")
    start_scale, start = _parse_number(parts[0], money=money, allow_scale=allow_scale)
    stop_scale, stop = _parse_number(parts[1], money=money, allow_scale=allow_scale, scale_default=start_scale)
    if start_scale != stop_scale:
        raise ValueError(f"'{token}': start and stop must both be factors or both absolute")
    try:
        count = int(parts[2])
    except ValueError:
        raise ValueError(f"'{token}': the number of values '{parts[2]}' is not an integer") from None
    if count < 1:
        raise ValueError(f"'{token}': the number of values must be at least 1")
    return [float(x) for x in np.linspace(start, stop, count)], start_scale


def _parse_number(text: str, *, money: bool, allow_scale: bool, scale_default: bool = False) -> tuple[bool, float]:
    """(is a factor, value) of one number such as 0.5, 1e7, 2.5M, x0.5, inf."""
    text = text.strip()
    scale = scale_default
    if text[:1] == SCALE_PREFIX:
        if not allow_scale:
            raise ValueError(f"'{text}': factors ({SCALE_PREFIX}F) are not accepted here")
        scale, text = True, text[1:]
    factor = 1.0
    if money and not scale and text[-1:] in MONEY_SUFFIXES:
        factor, text = MONEY_SUFFIXES[text[-1]], text[:-1]
    try:
        return scale, float(text) * factor
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None


def _tidy(x: float) -> float:
    """Round away linspace noise (0.30000000000000004 -> 0.3): 12 significant digits."""
    return float(f"{x:.12g}") if math.isfinite(x) else x


def _plain(x: float) -> str:
    return f"{x:g}"
