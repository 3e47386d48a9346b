"""allocator: decide how a public compute-subsidy fund is spent.

Stages (each usable on its own): :func:`allocator.reading.read_instance` ->
:func:`allocator.screening.screen` -> :func:`models.build.build_model` ->
:func:`allocator.solving.solve_model` -> :func:`allocator.plan.extract_plan` ->
:func:`allocator.writing.write_plan`; :func:`allocator.pipeline.solve_instance`
runs them in order.
"""

__version__ = "0.1.0"
