"""The README's commands run as written (issue 14): the budget officer's sweep and min-budget on the
bundled Chengdu day. The install-and-solve line is what .ci/run itself runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocator.cli import main

REPO = Path(__file__).resolve().parents[1]


def budget_officer_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"For a budget officer.*?```bash\n(.*?)```", text, re.S)
    assert block, "README lost its budget officer's examples"
    return [shlex.split(line)[1:] for line in block.group(1).splitlines() if line.startswith("allocator ")]


@pytest.mark.slow
@pytest.mark.e2e
def test_the_readme_budget_officer_examples_run_as_written(tmp_path, monkeypatch):
    commands = budget_officer_commands()
    assert [c[0] for c in commands] == ["sweep", "min-budget"]
    monkeypatch.chdir(REPO)
    for args in commands:
        args = [str(tmp_path / a) if a.startswith("out/") else a for a in args]  # outputs outside the repository
        result = CliRunner().invoke(main, ["-q", *args])
        assert result.exit_code == 0, f"{args}: {result.output}"
    assert (tmp_path / "out" / "sweep" / "sweep.csv").is_file()
    assert (tmp_path / "out" / "min-budget" / "summary.json").is_file()
