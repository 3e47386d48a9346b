"""``allocator bench``: every instance x solver x method, in parallel, into one reproducible table.

Each run is one task of :func:`allocator.executor.run_tasks` (local worker
processes or a Dask cluster, like ``sweep``): it solves the instance exactly as
``allocator solve`` does (:func:`allocator.solve.pipeline.solve_and_write`), writes the
plan under ``OUTDIR/plans/``, re-checks it with :func:`allocator.check.check_plan`
and returns one row. One more task per instance measures the stage-1 model
(rows, columns, nonzeros, integer columns) as HiGHS reads its exported MPS file.
Rows are written to ``bench.csv`` and ``bench.md`` as they arrive, so an
interrupted bench keeps what finished.

Every row carries what is needed to reproduce it: the instance hash, the
allocator, Pyomo, HiGHS, PySCIPOpt and solver versions, and the machine that ran
it (platform, CPU count, Python, host).

A known optimum (``known.csv`` beside the instances, or ``--known``; columns
``instance, objective, sense``) is compared with the run's objective: ``sense =
min`` compares the cost K (``cost_yuan``: the total bill plus the carbon price
term; for a GAP instance, the GAP cost), ``sense = max`` the served value V.
"""
