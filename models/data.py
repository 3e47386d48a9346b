"""Numbers the model needs, computed once with numpy/pandas from the screened pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.instance.derived import remaining_cap_yuan
from allocator.instance.screening import Screen
from allocator.instance.types import Instance


@dataclass
class ModelData:
    """Arrays indexed by pair k, usage row j, pool, center, enterprise and program.

    ``usage_rows`` has one row j per (pair k, period t) of the pair's window with
    the most card-hours the pair may use then (``cap_card_hours``: max_cards and
    the pool's cards). A pair whose window is one period has no usage variable:
    its usage there is ``usage_card_hours[k] * assign[k]`` (``var_j`` = -1).
    """

    instance: Instance
    screen: Screen
    pairs: pd.DataFrame
    usage_rows: pd.DataFrame
    n_usage_vars: int
    enterprises: pd.DataFrame  # enterprise_id, program_id, remaining_cap_yuan, max_bill_yuan, max_claim_yuan, ...
    programs: pd.DataFrame

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)


def prepare(instance: Instance, screen: Screen) -> ModelData:
    pairs = screen.pairs.copy()
    pairs["k"] = np.arange(len(pairs))
    window = (pairs["deadline"] - pairs["release"] + 1).to_numpy()

    # usage rows: one per (pair, period in window)
    k = np.repeat(pairs["k"].to_numpy(), window)
    offset = np.arange(len(k)) - np.repeat(np.cumsum(window) - window, window)
    t = np.repeat(pairs["release"].to_numpy(), window) + offset
    pool = pairs["pool_idx"].to_numpy()[k]
    cap = np.minimum(screen.capacity_card_hours[pool, t], pairs["max_card_hours_per_period"].to_numpy()[k])
    single = np.repeat(window == 1, window)
    var_j = np.full(len(k), -1)
    var_j[~single] = np.arange(int((~single).sum()))
    usage_rows = pd.DataFrame(
        {
            "k": k,
            "t": t,
            "pool_idx": pool,
            "center_idx": pairs["center_idx"].to_numpy()[k],
            "cap_card_hours": cap,
            "var_j": var_j,
            "usage_card_hours": pairs["usage_card_hours"].to_numpy()[k],
        }
    )
    # Rows that can carry no usage (capacity 0 in that period) are dropped for multi-period pairs.
    usage_rows = usage_rows[(usage_rows["var_j"] < 0) | (usage_rows["cap_card_hours"] > 0)].reset_index(drop=True)
    kept = usage_rows["var_j"] >= 0
    usage_rows.loc[kept, "var_j"] = np.arange(int(kept.sum()))

    ent = instance.enterprises.copy()
    ent["remaining_cap_yuan"] = remaining_cap_yuan(ent)
    max_bill = pairs.groupby("demand_id")["bill_yuan"].max()
    ent_of_demand = pairs.drop_duplicates("demand_id").set_index("demand_id")["enterprise_id"]
    max_bill_e = max_bill.groupby(ent_of_demand).sum()
    ent["max_bill_yuan"] = ent["enterprise_id"].map(max_bill_e).fillna(0.0)
    # A_e at its largest: every demand at its pool of the largest claim r(d, p) * bill (R8)
    max_claim_e = pairs.groupby("demand_id")["claim_yuan"].max().groupby(ent_of_demand).sum()
    ent["max_claim_yuan"] = ent["enterprise_id"].map(max_claim_e).fillna(0.0)
    ent["max_subsidy_yuan"] = np.minimum(ent["max_claim_yuan"], ent["remaining_cap_yuan"])
    programs = instance.programs.copy()
    ent = ent.merge(
        programs[["program_id", "min_voucher_yuan", "min_spend_yuan", "budget_yuan"]], on="program_id", how="left"
    )
    programs["max_subsidy_yuan"] = programs["program_id"].map(ent.groupby("program_id")["max_subsidy_yuan"].sum()).fillna(0.0)
    return ModelData(instance, screen, pairs, usage_rows, int(kept.sum()), ent, programs)
