"""``python -m benchmarks.regimes run|write``: see :mod:`benchmarks.regimes.run`."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.regimes.run import main

raise SystemExit(main())
