"""Export the stage-1 model (maximize served value) as a standard MPS or LP file.

Variable and constraint names are Pyomo's symbolic labels (``assign[12]``,
``pool_capacity[3,0]``); a name map beside the file (``FILE.names.csv``) says
which demand, pool, period, center or enterprise each indexed name stands for.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from allocator.files import OutputRefused, atomic_file
from allocator.instance.reading import read_instance
from allocator.instance.screening import screen

FORMATS = ("mps", "lp")


def name_map(model, data, symbol_map) -> pd.DataFrame:
    """One row per assignment and usage column: its name in the file -> demand, pool, period."""
    pairs = data.pairs
    label = symbol_map.byObject
    rows = [
        pd.DataFrame({"name": [label[id(model.assign[k])] for k in range(len(pairs))], "kind": "assign",
                      "demand_id": pairs["demand_id"], "pool_id": pairs["pool_id"], "period": ""}),
    ]
    usage = data.usage_rows[data.usage_rows["var_j"] >= 0]
    k = usage["k"].to_numpy()
    rows.append(pd.DataFrame({"name": [label[id(model.usage[int(j)])] for j in usage["var_j"]], "kind": "usage",
                              "demand_id": pairs["demand_id"].to_numpy()[k], "pool_id": pairs["pool_id"].to_numpy()[k],
                              "period": usage["t"].to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def export_model(instance_dir: Path, out: Path, fmt: str) -> Path:
    """Write the model of ``instance_dir`` to ``out`` (format mps or lp) and its name map; return the map's path."""
    from models.build import build_model
    from models.data import prepare

    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
    if Path(out).is_dir():
        raise OutputRefused(f"export file '{out}' is a folder: give a file name (e.g. -o model.{fmt})")
    instance = read_instance(Path(instance_dir))
    data = prepare(instance, screen(instance))
    model = build_model(data)
    out = Path(out)
    with atomic_file(out) as tmp:
        _, symbol_map_id = model.write(str(tmp), format=fmt, io_options={"symbolic_solver_labels": True})
    names = out.with_name(out.name + ".names.csv")
    with atomic_file(names) as tmp:
        name_map(model, data, model.solutions.symbol_map[symbol_map_id]).to_csv(tmp, index=False, lineterminator="\n")
    return names
