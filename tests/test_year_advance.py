"""allocator advance --release PROGRAM=YUAN and the next day's README (issue 17)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from allocator.cli.plans import advance
from allocator.instance.reading import read_instance
from allocator.studies.advance import AdvanceInputError, advance_instance
from tests.conftest import Solved, check_plan_files
from tests.test_year_reasons import spec

pytestmark = pytest.mark.component


@pytest.fixture(scope="module")
def day1(tmp_path_factory):
    """Budget 5 spent on d1 (subsidy 5): 0 left; d2, d3, d4 carried over."""
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write
    from tests import builders

    s = spec(5.0)
    s["programs"].append({"program_id": "H", "budget_yuan": 7.0, "rate": 0.3})
    folder = tmp_path_factory.mktemp("day1")
    instance = builders.write(folder / "instance", s)
    (instance / "README.md").write_text("# day one\n\nThe first day's story.\n")
    solve_and_write(instance, folder / "plan", SolveOptions())
    check_plan_files(instance, folder / "plan")
    return Solved(None, folder / "plan", instance)


def test_a_tranche_is_added_to_what_is_left(day1, tmp_path):
    """G: 5 - 5 spent + 2.5 + 1 released = 3.5; H: 7 left, nothing released."""
    advance_instance(day1.instance_dir, day1.plan_dir, tmp_path / "next", releases=["G=2.5", "G=1"])
    budgets = read_instance(tmp_path / "next").programs.set_index("program_id")["budget_yuan"]
    assert budgets["G"] == pytest.approx(3.5)
    assert budgets["H"] == pytest.approx(7.0)


@pytest.mark.parametrize("release, words", [("X=5", "unknown programme 'X'"), ("G=-1", ">= 0"),
                                            ("G=abc", ">= 0"), ("G", "PROGRAM=YUAN"), ("G=inf", "finite")])
def test_bad_releases_are_refused(day1, tmp_path, release, words):
    with pytest.raises(AdvanceInputError, match=words):
        advance_instance(day1.instance_dir, day1.plan_dir, tmp_path / "next", releases=[release])
    assert not (tmp_path / "next").exists()
    result = CliRunner().invoke(advance, [str(day1.instance_dir), str(day1.plan_dir), "-o", str(tmp_path / "n"),
                                          "--release", release])
    assert result.exit_code == 2


def test_the_readme_describes_the_next_day(day1, tmp_path):
    result = CliRunner().invoke(advance, [str(day1.instance_dir), str(day1.plan_dir), "-o", str(tmp_path / "next"),
                                          "--release", "G=4"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "next" / "README.md").read_text()
    assert text.startswith("# test+1\n")
    assert "first day's story" not in text
    assert "1 request(s) served yesterday" in text and "subsidies 5.00 yuan on bills of 10.00 yuan" in text
    assert "3 request(s) carried over" in text
    assert "| G | 5.00 | 5.00 | 4.00 | 4.00 |" in text
    assert "| H | 7.00 | 0.00 | 0.00 | 7.00 |" in text
