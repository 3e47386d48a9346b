"""The exact MIP beside the fast path: HiGHS on the whole model, in a worker process on the other core.

The fast path keeps one core busy (its HiGHS runs are serial). On the second core HiGHS
branches on the whole exact model for the value stage's time, with no start; when the fast
path is done with its value stages it takes from the worker

- its **dual bound**, an upper bound on the served value of every plan, whenever HiGHS has
  one: where it is below the decomposition's bound, it is the certified bound. The
  decomposition sums an hourly day into one block and so ignores windows and hour-by-hour
  capacity; the MIP's root with its cuts does not (on a 1,500 x 24 h day of tight windows:
  24,670 against the block bound's 27,886);
- its **incumbent**, when it serves more value than the fast path's plan (the fast path's
  plan is kept on a tie).

Nothing else waits for the worker: it gets a wall-clock deadline before the value stages end,
its result is read with a short timeout, and it is terminated on every way out (an error, an
interruption), so nothing outlives the command. It runs only with two cores or more, on hourly
days (:func:`allocator.solve.fast.solve_fast` decides) with models between POLISH_MAX_COLUMNS
(below, the fast path's own exact MIP from its plan proves the bound) and BESIDE_MAX_COLUMNS model
columns (memory: a second copy of the model), when the user did not ask for one thread, and not
for the year's days and sweeps, which must give the same plans on every run
(``SolveOptions.other_processes``).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass

import numpy as np

from allocator.instance.screening import Screen
from allocator.instance.types import Instance

BESIDE_MAX_COLUMNS = 500_000  # model columns: above, no second copy of the model in a worker (and at 1 M HiGHS did not finish its root LP in 110 s)
BESIDE_MIN_SECONDS = 10.0  # value-stage seconds left: below, starting a worker (about 2 s) is not worth it
COLLECT_SECONDS = 2.0  # the longest the fast path waits for the worker's answer once its value stages are done


@dataclass
class BesideResult:
    """What the worker's MIP reached: its dual bound (inf: none), and its incumbent's columns (None: none)."""

    bound: float
    value: float | None
    assign: np.ndarray | None  # assignment column per pair of the model (0/1)
    usage: np.ndarray | None  # usage column per usage variable


def cores() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def wanted(columns: int, seconds: float, threads: int | None, enabled: bool) -> bool:
    """Whether to run the exact MIP beside a fast solve of ``columns`` model columns with ``seconds`` of value time."""
    return (enabled and cores() >= 2 and (threads is None or threads >= 2)
            and columns <= BESIDE_MAX_COLUMNS and seconds >= BESIDE_MIN_SECONDS)


class ExactBeside:
    """One worker process running the exact MIP of ``instance`` (screened as ``scr``) until ``wall_deadline``
    (``time.time()``), stopping earlier at ``gap``. Use as a context manager; :meth:`result` reads its answer."""

    def __init__(self, instance: Instance, scr: Screen, wall_deadline: float, gap: float):
        context = multiprocessing.get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve, args=(send, instance, scr, wall_deadline, gap), daemon=True)
        self._process.start()
        send.close()  # the worker holds the other end: a worker that dies closes the pipe

    def __enter__(self) -> ExactBeside:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def result(self, wait_seconds: float = COLLECT_SECONDS) -> BesideResult | None:
        """The worker's answer, waiting at most ``wait_seconds`` for it; None when it has none by then or failed."""
        try:
            if not self._receive.poll(max(0.0, wait_seconds)):
                return None
            answer = self._receive.recv()
        except (EOFError, OSError):  # the worker died without an answer
            return None
        return answer if isinstance(answer, BesideResult) else None

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receive.close()


def _serve(send, instance: Instance, scr: Screen, wall_deadline: float, gap: float) -> None:
    """The worker's main: Ctrl-C reaches the command, which terminates the worker; the answer (or the
    error's text) goes back through the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        send.send(_run(instance, scr, wall_deadline, gap))
    except Exception as error:  # noqa: BLE001 - the fast path stands alone; the error is not the user's
        send.send(repr(error))
    finally:
        send.close()


def _run(instance: Instance, scr: Screen, wall_deadline: float, gap: float) -> BesideResult:
    """In the worker: build the exact model on the matrix and run HiGHS on one thread until the deadline.
    No start: on the `everything` 5,000 x 24 h regime day HiGHS reached 253,474 from none and 248,441 from the
    best baseline (the fast path keeps the baseline anyway)."""
    from models.build import build_matrix
    from models.data import prepare

    mm = build_matrix(prepare(instance, scr))
    h = mm.to_highs()
    seconds = wall_deadline - time.time()
    if seconds <= 0.5:
        return BesideResult(math.inf, None, None, None)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", float(seconds))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.run()
    info = h.getInfo()
    bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else math.inf
    if info.primal_solution_status != 2:
        return BesideResult(bound, None, None, None)
    col = np.asarray(h.getSolution().col_value)
    return BesideResult(bound, float(info.objective_function_value), col[mm.columns("assign")], col[mm.columns("usage")])
