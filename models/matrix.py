"""The same model as :func:`models.build.build_model`, assembled as a sparse matrix with numpy.

Pyomo builds one Python object per variable, term and row; at national scale
(10,000 demands x 100 pools: 260 k columns, 1.4 M nonzeros) that costs seconds
before the solver starts, and handing the model to HiGHS costs as many again.
Here each constraint family appends whole blocks of rows at once (coordinate
triplets), and :meth:`MatrixModel.to_highs` passes the matrix to ``highspy`` in
one call. The family functions live beside their Pyomo twins in ``models/``
(``*_rows``) and read the same :class:`~models.data.ModelData`; a test solves
both builds of every test instance and asserts equal optima.

Columns are laid out in blocks: ``assign`` (one per pair k, binary), ``usage``
(one per usage variable j), then whatever the families add (green, subsidy,
capped, served). Objective vectors: ``value`` (maximize V) and ``cost``
(minimize K).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INF = np.inf


@dataclass
class MatrixModel:
    """Columns, rows (COO triplets) and the two objectives of the allocation MIP."""

    col_lower: list[np.ndarray] = field(default_factory=list)
    col_upper: list[np.ndarray] = field(default_factory=list)
    col_integer: list[np.ndarray] = field(default_factory=list)
    col_blocks: dict[str, slice] = field(default_factory=dict)
    row_lower: list[np.ndarray] = field(default_factory=list)
    row_upper: list[np.ndarray] = field(default_factory=list)
    row_blocks: dict[str, slice] = field(default_factory=dict)
    row_labels: dict[str, list] = field(default_factory=dict)
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    n_cols: int = 0
    n_rows: int = 0
    objective_terms: dict[str, list] = field(default_factory=lambda: {"value": [], "cost": []})

    # -- objectives ------------------------------------------------------------------------------
    def add_objective(self, name: str, col, coef) -> None:
        """Add coef * column to objective ``value`` (served value, maximized) or ``cost`` (yuan, minimized)."""
        self.objective_terms[name].append((np.asarray(col, dtype=np.int64), np.asarray(coef, dtype=float)))

    def objective(self, name: str) -> np.ndarray:
        out = np.zeros(self.n_cols)
        for col, coef in self.objective_terms[name]:
            np.add.at(out, col, coef)
        return out

    # -- columns ---------------------------------------------------------------------------------
    def add_columns(self, name: str, lower, upper, integer: bool = False) -> np.ndarray:
        """Append a block of columns; returns their indices."""
        lower = np.asarray(lower, dtype=float)
        upper = np.broadcast_to(np.asarray(upper, dtype=float), lower.shape).copy()
        n = len(lower)
        self.col_lower.append(lower)
        self.col_upper.append(upper)
        self.col_integer.append(np.full(n, integer, dtype=bool))
        self.col_blocks[name] = slice(self.n_cols, self.n_cols + n)
        self.n_cols += n
        return np.arange(self.n_cols - n, self.n_cols)

    def columns(self, name: str) -> np.ndarray:
        block = self.col_blocks.get(name, slice(0, 0))
        return np.arange(block.start, block.stop)

    # -- rows ------------------------------------------------------------------------------------
    def add_rows(self, name: str, row, col, coef, lower, upper, labels: list) -> None:
        """Append len(labels) rows: triplets (row within the block, column, coefficient) and bounds."""
        n = len(labels)
        if n == 0:
            return
        row = np.asarray(row, dtype=np.int64)
        self.entries.append((row + self.n_rows, np.asarray(col, dtype=np.int64), np.asarray(coef, dtype=float)))
        self.row_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self.row_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self.row_blocks[name] = slice(self.n_rows, self.n_rows + n)
        self.row_labels[name] = list(labels)
        self.n_rows += n

    # -- assembled arrays --------------------------------------------------------------------------
    def bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)  # noqa: E731
        return cat(self.col_lower, float), cat(self.col_upper, float), cat(self.col_integer, bool)

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row starts, column indices and values, rows in order, duplicate entries summed."""
        if not self.entries:
            return np.zeros(self.n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0)
        row = np.concatenate([e[0] for e in self.entries])
        col = np.concatenate([e[1] for e in self.entries])
        val = np.concatenate([e[2] for e in self.entries])
        key = row * max(1, self.n_cols) + col
        order = np.argsort(key, kind="stable")
        key, val = key[order], val[order]
        unique, first = np.unique(key, return_index=True)
        summed = np.add.reduceat(val, first) if len(val) else val
        keep = summed != 0.0
        unique, summed = unique[keep], summed[keep]
        rows, cols = unique // max(1, self.n_cols), unique % max(1, self.n_cols)
        starts = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.add.at(starts, rows + 1, 1)
        return np.cumsum(starts), cols.astype(np.int32), summed

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.row_lower:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(self.row_lower), np.concatenate(self.row_upper)

    @property
    def nnz(self) -> int:
        return int(sum(len(e[2]) for e in self.entries))

    def to_highs(self, relax: bool = False):
        """A ``highspy.Highs`` holding this model, objective: maximize the served value."""
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        lower, upper, integer = self.bounds()
        value = self.objective("value")
        h.addVars(self.n_cols, lower, upper)
        h.changeColsCost(self.n_cols, np.arange(self.n_cols, dtype=np.int32), value.astype(float))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        if integer.any() and not relax:
            idx = np.flatnonzero(integer).astype(np.int32)
            h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kInteger))
        starts, cols, vals = self.csr()
        row_lower, row_upper = self.row_bounds()
        if self.n_rows:
            h.addRows(self.n_rows, row_lower, row_upper, len(vals), starts[:-1].astype(np.int32), cols, vals)
        return h

    def row_name(self, index: int) -> str:
        for name, block in self.row_blocks.items():
            if block.start <= index < block.stop:
                label = self.row_labels[name][index - block.start]
                return f"{name}[{label}]"
        raise IndexError(index)


def usage_entries(mm: MatrixModel, rows, factor=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Column and coefficient of usage(k, t) for usage rows ``rows`` (a DataFrame slice of data.usage_rows).

    usage(k, t) is column ``usage[j]`` for a multi-period pair and ``u_k * assign[k]`` for a
    one-period pair (the same convention as :func:`models.terms.usage_terms`).
    """
    factor = np.broadcast_to(np.asarray(factor, dtype=float), (len(rows),))
    var_j = rows["var_j"].to_numpy()
    k = rows["k"].to_numpy()
    single = var_j < 0
    usage = mm.columns("usage")
    assign = mm.columns("assign")
    col = np.where(single, assign[k], usage[np.maximum(var_j, 0)] if len(usage) else 0)
    coef = np.where(single, factor * rows["usage_card_hours"].to_numpy(), factor)
    return col, coef
