"""Which accelerators are domestic (Chinese) and which are other: the rule the reports and sweeps use.

Programmes such as Hangzhou's pay more on "domestic compute" (30 %) than on other hardware
(20 %); to show the domestic share of a plan, a pool's ``accelerator`` id is sorted into one
of two families by this rule (docs/decisions.md, "Domestic accelerators"):

* **domestic**: the id, split at every character that is not a letter or digit, has a part
  that starts with the name of a Chinese accelerator family (case ignored):

  - from shared/data/china/accelerators.csv: ``ascend`` and ``atlas`` (Huawei Ascend 910,
    910B, Atlas 300I Duo), ``sunway`` and ``sw26010`` (the Sunway TaihuLight node), and
    ``domestic`` (the "Domestic inference card" of the Qingyang 10k-card project);
  - Hygon's DCU (``dcu``, ``hygon``), which accelerators.csv does not list but the instances
    run (allocator/studies/generate/facts.py, DCU_KW_PER_CARD);
  - the other Chinese accelerator makers by name: ``kunlun`` (Baidu), ``cambricon`` and
    ``mlu`` (Cambricon), ``biren``, ``metax``, ``moorethreads`` / ``mthreads``, ``enflame``,
    ``iluvatar``, ``hexaflake``.

* **other**: everything else -- NVIDIA and other foreign accelerators (``NVIDIA-A800``,
  ``gpu``), and generic CPU nodes (``CPU-node``: a node is not an accelerator, and its
  maker is not named).

So ``Ascend-910B``, ``ascend910b``, ``Hygon-DCU``, ``dcu-z100`` are domestic; ``NVIDIA-H800``,
``a100``, ``CPU-node`` are other. An instance whose ids follow no such naming is all "other".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

DOMESTIC = "domestic"
OTHER = "other"

#: Name prefixes of Chinese accelerator families (see the module docstring for the sources).
DOMESTIC_PREFIXES: tuple[str, ...] = (
    "ascend", "atlas", "sunway", "sw26010", "domestic", "dcu", "hygon",
    "kunlun", "cambricon", "mlu", "biren", "metax", "moorethreads", "mthreads", "enflame", "iluvatar", "hexaflake",
)

_PARTS = re.compile(r"[^0-9a-z]+")


def is_domestic(accelerator: str) -> bool:
    """True when the accelerator id names a Chinese accelerator family (module docstring)."""
    parts = _PARTS.split(str(accelerator).casefold())
    return any(part.startswith(DOMESTIC_PREFIXES) for part in parts if part)


def accelerator_family(accelerator: str) -> str:
    """``"domestic"`` or ``"other"``."""
    return DOMESTIC if is_domestic(accelerator) else OTHER


def domestic_mask(accelerators: Iterable[str]) -> np.ndarray:
    """is_domestic for each id (a bool array)."""
    cache: dict[str, bool] = {}
    return np.array([cache.setdefault(a, is_domestic(a)) for a in accelerators], dtype=bool)
