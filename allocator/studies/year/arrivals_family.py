"""``allocator generate year``: a city's annual funds and a year of seasonal arrivals.

Writes ``OUT/instance/`` (the state on day 0) and ``OUT/arrivals.csv`` (the requests of the
year), the input of ``allocator year OUT/instance --arrivals OUT/arrivals.csv``. Byte-identical
per seed (``numpy.random.default_rng(seed)`` drawn in a fixed order; tables written by
:func:`allocator.studies.generate.bundled.table_csv_text`).

The world is Chengdu's of :func:`allocator.city_day` (its centers, pools, prices,
green power, the four programmes and their designated centers), one 24-hour period a day.
On top of it:

* **seasons** -- the expected number of requests on day t of N is ``per_day`` times a profile
  normalised to mean 1: growing demand (x0.7 at the start of the year to x1.3 at its end),
  quiet first months (the first sixth of the year, the Spring Festival, x0.5), a rush in the
  last three weeks of each quarter (x1.8) and in the last five weeks of the year (x2.2),
  quieter weekends (x0.6); the day's count is Poisson;
* **enterprises that apply once and that return** -- 65 % of a day's requests come from the
  returning enterprises (each with a lognormal propensity to apply and a size factor, so a few
  large ones apply often with big jobs and meet their caps), 35 % from enterprises that apply
  once, on that day, with one to three requests; programmes' shares are city_day's
  (80 % chengdu, 6 % national, 9 % provincial, 5 % Chongqing pilot); 3 % of the enterprises
  are not eligible; every year-to-date amount is 0 (day 0 is the first day of the year);
* **requests** -- city_day's draws (stack, latency class, card-hours, cards, priority),
  card-hours times the enterprise's size factor; ``max_wait_days`` 1, 3, 7, 14 or 30
  (20/30/30/15/5 %); the backlog (demands.csv) is half a day of returning enterprises' requests;
* **the annual funds** -- ``budget_ratio`` (default 0.35) times the subsidy every servable
  request of the year would take at its cheapest pool (within the caps), rounded to 10,000
  yuan: the funds cannot serve all.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from allocator.files import atomic_folder, claim_output_folder, write_summary
from allocator.studies.generate.bundled import table_csv_text, write_instance
from allocator.studies.generate.city_day import CITY_DAY_PROGRAMS, CITY_DAY_STACK_WEIGHTS, _city_day_request, city_day
from allocator.studies.generate.enterprises import _power_of_two_at_least, _round_card_hours, _split_counts
from allocator.studies.generate.facts import load_china_facts
from allocator.studies.generate.tables import InstanceTables, _finish, toml_text

RETURNING_SHARE = 0.65
PROGRAM_SHARES = (0.80, 0.06, 0.09, 0.05)
INELIGIBLE_SHARE = 0.03
MAX_WAIT_DAYS = (1, 3, 7, 14, 30)
MAX_WAIT_WEIGHTS = (0.20, 0.30, 0.30, 0.15, 0.05)
REQUESTS_PER_RETURNING = 20.0  # on average over the year


@dataclass
class YearFamily:
    """The generated tables; the programmes' budget_yuan are set by :func:`write_year_family` (they are
    read back through the instance reader and the pre-screen, see :func:`annual_budgets`)."""

    instance: InstanceTables
    arrivals: pd.DataFrame
    budget_ratio: float
    returning: int
    once: int
    knobs: tuple[int, int, int]  # seed, days, per_day


def season_profile(days: int) -> np.ndarray:
    """Expected requests per day relative to the mean (mean 1)."""
    t = np.arange(days)
    f = t / max(1, days)
    profile = 0.7 + 0.6 * f
    profile = profile * np.where(f < 1 / 6, 0.5, 1.0)
    quarter_end = np.array([min(q * days // 4 for q in range(1, 5) if q * days // 4 > d) for d in t])
    rush = np.where(quarter_end - t <= 21 * days / 365, 1.8, 1.0)
    rush = np.where(days - t <= 35 * days / 365, 2.2, rush)
    profile = profile * rush * np.where(t % 7 >= 5, 0.6, 1.0)
    return profile / profile.mean()


def year_family(facts: dict, seed: int, days: int = 365, per_day: int = 200, budget_ratio: float = 0.35,
                name: str | None = None) -> YearFamily:
    rng = np.random.default_rng(seed)
    name = name or f"city-year-{seed}"
    base = city_day(facts, seed, n_demands=100, must_serve=0, name=name)
    counts = rng.poisson(per_day * season_profile(days))
    total = int(counts.sum()) + per_day // 2
    returning = _returning_enterprises(rng, max(8, round(total * RETURNING_SHARE / REQUESTS_PER_RETURNING)))
    rows, once = [], []
    backlog = [_request(rng, returning[int(k)])
               for k in rng.choice(len(returning), size=per_day // 2, p=np.array([e["p"] for e in returning]))]
    p = np.array([e["p"] for e in returning])
    for day, n in enumerate(counts):
        n_returning = int(rng.binomial(n, RETURNING_SHARE))
        for k in rng.choice(len(returning), size=n_returning, p=p):
            rows.append((day, _request(rng, returning[int(k)])))
        left = int(n) - n_returning
        while left > 0:
            ent = _once_enterprise(rng, len(once) + 1)
            once.append(ent)
            for _ in range(min(left, int(rng.integers(1, 4)))):
                rows.append((day, _request(rng, ent)))
                left -= 1
    enterprises = pd.DataFrame([e["row"] for e in returning + once])
    demands = pd.DataFrame(backlog)
    demands.insert(0, "demand_id", [f"B{k + 1:05d}" for k in range(len(demands))])
    arrivals = pd.DataFrame([r for _, r in rows])
    arrivals.insert(0, "demand_id", [f"R{k + 1:06d}" for k in range(len(arrivals))])
    arrivals["day"] = [d for d, _ in rows]
    arrivals["max_wait_days"] = [MAX_WAIT_DAYS[int(i)] for i in
                                 rng.choice(len(MAX_WAIT_DAYS), size=len(arrivals), p=np.array(MAX_WAIT_WEIGHTS))]
    tables = dict(base.tables)
    tables["capacity"] = tables["capacity"].iloc[0:0]  # city_day's one-day maintenance outage would last the year
    tables["enterprises"] = enterprises
    tables["demands"] = demands
    description = (f"allocator generate year --seed {seed} --days {days} --demands {per_day} --budget-ratio {budget_ratio:g}: "
                   "Chengdu's compute-voucher world, the annual funds on day 0; arrivals in arrivals.csv")
    toml = toml_text(name, description, 1, 24.0, 0.0)
    inst = _finish(InstanceTables(toml, tables))
    arrivals = arrivals[list(inst.tables["demands"].columns) + ["day", "max_wait_days"]]
    return YearFamily(inst, arrivals, budget_ratio, len(returning), len(once), (seed, days, per_day))


def _returning_enterprises(rng: np.random.Generator, count: int) -> list[dict]:
    out = []
    programs = _split(count)
    k = 0
    for spec, n in zip(CITY_DAY_PROGRAMS, programs):
        for _ in range(n):
            k += 1
            out.append({
                "row": _enterprise_row(rng, f"{spec.prefix}-R{k:05d}", spec.program_id),
                "weight": float(rng.lognormal(0.0, 1.0)),
                "size": float(np.clip(rng.lognormal(0.0, 0.6), 0.25, 6.0)),
            })
    weights = np.array([e["weight"] for e in out])
    for e, w in zip(out, weights / weights.sum()):
        e["p"] = float(w)
    return out


def _once_enterprise(rng: np.random.Generator, k: int) -> dict:
    spec = CITY_DAY_PROGRAMS[int(rng.choice(len(CITY_DAY_PROGRAMS), p=np.array(PROGRAM_SHARES)))]
    return {"row": _enterprise_row(rng, f"{spec.prefix}-N{k:06d}", spec.program_id), "size": 1.0}


def _enterprise_row(rng: np.random.Generator, enterprise_id: str, program_id: str) -> dict:
    return {"enterprise_id": enterprise_id, "program_id": program_id, "eligible": bool(rng.random() >= INELIGIBLE_SHARE),
            "rate": None, "kind": "", "cap_yuan": None, "subsidy_ytd_yuan": 0.0, "spend_ytd_yuan": 0.0}


def _split(count: int) -> list[int]:
    return [max(2, c) for c in _split_counts(count, PROGRAM_SHARES)]


def _request(rng: np.random.Generator, enterprise: dict) -> dict:
    row = enterprise["row"]
    ent = SimpleNamespace(enterprise_id=row["enterprise_id"], program_id=row["program_id"])
    request = _city_day_request(rng, ent, CITY_DAY_STACK_WEIGHTS[row["program_id"]], tiny=False)
    card_hours = _round_card_hours(min(40_000.0, request["card_hours"] * enterprise["size"]))
    request["card_hours"] = card_hours
    request["max_cards"] = float(_power_of_two_at_least(card_hours / 24.0 * float(rng.uniform(1.2, 4.0))))
    return request


def annual_budgets(folder: Path, ratio: float) -> pd.Series:
    """programme -> ratio x the subsidy every servable request of the year asks at its cheapest pool, within
    its enterprise's cap (enterprises whose requests together miss the thresholds left out), rounded to
    10,000 yuan; read back from the written folder with the instance reader and the pre-screen."""
    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen
    from allocator.plan.extract import bundle_blocked
    from allocator.studies.year.arrivals import all_requests_instance, read_requests

    instance = read_instance(folder / "instance")
    pairs = screen(all_requests_instance(instance, read_requests(instance, folder / "arrivals.csv"))).pairs
    blocked = bundle_blocked(pairs, instance.enterprises, instance.programs)
    cheapest = pairs.groupby("demand_id").agg(e=("enterprise_id", "first"), bill=("bill_yuan", "min"))
    bills = cheapest.groupby("e")["bill"].sum()
    bills = bills[~blocked.reindex(bills.index).fillna(False).astype(bool)]
    ent = instance.enterprises.set_index("enterprise_id").loc[bills.index]
    asked = np.minimum(ent["rate"] * bills, (ent["cap_yuan"] - ent["subsidy_ytd_yuan"]).clip(lower=0.0))
    requested = asked.groupby(ent["program_id"]).sum().reindex(instance.programs["program_id"]).fillna(0.0)
    return (ratio * requested).round(-4).clip(lower=10_000.0)


def _readme(name: str, generated: YearFamily) -> str:
    seed, days, per_day = generated.knobs
    inst, arrivals = generated.instance, generated.arrivals
    budgets = "\n".join(f"| {g} | {b:,.0f} |" for g, b in zip(inst.tables["programs"]["program_id"],
                                                             inst.tables["programs"]["budget_yuan"]))
    return (f"# {name}\n\nThe state on day 0 of a generated year (`allocator generate year --seed {seed} --days {days} "
            f"--demands {per_day} --budget-ratio {generated.budget_ratio:g}`); the year's requests are in `../arrivals.csv` "
            f"({len(arrivals):,} over {days} days, plus a backlog of {len(inst.tables['demands'])} here).\n\n"
            f"Enterprises: {generated.returning:,} that return over the year and {generated.once:,} that apply once. "
            f"See allocator/studies/year/arrivals_family.py for the seasons and every draw.\n\n"
            f"| programme | annual fund (yuan) |\n|---|---:|\n{budgets}\n\n"
            f"Run it: `allocator year instance --arrivals arrivals.csv -o year --policy all,even,quarterly,threshold`\n")


def write_year_family(out: Path, generated: YearFamily, provenance: dict | None = None) -> list[Path]:
    """OUT/instance/ (tables, README.md), OUT/arrivals.csv and OUT/summary.json, the annual funds set from
    the written requests; OUT is claimed and written whole like every output folder (allocator.files)."""
    target = claim_output_folder(Path(out), what="year folder")
    with atomic_folder(target) as tmp:
        write_instance(tmp / "instance", generated.instance)
        arrivals = tmp / "arrivals.csv"
        arrivals.write_text(table_csv_text(generated.arrivals), encoding="utf-8", newline="\n")
        generated.instance.tables["programs"]["budget_yuan"] = annual_budgets(tmp, generated.budget_ratio).to_numpy()
        written = write_instance(tmp / "instance", generated.instance)
        readme = tmp / "instance" / "README.md"
        readme.write_text(_readme(tomllib.loads(generated.instance.toml_text)["name"], generated), encoding="utf-8",
                          newline="\n")
        write_summary(tmp, {"kind": "year arrivals", "command": "generate year", **(provenance or {})})
        names = [path.relative_to(tmp) for path in written + [readme, arrivals]]
    return [target / name for name in names]


def generate_year(out: Path, seed: int, days: int, per_day: int, budget_ratio: float, data_dir: Path,
                  name: str | None = None) -> YearFamily:
    facts = load_china_facts(Path(data_dir))
    generated = year_family(facts, seed, days, per_day, budget_ratio, name)
    write_year_family(out, generated, {"family": "year", "seed": seed, "days": days, "demands": per_day,
                                       "budget_ratio": budget_ratio, "name": name})
    return generated
