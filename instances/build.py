"""Regenerate the bundled instances byte for byte from the shared China facts.

Usage (from the repository root)::

    PYTHONPATH=. python instances/build.py [--data ../shared/data/china] [NAME ...]

Writes ``instances/<name>/instance.toml`` and its CSV tables for every bundled
instance (or only the NAMEs given); the hand-written README.md of each folder
is left alone. The generators and seeds are in :mod:`allocator.studies.generate`
(``BUNDLED``), so the same facts always give the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from allocator.studies.generate.bundled import BUNDLED, bundled_instance, write_instance
from allocator.studies.generate.facts import load_china_facts

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "china"
INSTANCES_DIR = REPO / "instances"


def build(data_dir: Path, names: list[str] | None = None, out_dir: Path = INSTANCES_DIR) -> list[Path]:
    """Generate and write the named bundled instances; return the folders written."""
    facts = load_china_facts(data_dir)
    folders = []
    for name in names or list(BUNDLED):
        folder = out_dir / name
        write_instance(folder, bundled_instance(name, facts))
        folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of the shared China CSVs (default {DEFAULT_DATA})")
    parser.add_argument("names", nargs="*",
                        help=f"instances to build (default all: {', '.join(BUNDLED)})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BUNDLED]
    if unknown:
        parser.error(f"unknown instance(s) {unknown}; known: {list(BUNDLED)}")
    if not (args.data / "regions.csv").is_file():
        parser.error(f"no regions.csv in {args.data}")
    for folder in build(args.data, args.names or None):
        print(f"wrote {folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
