"""Generate a family's instance from a seed and knobs, and write it as an instance folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

from allocator.instance.writing import write_instance_folder
from allocator.studies.generate.apply import apply_knobs, instance_toml, ordered_tables
from allocator.studies.generate.bundled import rounded_tables
from allocator.studies.generate.city_day import CITY_DAY_PROGRAMS, city_day
from allocator.studies.generate.east_west import EAST_WEST_PROGRAMS, east_west
from allocator.studies.generate.facts import load_china_facts
from allocator.studies.generate.gap_like import gap_like
from allocator.studies.generate.knobs import (
    DEFAULT_DATA_DIR,
    FAMILIES,
    ChinaFamily,
    Generated,
    GenerateError,
    Knobs,
    check_knobs,
)

CHINA_FAMILIES: dict[str, ChinaFamily] = {
    "city": ChinaFamily(city_day, 300, 100, 1, False, 3000.0, CITY_DAY_PROGRAMS),
    "east-west": ChinaFamily(east_west, 2000, 60, 24, True, 2000.0, EAST_WEST_PROGRAMS),
}


def generate(family: str, seed: int, knobs: Knobs = Knobs(), data_dir: Path | None = None,
             name: str | None = None) -> Generated:
    """The instance of ``family`` for ``seed`` and ``knobs`` (in memory)."""
    if family not in FAMILIES:
        raise GenerateError(f"unknown family '{family}' (known: {', '.join(FAMILIES)})")
    check_knobs(family, knobs)
    name = name or f"{family}-{seed}"
    description = f"allocator generate {family} --seed {seed}" + (f" {knobs.describe()}" if knobs.given() else "")
    if family == "gap-like":
        return gap_like(seed, knobs, name, description)
    return china_family(family, seed, knobs, Path(data_dir or DEFAULT_DATA_DIR), name, description)


def write_generated(folder: Path, generated: Generated, provenance: dict | None = None) -> Path:
    """Write the instance folder whole (refusing a folder this tool did not write), with a summary.json."""
    tables = generated.tables if generated.exact_floats else rounded_tables(generated.tables)
    return write_instance_folder(folder, generated.toml_text, tables, {"command": "generate", **(provenance or {})})


def china_family(family: str, seed: int, knobs: Knobs, data_dir: Path, name: str, description: str) -> Generated:
    spec = CHINA_FAMILIES[family]
    demands = knobs.demands or spec.default_demands
    if demands < spec.min_demands:
        raise GenerateError(f"{family} needs --demands {spec.min_demands} or more (got {demands})")
    if not (data_dir / "regions.csv").is_file():
        raise GenerateError(f"no regions.csv in {data_dir} (the shared China facts; see --data)")
    facts = load_china_facts(data_dir)
    try:
        inst = spec.call(facts, seed, knobs, name)
    except ValueError as error:  # the generator could not shape this size
        raise GenerateError(f"{family} cannot be generated with these knobs: {error}") from error
    apply_knobs(inst, spec, seed, knobs)
    settings = tomllib.loads(inst.toml_text)
    toml_text = instance_toml(name, description, settings)
    return Generated(toml_text, ordered_tables(inst.tables))
