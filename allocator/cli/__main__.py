"""`python -m allocator.cli ...` runs the command line."""

from allocator.cli.main import main

if __name__ == "__main__":  # pragma: no cover
    main()
