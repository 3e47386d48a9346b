"""Public entry points for solving from Python."""

from allocator.pipeline import SolveResult, solve_and_write, solve_instance
from allocator.solving import SolveOptions

__all__ = ["SolveOptions", "SolveResult", "solve_instance", "solve_and_write"]
