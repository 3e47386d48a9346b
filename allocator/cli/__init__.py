"""The `allocator` command line (:func:`allocator.cli.main.main`); one module per command family."""

from allocator.cli.main import main

__all__ = ["main"]
