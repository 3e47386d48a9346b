"""Sweeps for budget officers: what a fund of each size buys, optimized and first-come-first-served.

``allocator sweep`` solves modified copies of one instance, one per point of the
cartesian product of the parameter values given:

* ``budget``: the fund. Yuan values set ``budget_yuan`` of one programme (``--program``,
  or the only programme); factors written ``x0.5`` multiply ``budget_yuan`` of every
  programme in scope (``--program``, or all of them).
* ``rate``: the programme's standard subsidy rate (programmes in scope). Enterprises
  that follow the standard (empty ``rate`` cell, or the programme's old rate) follow
  the new one; enterprises with a special rate of their own keep it.
* ``cap``: the programme's ``enterprise_cap_yuan``, with the same rule for enterprises;
  a factor ``x2`` multiplies the programme's cap and every special cap too.
* ``green_share``: ``min_green_share`` of every center.

The instance's own fund (its budget, or ``x1``) is always one of the budget points, so
the summary can compare the methods at it. Every point is solved with the exact
method and with ``fcfs`` in one task; tasks run through :func:`allocator.executor.run_tasks`
(local worker processes, or a Dask cluster). A task carries the instance's files as
bytes, so a cluster's workers need no shared file system. Each finished point is
appended to ``sweep.csv`` and flushed at once; ``--resume`` skips the points already
there. Every solve uses one solver thread and the rows are sorted by parameters, so
the table is the same whatever the number of workers or the engine, apart from the
``seconds_*`` columns, and apart from points whose solve is cut by the wall clock: a
``--time-limit`` that is hit, or the time box of the cost stage in
:func:`allocator.solve.lexicographic.solve_model` (those points end with status ``feasible``;
their served value is still reproducible when the value stage ended by its gap).

After the points: ``sweep.png``, ``sweep.html`` (self-contained: the PNG and every point) and
``summary.md``. The fund the optimizer needs to match what FCFS buys at the
instance's own fund comes from one min-budget MIP per line (:mod:`allocator.studies.min_budget`)
when the fund is one programme's, and otherwise from interpolation on the sweep;
the summary says which.
"""
