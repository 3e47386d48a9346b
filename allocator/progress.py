"""The fast path's live line: stage, elapsed seconds, best plan value, certified bound and gap.

Stages report what they know (:meth:`Progress.update`: the stage's name, a plan value found, a bound
proven); a background thread redraws the line every second, so it moves even while one stage (a
placement pass, a MIP) runs for many seconds. The value shown is the best plan found so far and the
bound the smallest proven, so the gap shown, (bound - value) / bound, only falls, and the value is
never above the one finally returned (every stage hands on the best plan so far).
"""

from __future__ import annotations

import math
import sys
import threading
import time

from allocator.solving import format_progress

REDRAW_SECONDS = 1.0


class Progress:
    """A live line on stderr while ``on``; otherwise it only keeps the figures (cheap, no thread)."""

    def __init__(self, on: bool, stream=None):
        self.on = on
        self.stream = stream if stream is not None else sys.stderr
        self.stage, self.value, self.bound = "start", -math.inf, math.inf
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lines = 0  # lines drawn (for tests)

    def __enter__(self) -> "Progress":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        if self.on and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="allocator-progress", daemon=True)
            self._thread.start()

    def update(self, stage: str | None = None, value: float | None = None, bound: float | None = None) -> None:
        """A new stage, a plan of this value found, a bound proven (any of them)."""
        if stage is not None:
            self.stage = stage
        if value is not None and math.isfinite(value):
            self.value = max(self.value, float(value))
        if bound is not None and not math.isnan(bound):
            self.bound = min(self.bound, float(bound))

    def text(self) -> str:
        value, bound = self.value, self.bound
        gap = (bound - value) / abs(bound) if math.isfinite(value) and math.isfinite(bound) and bound else math.inf
        return format_progress(self.stage, time.monotonic() - self.t0, value, bound, max(gap, 0.0) if math.isfinite(gap) else gap)

    def draw(self) -> None:
        if self.on:
            self.stream.write("\r" + self.text())
            self.stream.flush()
            self.lines += 1

    def _run(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self.draw()

    def close(self) -> None:
        """Stop redrawing; draw the last state and end the line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
