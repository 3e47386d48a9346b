"""Pacing policies (allocator.studies.year.policies): each release derived by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.studies.year.ledger import floor_fen, split_fen
from allocator.studies.year.policies import (
    All,
    Even,
    Morning,
    Quarterly,
    Threshold,
    parse_policies,
    quarter_of,
    quarter_starts,
)

pytestmark = pytest.mark.unit

NO_REQUESTS = pd.DataFrame({"day": [], "program_id": [], "value": [], "cost_yuan": []})


def morning(day: int, days: int, start: int | None, left: int | None, waiting=NO_REQUESTS, history=NO_REQUESTS) -> Morning:
    return Morning(day, days, {"G": start}, {"G": left}, waiting, history)


def test_all_releases_everything_left():
    assert All().release(morning(3, 10, 1000, 700)) == {"G": 700}


def test_even_divides_what_is_left_by_the_days_left():
    """Day 3 of 10: 7 days left including today; 700 fen / 7 = 100; 701 -> 100 (down to the fen)."""
    assert Even().release(morning(3, 10, 1000, 700)) == {"G": 100}
    assert Even().release(morning(3, 10, 1000, 706)) == {"G": 100}
    assert Even().release(morning(9, 10, 1000, 55)) == {"G": 55}  # the last day: the rest


def test_quarter_starts_and_quarters():
    """N = 10: quarters start on days 0, 2, 5, 7 (floor(q * 10 / 4)); N = 365: 0, 91, 182, 273."""
    assert quarter_starts(10) == [0, 2, 5, 7]
    assert quarter_starts(365) == [0, 91, 182, 273]
    assert [quarter_of(d, 10) for d in range(10)] == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]


def test_quarterly_releases_quarters_and_carries_the_unspent():
    """Start 1001 fen over N = 10. Quarters released by day d: 1001 * k // 4 for k = 1..4: 250, 500, 750, 1001.
    Day 0, nothing spent: 1001 - (1001 - 250) = 250. Day 1, 100 spent (901 left): 901 - 751 = 150.
    Day 2 (quarter 2), 901 left: 901 - (1001 - 500) = 400 (the unspent 150 carried over).
    Day 6 (quarter 3), 300 left (701 spent): 300 - (1001 - 750) = 49. Day 7 (quarter 4): all 300.
    Day 5 with more spent than released so far cannot happen, but 200 left gives 200 - 251 -> 0."""
    q = Quarterly()
    assert q.release(morning(0, 10, 1001, 1001)) == {"G": 250}
    assert q.release(morning(1, 10, 1001, 901)) == {"G": 150}
    assert q.release(morning(2, 10, 1001, 901)) == {"G": 400}
    assert q.release(morning(6, 10, 1001, 300)) == {"G": 49}
    assert q.release(morning(7, 10, 1001, 300)) == {"G": 300}
    assert q.release(morning(5, 10, 1001, 200)) == {"G": 0}


def test_unlimited_funds_are_released_whole():
    for policy in (All(), Even(), Quarterly(), Threshold()):
        assert policy.release(morning(2, 10, None, None)) == {"G": None}


def requests(rows, servable=None):
    frame = pd.DataFrame(rows, columns=["day", "program_id", "value", "cost_yuan"])
    if servable is not None:
        frame["servable_today"] = servable
    return frame


# Waiting: a (value 30, cost 10: 3 per yuan), b (10, 10: 1 per yuan), c (90, 10: 9 per yuan, but its enterprise
# cannot reach the minimum voucher today), and one of programme H. Seen so far: h1 (30, 10: 3) and h2 (10, 10: 1)
# on day 0. Day 10 of 40: 11 days observed, each projected 40 / 11 times: h1 and h2 stand for 36.36 yuan each.
WAITING = requests([(10, "G", 30.0, 10.0), (10, "G", 10.0, 10.0), (10, "G", 90.0, 10.0), (10, "H", 99.0, 1.0)],
                   servable=[True, True, False, True])
SEEN = requests([(0, "G", 30.0, 10.0), (0, "G", 10.0, 10.0), (0, "H", 1.0, 99.0)])


def test_threshold_price():
    """Fund 30 yuan: h1's 36.36 alone passes it, theta = 3 (h1's density); fund 50: h1 then h2 (72.7) pass
    it at h2, theta = 1; fund 80: never passed, theta = 0."""
    policy = Threshold()
    assert policy.theta(morning(10, 40, 30_00, 1000_00, WAITING, SEEN), "G") == 3.0
    assert policy.theta(morning(10, 40, 50_00, 1000_00, WAITING, SEEN), "G") == 1.0
    assert policy.theta(morning(10, 40, 80_00, 1000_00, WAITING, SEEN), "G") == 0.0


def test_threshold_release():
    """Day 10 of 40, 30 days left. Fund left 1000 yuan: even's share is 100000 // 30 = 3333 fen.
    Start 30 (theta 3): worth serving is a alone (c's enterprise cannot be served today): 1000 fen.
    Start 50 (theta 1): a and b, 2000 fen. Left 300 yuan: the share, 30000 // 30 = 1000 fen, binds."""
    policy = Threshold()
    assert policy.release(morning(10, 40, 30_00, 1000_00, WAITING, SEEN)) == {"G": 1000}
    assert policy.release(morning(10, 40, 50_00, 1000_00, WAITING, SEEN)) == {"G": 2000}
    assert policy.release(morning(10, 40, 50_00, 300_00, WAITING, SEEN)) == {"G": 1000}


def test_threshold_recent_days_raise_the_price():
    """Day 29 of 40: h2 (day 26, 2 per yuan) and h1 (day 25, 1 per yuan). Whole history (30 days, x 40/30):
    13.33 each, fund 13.5 passed at h1: theta 1. Last 28 days (x 40/28): 14.29 each, passed at h2: theta 2."""
    seen = requests([(25, "G", 10.0, 10.0), (26, "G", 20.0, 10.0)])
    assert Threshold().theta(morning(29, 40, 13_50, 13_50, NO_REQUESTS, seen), "G") == 2.0
    assert Threshold(recent_days=100).theta(morning(29, 40, 13_50, 13_50, NO_REQUESTS, seen), "G") == 1.0


def test_threshold_end_of_the_year():
    """The last ceil(40 / 36) = 2 days release even's share whatever the density; the last day everything."""
    assert Threshold().release(morning(38, 40, 30_00, 7_01, WAITING, SEEN)) == {"G": 350}
    assert Threshold().release(morning(39, 40, 30_00, 7_01, WAITING, SEEN)) == {"G": 701}


def test_threshold_ignores_requests_that_can_never_be_served():
    """A request without a screened pool has no cost (NaN): it neither gets money nor counts in theta."""
    waiting = requests([(0, "G", 30.0, 10.0), (0, "G", 1000.0, float("nan"))], servable=[True, True])
    assert Threshold().release(morning(0, 40, 100_00, 10000_00, waiting, NO_REQUESTS)) == {"G": 1000}  # a's 10 yuan


def test_policy_names():
    assert parse_policies(None) == ["threshold"]
    assert parse_policies("all, even") == ["all", "even"]
    for bad in ("nope", "all,all", ""):
        with pytest.raises(ValueError):
            parse_policies(bad)


def test_money_in_fen():
    assert floor_fen(1234.56) == 123456  # 1234.56 is 1234.5599999... in binary
    assert floor_fen(0.019999) == 1
    assert list(split_fen(100, [1, 1, 1])) == [34, 33, 33]
    assert list(split_fen(7, [0.5, 0.25, 0.25])) == [3, 2, 2]  # 3.5, 1.75, 1.75: floors 3, 1, 1; the two .75 get the 2 fen left
    assert split_fen(0, [1, 2]).sum() == 0
