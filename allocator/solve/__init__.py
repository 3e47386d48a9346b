"""Solving: options and results, solver backends behind one lexicographic driver, the methods
(exact, fast, partition, fcfs, greedy), the certified bound, and the pipeline that runs the stages.

``solve_instance(folder, SolveOptions(...)) -> SolveResult`` and ``solve_and_write(folder, out, options)``
(:mod:`allocator.solve.pipeline`) are the entry points; they are importable from here too.
"""

from __future__ import annotations

_EXPORTS = {
    "SolveOptions": "allocator.solve.options",
    "SolveResult": "allocator.solve.result",
    "solve_instance": "allocator.solve.pipeline",
    "solve_and_write": "allocator.solve.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import the entry points on first use, so that importing a submodule stays light."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'allocator.solve' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
