"""The knobs of the regime family, the regimes as knob settings, and the size ladder.

A regime is a setting of knobs that decides which rules of the SPEC bind. Knobs come in
three scopes:

* global (:class:`Knobs`): how much work is asked for against the card-hours on offer
  (``demand_ratio``) and, where thresholds apply, the money scale. The thresholds stay the
  real yuan amounts; ``threshold_requests`` (k) is how many of its requests, largest first,
  the median enterprise of a threshold programme needs to reach its threshold (the bill at
  which rate x bill >= min voucher and bill >= min spend). Pool cards and card-hours are
  scaled together to get there, and each threshold programme's request sizes are weighted by
  its threshold, so that Chengdu's 10,000 yuan voucher and Xiamen's 50,000 yuan spend both
  take about k requests;
* per programme (:class:`ProgramKnobs`): the fund as a share of the claims, thresholds,
  binding caps, the shape of its enterprises, the share of must-serve demands;
* per region (:class:`RegionKnobs`): binding green shares and grid caps at the region's
  centers, tight windows and ``max_cards`` for the demands homed there, and a weight
  on those demands' sizes (local congestion).

Every regime but ``mixed`` sets the same knobs for every programme and every region;
``mixed`` draws them per programme and per region from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# The eight national hubs of "East Data, West Computing": (id, name, grid kg CO2/kWh, western green hub?).
HUBS: tuple[tuple[str, str, float, bool], ...] = (
    ("BTH", "Beijing-Tianjin-Hebei", 0.58, False),
    ("YRD", "Yangtze River Delta", 0.55, False),
    ("GBA", "Greater Bay Area", 0.45, False),
    ("CY", "Chengdu-Chongqing", 0.30, False),
    ("GZ", "Guizhou", 0.40, True),
    ("NM", "Inner Mongolia", 0.65, True),
    ("GS", "Gansu", 0.45, True),
    ("NX", "Ningxia", 0.55, True),
)
REGION_IDS = tuple(h[0] for h in HUBS)

SHAPES = ("normal", "small", "large", "threshold", "national")


@dataclass(frozen=True)
class ProgramTemplate:
    """A real compute-voucher programme (shared/data/china/subsidy_policies.csv)."""

    program_id: str
    rate: float
    enterprise_cap_yuan: float
    designated_share: float | None  # share of the centers designated; None: every center
    home: str | None  # the hub most of its enterprises sit in; None: the eastern hubs alike
    western_only: bool = False  # designates western centers only (Guizhou's voucher buys Guizhou compute)
    min_voucher_yuan: float = 0.0  # applied when the programme's thresholds knob is on
    min_spend_yuan: float = 0.0


# Chengdu 10 k min voucher, Xiamen 50 k min spend and the caps are the published figures;
# Guizhou's rate was not found (0.4 assumed); Hangzhou's 30 % on domestic compute is 0.3 here.
TEMPLATES: tuple[ProgramTemplate, ...] = (
    ProgramTemplate("chengdu", 0.5, 1_000_000.0, 0.6, "CY", min_voucher_yuan=10_000.0),
    ProgramTemplate("xiamen", 0.5, 1_000_000.0, 0.6, None, min_spend_yuan=50_000.0),
    ProgramTemplate("guizhou", 0.4, 1_000_000.0, 1.0, None, western_only=True, min_voucher_yuan=10_000.0),
    ProgramTemplate("hangzhou", 0.3, 8_000_000.0, None, "YRD", min_voucher_yuan=10_000.0),
    ProgramTemplate("shenzhen", 0.5, 10_000_000.0, 0.6, "GBA", min_voucher_yuan=10_000.0),
    ProgramTemplate("henan", 0.2, 1_000_000.0, None, None, min_voucher_yuan=10_000.0),
)
# The national day: one fund, 500 yuan min voucher, 3,000 yuan min spend.
NATIONAL = ProgramTemplate("national", 0.5, 1_000_000.0, None, None, min_voucher_yuan=500.0, min_spend_yuan=3_000.0)
NATIONAL_FUND_YUAN_PER_DEMAND = 11.7  # 117,000 yuan for 10,000 demands


@dataclass(frozen=True)
class ProgramKnobs:
    fund_share: tuple[float, float] = (1.0, 1.2)  # budget / claim if every demand were served (after caps)
    thresholds: bool = False  # the template's min voucher / min spend
    cap_binding: bool = False  # enterprise cap at a low quantile of the claims; a quarter near their cap
    shape: str = "normal"  # enterprise sizes, one of SHAPES
    must_serve_share: tuple[float, float] = (0.0, 0.0)  # share of the programme's demands


@dataclass(frozen=True)
class RegionKnobs:
    green: bool = False  # binding min green share and grid cap at the region's centers
    windows: bool = False  # tight windows and max_cards for demands homed here
    demand_weight: float = 1.0  # size multiplier of demands homed here


@dataclass(frozen=True)
class Knobs:
    regime: str
    demand_ratio: tuple[float, float] = (0.7, 0.9)  # requested card-hours / card-hours on offer (log-uniform)
    threshold_requests: tuple[int, int] | None = None  # k drawn in [lo, hi]; None: pools of about 48 cards, no money scaling
    programs: tuple[ProgramKnobs, ...] = ()
    regions: dict[str, RegionKnobs] = field(default_factory=dict)
    national: bool = False  # one NATIONAL programme with a fixed fund per demand

    def region(self, region_id: str) -> RegionKnobs:
        return self.regions.get(region_id, RegionKnobs())


REGIMES: tuple[str, ...] = (
    "baseline", "capacity", "fund", "threshold", "cap", "green", "windows",
    "small-enterprises", "large-enterprises", "must-serve", "mixed", "everything", "national",
)
THRESHOLD_REQUESTS = (2, 4)  # the median enterprise reaches its threshold with its 2-4 largest requests


def knobs_for(regime: str, n_programs: int, rng: np.random.Generator) -> Knobs:
    """The knobs of ``regime`` for ``n_programs`` programmes (``mixed`` draws them from ``rng``)."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; one of {', '.join(REGIMES)}")
    base = ProgramKnobs()
    every = {r: RegionKnobs() for r in REGION_IDS}

    def alike(program: ProgramKnobs = base, region: RegionKnobs = RegionKnobs(), **kw) -> Knobs:
        return Knobs(regime, programs=(program,) * n_programs, regions={r: region for r in REGION_IDS}, **kw)

    if regime == "baseline":
        return alike()
    if regime == "capacity":
        return alike(demand_ratio=(3.5, 25.0))
    if regime == "fund":
        return alike(replace(base, fund_share=(0.07, 0.28)))
    if regime == "threshold":
        return alike(replace(base, thresholds=True, shape="threshold"), threshold_requests=THRESHOLD_REQUESTS)
    if regime == "cap":  # caps matter only where money is short: the fund is 60-90 % of the capped claims
        return alike(replace(base, cap_binding=True, fund_share=(0.6, 0.9)))
    if regime == "green":
        return alike(region=RegionKnobs(green=True))
    if regime == "windows":
        return alike(region=RegionKnobs(windows=True))
    if regime == "small-enterprises":
        return alike(replace(base, shape="small"))
    if regime == "large-enterprises":
        return alike(replace(base, shape="large"))
    if regime == "must-serve":
        return alike(replace(base, must_serve_share=(0.3, 0.45)))
    if regime == "national":
        program = ProgramKnobs(thresholds=True, shape="national")
        return Knobs(regime, demand_ratio=(18.0, 22.0), threshold_requests=(3, 3),
                     programs=(program,), regions={r: RegionKnobs(green=True) for r in REGION_IDS}, national=True)
    if regime == "everything":
        shapes = ("threshold", "small", "large")
        programs = tuple(
            ProgramKnobs(fund_share=(0.07, 0.28), thresholds=True, cap_binding=True, shape=shapes[g % 3],
                         must_serve_share=(0.05, 0.1))
            for g in range(n_programs)
        )
        return Knobs(regime, demand_ratio=(3.0, 10.0), threshold_requests=THRESHOLD_REQUESTS, programs=programs,
                     regions={r: RegionKnobs(green=True, windows=True) for r in REGION_IDS})
    # mixed: each programme and each region draws its own pressures
    programs = []
    for _ in range(n_programs):
        on = rng.random(5) < 0.4
        shape = ("threshold" if on[1] else "normal") if not on[3] else str(rng.choice(["small", "large"]))
        programs.append(ProgramKnobs(
            fund_share=(0.07, 0.28) if on[0] else base.fund_share,
            thresholds=bool(on[1]),
            cap_binding=bool(on[2]),
            shape=shape,
            must_serve_share=(0.1, 0.3) if on[4] else (0.0, 0.0),
        ))
    regions = {}
    for r in REGION_IDS:
        on = rng.random(3) < 0.4
        regions[r] = RegionKnobs(green=bool(on[0]), windows=bool(on[1]), demand_weight=4.0 if on[2] else 1.0)
    every.update(regions)
    money = THRESHOLD_REQUESTS if any(p.thresholds for p in programs) else None
    return Knobs(regime, demand_ratio=(0.8, 2.5), threshold_requests=money, programs=tuple(programs), regions=every)


@dataclass(frozen=True)
class Size:
    """One size of the ladder; ``None`` fields are drawn from the seed."""

    label: str
    n_demands: int
    n_pools: int
    periods: int
    n_centers: int | None = None
    n_programs: int | None = None


SIZES: dict[str, Size] = {
    "1000x1": Size("1000x1", 1000, 40, 1),
    "10000x1": Size("10000x1", 10000, 100, 1),
    "1500x24": Size("1500x24", 1500, 29, 24, n_centers=18, n_programs=5),
    "5000x24": Size("5000x24", 5000, 60, 24, n_programs=5),
    "50000x300": Size("50000x300", 50000, 300, 1),
    "national": Size("national", 10000, 95, 1, n_centers=64, n_programs=1),
}


def tiny_size(seed: int) -> Size:
    """10-25 demands (at least 6 per pool), 2-6 pools, 1 or 3 periods, 1-2 programmes: small enough to solve exactly."""
    rng = np.random.default_rng([seed, 7])
    n_demands = int(rng.integers(12, 26))
    n_pools = int(rng.integers(2, min(6, n_demands // 6) + 1))
    periods = int(rng.choice([1, 3]))
    return Size("tiny", n_demands, n_pools, periods, n_centers=int(rng.integers(1, n_pools + 1)),
                n_programs=int(rng.integers(1, 3)))


def size_named(label: str, seed: int = 0) -> Size:
    if label == "tiny":
        return tiny_size(seed)
    if label in SIZES:
        return SIZES[label]
    try:
        d, p, t = (int(v) for v in label.lower().split("x"))
    except ValueError:
        raise ValueError(f"unknown size {label!r}: one of tiny, {', '.join(SIZES)} or DxPxT") from None
    return Size(label, d, p, t)
