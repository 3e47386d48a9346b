"""Shared fixtures: solve a spec written by tests/builders.py and check the plan."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests import builders

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@dataclass
class Solved:
    result: object
    plan_dir: Path
    instance_dir: Path

    def table(self, stem: str) -> pd.DataFrame:
        return pd.read_csv(self.plan_dir / f"{stem}.csv", keep_default_na=False, na_values=[""])

    @property
    def served(self) -> dict[str, str]:
        a = self.table("assignments")
        return dict(zip(a["demand_id"], a["pool_id"]))

    @property
    def reasons(self) -> dict[str, str]:
        u = self.table("unserved")
        return dict(zip(u["demand_id"], u["reason"]))

    def row(self, stem: str, **match) -> dict:
        df = self.table(stem)
        for k, v in match.items():
            df = df[df[k] == v]
        assert len(df) == 1, f"expected one {stem} row for {match}, got {len(df)}"
        return df.iloc[0].to_dict()


def check_plan_files(instance_dir: Path, plan_dir: Path) -> None:
    """Every plan the solver writes passes the independent checker."""
    from allocator.check.run import check_plan

    report = check_plan(instance_dir, plan_dir)
    assert report.violations == [], "\n".join(report.violations)


@pytest.fixture
def solve_spec(tmp_path):
    counter = itertools.count()

    def run(spec: dict, **options) -> Solved:
        from allocator.solve.options import SolveOptions
        from allocator.solve.pipeline import solve_and_write

        n = next(counter)
        inst = builders.write(tmp_path / f"instance{n}", spec)
        plan = tmp_path / f"plan{n}"
        result = solve_and_write(inst, plan, SolveOptions(**options))
        check_plan_files(inst, plan)
        return Solved(result, plan, inst)

    return run


@pytest.fixture
def inst(tmp_path: Path) -> Path:
    """A fresh copy of instances/tiny (the validation tests break one thing in it)."""
    folder = tmp_path / "tiny"
    shutil.copytree(REPO / "instances" / "tiny", folder)
    return folder
