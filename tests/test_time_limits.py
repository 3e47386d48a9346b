"""--time-limit holds for the whole command, auto never returns less than fast, the live line moves.

The time tests solve a generated day of 1,500 demands (benchmarks/synthetic.py) whose every method
would run far longer than the limit, and measure the wall time of the whole solve, reading to
writing: SPEC allows 5 % + 2 s over the limit. The machine is shared, so the limit is short and the
check is the SPEC's, not tighter.
"""

from __future__ import annotations

import io
import time

import pytest

from allocator.solve.options import SolveOptions
from allocator.solve.pipeline import solve_and_write
from allocator.solve.progress import Progress
from tests.conftest import check_plan_files

pytestmark = pytest.mark.slow

LIMIT = 8.0


@pytest.fixture(scope="module")
def mid_day(tmp_path_factory):
    from benchmarks.synthetic import make_instance

    folder = tmp_path_factory.mktemp("day") / "i"
    make_instance(folder, 1500, 30, 1, seed=5)
    return folder


@pytest.mark.parametrize("method", ["auto", "exact", "fast", "greedy"])
def test_time_limit_bounds_the_whole_solve(mid_day, tmp_path, method):
    t0 = time.perf_counter()
    result = solve_and_write(mid_day, tmp_path / "p", SolveOptions(method=method, time_limit=LIMIT, gap=1e-9, gap_given=True))
    wall = time.perf_counter() - t0
    assert wall <= LIMIT * 1.05 + 2.0, (method, wall, result.seconds)
    check_plan_files(mid_day, tmp_path / "p")


def test_auto_is_never_worse_than_fast_in_the_same_time(mid_day, tmp_path, monkeypatch):
    """Above AUTO_EXACT_COLUMNS auto runs the fast method and keeps half of the time for the exact MIP from
    its plan (the polish stage, over every pair): the fast method's value in the same time, or more (seen:
    33,460-33,468 against 33,468, and 32,855 when the decomposition had a quarter of the time)."""
    import allocator.solve.pipeline as pipeline

    monkeypatch.setattr(pipeline, "AUTO_EXACT_COLUMNS", 0)
    fast = solve_and_write(mid_day, tmp_path / "f", SolveOptions(method="fast", time_limit=LIMIT))
    auto = solve_and_write(mid_day, tmp_path / "a", SolveOptions(method="auto", time_limit=LIMIT))
    assert auto.method == "fast" and "then the exact MIP from its plan" in auto.notes[0]
    assert any(n.startswith("exact MIP from the plan over") for n in auto.notes)
    # the same in the same time, up to the fast method's own target (0.5 %): both stop on the clock of a
    # shared machine, so a tie can fall either way by a few units
    assert auto.plan.served_value >= (1 - 0.005) * fast.plan.served_value
    assert auto.best_bound <= fast.best_bound + 1e-6  # the exact MIP's bound where it is tighter
    check_plan_files(mid_day, tmp_path / "a")


@pytest.mark.unit
def test_progress_keeps_the_best_value_and_bound_and_redraws():
    out = io.StringIO()
    live = Progress(True, out)
    live.update("price", value=5.0, bound=20.0)
    live.update(value=3.0, bound=25.0)  # a worse plan, a weaker bound: the line keeps 5 and 20
    assert (live.stage, live.value, live.bound) == ("price", 5.0, 20.0)
    assert "gap   75.00%" in live.text()
    with live:
        time.sleep(2.3)
    lines = [x for x in out.getvalue().split("\r") if x]
    assert len(lines) >= 3 and lines[-1].startswith("price") and lines[-1].endswith("\n")  # 2 redraws and the last
    assert Progress(False, out).lines == 0
