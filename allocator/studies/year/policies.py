"""Pacing policies: how much of what is left of each fund a day may spend.

Every morning a policy sees :class:`Morning` (the day, the days of the year, each fund's start
and what is left, the requests waiting and the requests that arrived so far) and returns
each programme's release in fen: that day's ``budget_yuan``, never more than what is left
(the day loop clips it anyway). An unlimited fund (None) is released whole. Policies are
pure functions of the morning, so a resumed year takes the same decisions.

* ``all`` -- everything left, every day: first come, first served across the days.
* ``even`` -- what is left divided by the days left, today included (rounded down to the
  fen; the last day releases the rest).
* ``quarterly`` -- a quarter of the starting fund at the start of each quarter of the N days
  (quarter q starts on day floor(q N / 4)), what is unspent carried over: on a day of
  quarter k (1..4) the release is what is left minus the (4 - k) quarters not yet released.
* ``threshold`` (the recommended policy, the default) -- even's pace, spent only on requests
  worth at least a price theta per subsidy yuan, theta learned each morning from the arrivals
  seen so far; see :class:`Threshold` and docs/year.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_POLICY = "threshold"


@dataclass
class Morning:
    """What a policy knows on the morning of ``day``.

    ``waiting`` and ``history`` have columns day (of arrival), program_id, value (priority x
    card_hours) and cost_yuan: the subsidy that serving the request alone at its cheapest
    screened pool would take from the fund, min(R8 claim r(d, p) x bill, the enterprise's cap left) (NaN:
    it can never be served). ``waiting`` also has ``servable_today``: its enterprise's waiting
    requests together reach R8's minimum voucher and minimum spend. ``history`` holds every
    request that arrived on days 0 .. day except the backlog.
    """

    day: int
    days: int
    start_fen: dict[str, int | None]
    left_fen: dict[str, int | None]
    waiting: pd.DataFrame
    history: pd.DataFrame

    @property
    def days_left(self) -> int:
        """Days from today to the last day, both included."""
        return self.days - self.day


class Policy:
    name = ""

    def release(self, morning: Morning) -> dict[str, int | None]:
        return {g: (None if left is None else max(0, min(left, int(self.amount(morning, g, left)))))
                for g, left in morning.left_fen.items()}

    def amount(self, morning: Morning, program_id: str, left_fen: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


class All(Policy):
    """Everything left: first come, first served across the days."""

    name = "all"

    def amount(self, morning: Morning, program_id: str, left_fen: int) -> int:
        return left_fen


class Even(Policy):
    """What is left divided by the days left (today included), rounded down to the fen."""

    name = "even"

    def amount(self, morning: Morning, program_id: str, left_fen: int) -> int:
        return left_fen // morning.days_left


def quarter_starts(days: int) -> list[int]:
    """First day of each quarter of ``days`` days: floor(q * days / 4), q = 0..3."""
    return [q * days // 4 for q in range(4)]


def quarter_of(day: int, days: int) -> int:
    """0..3: the quarter of the year ``day`` falls in (the last quarter starting on or before it)."""
    return max(q for q, start in enumerate(quarter_starts(days)) if start <= day)


class Quarterly(Policy):
    """A quarter of the starting fund at the start of each quarter, what is unspent carried over."""

    name = "quarterly"

    def amount(self, morning: Morning, program_id: str, left_fen: int) -> int:
        start = morning.start_fen[program_id]
        started = sum(1 for s in quarter_starts(morning.days) if s <= morning.day)
        not_yet = start - start * started // 4  # the tranches of the quarters still to come
        return left_fen - not_yet


@dataclass
class Threshold(Policy):
    """Even pacing, spent only on requests worth at least theta per subsidy yuan; theta learned each morning.

    Every morning, for each programme with a finite fund (start F, left L, day t of N):

    1. **theta, the price of a subsidy yuan**, is learned from the requests that arrived so far
       (the backlog aside): projected to the whole year (each of the n days observed stands for
       N / n days), the densest first, at which density would they spend the starting fund F?
       (The dual price of the annual budget row of the year's fluid relaxation, learned from the
       arrivals so far -- the "dynamic learning" threshold of online linear programming.) It is
       computed on the whole history and on the last ``recent_days`` days alone (arrivals grow and
       come in rushes: the busier estimate gives the higher price), and the higher one is kept.
    2. **what is worth serving today**: the waiting requests of density (value / estimated
       subsidy) >= theta, counting only those whose enterprise can be served today at all (its
       waiting requests together reach the minimum voucher and spend of R8: a lone small request
       cannot, and money released for it would go to whatever else fits).
    3. **the release** is what those cost, but never more than even's share L / (days left): the
       pace is the reserve for late arrivals -- no day takes more than its share, so the rushes
       before quarter ends and the year end find money; what a day does not spend because its
       requests were not worth it stays in the fund and raises every later day's share.
    4. In the last ``end_days`` days (N / 36, at least 1) the price is dropped (the share is released
       whatever the density: money kept past the year is worth nothing), and on the last day
       everything left is released.

    The solver then serves the most value within the release, the densest requests first. Why
    it beats ``even``: even releases its share every day, and on days when the requests worth
    theta cost less than the share, the rest buys requests of lower value per yuan (measured:
    about a quarter of even's spending on the generated year); here that money waits for days
    with better requests. See docs/year.md for the measurements.
    """

    name = "threshold"
    recent_days: int = 28
    end_share: float = 1.0 / 36.0

    def amount(self, morning: Morning, program_id: str, left_fen: int) -> int:
        days_left = morning.days_left
        if days_left <= 1:
            return left_fen
        share = left_fen // days_left
        if days_left <= max(1, math.ceil(morning.days * self.end_share)):
            return share
        theta = self.theta(morning, program_id)
        waiting = _servable(morning.waiting, program_id)
        if "servable_today" in waiting.columns:
            waiting = waiting[waiting["servable_today"].to_numpy(dtype=bool)]
        worth = float(waiting.loc[_density(waiting) >= theta, "cost_yuan"].sum())
        return min(share, math.floor(worth * 100.0))

    def theta(self, morning: Morning, program_id: str) -> float:
        """The density at which the arrivals so far, projected to the year, would spend the starting fund."""
        start = morning.start_fen[program_id] / 100.0
        history = _servable(morning.history, program_id)
        observed = morning.day + 1
        theta = 0.0
        for since, span in ((0, observed), (morning.day + 1 - self.recent_days, min(observed, self.recent_days))):
            past = history[history["day"] >= since]
            theta = max(theta, self.price(past, morning.days / span, start))
        return theta

    @staticmethod
    def price(requests: pd.DataFrame, weight: float, budget_yuan: float) -> float:
        """The density at which ``requests`` (each counted ``weight`` times), densest first, spend
        ``budget_yuan``; 0 when all of them together spend less."""
        density = _density(requests)
        cost = requests["cost_yuan"].to_numpy(float) * weight
        if len(density) == 0:
            return 0.0
        order = np.argsort(-density, kind="stable")
        spent = np.cumsum(cost[order])
        over = np.flatnonzero(spent > budget_yuan)
        return 0.0 if len(over) == 0 else float(density[order][over[0]])


def _servable(requests: pd.DataFrame, program_id: str) -> pd.DataFrame:
    rows = requests[(requests["program_id"] == program_id) & requests["cost_yuan"].notna()]
    return rows


def _density(requests: pd.DataFrame) -> np.ndarray:
    cost = requests["cost_yuan"].to_numpy(float)
    value = requests["value"].to_numpy(float)
    return np.where(cost > 0, value / np.where(cost > 0, cost, 1.0), np.inf)


POLICIES: dict[str, type[Policy]] = {"all": All, "even": Even, "quarterly": Quarterly, "threshold": Threshold}


def make_policy(name: str) -> Policy:
    if name not in POLICIES:
        raise ValueError(f"unknown policy '{name}' (known: {', '.join(POLICIES)})")
    return POLICIES[name]()


def parse_policies(text: str | None) -> list[str]:
    """``"all,even"`` -> ["all", "even"]; None -> the default; unknown or repeated names are errors."""
    if text is None:
        return [DEFAULT_POLICY]
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in POLICIES]
    if not names or unknown:
        raise ValueError(f"unknown policy {', '.join(unknown) or '(none given)'} (known: {', '.join(POLICIES)})")
    if len(set(names)) != len(names):
        raise ValueError(f"policy named twice in '{text}'")
    return names
