"""How numbers are written: one home for the cell formats of every CSV and JSON file the tool writes.

* instance tables (:func:`cell_text`): exact -- a float is written so that it reads back as the
  same float (``repr``), a whole number as an integer, ``inf`` as ``inf``, a missing value empty;
* plan tables (:data:`PLAN_FLOAT_FORMAT`): 12 significant digits, enough for the SPEC's
  1e-6 tolerance and readable (docs/decisions.md, "Numbers");
* JSON (:func:`json_safe`): infinities as the strings ``"inf"`` / ``"-inf"``, NaN as null.
"""

from __future__ import annotations

import math

import numpy as np

PLAN_FLOAT_FORMAT = "%.12g"
LARGEST_EXACT_INTEGER = 1e15  # below this a whole float is written as an integer


def cell_text(value: object) -> str:
    """One instance CSV cell: '' for None / NaN, true / false, inf, integers, else the float's repr."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x.is_integer() and abs(x) < LARGEST_EXACT_INTEGER:
            return str(int(x))
        return repr(x)
    return str(value)


FEN_PER_YUAN = 100
_FEN_SLACK = 1e-6  # of a fen: a sum like 0.1 + 0.2 is 30 fen, not 31 or 29


def fen_down(yuan):
    """Yuan rounded down to the fen (0.01 yuan); inf stays inf. Works on numbers and numpy arrays."""
    return np.floor(np.asarray(yuan, dtype=float) * FEN_PER_YUAN + _FEN_SLACK) / FEN_PER_YUAN


def fen_up(yuan):
    """Yuan rounded up to the fen (0.01 yuan); inf stays inf."""
    return np.ceil(np.asarray(yuan, dtype=float) * FEN_PER_YUAN - _FEN_SLACK) / FEN_PER_YUAN


def json_safe(obj):
    """``obj`` with every non-finite float made JSON-safe ("inf", "-inf", None for NaN), recursively."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else None)
    return obj
