"""Live lines on the terminal while a solve runs: stage, elapsed seconds, best plan value, bound, gap.

:class:`LiveLine` follows one HiGHS MIP (a callback); :class:`Progress` is the fast path's line:
stages report what they know (:meth:`Progress.update`: the stage's name, a plan value found, a bound
proven) and a background thread redraws it every second, so it moves even while one stage runs for
many seconds. The value shown is the best plan found so far and the bound the smallest proven, so
the gap shown, (bound - value) / bound, only falls, and the value is never above the one finally
returned. :class:`StopAtGap` stops a HiGHS MIP once its incumbent is within the target gap.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time


class LiveLine:
    """HiGHS callback that rewrites one terminal line: stage, elapsed s, incumbent, bound, gap.

    Pyomo captures file descriptor 2 while HiGHS runs, so the line goes to a
    duplicate of the real stderr taken before the solve.
    """

    def __init__(self, stage: str, every_seconds: float = 1.0):
        self.stage = stage
        self.every = every_seconds
        self.last = -float("inf")
        self.fd = os.dup(2)

    def __call__(self, callback_type, message, out, data_in, user_data) -> None:
        self.latest = (out.running_time, out.mip_primal_bound, out.mip_dual_bound, out.mip_gap)
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._show()

    def _show(self) -> None:
        if getattr(self, "latest", None) is not None:
            os.write(self.fd, ("\r" + format_progress(self.stage, *self.latest)).encode())

    def close(self) -> None:
        self._show()  # the last state the solver reported
        os.write(self.fd, b"\n")
        os.close(self.fd)


def format_progress(stage: str, seconds: float, incumbent: float, bound: float, gap: float) -> str:
    def num(x: float) -> str:
        return "-" if not math.isfinite(x) else f"{x:,.6g}"

    gap_text = "-" if not math.isfinite(gap) else f"{gap:.2%}"
    return f"{stage:<5} {seconds:7.1f} s  incumbent {num(incumbent):>12}  bound {num(bound):>12}  gap {gap_text:>8}"


class StopAtGap:
    """HiGHS MIP callback: stop when the incumbent is within ``gap`` of the certified bound, or when it has
    not improved for ``stall_seconds``; the incumbent (a plan's served value) goes to the live line
    ``progress`` when given."""

    def __init__(self, bound: float, gap: float, progress=None, stall_seconds: float = math.inf):
        self.bound, self.gap, self.progress, self.stall_seconds = bound, gap, progress, stall_seconds
        self.best, self.since = -math.inf, time.monotonic()

    def __call__(self, callback_type, message, out, data_in, user_data) -> None:
        incumbent = out.mip_primal_bound
        if self.progress is not None:
            self.progress.update(value=incumbent)
        now = time.monotonic()
        if math.isfinite(incumbent) and incumbent > self.best:
            self.best, self.since = incumbent, now
        if math.isfinite(incumbent) and self.bound - incumbent <= self.gap * abs(self.bound):
            data_in.user_interrupt = True
        elif now - self.since >= self.stall_seconds:
            data_in.user_interrupt = True


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
