"""The shared executor: local processes and a real local Dask cluster give the same results."""

from __future__ import annotations

import pytest

from allocator.executor import ExecutorOptions, run_tasks


def square(x: int) -> int:
    return x * x


@pytest.mark.unit
@pytest.mark.parametrize("workers", [1, 2])
def test_local_workers_return_every_result(workers):
    got = dict(run_tasks(square, list(range(6)), ExecutorOptions(workers=workers, progress=False)))
    assert got == {i: i * i for i in range(6)}


@pytest.mark.component
def test_dask_cluster_returns_every_result():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        got = dict(run_tasks(square, list(range(5)), ExecutorOptions(scheduler=cluster.scheduler_address, progress=False)))
    assert got == {i: i * i for i in range(5)}
