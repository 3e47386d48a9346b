"""Run one policy, or several side by side, and write what a reader looks at.

One policy: the output folder is that policy's year folder (ledger, days/, days.csv,
requests.csv, summary.json, the charts and year.html).

Several (``--policy all,even,quarterly,threshold``): one year folder per policy inside the
output folder (``OUT/all``, ``OUT/even``, ...), run in parallel on
:func:`allocator.executor.run_tasks` (local worker processes, or a Dask cluster with
``--scheduler``: its workers must see the output folder, a shared file system), together
with the hindsight bound as one more task; a progress bar per policy follows each ledger's
committed days. Then the bound goes into every summary, and OUT gets the charts, year.html and a
summary.json of the comparison (``"kind": "comparison"``), written first with
``"status": "running"`` so that the folder is marked as this tool's from the start
(:func:`allocator.files.start_incremental_folder`, as a sweep's).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from allocator.executor import default_workers
from allocator.files import start_incremental_folder, write_summary
from allocator.studies.year.charts import PolicyYear, write_charts, write_page
from allocator.studies.year.hindsight import hindsight_bound
from allocator.studies.year.ledger import LEDGER_FILE, TOOL, YearLedger, read_meta
from allocator.studies.year.outputs import write_outputs
from allocator.studies.year.run import YearOptions, load_year, run_year


def _known_hindsight(ledger_path: Path) -> dict | None:
    """The bound a run of this year computed already (a resumed year): from the ledger's meta."""
    meta = read_meta(ledger_path) if Path(ledger_path).is_file() else None
    return json.loads(meta["hindsight"]) if meta and "hindsight" in meta else None


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this worker


@contextlib.contextmanager
def hindsight_beside_the_days(year, instance_dir: Path, arrivals: Path, out: Path, resume: bool,
                              time_limit: float | None):
    """Yield a function giving the hindsight bound, computed in a worker process while the days run.

    The days' solves keep one core busy; the bound's LP (24 s on the 200-a-day year) runs on another, so the
    year's wall time does not include it. A resumed year reads the bound from its ledger (``run_year`` refuses
    a ledger of other inputs before it is used); with one core the
    bound is computed after the days, in this process. The worker is stopped with the days (an error, an
    interruption), so nothing outlives the command."""
    known = _known_hindsight(Path(out) / LEDGER_FILE) if resume else None
    if known is not None:
        yield lambda: known
        return
    if default_workers() < 2:
        yield lambda: hindsight_bound(year, time_limit).as_dict()
        return
    pool = multiprocessing.get_context("spawn").Pool(1, initializer=_ignore_sigint)
    try:
        pending = pool.apply_async(_task, (("hindsight", Path(instance_dir), Path(arrivals), year.requests.days, time_limit),))
        yield lambda: pending.get()[1]
    finally:
        pool.terminate()
        pool.join()


def finish_folder(folder: Path, hindsight: dict | None) -> dict:
    """days.csv, requests.csv, summary.json (with the bound) of one policy's year folder; the summary."""
    with YearLedger(Path(folder) / LEDGER_FILE) as ledger:
        if hindsight is not None:
            ledger.set_meta("hindsight", hindsight)
        return write_outputs(folder, ledger, hindsight)


def run_one(instance_dir: Path, arrivals: Path, out: Path, options: YearOptions, resume: bool,
            progress: bool, hindsight_time_limit: float | None = 600.0) -> dict:
    """One policy's year in ``out``: the days, the bound, the tables, the charts and the page."""
    year = load_year(instance_dir, arrivals, options.days)
    bar = _bar(options.policy, year.requests.days, 0) if progress else None

    def on_day(day: int, days: int) -> None:
        if bar is not None:
            bar.n = day + 1
            bar.refresh()

    with hindsight_beside_the_days(year, instance_dir, arrivals, out, resume, hindsight_time_limit) as bound:
        try:
            run_year(year, out, options, resume, on_day)
        finally:
            if bar is not None:
                bar.close()
        hindsight = bound()
    summary = finish_folder(out, hindsight)
    policy_year = PolicyYear.read(out, summary)
    write_page(out, [policy_year], write_charts(out, [policy_year]), hindsight)
    return summary


# --------------------------------------------------------------------------- several policies


def _task(item: tuple) -> tuple[str, dict]:
    """One task of a comparison (module level: it is pickled to the workers)."""
    kind = item[0]
    if kind == "hindsight":
        _, instance_dir, arrivals, days, time_limit = item
        year = load_year(instance_dir, arrivals, days)
        return "hindsight", hindsight_bound(year, time_limit).as_dict()
    _, instance_dir, arrivals, folder, options, resume, protected = item
    year = load_year(instance_dir, arrivals, options.days)
    run_year(year, folder, options, resume, protected=protected)
    return options.policy, {}


def run_many(instance_dir: Path, arrivals: Path, out: Path, options: YearOptions, policies: list[str], resume: bool,
             workers: int | None, scheduler: str | None, progress: bool, hindsight_time_limit: float | None = 600.0) -> dict:
    """Several policies side by side in OUT/POLICY, in parallel; the comparison's summary."""
    from allocator.executor import ExecutorOptions, run_tasks

    year = load_year(instance_dir, arrivals, options.days)  # exit 2 on bad input before anything is started
    protected = [Path(instance_dir), Path(arrivals)]
    out = start_incremental_folder(Path(out), protected, resume, "year comparison")
    continuing = resume and any((out / p / LEDGER_FILE).is_file() for p in policies)
    write_summary(out, {"tool": TOOL, "kind": "comparison", "status": "running", "policies": policies})
    known = None
    if continuing:
        known = next((k for k in (_known_hindsight(out / p / LEDGER_FILE) for p in policies) if k is not None), None)
    items = [] if known is not None else [("hindsight", Path(instance_dir), Path(arrivals), options.days, hindsight_time_limit)]
    items += [("policy", Path(instance_dir), Path(arrivals), out / p, replace(options, policy=p), resume, protected)
              for p in policies]
    watcher = _Watcher(out, policies, year.requests.days) if progress else None
    try:
        executor = ExecutorOptions(workers=workers, scheduler=scheduler, progress=False, description="policies")
        hindsight = known
        for _, (kind, result) in run_tasks(_task, items, executor):
            if kind == "hindsight":
                hindsight = result
    finally:
        if watcher is not None:
            watcher.stop()
    summaries = {p: finish_folder(out / p, hindsight) for p in policies}
    years = [PolicyYear.read(out / p, summaries[p]) for p in policies]
    images = write_charts(out, years)
    write_page(out, years, images, hindsight)
    comparison = {
        "tool": TOOL, "kind": "comparison", "status": "complete", "days": year.requests.days, "policies": policies,
        "hindsight_bound": hindsight["bound"] if hindsight else None, "hindsight": hindsight,
        "served_value": {p: s["served_value"] for p, s in summaries.items()},
        "share_of_hindsight_bound": {p: s["share_of_hindsight_bound"] for p, s in summaries.items()},
        "total_subsidy_yuan": {p: s["total_subsidy_yuan"] for p, s in summaries.items()},
        "fund_ran_out_day": {p: s["fund_ran_out_day"] for p, s in summaries.items()},
    }
    write_summary(out, comparison)
    return comparison


def _bar(policy: str, days: int, position: int):
    from tqdm import tqdm

    return tqdm(total=days, desc=f"{policy:>10}", unit="day", position=position, leave=True, dynamic_ncols=True,
                file=sys.stderr)


class _Watcher:
    """A progress bar per policy, fed by polling each policy's ledger for its last committed day."""

    def __init__(self, out: Path, policies: list[str], days: int, every: float = 0.5):
        self.bars = {p: _bar(p, days, i) for i, p in enumerate(policies)}
        self.out, self.every = Path(out), every
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.done.wait(self.every):
            self._update()

    def _update(self) -> None:
        for policy, bar in self.bars.items():
            path = self.out / policy / LEDGER_FILE
            if not path.is_file():
                continue
            try:
                with YearLedger(path) as ledger:
                    committed = ledger.last_day() + 1
            except Exception:  # noqa: BLE001, S112 - a ledger being created or locked: try again next time
                continue
            if committed != bar.n:
                bar.n = committed
                bar.refresh()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        self._update()
        for bar in self.bars.values():
            bar.close()
        time.sleep(0)
