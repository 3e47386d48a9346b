"""Read instance.toml: schema, name, horizon, latency classes, network and objective settings.

Every problem is collected with its line and dotted key; a best-effort Settings is returned.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from allocator.instance.schema import (
    DEFAULT_LATENCY_CLASSES_MS,
    MAX_CARBON_PRICE_YUAN_PER_KG,
    MAX_PERIODS,
    MAX_RTT_MS,
    SCHEMA_VERSION,
)
from allocator.problems import Problem


@dataclass
class Settings:
    name: str = ""
    description: str = ""
    periods: int = 1
    period_hours: float = 24.0
    latency_classes_ms: dict[str, float] = field(default_factory=dict)
    intra_region_rtt_ms: float = 1.0
    carbon_price_yuan_per_kg: float = 0.0
    invalid: set[str] = field(default_factory=set)  # "instance.toml" or dotted keys whose value was replaced by a default


def _number(value: object) -> float | None:
    """A TOML value as a float ('inf' strings accepted), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    return None


SECTION_KEYS: dict[str, set[str] | None] = {  # None: any key (latency classes are named by the user)
    "horizon": {"periods", "period_hours"},
    "latency_classes": None,
    "network": {"intra_region_rtt_ms"},
    "objective": {"carbon_price_yuan_per_kg"},
}


TOP_KEYS = {"schema", "name", "description", *SECTION_KEYS}


_TOML_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _toml_key_lines(text: str) -> dict[str, int]:
    """Line (1-based) of each dotted key as written in simple TOML ('horizon.periods': 5)."""
    lines: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            section = ".".join(part.strip().strip("\"'") for part in header.group(1).split("."))
            lines.setdefault(section, number)
            continue
        key = _TOML_KEY.match(line)
        if key:
            name = ".".join(part.strip().strip("\"'") for part in key.group(1).split("."))
            lines.setdefault(f"{section}.{name}" if section else name, number)
    return lines


def read_settings(path: Path, problems: list[Problem]) -> Settings:
    """Parse instance.toml; problems are appended, a best-effort Settings returned."""
    file = "instance.toml"
    settings = Settings()
    if not path.is_file():
        problems.append(Problem(file, "missing: an instance folder needs instance.toml (schema = 1, name = ...)"))
        settings.invalid.add(file)
        return settings
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, f"is not UTF-8 text: {exc.reason} at byte {exc.start}"))
        settings.invalid.add(file)
        return settings
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(where.group(1)) if where else None)
        problems.append(Problem(file, f"not valid TOML: {exc}", line=line))
        settings.invalid.add(file)
        return settings
    key_lines = _toml_key_lines(text)

    def problem(key: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(file, message, line=key_lines.get(key), column=key, severity=severity))
        if severity == "error":
            settings.invalid.add(key)

    for key in doc:
        if key not in TOP_KEYS:
            problem(key, f"unknown key '{key}' is ignored (known: {', '.join(sorted(TOP_KEYS))})", "warning")
    for section, allowed in SECTION_KEYS.items():
        value = doc.get(section)
        if allowed is None or not isinstance(value, dict):
            continue
        for key in value:
            if key not in allowed:
                problem(f"{section}.{key}", f"unknown key '{key}' in [{section}] is ignored (known: {', '.join(sorted(allowed))})",
                        "warning")

    schema = doc.get("schema")
    if schema is None:
        problem("schema", f"missing required key 'schema' (expected schema = {SCHEMA_VERSION})")
    elif isinstance(schema, bool) or not isinstance(schema, int) or schema != SCHEMA_VERSION:
        problem("schema", f"unknown schema version {schema!r}; this tool reads schema = {SCHEMA_VERSION}")
    name = doc.get("name")
    if name is None:
        problem("name", "missing required key 'name' (a non-empty string)")
    elif not isinstance(name, str) or not name.strip():
        problem("name", f"'name' must be a non-empty string, got {name!r}")
    else:
        settings.name = name
    description = doc.get("description", "")
    settings.description = description if isinstance(description, str) else str(description)

    horizon = _section(doc, "horizon", file, problems, key_lines, settings.invalid)
    periods = horizon.get("periods", 1)
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= MAX_PERIODS:
        problem("horizon.periods", f"horizon.periods must be a whole number from 1 to {MAX_PERIODS} "
                                   f"(a year of hours), got {periods!r}")
        periods = 1
    settings.periods = periods
    hours = _number(horizon.get("period_hours", 24.0 / periods))
    if hours is None or not (0 < hours <= MAX_PERIODS):
        problem("horizon.period_hours", f"horizon.period_hours must be a number > 0 and <= {MAX_PERIODS}, "
                                        f"got {horizon.get('period_hours')!r}")
        hours = 24.0 / periods
    settings.period_hours = hours

    classes = dict(DEFAULT_LATENCY_CLASSES_MS)
    for cls, value in _section(doc, "latency_classes", file, problems, key_lines, settings.invalid).items():
        limit = _number(value)
        if limit is None or not (0 <= limit <= MAX_RTT_MS or limit == math.inf):
            problem(f"latency_classes.{cls}", f"latency class '{cls}' needs a limit from 0 to {MAX_RTT_MS:g} ms "
                                               f"or \"inf\", got {value!r}")
            continue
        classes[cls] = limit
    settings.latency_classes_ms = classes

    network = _section(doc, "network", file, problems, key_lines, settings.invalid)
    rtt = _number(network.get("intra_region_rtt_ms", 1.0))
    if rtt is None or not 0 <= rtt <= MAX_RTT_MS:
        problem("network.intra_region_rtt_ms",
                f"network.intra_region_rtt_ms must be a number from 0 to {MAX_RTT_MS:g}, "
                f"got {network.get('intra_region_rtt_ms')!r}")
        rtt = 1.0
    settings.intra_region_rtt_ms = rtt

    objective = _section(doc, "objective", file, problems, key_lines, settings.invalid)
    price = _number(objective.get("carbon_price_yuan_per_kg", 0.0))
    if price is None or not 0 <= price <= MAX_CARBON_PRICE_YUAN_PER_KG:
        problem("objective.carbon_price_yuan_per_kg",
                f"objective.carbon_price_yuan_per_kg must be a number from 0 to {MAX_CARBON_PRICE_YUAN_PER_KG:g}, "
                f"got {objective.get('carbon_price_yuan_per_kg')!r}")
        price = 0.0
    settings.carbon_price_yuan_per_kg = price
    return settings


def _section(doc: dict, key: str, file: str, problems: list[Problem], key_lines: dict[str, int], invalid: set[str]) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(Problem(file, f"'{key}' must be a table ([{key}] with keys below it)", line=key_lines.get(key), column=key))
        invalid.add(key)
        return {}
    return value
