"""allocator: decide how a public compute-subsidy fund is spent.

Stages (each usable on its own): :func:`allocator.instance.reading.read_instance` ->
:func:`allocator.instance.screening.screen` -> :func:`models.build.build_model` ->
a method of :mod:`allocator.solve` -> :func:`allocator.plan.extract.extract_plan` ->
:func:`allocator.plan.writing.write_plan`; :func:`allocator.solve.pipeline.solve_instance`
runs them in order. docs/architecture.md shows where everything lives.
"""

import logging

__version__ = "0.1.0"

# A library logs; the command line decides where it goes (allocator.cli.options.apply_logging).
logging.getLogger("allocator").addHandler(logging.NullHandler())
