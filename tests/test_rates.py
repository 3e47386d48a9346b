"""R8 with rates.csv and enterprise kinds (issue 16): hand-derived rates, splits, thresholds, a bonus
that moves work to a domestic pool, validation, and every method on random instances with rates.

The world of tests/builders.py, with pool pB turned into an Ascend pool where a test says so:
pA (gpu, region A, 2 yuan per card-hour) and pB (region B, 1 yuan), 30 ms apart; programme G
(rate 0.5 unless changed); one period of one hour. Every number below is derived by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from allocator.instance.derived import pair_rates
from allocator.instance.reading import read_instance
from allocator.problems import InvalidInstance
from tests import builders
from tests.builders import base, demand

pytestmark = pytest.mark.component


def _ascend_world(cards_a: float = 10, cards_b: float = 10) -> dict:
    """pA: gpu, 2 yuan, region A; pB: ascend, 1 yuan, region B. Stack cuda runs on gpu only, cann on
    ascend only, any on both (efficiency 1)."""
    spec = base()
    spec["pools"][0].update(cards=cards_a)
    spec["pools"][1].update(accelerator="ascend", cards=cards_b)
    spec["compatibility"] = [
        {"stack": "cuda", "accelerator": "gpu", "efficiency": 1.0},
        {"stack": "cann", "accelerator": "ascend", "efficiency": 1.0},
        {"stack": "any", "accelerator": "gpu", "efficiency": 1.0},
        {"stack": "any", "accelerator": "ascend", "efficiency": 1.0},
    ]
    return spec


# ------------------------------------------------------------------------------------- r(d, p) itself


@pytest.mark.unit
def test_pair_rates_highest_applicable_row_own_rate_and_kinds(tmp_path):
    """Programme G (0.5) with rows any/any 0.3, ascend/any 0.6, any/startup 0.8, ascend/sme 0.95,
    gpu/startup 0.9; programme H (0.4) without rows.

    startup S1: on ascend rows 0.3, 0.6 and 0.8 apply (kind row and accelerator row both match):
                the highest, 0.8 (never their sum); on gpu 0.3, 0.8, 0.9 apply: 0.9.
    sme M1:     ascend: 0.3, 0.6, 0.95 -> 0.95; gpu: only 0.3 (below the programme's 0.5: it counts).
    no kind N1: only rows with an empty kind: ascend 0.3, 0.6 -> 0.6; gpu 0.3.
    own rate O1 (0.1, kind startup): 0.1 everywhere, the rows notwithstanding.
    H1 of H: no row of its programme: H's 0.4.
    """
    spec = _ascend_world()
    spec["programs"].append({"program_id": "H", "budget_yuan": 100, "rate": 0.4})
    spec["enterprises"] = [
        {"enterprise_id": "S1", "program_id": "G", "kind": "startup"},
        {"enterprise_id": "M1", "program_id": "G", "kind": "sme"},
        {"enterprise_id": "N1", "program_id": "G"},
        {"enterprise_id": "O1", "program_id": "G", "kind": "startup", "rate": 0.1},
        {"enterprise_id": "H1", "program_id": "H", "kind": "startup"},
    ]
    spec["rates"] = [
        {"program_id": "G", "accelerator": "", "enterprise_kind": "", "rate": 0.3},
        {"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.6},
        {"program_id": "G", "accelerator": "", "enterprise_kind": "startup", "rate": 0.8},
        {"program_id": "G", "accelerator": "ascend", "enterprise_kind": "sme", "rate": 0.95},
        {"program_id": "G", "accelerator": "gpu", "enterprise_kind": "startup", "rate": 0.9},
    ]
    inst = read_instance(builders.write(tmp_path / "i", spec))
    ents = ["S1", "S1", "M1", "M1", "N1", "N1", "O1", "O1", "H1", "H1"]
    accs = ["ascend", "gpu"] * 5
    assert pair_rates(inst, ents, accs).tolist() == [0.8, 0.9, 0.95, 0.3, 0.6, 0.3, 0.1, 0.1, 0.4, 0.4]
    e = inst.enterprises.set_index("enterprise_id")
    assert e["rate_given"].to_dict() == {"S1": False, "M1": False, "N1": False, "O1": True, "H1": False}
    assert e["kind"].to_dict() == {"S1": "startup", "M1": "sme", "N1": "", "O1": "startup", "H1": "startup"}


@pytest.mark.unit
def test_without_rates_csv_the_rate_is_own_else_the_programme(tmp_path):
    spec = base()
    spec["enterprises"] = [{"enterprise_id": "E1", "program_id": "G"}, {"enterprise_id": "E2", "program_id": "G", "rate": 0.2}]
    inst = read_instance(builders.write(tmp_path / "i", spec))
    assert pair_rates(inst, ["E1", "E2"], ["gpu", "gpu"]).tolist() == [0.5, 0.2]


# ------------------------------------------------------------------------------------- plans


def test_split_in_proportion_to_rate_times_bill(solve_spec):
    """E1 (cap 6): d1 (cuda, 10 card-hours) at pA: bill 20, rate 0.2 (programme) -> claim 4;
    d2 (cann, 10) at pB: bill 10, row ascend 0.5 -> claim 5. A = 9 > C = 6: S = 6, split by r x bill:
    d1 6 x 4/9 = 2.6667, d2 6 x 5/9 = 3.3333 (by bills it would be 4 and 2)."""
    spec = _ascend_world()
    spec["programs"][0].update(rate=0.2)
    spec["enterprises"][0].update(cap_yuan=6.0)
    spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.5}]
    spec["demands"] += [demand("d1", 10), demand("d2", 10, stack="cann")]
    s = solve_spec(spec)
    assert s.served == {"d1": "pA", "d2": "pB"}
    assert s.row("assignments", demand_id="d1")["subsidy_yuan"] == pytest.approx(6 * 4 / 9)
    assert s.row("assignments", demand_id="d2")["subsidy_yuan"] == pytest.approx(6 * 5 / 9)
    assert s.row("assignments", demand_id="d2")["enterprise_pays_yuan"] == pytest.approx(10 - 6 * 5 / 9)
    assert s.row("enterprises", enterprise_id="E1")["subsidy_yuan"] == pytest.approx(6.0)


def test_uncapped_subsidy_is_the_sum_of_claims(solve_spec):
    """As above without the cap: S = A = 4 + 5 = 9; d1 gets 4, d2 5."""
    spec = _ascend_world()
    spec["programs"][0].update(rate=0.2)
    spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.5}]
    spec["demands"] += [demand("d1", 10), demand("d2", 10, stack="cann")]
    s = solve_spec(spec)
    assert s.row("assignments", demand_id="d1")["subsidy_yuan"] == pytest.approx(4.0)
    assert s.row("assignments", demand_id="d2")["subsidy_yuan"] == pytest.approx(5.0)
    assert s.row("programs", program_id="G")["subsidy_yuan"] == pytest.approx(9.0)


@pytest.mark.parametrize("cap, served", [(6.0, {}), (8.0, {"d1": "pA", "d2": "pB"})])
def test_min_voucher_reads_the_capped_subsidy(solve_spec, cap, served):
    """Claims as above (4 + 5 = 9), min voucher 7. Cap 6: S = min(9, 6) = 6 < 7, nothing is served
    (each alone claims 4 or 5 < 7: below_threshold). Cap 8: S = 8 >= 7, both are served."""
    spec = _ascend_world()
    spec["programs"][0].update(rate=0.2, min_voucher_yuan=7.0)
    spec["enterprises"][0].update(cap_yuan=cap)
    spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.5}]
    spec["demands"] += [demand("d1", 10), demand("d2", 10, stack="cann")]
    s = solve_spec(spec)
    assert s.served == served
    if not served:
        assert s.reasons == {"d1": "below_threshold", "d2": "below_threshold"}
    else:
        assert s.row("enterprises", enterprise_id="E1")["subsidy_yuan"] == pytest.approx(8.0)


def test_own_rate_overrides_the_rows(solve_spec):
    """E1 has rate 0.1 of its own; rows give 0.9 on ascend. Budget 1.5: d (cann, 10 at pB, bill 10)
    claims 0.1 x 10 = 1 <= 1.5 and is served; at 0.9 it would claim 9 > 1.5."""
    spec = _ascend_world()
    spec["programs"][0].update(budget_yuan=1.5)
    spec["enterprises"][0].update(rate=0.1, kind="startup")
    spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.9},
                     {"program_id": "G", "accelerator": "", "enterprise_kind": "startup", "rate": 0.9}]
    spec["demands"] += [demand("d", 10, stack="cann")]
    s = solve_spec(spec)
    assert s.served == {"d": "pB"}
    assert s.row("assignments", demand_id="d")["subsidy_yuan"] == pytest.approx(1.0)


def test_enterprise_without_kind_matches_only_empty_kind_rows(solve_spec):
    """E1 has no kind: of rows any/startup 0.9 and any/any 0.3 only the latter applies. Budget 3.5,
    min voucher 2.5: d (cann at pB, bill 10) claims 3, within both; at 0.9 (9) or the programme's
    0.5 (5) it would break the budget. E2, a startup with the same demand, claims 9 > 3.5 - 3: left out,
    by the budget alone (pB has 20 cards)."""
    spec = _ascend_world(cards_b=20)
    spec["programs"][0].update(budget_yuan=3.5, min_voucher_yuan=2.5)
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G", "kind": "startup"})
    spec["rates"] = [{"program_id": "G", "accelerator": "", "enterprise_kind": "startup", "rate": 0.9},
                     {"program_id": "G", "accelerator": "", "enterprise_kind": "", "rate": 0.3}]
    spec["demands"] += [demand("d", 10, stack="cann"), demand("e", 10, enterprise="E2", stack="cann")]
    s = solve_spec(spec)
    assert s.served == {"d": "pB"}
    assert s.row("enterprises", enterprise_id="E1")["subsidy_yuan"] == pytest.approx(3.0)
    assert s.reasons == {"e": "not_selected:budget"}


def _bonus_world(bonus: bool) -> dict:
    """pA gpu (1 card, 1 yuan), pB ascend (2 cards, 1.2 yuan); rate 0.2, min voucher 5.
    E (own rate 0.5): d, stack any, 10 card-hours (gpu bill 10, ascend bill 12).
    F: f1 (cann: ascend only, bill 12), f2 (cuda: gpu only, bill 10). With the bonus, a row
    ascend/any 0.3 (the Hangzhou pattern: 30 % on domestic compute, 20 % on other)."""
    spec = _ascend_world(cards_a=1, cards_b=2)
    spec["settings"]["period_hours"] = 10.0
    spec["pools"][0].update(price_yuan_per_card_hour=1.0)
    spec["pools"][1].update(price_yuan_per_card_hour=1.2)
    spec["programs"][0].update(rate=0.2, min_voucher_yuan=5.0)
    spec["enterprises"] = [{"enterprise_id": "E", "program_id": "G", "rate": 0.5}, {"enterprise_id": "F", "program_id": "G"}]
    spec["demands"] += [demand("d", 10, enterprise="E", stack="any"), demand("f1", 10, enterprise="F", stack="cann"),
                        demand("f2", 10, enterprise="F", stack="cuda")]
    if bonus:
        spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.3}]
    return spec


def test_the_domestic_bonus_moves_a_demand_to_the_ascend_pool(solve_spec):
    """Without the bonus F claims 0.2 x 12 + 0.2 x 10 = 4.4 < 5: F is below the voucher; d runs at the
    cheaper gpu pool (bill 10, S_E = 5 >= 5). V = 10, K = 10.
    With the bonus F claims 0.3 x 12 + 0.2 x 10 = 5.6 >= 5, but only with f2 on the one gpu card: d moves
    to the Ascend pool (bill 12, S_E = 6), f1 joins it (2 cards). V = 30, K = 12 + 12 + 10 = 34;
    F's 5.6 splits 3.6 to f1 and 2 to f2."""
    without = solve_spec(_bonus_world(False))
    assert without.served == {"d": "pA"}
    assert without.reasons == {"f1": "below_threshold", "f2": "below_threshold"}
    assert without.result.plan.served_value == pytest.approx(10.0)
    with_bonus = solve_spec(_bonus_world(True))
    assert with_bonus.served == {"d": "pB", "f1": "pB", "f2": "pA"}
    plan = with_bonus.result.plan
    assert (plan.served_value, plan.cost) == (pytest.approx(30.0), pytest.approx(34.0))
    assert with_bonus.row("assignments", demand_id="f1")["subsidy_yuan"] == pytest.approx(3.6)
    assert with_bonus.row("assignments", demand_id="f2")["subsidy_yuan"] == pytest.approx(2.0)
    assert with_bonus.row("assignments", demand_id="d")["subsidy_yuan"] == pytest.approx(6.0)


@pytest.mark.parametrize("method", ["fcfs", "greedy", "fast"])
def test_every_method_keeps_r8_with_the_bonus(solve_spec, method):
    """Whatever each method serves on the bonus world, its plan passes the checker (solve_spec checks)
    and its value lies between 0 and the optimum 30, its bound at least 30."""
    s = solve_spec(_bonus_world(True), method=method)
    assert 0.0 <= s.result.plan.served_value <= 30.0 + 1e-9
    assert s.result.best_bound >= 30.0 - 1e-6


# ------------------------------------------------------------------------------------- validation


def _invalid(tmp_path: Path, spec: dict) -> list[str]:
    with pytest.raises(InvalidInstance) as caught:
        read_instance(builders.write(tmp_path / "bad", spec))
    return [str(p) for p in caught.value.problems]


def _rated(*rows: tuple) -> dict:
    spec = _ascend_world()
    spec["enterprises"][0].update(kind="startup")
    spec["rates"] = [dict(zip(("program_id", "accelerator", "enterprise_kind", "rate"), r)) for r in rows]
    return spec


@pytest.mark.unit
@pytest.mark.parametrize("rows, expected", [
    ((("G", "", "", 0.3), ("X", "", "", 0.3)),
     "rates.csv, line 3, column 'program_id': unknown program 'X' (no program_id 'X' in programs.csv)"),
    ((("G", "Ascend", "", 0.3),),
     ("rates.csv, line 2, column 'accelerator': unknown accelerator 'Ascend' (in no row of pools.csv or compatibility.csv); "
      "did you mean 'ascend'? (names match exactly)")),
    ((("G", "npu", "", 0.3),),
     "rates.csv, line 2, column 'accelerator': unknown accelerator 'npu' (in no row of pools.csv or compatibility.csv)"),
    ((("G", "", "Start-up", 0.3),),
     ("rates.csv, line 2, column 'enterprise_kind': unknown enterprise kind 'Start-up': enterprises.csv has 'startup' "
      "(kinds match exactly, case included)")),
    ((("G", "", "", 1.5),),
     "rates.csv, line 2, column 'rate': 1.5 is out of range (expected a number >= 0 and <= 1)"),
    ((("G", "", "", -0.1),),
     "rates.csv, line 2, column 'rate': -0.1 is out of range (expected a number >= 0 and <= 1)"),
    ((("G", "", "", None),),
     "rates.csv, line 2, column 'rate': empty, a value is required (a number >= 0 and <= 1)"),
    ((("G", "ascend", "", 0.3), ("G", "", "", 0.2), ("G", "ascend", "", 0.4)),
     ("rates.csv, line 4, column 'program_id': duplicate (program_id, accelerator, enterprise_kind) 'G, ascend, (any)' "
      "(first on line 2); each must appear once")),
    ((("G", "", "", 0.3), ("G", "", "", 0.3)),
     ("rates.csv, line 3, column 'program_id': duplicate (program_id, accelerator, enterprise_kind) 'G, (any), (any)' "
      "(first on line 2); each must appear once")),
])
def test_rates_csv_errors_name_file_line_and_column(tmp_path, rows, expected):
    assert expected in _invalid(tmp_path, _rated(*rows))


@pytest.mark.unit
def test_a_kind_nobody_has_is_a_warning_and_rows_may_differ_only_by_kind(tmp_path):
    """Rows G/any/university and G/any/startup and G/any/any are three keys; nobody is a university."""
    inst = read_instance(builders.write(tmp_path / "i", _rated(("G", "", "university", 0.6), ("G", "", "startup", 0.6),
                                                                ("G", "", "", 0.2))))
    assert [str(w) for w in inst.warnings] == [
        ("rates.csv, line 2, column 'enterprise_kind': no enterprise has kind 'university' (kinds in enterprises.csv: "
         "startup): the row applies to nobody")]
    assert pair_rates(inst, ["E1"], ["gpu"]).tolist() == [0.6]


# ------------------------------------------------------------------------------------- advance


def test_advance_books_subsidies_by_rate_and_leaves_unset_rates_empty(tmp_path):
    """The split world (uncapped): E1 gets 9 (4 + 5), not 0.2 x 30 = 6; E2 (own rate 0.25, no demand)
    keeps its 0.25; E1's rate stays empty so that tomorrow rates.csv still applies."""
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write
    from allocator.studies.advance import advance_instance

    spec = _ascend_world()
    spec["programs"][0].update(rate=0.2, budget_yuan=100.0)
    spec["enterprises"].append({"enterprise_id": "E2", "program_id": "G", "rate": 0.25})
    spec["rates"] = [{"program_id": "G", "accelerator": "ascend", "enterprise_kind": "", "rate": 0.5}]
    spec["demands"] += [demand("d1", 10), demand("d2", 10, stack="cann")]
    folder = builders.write(tmp_path / "i", spec)
    solve_and_write(folder, tmp_path / "p", SolveOptions())
    advance_instance(folder, tmp_path / "p", tmp_path / "next")
    nxt = read_instance(tmp_path / "next")
    e = nxt.enterprises.set_index("enterprise_id")
    assert e.at["E1", "subsidy_ytd_yuan"] == pytest.approx(9.0) and e.at["E1", "spend_ytd_yuan"] == pytest.approx(30.0)
    assert e["rate_given"].to_dict() == {"E1": False, "E2": True} and e.at["E2", "rate"] == 0.25
    assert nxt.programs.set_index("program_id").at["G", "budget_yuan"] == pytest.approx(91.0)
    assert (tmp_path / "next" / "rates.csv").read_bytes() == (folder / "rates.csv").read_bytes()


# ------------------------------------------------------------------------------------- random instances


METHODS = ("exact", "fast", "greedy", "fcfs")


def test_every_method_on_random_instances_with_rates(tmp_path):
    """Random tiny instances with rates.csv and kinds (tests/reference): every method's plan passes
    ``allocator check`` and the reference's re-evaluation, its value is at most the reference optimum,
    its best_bound at least that optimum, and the exact method's value equals it."""
    from allocator.check.run import check_plan
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_and_write
    from tests.reference.model import reference_evaluate, reference_solve
    from tests.reference.random_instances import write_random_instance
    from tests.reference.reader import read_instance as reference_read

    problems, solved = [], 0
    for seed in range(300, 312):
        folder = write_random_instance(tmp_path / f"s{seed}", seed, periods=1 + seed % 2, rates=True, max_demands=7)
        ref = reference_solve(reference_read(folder))
        if ref.status != "optimal":
            continue
        for method in METHODS:
            out = tmp_path / f"p{seed}{method}"
            try:
                result = solve_and_write(folder, out, SolveOptions(method=method, gap=1e-9, gap_given=True, time_limit=30))
            except Exception as error:  # noqa: BLE001 - a heuristic may fail to place a must-serve demand
                if method in ("exact", "fast") or type(error).__name__ != "NoSolution":
                    problems.append(f"{seed} {method}: {type(error).__name__}: {error}")
                continue
            solved += 1
            value, bound = result.plan.served_value, result.best_bound
            slack = 1e-6 * (1 + abs(ref.value))
            report = check_plan(folder, out)
            if report.violations:
                problems.append(f"{seed} {method}: check: {report.violations}")
            assignment = dict(zip(result.plan.assignments["demand_id"], result.plan.assignments["pool_id"]))
            ev = reference_evaluate(reference_read(folder), assignment)
            if not ev.feasible or not math.isclose(ev.value, value, rel_tol=1e-6, abs_tol=1e-6):
                problems.append(f"{seed} {method}: reference re-evaluation {ev.feasible} {ev.value} vs {value}")
            if value > ref.value + slack or bound < ref.value - slack:
                problems.append(f"{seed} {method}: value {value}, bound {bound}, reference optimum {ref.value}")
            if method == "exact" and not np.isclose(value, ref.value, rtol=1e-6, atol=1e-6):
                problems.append(f"{seed} exact: {value} != {ref.value}")
    assert problems == [], "\n".join(problems)
    assert solved >= 30


# ------------------------------------------------------------------------------------- report mix, price of a yuan


def test_report_by_accelerator_family_and_kind(solve_spec, tmp_path):
    """The bonus world with kinds (E large, F startup): d and f1 on Ascend (20 card-hours, subsidy 6 + 3.6),
    f2 on gpu (10 card-hours, subsidy 2): domestic 2/3 of the card-hours and 9.6 / 11.6 of the subsidy;
    startup F gets 5.6 (5.6 / 11.6), large E 6."""
    from allocator.render.report import write_report

    spec = _bonus_world(True)
    spec["enterprises"][0]["kind"], spec["enterprises"][1]["kind"] = "large", "startup"
    s = solve_spec(spec)
    written = write_report(s.plan_dir, tmp_path / "report.html", s.instance_dir)
    from allocator.render.figures import compute_figures, read_plan_folder

    figures = compute_figures(read_plan_folder(s.plan_dir), read_instance(s.instance_dir))
    fam = figures.by_family.set_index("family")
    assert fam.loc["domestic", ["demands", "card_hours", "subsidy_yuan"]].tolist() == pytest.approx([2, 20.0, 9.6])
    assert fam.loc["other", ["demands", "card_hours", "subsidy_yuan"]].tolist() == pytest.approx([1, 10.0, 2.0])
    assert fam.at["domestic", "card_hours_share"] == pytest.approx(2 / 3)
    assert fam.at["domestic", "subsidy_share"] == pytest.approx(9.6 / 11.6)
    kinds = figures.by_kind.set_index("kind")
    assert kinds.loc["large", ["subsidy_yuan", "served", "demands"]].tolist() == pytest.approx([6.0, 1, 1])
    assert kinds.loc["startup", ["subsidy_yuan", "served", "demands"]].tolist() == pytest.approx([5.6, 2, 2])
    assert kinds.at["startup", "subsidy_share"] == pytest.approx(5.6 / 11.6)
    page = written.html.read_text()
    assert 'id="chart-family"' in page and 'id="chart-kind"' in page and '<section id="yuan">' in page
    markdown = written.markdown.read_text()
    assert "| domestic | 2 |" in markdown and "## The price of a yuan" in markdown


def _yuan_world(budget: float) -> dict:
    """150 demands of 2 card-hours at pB (1 yuan, 1000 cards): bill 2, claim 0.5 x 2 = 1, value 2 each.
    A fund B serves floor(B) of them: 2 value per yuan."""
    spec = base()
    spec["pools"][1].update(cards=1000)
    spec["programs"][0].update(budget_yuan=budget)
    spec["demands"] += [demand(f"d{i:03d}", 2, home="B") for i in range(150)]
    return spec


def test_price_of_a_yuan_by_re_solve_and_by_the_multiplier(solve_spec):
    """Budget 100: 100 demands, V = 200. Budget 101 (+1 %): 101 demands, V' = 202: (202 - 200) / 1 = 2 value
    per yuan. The Lagrangian prices the budget at 2 too (each demand is worth 2 and claims 1 yuan)."""
    s = solve_spec(_yuan_world(100.0))
    assert s.result.plan.served_value == pytest.approx(200.0)
    entry = s.result.price_of_a_yuan["G"]
    assert entry["resolve"]["extra_yuan"] == pytest.approx(1.0)
    assert entry["resolve"]["served_value"] == pytest.approx(202.0)
    assert entry["value_per_yuan"] == pytest.approx(2.0)
    assert entry["source"].startswith("re-solve with a fund larger by 1.00 yuan")
    assert entry["bound_value_per_yuan"] == pytest.approx(2.0, abs=0.05)
    import json

    summary = json.loads((s.plan_dir / "summary.json").read_text())
    assert summary["price_of_a_yuan"]["G"]["value_per_yuan"] == pytest.approx(2.0)


def test_price_of_a_yuan_for_a_baseline_is_the_multiplier_and_an_unbinding_fund_is_free(solve_spec):
    """fcfs: no re-solve, the certified bound's multiplier (2, see above). A budget of 1000 > the 300 yuan
    all demands could claim (each at its dearest pool pA: bill 4, claim 2): the fund does not bind, one more
    yuan serves nothing."""
    fcfs = solve_spec(_yuan_world(100.0), method="fcfs").result.price_of_a_yuan["G"]
    assert "resolve" not in fcfs and fcfs["source"].startswith("budget multiplier of the certified")
    assert fcfs["value_per_yuan"] == pytest.approx(2.0, abs=0.05)
    free = solve_spec(_yuan_world(1000.0)).result.price_of_a_yuan["G"]
    assert free["value_per_yuan"] == 0.0 and free["claimable_yuan"] == pytest.approx(300.0)
    assert free["source"] == "the fund does not bind: its enterprises can claim at most 300.00 yuan"
