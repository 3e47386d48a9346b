"""The live line on the terminal while a solver runs: stage, elapsed seconds, incumbent, bound, gap.
"""

from __future__ import annotations

import math
import os
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
    """HiGHS MIP callback: stop when the incumbent is within ``gap`` of the certified bound."""

    def __init__(self, bound: float, gap: float):
        self.bound, self.gap = bound, gap

    def __call__(self, callback_type, message, out, data_in, user_data) -> None:
        incumbent = out.mip_primal_bound
        if math.isfinite(incumbent) and self.bound - incumbent <= self.gap * abs(self.bound):
            data_in.user_interrupt = True
