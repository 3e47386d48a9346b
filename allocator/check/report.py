"""The checker's tolerance (SPEC: 1e-6 absolute plus 1e-6 relative) and its report of violations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

ABS_TOL = 1e-6


REL_TOL = 1e-6


FIT_REL_SLACK = 1e-9  # window_too_short: a window fits when its capacity >= u * (1 - 1e-9)


Row = dict[str, Any]  # one parsed plan row; "_line" is its CSV line (header = line 1)


def slack(a: float, b: float) -> float:
    """The SPEC's tolerance for comparing a and b: 1e-6 absolute plus 1e-6 relative."""
    return ABS_TOL + REL_TOL * max(abs(a), abs(b))


def close(a: float, b: float) -> bool:
    """a == b within the SPEC tolerance (equal infinities are equal, NaN never is)."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= slack(a, b)


def at_most(a: float, b: float) -> bool:
    """a <= b within the SPEC tolerance (anything is at most +inf)."""
    if b == math.inf or a == -math.inf:
        return True
    if math.isinf(a) or math.isinf(b):
        return a <= b
    return a <= b + slack(a, b)


def fmt(x: float) -> str:
    """A number for a message: up to 10 significant digits."""
    return f"{x:.10g}"


@dataclass
class CheckReport:
    """What the checker found: ``violations`` (rules broken, exit 1) and ``warnings``."""

    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plan obeys every rule (warnings do not count)."""
        return not self.violations

    @property
    def exit_code(self) -> int:
        """0 for a valid plan, 1 for a plan that violates a rule (SPEC exit codes)."""
        return 0 if self.ok else 1

    def violate(self, message: str) -> None:
        self.violations.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
