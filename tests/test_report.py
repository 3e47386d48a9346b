"""allocator report: the HTML page and the Markdown summary of a plan.

Unit tests read the generated HTML (every section, no external resource of any
kind); the browser test starts Debian's chromium headless on the report of
instances/east-west-24h (else chengdu-day, else tiny), checks that the page's own
script ran without an error and found every chart drawn, and keeps a screenshot
under the pytest tmp dir and in tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocator.cli.plans import report
from allocator.render.figures import find_instance, read_plan_folder, region_order
from allocator.render.report import write_report
from tests.conftest import REPO
from tests.test_advance import bundled

TINY = REPO / "instances" / "tiny"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
SECTIONS = ["headline", "programs", "utilization", "energy", "flows", "enterprises", "unserved", "shares", "mix", "yuan"]
CHARTS = ["chart-programs", "chart-utilization", "chart-energy", "chart-flows", "chart-enterprises", "chart-reasons",
          "chart-class", "chart-stack", "chart-family", "chart-kind"]
EXTERNAL = re.compile(r"""(?:\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:|//|ftp:|file:))"""
                      r"""|(?:url\(\s*["']?\s*(?:https?:|//))|@import|<link\b|<iframe\b|<img\b|<object\b|<embed\b""",
                      re.IGNORECASE)


def solve_with_reasons(instance: Path, plan: Path, time_limit: float | None = None) -> Path:
    """Solve, refine not_selected into the binding resource (as pipeline.py does) and write the plan."""
    from allocator.instance.screening import screen
    from allocator.plan.reasons import refine_reasons
    from allocator.plan.writing import write_plan
    from allocator.solve.options import SolveOptions
    from allocator.solve.pipeline import solve_instance

    result = solve_instance(instance, SolveOptions(time_limit=time_limit))
    result.plan.unserved = refine_reasons(result.instance, screen(result.instance), result.plan)
    write_plan(plan, result.plan, result.summary())
    return plan


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory) -> Path:
    return solve_with_reasons(TINY, tmp_path_factory.mktemp("tiny") / "plan")


@pytest.fixture(scope="module")
def tiny_report(tiny_plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-report") / "report.html"
    written = write_report(tiny_plan, out, TINY)
    return written, out.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the HTML


@pytest.mark.component
def test_every_section_and_chart_is_there(tiny_report):
    written, page = tiny_report
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    for chart in CHARTS:
        assert re.search(rf'<figure class="chart" id="{chart}"><svg ', page) or \
            re.search(rf'<figure class="chart" id="{chart}"><div class="multiples"><svg ', page), chart
    assert page.count('<figure class="chart"') == len(CHARTS)
    assert 'id="render-check"' in page


@pytest.mark.component
def test_nothing_is_loaded_from_outside(tiny_report):
    _, page = tiny_report
    assert "<script src" not in page.lower() and not re.search(r"<script[^>]+src\s*=", page, re.IGNORECASE)
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "http://" not in page and "https://" not in page  # not even the SVG namespace
    assert "@font-face" not in page


@pytest.mark.component
def test_headline_figures(tiny_report, tiny_plan):
    _, page = tiny_report
    summary = read_plan_folder(tiny_plan).summary
    for label in ("status", "served value", "bill", "subsidy", "carbon", "green share"):
        assert f'<div class="k">{label}</div>' in page
    assert f"{summary['status']} (gap" in page
    for program in ("P", "Q", "R"):
        assert f"{program}: subsidy today" in page  # spent, and left where the budget is finite
    assert "left " in page


@pytest.mark.component
def test_the_instance_feeds_flows_and_shares(tiny_report):
    _, page = tiny_report
    assert "EAST → EAST" in page or "EAST → WEST" in page  # home region to center region
    assert "batch:" in page and "realtime:" in page  # latency classes
    assert "cuda:" in page  # stacks


@pytest.mark.component
def test_unserved_reasons_are_counted(tiny_report, tiny_plan):
    _, page = tiny_report
    unserved = read_plan_folder(tiny_plan).unserved
    for reason, n in unserved["reason"].value_counts().items():
        assert f"{reason}: {n} demand(s)" in page


@pytest.mark.component
def test_markdown_beside_the_html(tiny_report):
    written, _ = tiny_report
    assert written.markdown == written.html.with_suffix(".md")
    md = written.markdown.read_text(encoding="utf-8")
    for heading in ("# Plan for tiny", "## Subsidy by programme", "## Unserved requests by reason",
                    "## Served share by latency class", "## Served share by stack", "## Where the work went"):
        assert heading in md
    assert "**served value**" in md


@pytest.mark.component
def test_instance_found_by_its_hashes(tiny_plan, tmp_path):
    """instances/<name> under the working folder is used when its files have the plan's hashes."""
    plan = read_plan_folder(tiny_plan)
    plan.summary.pop("instance_path", None)  # as in a plan written before summary.json carried it
    assert find_instance(plan, cwd=REPO) == REPO / "instances" / "tiny"
    assert find_instance(plan, cwd=tmp_path) is None
    copy = tmp_path / "instances" / "tiny"
    shutil.copytree(TINY, copy)
    assert find_instance(plan, cwd=tmp_path) == copy
    (copy / "programs.csv").write_text((TINY / "programs.csv").read_text().replace("P,40,", "P,41,"))
    assert find_instance(plan, cwd=tmp_path) is None  # same name, other numbers: not this plan's instance
    with pytest.raises(ValueError, match="not the instance"):
        find_instance(plan, copy)


@pytest.mark.component
def test_instance_path_in_the_summary_is_used_if_it_matches(tiny_plan, tmp_path):
    plan = read_plan_folder(tiny_plan)
    copy = tmp_path / "somewhere" / "tiny-copy"
    shutil.copytree(TINY, copy)
    plan.summary["instance_path"] = str(copy)
    assert find_instance(plan, cwd=tmp_path) == copy
    (copy / "demands.csv").write_text((TINY / "demands.csv").read_text() + "\n")
    assert find_instance(plan, cwd=tmp_path) is None


@pytest.mark.component
def test_without_the_instance(tiny_plan, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = tmp_path / "plan"
    shutil.copytree(tiny_plan, plan)
    summary = json.loads((plan / "summary.json").read_text())
    summary.pop("instance_path", None)
    (plan / "summary.json").write_text(json.dumps(summary))
    written = write_report(plan, tmp_path / "r.html")
    page = written.html.read_text(encoding="utf-8")
    assert written.instance is None
    assert "The instance was not found" in page
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert "chart-flows" not in page and "chart-utilization" in page


@pytest.mark.e2e
def test_cli_report(tiny_plan, tmp_path):
    result = CliRunner().invoke(report, [str(tiny_plan), "--instance", str(TINY), "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.html").is_file() and (tmp_path / "x.md").is_file()
    wrong = CliRunner().invoke(report, [str(tiny_plan), "--instance", str(REPO / "instances"), "-o", str(tmp_path / "y.html")])
    assert wrong.exit_code == 2 and "not the instance" in wrong.output
    missing = CliRunner().invoke(report, [str(tmp_path / "nothing"), "-o", str(tmp_path / "z.html")])
    assert missing.exit_code == 2


@pytest.mark.unit
def test_regions_run_from_senders_to_receivers():
    import pandas as pd

    flows = pd.DataFrame({"home_region": ["E1", "E1", "E2", "W1"], "region_id": ["W1", "E1", "W2", "W1"],
                          "card_hours": [10.0, 2.0, 5.0, 1.0], "demands": [1, 1, 1, 1]})
    assert region_order(flows) == ["E1", "E2", "W2", "W1"]


# --------------------------------------------------------------------------- in a real browser


def report_instance(tmp_path_factory) -> tuple[Path, float | None]:
    """east-west-24h (60 s), else chengdu-day, else tiny."""
    for name, limit in (("east-west-24h", 60.0), ("chengdu-day", 60.0)):
        folder = bundled(name, tmp_path_factory)
        if folder is not None:
            return folder, limit
    return TINY, None


@pytest.fixture(scope="module")
def big_report(tmp_path_factory) -> tuple[Path, Path]:
    """The report of the largest bundled instance, solved once for the module."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) to run the browser test")
    instance, limit = report_instance(tmp_path_factory)
    work = tmp_path_factory.mktemp("browser")
    plan = solve_with_reasons(instance, work / "plan", limit)
    written = write_report(plan, work / f"report-{instance.name}.html", instance)
    return written.html, instance


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Debian's chromium headless with a new empty profile, logging the page console to stderr."""
    profile.mkdir(parents=True, exist_ok=False)
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def console_errors(stderr: str) -> list[str]:
    """Console lines that report a script error or a failed load."""
    return [line for line in stderr.splitlines()
            if "CONSOLE" in line and ("Uncaught" in line or "Error" in line or "Failed to load" in line)]


@pytest.mark.e2e
@pytest.mark.slow
def test_report_renders_in_chromium(big_report, tmp_path):
    html_path, instance = big_report
    page = html_path.read_text(encoding="utf-8")
    expected = page.count('<figure class="chart"')
    assert expected == len(CHARTS)
    url = html_path.resolve().as_uri()

    dom = chromium(tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_errors(dom.stderr) == [], console_errors(dom.stderr)
    mark = re.search(r'<p id="render-check" data-charts="(\d+)" data-drawn="(\d+)" data-height="(\d+)">([^<]*)<', dom.stdout)
    assert mark, "the page's script did not run to the end (no render marker in the DOM)"
    charts, drawn, height, message = int(mark[1]), int(mark[2]), int(mark[3]), mark[4]
    assert charts == expected and drawn == expected, message
    assert dom.stdout.count("<svg") >= expected and dom.stdout.count("<rect") > 50

    shots = {}
    for name, size in (("report.png", "1400,3000"), ("report-full.png", f"1400,{max(height, 800)}")):
        shot = tmp_path / name
        run = chromium(tmp_path / f"profile-{name}", f"--screenshot={shot}", f"--window-size={size}", url)
        assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
        assert console_errors(run.stderr) == []
        shots[name] = shot
    from PIL import Image

    with Image.open(shots["report.png"]) as image:
        assert image.size == (1400, 3000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50  # drawn, not a blank page

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = f"report-{instance.name}"
    shutil.copy2(shots["report.png"], ARTIFACTS / f"{stem}.png")
    shutil.copy2(shots["report-full.png"], ARTIFACTS / f"{stem}-full.png")
    shutil.copy2(html_path, ARTIFACTS / f"{stem}.html")
    shutil.copy2(html_path.with_suffix(".md"), ARTIFACTS / f"{stem}.md")
