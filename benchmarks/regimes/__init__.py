"""The regime suite of issue 13: seeded SPEC instances whose days bind different rules.

``make_regime_instance(folder, regime, n_demands, n_pools, periods, seed)`` writes an
instance folder, byte-identical per arguments; :mod:`benchmarks.regimes.knobs` lists the
regimes (:data:`REGIMES`) and the size ladder (:data:`SIZES`, plus ``tiny``), and
``python -m benchmarks.regimes run ...`` measures ``allocator solve`` and HiGHS alone on
each (regime, size). See benchmarks/README.md.
"""

from benchmarks.regimes.family import (
    Generated,
    generate,
    make_regime_instance,
    make_sized,
)
from benchmarks.regimes.knobs import REGIMES, SIZES, Size, size_named

__all__ = ["REGIMES", "SIZES", "Generated", "Size", "generate", "make_regime_instance", "make_sized", "size_named"]
