"""A seeded fuzz campaign over the bundled tiny instance (issue 14): hundreds of mutated instances
through `allocator solve`. Every run ends in one of two ways: exit 2 naming a file (and, for a cell,
its line and column), or a plan that passes the independent check (exit 3 or 4 where a must-serve
demand cannot be served). Never a traceback, never a half-written folder."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocator.check.run import check_plan
from allocator.cli import main

pytestmark = [pytest.mark.fuzz, pytest.mark.e2e]

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"
MUTATIONS = 240
SEED = 20261207
TOKENS = ["", " ", "-1", "0", "1e20", "1e15", "inf", "-inf", "nan", "abc", "1,260", "=cmd|x", "@SUM(1)", "+1",
          "true", "false", "2.5", "999999", "0.0001", "\t", "1e-300", "３", "d1", "e1", "P", "pE", "cuda", "gpu"]


def _rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")  # an earlier mutation may have broken it
    return [line.split(",") for line in text.splitlines()] or [[""]]


def _write(path: Path, rows: list[list[str]]) -> None:
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8", errors="surrogateescape")


def mutate(folder: Path, rng: random.Random) -> str:
    """One random change to the instance in ``folder``; returns what it did (for the failure message)."""
    tables = sorted(p for p in folder.iterdir() if p.suffix == ".csv" and p.is_file())
    path = rng.choice(tables)
    rows = _rows(path)
    kind = rng.choice(["cell", "cell", "cell", "cell", "header", "drop_column", "extra_column", "drop_row",
                       "duplicate_row", "short_row", "toml", "drop_file", "folder", "bytes"])
    if kind == "cell" and len(rows) > 1:
        r, c = rng.randrange(1, len(rows)), rng.randrange(len(rows[0]))
        if c < len(rows[r]):
            rows[r][c] = rng.choice(TOKENS)
        _write(path, rows)
        return f"{path.name} line {r + 1} column {rows[0][c]} = {rows[r][c] if c < len(rows[r]) else ''!r}"
    if kind == "header":
        c = rng.randrange(len(rows[0]))
        old = rows[0][c]
        rows[0][c] = rng.choice([old.upper(), old.title(), old.replace("_", " "), old + "s", old[:-1] or "x"])
        _write(path, rows)
        return f"{path.name} header {old} -> {rows[0][c]}"
    if kind == "drop_column":
        c = rng.randrange(len(rows[0]))
        _write(path, [r[:c] + r[c + 1:] for r in rows])
        return f"{path.name} without column {rows[0][c]}"
    if kind == "extra_column":
        _write(path, [rows[0] + ["comment"]] + [r + ["x"] for r in rows[1:]])
        return f"{path.name} with an extra column"
    if kind == "drop_row" and len(rows) > 1:
        del rows[rng.randrange(1, len(rows))]
        _write(path, rows)
        return f"{path.name} minus a row"
    if kind == "duplicate_row" and len(rows) > 1:
        rows.append(list(rows[rng.randrange(1, len(rows))]))
        _write(path, rows)
        return f"{path.name} with a duplicated row"
    if kind == "short_row" and len(rows) > 1:
        r = rng.randrange(1, len(rows))
        rows[r] = rows[r][: rng.randrange(len(rows[r]))]
        _write(path, rows)
        return f"{path.name} line {r + 1} cut short"
    if kind == "toml":
        toml = folder / "instance.toml"
        text = toml.read_text(encoding="utf-8")
        edits = [("periods = 2", f"periods = {rng.choice(['0', '3', '100000', '-1', '2.5', 'true'])}"),
                 ("schema = 1", rng.choice(["schema = 2", ""])), ('name = "tiny"', rng.choice(['name = ""', ""])),
                 ("periods = 2", "periods = 2\nperiod_hours = " + rng.choice(["-1", "0", "1e9", "inf", "12"]))]
        old, new = rng.choice(edits)
        toml.write_text(text.replace(old, new, 1), encoding="utf-8")
        return f"instance.toml: {old!r} -> {new!r}"
    if kind == "drop_file":
        path.unlink()
        return f"{path.name} removed"
    if kind == "folder":
        path.unlink()
        path.mkdir()
        return f"{path.name} is a folder"
    path.write_bytes(path.read_bytes()[: rng.randrange(1, 40)] + b"\xff\xfe")
    return f"{path.name} with bytes that are not UTF-8"


def test_mutated_instances_end_in_exit_2_or_a_checked_plan(tmp_path):
    rng = random.Random(SEED)
    runner = CliRunner()
    outcomes: dict[int, int] = {}
    for n in range(MUTATIONS):
        folder = tmp_path / f"m{n}"
        shutil.copytree(TINY, folder)
        done = [mutate(folder, rng) for _ in range(rng.choice([1, 1, 2]))]
        out = tmp_path / f"plan{n}"
        result = runner.invoke(main, ["solve", str(folder), "-o", str(out), "--time-limit", "10"])
        what = f"mutation {n}: {'; '.join(done)}\n{result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), what
        assert "Traceback" not in result.output, what
        outcomes[result.exit_code] = outcomes.get(result.exit_code, 0) + 1
        if result.exit_code == 0:
            report = check_plan(folder, out)
            assert not report.violations, what + "\n" + "\n".join(report.violations)
            continue
        assert result.exit_code in (2, 3, 4), what
        assert not out.exists(), what
        if result.exit_code == 2:
            assert re.search(r"error: .*(\.csv|\.parquet|instance\.toml)", result.output), what
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers  # no temporary folder left behind by any run
    assert outcomes.get(0, 0) >= 20 and outcomes.get(2, 0) >= 60, outcomes  # both kinds of outcome are exercised
