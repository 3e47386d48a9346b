"""Linear terms of usage, shared by the families that sum usage (capacity, energy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression


def usage_terms(m: pyo.ConcreteModel, rows: pd.DataFrame, factor: np.ndarray | float = 1.0) -> LinearExpression:
    """sum over usage rows j of factor_j * usage(k, t) as one linear expression.

    usage(k, t) is the variable ``usage[j]`` for a pair with a multi-period window
    and ``usage_card_hours[k] * assign[k]`` for a one-period window.
    """
    factor = np.broadcast_to(np.asarray(factor, dtype=float), (len(rows),))
    var_j = rows["var_j"].to_numpy()
    k = rows["k"].to_numpy()
    single = var_j < 0
    coefs = np.where(single, factor * rows["usage_card_hours"].to_numpy(), factor)
    variables = [m.assign[int(kk)] if s else m.usage[int(j)] for kk, j, s in zip(k, var_j, single)]
    return LinearExpression(constant=0.0, linear_coefs=coefs.tolist(), linear_vars=variables)


def linear(coefs, variables) -> LinearExpression:
    return LinearExpression(constant=0.0, linear_coefs=[float(c) for c in coefs], linear_vars=list(variables))
