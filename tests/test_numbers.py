"""Number formats written by the tool: exact instance cells, JSON infinities, money in whole fen."""

from __future__ import annotations

import math

import numpy as np
import pytest

from allocator.numbers import cell_text, fen_down, fen_up, json_safe

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value, text", [
    (None, ""), (float("nan"), ""), (True, "true"), (np.bool_(False), "false"), (3, "3"), (np.int64(7), "7"),
    (3.0, "3"), (-0.0, "0"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"), (math.inf, "inf"), (-math.inf, "-inf"),
    (1e20, "1e+20"), ("d1", "d1"),
])
def test_cell_text_is_exact_and_reads_back(value, text):
    assert cell_text(value) == text
    if isinstance(value, float) and math.isfinite(value):
        assert float(text) == value


def test_money_in_whole_fen_on_the_safe_side():
    # the float noise issue 14 saw in a ledger
    assert fen_down(78.26666666666279) == pytest.approx(78.26)
    assert fen_up(24796.34285714286) == pytest.approx(24796.35)
    # sums that are whole fen stay put, whatever the binary round-off
    assert fen_down(0.1 + 0.2) == pytest.approx(0.3) and fen_up(0.1 + 0.2) == pytest.approx(0.3)
    assert fen_down(1.005 - 1e-12) == pytest.approx(1.0) and fen_up(1.001) == pytest.approx(1.01)
    assert math.isinf(fen_down(math.inf)) and list(fen_up(np.array([0.001, 2.0]))) == [0.01, 2.0]


def test_json_safe_writes_infinities_as_text():
    assert json_safe({"a": [math.inf, -math.inf, math.nan, 1.5]}) == {"a": ["inf", "-inf", None, 1.5]}
