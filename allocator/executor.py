"""Run independent tasks in parallel: local worker processes, or an existing Dask cluster.

Sweeps, benchmarks and partitioned solves all go through :func:`run_tasks`, so
``--workers`` and ``--scheduler`` mean the same everywhere. Results stream back
as tasks finish (not in submission order), so a caller can write each one down
at once and an interruption loses only the tasks still running.

Why these libraries: ``concurrent.futures`` (standard library) for local
processes; ``dask.distributed`` for a cluster, because it is the well-kept way to
spread Python tasks over machines, and its local cluster is a real scheduler
that tests can start; ``tqdm`` for the progress bar (done / running / left).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import struct
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from allocator.problems import AllocatorError

SCHEDULER_TIMEOUT_S = 10.0  # connecting to a Dask scheduler, and waiting for its first message
_ADDRESS = re.compile(r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(?P<port>\d{1,5})$")
OTHER_SCHEMES = ("inproc", "ucx", "ws", "wss")  # Dask comms that are not a plain TCP socket
_MAX_HANDSHAKE_BYTES = 1 << 20  # a Dask handshake is a few hundred bytes


class SchedulerUnavailable(AllocatorError):
    """--scheduler is not an address, cannot be reached, or does not speak Dask (exit 2)."""


def parse_scheduler_address(address: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``tcp://HOST:PORT`` (or ``HOST:PORT``, ``tls://HOST:PORT``); Dask's other
    comms (``inproc://``, ``ucx://``, ``ws://``, ``wss://``) are taken as given, with port 0."""
    text = address.strip()
    scheme, _, rest = text.partition("://")
    if rest and scheme in OTHER_SCHEMES:
        return scheme, rest, 0
    match = _ADDRESS.match(text)
    port = int(match["port"]) if match else 0
    if not match or not 0 < port < 65536:
        raise SchedulerUnavailable(f"--scheduler '{address}' is not an address: give tcp://HOST:PORT "
                                   "(e.g. tcp://10.0.0.5:8786)")
    return match["scheme"] or "tcp", match["host"].strip("[]"), port


def probe_scheduler(address: str, timeout_s: float = SCHEDULER_TIMEOUT_S) -> str:
    """Check that a Dask scheduler answers at ``address`` before a client is opened; return the address.

    A Dask comm starts with each side sending its handshake: an 8-byte little-endian length,
    then that many bytes of msgpack naming ``pickle-protocol``. A peer that cannot be reached
    within ``timeout_s``, says nothing, or sends anything else is refused with one message,
    so a client never waits on it or reads a garbage length as a frame size.
    """
    scheme, host, port = parse_scheduler_address(address)
    if scheme in OTHER_SCHEMES:
        return address  # not a TCP socket to knock on: the client's own timeout applies
    where = f"the Dask scheduler at {address}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            if scheme == "tls":
                return address  # the TLS handshake comes first: reachable is all we can say
            sock.settimeout(timeout_s)
            head = _receive(sock, 8)
            (length,) = struct.unpack("<Q", head) if len(head) == 8 else (0,)
            if not 0 < length <= _MAX_HANDSHAKE_BYTES:
                raise SchedulerUnavailable(f"{where} does not speak Dask (its first message is not a Dask handshake)")
            if b"pickle-protocol" not in _receive(sock, length):
                raise SchedulerUnavailable(f"{where} does not speak Dask (no Dask handshake)")
    except SchedulerUnavailable:
        raise
    except TimeoutError:
        raise SchedulerUnavailable(f"{where} did not answer within {timeout_s:g} s (is it a Dask scheduler?)") from None
    except OSError as error:
        raise SchedulerUnavailable(f"cannot reach {where} within {timeout_s:g} s: {error.strerror or error}") from None
    return address


def _receive(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            break
        data += chunk
    return data


@dataclass(frozen=True)
class ExecutorOptions:
    workers: int | None = None  # local processes; default one per core
    scheduler: str | None = None  # address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786
    progress: bool = True
    description: str = "tasks"


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def slots(options: ExecutorOptions | None) -> int:
    """How many tasks run at once: the local workers, or the worker threads of the Dask cluster
    (1 if the cluster cannot be asked, so that a caller sharing a time limit stays within it)."""
    options = options or ExecutorOptions()
    if not options.scheduler:
        return max(1, options.workers or default_workers())
    probe_scheduler(options.scheduler)
    try:
        from distributed import Client

        with Client(options.scheduler, timeout=SCHEDULER_TIMEOUT_S) as client:
            return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - any failure to ask means: assume one at a time
        return 1


def run_tasks(fn: Callable[[Any], Any], items: Sequence[Any], options: ExecutorOptions | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (index into ``items``, fn(item)) as each task finishes.

    ``fn`` must be a module-level function (it is pickled to the workers). With one
    worker and no scheduler the tasks run in this process, in order.
    """
    options = options or ExecutorOptions()
    if not items:
        return
    bar = _progress(len(items), options)
    try:
        if options.scheduler:
            yield from _run_dask(fn, items, options, bar)
        elif (options.workers or default_workers()) == 1:
            for i, item in enumerate(items):
                _set(bar, running=1)
                result = fn(item)
                _advance(bar)
                yield i, result
        else:
            yield from _run_local(fn, items, options, bar)
    finally:
        if bar is not None:
            bar.close()


def _run_local(fn, items, options: ExecutorOptions, bar) -> Iterator[tuple[int, Any]]:
    workers = min(options.workers or default_workers(), len(items))
    context = multiprocessing.get_context("spawn")  # no forked solver state in the workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = {pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            while pending:
                _set(bar, running=min(workers, len(pending)))
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    _advance(bar)
                    yield i, future.result()
        finally:
            for future in pending:
                future.cancel()


def _run_dask(fn, items, options: ExecutorOptions, bar) -> Iterator[tuple[int, Any]]:
    from distributed import Client, as_completed

    probe_scheduler(options.scheduler)
    with Client(options.scheduler, timeout=SCHEDULER_TIMEOUT_S) as client:
        futures = client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        total_workers = max(1, len(client.scheduler_info().get("workers", {})))
        left = len(futures)
        for future in as_completed(futures):
            left -= 1
            _set(bar, running=min(total_workers, left + 1))
            _advance(bar)
            yield index[future.key], future.result()


def _progress(total: int, options: ExecutorOptions):
    if not options.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=options.description, unit="task", leave=True, dynamic_ncols=True)


def _set(bar, running: int) -> None:
    if bar is not None:
        bar.set_postfix(running=running, left=bar.total - bar.n - running, refresh=False)


def _advance(bar) -> None:
    if bar is not None:
        bar.update(1)
