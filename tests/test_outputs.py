"""Output folders and files as shared/SPEC.md says: never delete what the tool did not write, never
half-written, interruptions exit 130 / 143 with nothing written, and a plan that breaks a rule
is never written (issue 14)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.executor import SchedulerUnavailable, probe_scheduler

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "instances" / "tiny"


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (hidden ones included)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


# --------------------------------------------------------------------------- where -o may point


@pytest.mark.e2e
def test_current_directory_and_empty_path_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    before = tree(tmp_path)
    refused(run("solve", TINY, "-o", "."), "current directory")
    refused(run("solve", TINY, "-o", ""), "current directory")  # click reads "" as "."
    refused(run("advance", TINY, TINY, "-o", "."), "current directory")
    assert tree(tmp_path) == before


@pytest.mark.e2e
def test_the_instance_and_a_folder_containing_it_are_refused(tmp_path):
    instance = tmp_path / "work" / "inst"
    instance.mkdir(parents=True)
    for path in TINY.iterdir():
        (instance / path.name).write_bytes(path.read_bytes())
    before = tree(tmp_path)
    refused(run("solve", instance, "-o", instance), "input folder")
    refused(run("solve", instance, "-o", tmp_path / "work"), "contains the input folder")
    refused(run("solve", instance, "-o", "/"), "contains")
    assert tree(tmp_path) == before


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["solve", "advance", "generate", "import-gap", "min-budget", "sweep", "bench"])
def test_a_folder_with_foreign_files_is_refused_by_every_command(tmp_path, command):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    plan = tmp_path / "plan"
    assert run("solve", TINY, "-o", plan).exit_code == 0
    gap = REPO.parent / "shared" / "benchmarks" / "gap" / "gap1.txt"
    args = {
        "solve": ["solve", TINY, "-o", out],
        "advance": ["advance", TINY, plan, "-o", out],
        "generate": ["generate", "gap-like", "--demands", "5", "-o", out],
        "import-gap": ["import-gap", gap, "-o", out],
        "min-budget": ["min-budget", TINY, "--target", "0.1", "-o", out],
        "sweep": ["sweep", TINY, "-o", out, "--budget", "x1"],
        "bench": ["bench", TINY, "-o", out],
    }[command]
    if command == "import-gap" and not gap.exists():
        pytest.skip("shared benchmarks not present")
    refused(run(*args), "did not write", "nothing was deleted")
    assert tree(out) == {"mine.txt": b"keep"}


@pytest.mark.e2e
def test_a_file_and_a_path_below_a_file_are_refused(tmp_path):
    target = tmp_path / "plan"
    target.write_text("a file")
    refused(run("solve", TINY, "-o", target), "is a file")
    refused(run("solve", TINY, "-o", target / "plan"), "is a file")
    assert target.read_text() == "a file"


@pytest.mark.e2e
def test_an_empty_folder_and_our_own_folder_are_replaced_whole(tmp_path):
    out = tmp_path / "plan"
    out.mkdir()
    assert run("solve", TINY, "-o", out).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["written_by"] == "allocator"
    (out / "added.txt").write_text("x")
    assert run("solve", TINY, "-o", out).exit_code == 0
    assert not (out / "added.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no temporary left beside it


# --------------------------------------------------------------------------- temporary names


@pytest.mark.e2e
def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".plan.{dead_pid}.abc123.partial"
    stale.mkdir()
    (stale / "assignments.csv").write_text("half")
    live = tmp_path / f".plan.{os.getppid()}.def456.partial"
    live.mkdir()
    unrelated = tmp_path / ".other.123.partial"
    unrelated.mkdir()
    assert run("solve", TINY, "-o", tmp_path / "plan").exit_code == 0
    assert not stale.exists() and live.exists() and unrelated.exists()


@pytest.mark.e2e
def test_a_symlink_at_a_temporary_name_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in (".model.lp.partial", f".model.lp.{os.getpid()}.x.partial"):
        (tmp_path / name).symlink_to(victim)
    assert run("export", TINY, "--format", "lp", "-o", tmp_path / "model.lp").exit_code == 0
    assert victim.read_text() == "precious"
    assert (tmp_path / "model.lp").read_text().startswith("\\")


@pytest.mark.e2e
def test_report_to_a_markdown_name_writes_both_files(tmp_path):
    plan = tmp_path / "plan"
    assert run("solve", TINY, "-o", plan).exit_code == 0
    result = run("report", plan, "--instance", TINY, "-o", tmp_path / "r.md")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.md").read_text().startswith("#")
    assert "<html" in (tmp_path / "r.html").read_text()[:200].lower()


# --------------------------------------------------------------------------- interruptions (real processes)

SLOW_WRITE = """
import sys, time
from pathlib import Path
import allocator.plan.writing as writing
real = writing.write_table
def slow(df, path):
    real(df, path)
    Path(sys.argv[2]).write_text("writing")
    time.sleep(60)
writing.write_table = slow
from allocator.cli import main
main(["solve", sys.argv[1], "-o", sys.argv[3]])
"""


def _start_slow_write(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    marker, out = tmp_path / "marker", tmp_path / "plan"
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(TINY), str(marker), str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if marker.exists():
            return process, out, marker
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the write never started")


@pytest.mark.e2e
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_exits_130_or_143_and_writes_nothing(tmp_path, signum, code):
    process, out, marker = _start_slow_write(tmp_path)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "nothing was written" in err and "Traceback" not in err
    marker.unlink()
    assert list(tmp_path.iterdir()) == []  # no plan, no hidden temporary


@pytest.mark.e2e
def test_sigkill_mid_write_leaves_no_plan_and_the_next_write_cleans_up(tmp_path):
    process, out, marker = _start_slow_write(tmp_path)
    process.kill()
    process.wait(timeout=30)
    marker.unlink()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert not out.exists() and len(leftovers) == 1 and leftovers[0].endswith(".partial")
    assert run("solve", TINY, "-o", out).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


# --------------------------------------------------------------------------- --scheduler


@pytest.mark.unit
@pytest.mark.parametrize("address", ["not-an-address", "tcp://host", "tcp://host:0", "http://h:80", "h:99999"])
def test_scheduler_address_format_is_exit_2(address, tmp_path):
    refused(run("solve", TINY, "-o", tmp_path / "p", "--method", "partition", "--scheduler", address),
            "not an address")


@pytest.mark.unit
def test_unreachable_scheduler_is_one_message_exit_2(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    result = run("solve", TINY, "-o", tmp_path / "p", "--method", "partition", "--scheduler", f"tcp://127.0.0.1:{port}")
    refused(result, "cannot reach")
    assert time.perf_counter() - started < 30
    assert not (tmp_path / "p").exists()


def _serve_once(reply: bytes | None) -> int:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        connection, _ = server.accept()
        if reply is not None:
            connection.sendall(reply)
        time.sleep(3)
        connection.close()
        server.close()

    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


@pytest.mark.unit
def test_a_peer_that_is_not_dask_is_refused():
    huge = (2**62).to_bytes(8, "little")  # read as a frame length, a client would try to allocate it
    with pytest.raises(SchedulerUnavailable, match="does not speak Dask"):
        probe_scheduler(f"tcp://127.0.0.1:{_serve_once(huge)}", timeout_s=2)
    with pytest.raises(SchedulerUnavailable, match="did not answer"):
        probe_scheduler(f"tcp://127.0.0.1:{_serve_once(None)}", timeout_s=1)


# --------------------------------------------------------------------------- checked before written


@pytest.mark.e2e
def test_a_plan_that_breaks_a_rule_is_never_written(tmp_path, monkeypatch):
    """A wrong number in a plan file (as a solver bug would make it) fails the in-process check: exit 4."""
    import allocator.plan.writing as writing

    real = writing.write_table

    def doubled_bills(df, path):
        if path.name == "assignments.csv":
            df = df.assign(bill_yuan=df["bill_yuan"] * 2)
        real(df, path)

    monkeypatch.setattr(writing, "write_table", doubled_bills)
    result = run("solve", TINY, "-o", tmp_path / "plan")
    assert result.exit_code == 4, result.output
    assert "failed the independent check" in result.output and "R7" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_check_of_a_plan_for_another_instance_says_so_in_one_line(tmp_path):
    plan = tmp_path / "plan"
    assert run("solve", REPO / "instances" / "chengdu-day", "-o", plan, "--method", "greedy").exit_code == 0
    result = run("check", TINY, plan)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("violation")]
    assert len(lines) == 1 and "made for instance 'chengdu-day'" in lines[0]


# --------------------------------------------------------------------------- Markdown from user names


@pytest.mark.e2e
def test_markdown_outputs_escape_html_and_pipes_from_names(tmp_path):
    instance = tmp_path / "inst"
    instance.mkdir()
    for path in TINY.iterdir():
        (instance / path.name).write_bytes(path.read_bytes())
    toml = (instance / "instance.toml").read_text()
    (instance / "instance.toml").write_text(toml.replace('name = "tiny"', 'name = "<script>alert(1)</script>|x"'))
    plan = tmp_path / "plan"
    assert run("solve", instance, "-o", plan).exit_code == 0
    assert run("report", plan, "--instance", instance, "-o", tmp_path / "r.html").exit_code == 0
    assert run("sweep", instance, "-o", tmp_path / "sweep", "--budget", "x1", "--no-min-budget").exit_code == 0
    for markdown in (tmp_path / "r.md", tmp_path / "sweep" / "summary.md"):
        text = markdown.read_text()
        assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in text, markdown
    for page in (tmp_path / "r.html", tmp_path / "sweep" / "sweep.html"):
        assert "<script>alert" not in page.read_text()
